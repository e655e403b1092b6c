"""``python -m common.launcher`` end to end: start, reference scenario, SIGINT."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from common.broker import port_accepts
from tests.support import REPO_ROOT, free_port, send, wait_for_feed, wait_until

pytestmark = pytest.mark.integration

SCENARIO = [
    ("2", "1", "Bruno started following you."),
    (
        "1",
        "2",
        "Emma mentioned you in a comment: 'Great seeing you yesterday, @Bruno!'",
    ),
    ("4", "1", "Lena liked your post: 'My weekend getaway!'"),
]

# Log lines that name a process: the launcher's, the broker's and gunicorn's.
PID_PATTERNS = [
    re.compile(r"Started (?:producer|consumer) \(pid (\d+)\)"),
    re.compile(r"Embedded broker \(pid (\d+)\)"),
    re.compile(r"Booting worker with pid: (\d+)"),
]


class LauncherRun:
    """A launcher subprocess with its combined output in a log file."""

    def __init__(self, process: subprocess.Popen, log_path: Path, ports: dict):
        self.process = process
        self.log_path = log_path
        self.ports = ports
        self.producer_url = f"http://127.0.0.1:{ports['PRODUCER_PORT']}"
        self.consumer_url = f"http://127.0.0.1:{ports['CONSUMER_PORT']}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged_pids(self) -> set[int]:
        text = self.output()
        return {int(pid) for pattern in PID_PATTERNS for pid in pattern.findall(text)}

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll both /readyz until they return 200; fail if the launcher exits."""

        def ready_or_exited() -> bool:
            if self.process.poll() is not None:
                return True
            return all(
                readyz_status(url) == 200
                for url in (self.producer_url, self.consumer_url)
            )

        wait_until(
            ready_or_exited,
            timeout,
            f"both /readyz to return 200; launcher output:\n{self.output()}",
        )
        assert self.process.poll() is None, (
            f"launcher exited with status {self.process.returncode}:\n"
            f"{self.output()}"
        )


def readyz_status(base_url: str) -> int | None:
    try:
        return requests.get(f"{base_url}/readyz", timeout=2).status_code
    except requests.ConnectionError:
        return None


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def is_running(pid: int) -> bool:
    """Return True unless ``pid`` has exited (a zombie counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z"


def stop_leftovers(run: LauncherRun) -> None:
    """SIGKILL the launcher and every process it logged that still runs."""
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()
    for pid in run.logged_pids():
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def launcher(tmp_path):
    """Start ``python -m common.launcher`` with its own broker and free ports."""
    kafka_port, producer_port, consumer_port = distinct_free_ports(3)
    ports = {
        "KAFKA_PORT": str(kafka_port),
        "PRODUCER_PORT": str(producer_port),
        "CONSUMER_PORT": str(consumer_port),
    }
    env = {
        **os.environ,
        **ports,
        "NOTIFY_STORE": f"sqlite:///{tmp_path}/n.db",
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "LOG_LEVEL": "INFO",
        "WEB_CONCURRENCY": "2",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)

    log_path = tmp_path / "launcher.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "common.launcher"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = LauncherRun(process, log_path, ports)
    try:
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(45)
            except subprocess.TimeoutExpired:
                pass
        stop_leftovers(run)


def test_launcher_serves_scenario_and_stops(launcher):
    launcher.wait_ready()

    for from_id, to_id, message in SCENARIO:
        response = send(launcher.producer_url, from_id, to_id, message)
        assert response.status_code == 200, response.text

    emma = wait_for_feed(launcher.consumer_url, 1, 2, timeout=10)
    assert len(emma) == 2
    assert [n["from"]["name"] for n in emma] == ["Bruno", "Lena"]
    assert [n["to"]["name"] for n in emma] == ["Emma", "Emma"]
    assert [n["message"] for n in emma] == [SCENARIO[0][2], SCENARIO[2][2]]

    # The page's send form points at this run's producer port.
    producer_port = launcher.producer_url.rsplit(":", 1)[1]
    page = requests.get(launcher.consumer_url, timeout=5).text
    assert f'content="http://localhost:{producer_port}"' in page

    pids = launcher.logged_pids()
    # At least the broker, two gunicorn masters and two workers each.
    assert len(pids) >= 7, launcher.output()

    launcher.process.send_signal(signal.SIGINT)
    status = launcher.process.wait(45)

    assert status == 0, launcher.output()
    assert [pid for pid in pids if is_running(pid)] == []
    for name, port in launcher.ports.items():
        assert not port_accepts("127.0.0.1", int(port)), f"{name} {port} still open"
