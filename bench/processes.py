"""Start, watch and stop the processes under test, and read their memory."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from common.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = "docker/gunicorn.conf.py"

# Settings that would point a service at another broker, store, topic or
# port, or make it require credentials. The bench sets its own values.
_DROPPED_PREFIXES = ("KAFKA_", "NOTIFY_", "PROMETHEUS_MULTIPROC_DIR")
_KEPT_VARIABLES = ("NOTIFY_THREADS",)


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_environment(overrides: dict[str, str]) -> dict[str, str]:
    """Return this process's environment without the services' own settings.

    ``WEB_CONCURRENCY`` and ``NOTIFY_THREADS`` are kept, so the caller can
    change the worker and thread counts; ``overrides`` is applied last.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _KEPT_VARIABLES or not name.startswith(_DROPPED_PREFIXES)
    }
    env.setdefault("WEB_CONCURRENCY", "2")
    env.setdefault("NOTIFY_THREADS", str(load_settings({}).threads))
    env.update(overrides)
    return env


def rss_kib(pid: int) -> int:
    """Return the resident set size of ``pid`` in KiB, or 0 if it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU time of ``pid`` in seconds, or 0 if it exited."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # The fields after the parenthesised command name; utime and stime are
    # the 14th and 15th fields of the line.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Return the pids of the direct children of ``pid``."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(child) for child in children.split()]


class GunicornService:
    """One WSGI app under a gunicorn master with the shipped configuration.

    The master runs in its own session. Its process group therefore contains
    its workers, and ``stop`` can end all of them by the master's pid.
    """

    def __init__(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.command = [
            sys.executable, "-m", "gunicorn",
            "--config", GUNICORN_CONFIG,
            "--bind", f"127.0.0.1:{self.port}",
            app,
        ]
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    @property
    def worker_pids(self) -> list[int]:
        return child_pids(self.pid)

    def cpu_seconds(self) -> float:
        """Return the CPU time the master and its current workers have used."""
        return sum(cpu_seconds(pid) for pid in [self.pid, *self.worker_pids])

    def start(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float, path: str = "/readyz") -> None:
        """Poll ``path`` until it returns 200.

        Raises ``RuntimeError`` when the master exits or ``timeout`` seconds
        pass first.
        """
        deadline = time.monotonic() + timeout
        with requests.Session() as http:
            http.trust_env = False
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with status {self.process.returncode}; "
                        f"see {self.log_path}"
                    )
                try:
                    if http.get(self.url + path, timeout=1).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} not ready at {self.url}{path} within "
                        f"{timeout:.0f} s; see {self.log_path}"
                    )
                time.sleep(0.1)

    def rss_kib(self) -> int:
        """Return the summed resident memory of the master and its workers."""
        return sum(rss_kib(pid) for pid in [self.pid, *self.worker_pids])

    def stop(self, timeout: float = 20.0) -> None:
        """Stop gracefully with SIGTERM, then SIGKILL whatever is left.

        Does nothing when the service was never started.
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print(
                    f"{self.name} (pid {self.pid}) did not stop within "
                    f"{timeout:.0f} s; killing it",
                    file=sys.stderr,
                )
        # A worker can outlive its master. The process group id is the
        # master's pid because of start_new_session.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
