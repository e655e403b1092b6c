"""Run the whole system locally in the foreground: what ``make run`` starts.

Unless ``KAFKA_BOOTSTRAP_SERVERS`` names an external broker, the launcher
starts the embedded broker on ``KAFKA_PORT``. It then creates the topic and
runs the producer and the consumer under gunicorn on ``PRODUCER_PORT`` and
``CONSUMER_PORT``. SIGINT or SIGTERM stops the services, then the broker.

Exit status: 0 after a requested stop, 1 when a component fails to start or
exits unexpectedly, 2 when the configuration is invalid.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import requests

from common.broker import BrokerError, EmbeddedBroker
from common.errors import KafkaClientError, SettingsError
from common.kafka_config import admin_config
from common.logging_setup import configure_logging
from common.settings import Settings, load_settings
from common.topics import ensure_topic

GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "docker" / "gunicorn.conf.py"

# Named explicitly: under "python -m" __name__ would be "__main__".
log = logging.getLogger("common.launcher")

POLL_INTERVAL = 0.1  # seconds between checks of the children and /readyz
TOPIC_TIMEOUT = 30.0  # seconds to keep retrying topic creation
READY_TIMEOUT = 60.0  # seconds for both services to report ready
# gunicorn's default graceful timeout is 30 s, after which the master kills
# its workers and exits. A master still running 5 s later gets SIGKILL.
STOP_TIMEOUT = 35.0


class LaunchError(Exception):
    """A component failed to start or stopped unexpectedly."""


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: the launcher should shut down."""


class StopSignals:
    """Record SIGINT and SIGTERM so that the polling loops can stop.

    The handler only stores the signal number. Raising from it could
    interrupt ``Popen`` between starting a child and recording its pid.
    """

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def check(self) -> None:
        """Raise ``StopRequested`` if a stop signal has arrived."""
        if self.received is not None:
            raise StopRequested(signal.Signals(self.received).name)

    def _handle(self, signum: int, frame) -> None:
        self.received = signum


class ServiceProcess:
    """One gunicorn master, started in its own session.

    The separate session keeps a terminal's Ctrl-C from reaching gunicorn
    directly, so only the launcher decides when and in which order the
    services stop. The master's process group contains its workers.
    """

    def __init__(self, name: str, port: int, command: list[str]) -> None:
        self.name = name
        self.port = port
        self.command = command
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            self.command,
            env=env,
            cwd=os.getcwd(),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.info("Started %s (pid %d) on %s", self.name, self.pid, self.url)

    def exit_status(self) -> int | None:
        """Return the exit status, or None while the process runs."""
        return self._process.poll() if self._process else None

    def terminate(self) -> None:
        """Send SIGTERM to the master, which stops its workers gracefully."""
        if self._process and self._process.poll() is None:
            log.info("Stopping %s (pid %d)", self.name, self.pid)
            self._process.terminate()

    def wait_stopped(self, timeout: float) -> None:
        """Wait for the master to exit, then SIGKILL anything left in its group."""
        if self._process is None:
            return

        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s (pid %d) did not stop within %.0f s, killing it",
                self.name, self.pid, timeout,
            )
        # A worker can outlive a master that was killed or crashed. The group
        # id is the master's pid because of start_new_session.
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()
        log.info("%s (pid %d) stopped", self.name, self.pid)


def gunicorn_command(app: str, port: int) -> list[str]:
    """Build the command line that serves the WSGI ``app`` on ``port``.

    The shipped configuration file sets the worker class, the worker and
    thread counts (from WEB_CONCURRENCY and NOTIFY_THREADS), the logs and
    the hooks.
    """
    return [
        sys.executable, "-m", "gunicorn",
        "--config", str(GUNICORN_CONFIG),
        "--bind", f"127.0.0.1:{port}",
        app,
    ]


def build_services(settings: Settings) -> list[ServiceProcess]:
    return [
        ServiceProcess(
            "producer",
            settings.producer_port,
            gunicorn_command("producer:create_app()", settings.producer_port),
        ),
        ServiceProcess(
            "consumer",
            settings.consumer_port,
            gunicorn_command("consumer:create_app()", settings.consumer_port),
        ),
    ]


def uses_external_broker() -> bool:
    # Same rule as load_settings: a blank value counts as unset.
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip())


def create_topic(settings: Settings, stop: StopSignals) -> None:
    """Create the topic, retrying with backoff for up to ``TOPIC_TIMEOUT``."""
    deadline = time.monotonic() + TOPIC_TIMEOUT
    delay = 0.2
    attempt = 0
    while True:
        attempt += 1
        try:
            ensure_topic(
                admin_config(settings),
                settings.topic,
                settings.topic_partitions,
                timeout=2.0,
            )
            return
        except KafkaClientError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LaunchError(
                    f"cannot create topic {settings.topic} on "
                    f"{settings.kafka_bootstrap_servers} within "
                    f"{TOPIC_TIMEOUT:.0f} s: {exc}. Check that a Kafka broker "
                    "listens there."
                ) from exc
            pause = min(delay, remaining)
            log.warning(
                "Topic %s not created (attempt %d), retrying in %.1f s: %s",
                settings.topic, attempt, pause, exc,
            )
        sleep_unless_stopped(pause, stop)
        delay = min(delay * 2, 5.0)


def sleep_unless_stopped(seconds: float, stop: StopSignals) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stop.check()
        time.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0)))
    stop.check()


def check_running(services: list[ServiceProcess]) -> None:
    """Raise ``LaunchError`` naming the first service that has exited."""
    for service in services:
        status = service.exit_status()
        if status is None:
            continue
        if status < 0:
            outcome = f"was killed by {signal.Signals(-status).name}"
        else:
            outcome = f"exited with status {status}"
        raise LaunchError(
            f"{service.name} (pid {service.pid}) {outcome}; its log is above"
        )


def readiness_problem(http: requests.Session, service: ServiceProcess) -> str | None:
    """Return why ``service`` is not ready, or None when /readyz returns 200."""
    try:
        response = http.get(f"{service.url}/readyz", timeout=1.0)
    except requests.RequestException as exc:
        return f"GET /readyz failed: {exc}"
    if response.status_code == 200:
        return None

    try:
        reason = response.json().get("message", response.text)
    except (ValueError, AttributeError):
        reason = response.text
    return f"/readyz returned {response.status_code}: {reason}"


def wait_until_ready(services: list[ServiceProcess], stop: StopSignals) -> None:
    """Poll every service's /readyz until all return 200.

    Raises ``LaunchError`` when a service exits or ``READY_TIMEOUT`` passes.
    """
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = list(services)
    problems: dict[str, str] = {}
    with requests.Session() as http:
        # Proxy variables from the environment must not apply to 127.0.0.1.
        http.trust_env = False
        while waiting:
            stop.check()
            check_running(services)
            for service in list(waiting):
                problem = readiness_problem(http, service)
                if problem is None:
                    log.info("%s is ready at %s", service.name, service.url)
                    waiting.remove(service)
                else:
                    problems[service.name] = problem
            if waiting and time.monotonic() > deadline:
                details = "; ".join(
                    f"{service.name}: {problems[service.name]}" for service in waiting
                )
                raise LaunchError(
                    f"services not ready within {READY_TIMEOUT:.0f} s ({details})"
                )
            if waiting:
                time.sleep(POLL_INTERVAL)


def print_usage(producer: ServiceProcess, consumer: ServiceProcess) -> None:
    """Print the service URLs and the reference scenario as curl commands."""
    send = f"curl -X POST {producer.url}/send"
    print(
        f"\nProducer: {producer.url}\n"
        f"Consumer: {consumer.url}\n"
        "\nTry it:\n\n"
        f'    {send} \\\n'
        '      -d "fromID=2&toID=1&message=Bruno started following you."\n'
        f'    {send} \\\n'
        '      -d "fromID=1&toID=2&message=Emma mentioned you in a comment: '
        "'Great seeing you yesterday, @Bruno!'\"\n"
        f'    {send} \\\n'
        '      -d "fromID=4&toID=1&message=Lena liked your post: '
        "'My weekend getaway!'\"\n"
        f"    curl {consumer.url}/notifications/1\n"
        "\nPress Ctrl-C to stop.\n",
        flush=True,
    )


def supervise(services: list[ServiceProcess], stop: StopSignals) -> NoReturn:
    """Poll until a stop signal arrives or a service exits, then raise."""
    while True:
        stop.check()
        check_running(services)
        time.sleep(POLL_INTERVAL)


def stop_services(services: list[ServiceProcess]) -> None:
    for service in services:
        service.terminate()
    for service in services:
        service.wait_stopped(STOP_TIMEOUT)


def run(settings: Settings) -> int:
    """Start every component, serve until stopped, and return the exit status."""
    stop = StopSignals()
    stop.install()
    broker: EmbeddedBroker | None = None
    services: list[ServiceProcess] = []
    env = dict(os.environ)
    # The page's send form must reach this run's producer, also when
    # PRODUCER_PORT moves it off the default port.
    env.setdefault(
        "NOTIFY_PRODUCER_URL", f"http://localhost:{settings.producer_port}"
    )
    try:
        if uses_external_broker():
            log.info("Using the Kafka broker at %s", settings.kafka_bootstrap_servers)
        else:
            broker = EmbeddedBroker(settings.kafka_port)
            broker.start()
            settings = replace(
                settings, kafka_bootstrap_servers=broker.bootstrap_servers
            )
            env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers

        create_topic(settings, stop)
        services = build_services(settings)
        for service in services:
            service.start(env)
        wait_until_ready(services, stop)
        print_usage(*services)
        supervise(services, stop)
    except StopRequested as exc:
        log.info("Received %s, shutting down", exc)
        return 0
    except (BrokerError, LaunchError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        stop_services(services)
        if broker is not None:
            broker.stop()


def main() -> int:
    configure_logging("INFO")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"kafka-notify-run: invalid configuration: {exc}", file=sys.stderr)
        return 2

    configure_logging(settings.log_level)
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
