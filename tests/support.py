"""Helpers shared by the integration tests: ports, polling and processes."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = REPO_ROOT / "docker" / "gunicorn.conf.py"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    message: str,
    interval: float = 0.05,
):
    """Poll ``condition`` until it returns a truthy value; return that value.

    Fails the test with ``message`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {message}")
        time.sleep(interval)


def get_status(url: str) -> int | None:
    """Return the status of GET ``url``, or None on no response in time."""
    try:
        return requests.get(url, timeout=2).status_code
    except (requests.ConnectionError, requests.Timeout):
        return None


class GunicornService:
    """A service under a real gunicorn master, as ``make run`` starts it."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        log_path: Path,
        workers: int = 1,
        extra_args: tuple[str, ...] = (),
        shipped_config: bool = False,
        wait_path: str = "/readyz",
        threads: int = 4,
    ) -> None:
        self.target = target
        self.wait_path = wait_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._env = {
            **env,
            "WEB_CONCURRENCY": str(workers),
            "NOTIFY_THREADS": str(threads),
        }
        if shipped_config:
            # The configuration file reads the worker and thread counts from
            # the environment set above.
            options = ["--config", str(GUNICORN_CONFIG)]
        else:
            options = [
                "--worker-class", "gthread",
                "--workers", str(workers),
                "--threads", str(threads),
                # Gunicorn 27 gives every master the same control socket path.
                "--no-control-socket",
            ]
        self._args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            *options,
            *extra_args,
            target,
        ]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "GunicornService":
        """Start gunicorn and wait until ``wait_path`` returns 200."""
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self._args,
                env={**os.environ, **self._env},
                cwd=REPO_ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: self._exited()
            or get_status(f"{self.url}{self.wait_path}") == 200,
            timeout,
            f"{self.target} on {self.url}: {self.wait_path} returns 200; "
            f"see {self.log_path}",
        )
        if self._exited():
            raise AssertionError(f"{self.target} exited; see {self.log_path}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        """Send ``sig`` to the master and wait for the exit; return its status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.target} did not exit within {timeout:.0f} s of {sig!r}"
            ) from None

    def wait_exit(self, timeout: float) -> int:
        """Wait for a master already signalled to exit; return its status.

        A second SIGTERM during gunicorn's graceful stop can end the master
        at once, so tests that signalled it themselves wait here instead of
        calling ``stop``.
        """
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.target} did not exit within {timeout:.0f} s"
            ) from None

    def kill(self) -> None:
        """Kill the master and its workers at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def worker_pids(self) -> list[int]:
        """Return the pids of the master's worker processes."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in children.split()]

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


def fetch_feed(consumer_url: str, user_id: int | str) -> list[dict]:
    """Return up to 1,000 of a user's notifications, oldest first."""
    response = requests.get(
        f"{consumer_url}/notifications/{user_id}", params={"limit": 1000}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()["notifications"]


def wait_for_feed(
    consumer_url: str, user_id: int | str, count: int, timeout: float = 10.0
) -> list[dict]:
    """Poll a user's feed until it contains at least ``count`` notifications."""

    def feed_when_full() -> list[dict] | None:
        feed = fetch_feed(consumer_url, user_id)
        return feed if len(feed) >= count else None

    return wait_until(
        feed_when_full, timeout, f"{count} notifications for user {user_id}"
    )


def send(producer_url: str, from_id, to_id, message: str) -> requests.Response:
    """POST a form-encoded notification to /send."""
    return requests.post(
        f"{producer_url}/send",
        data={"fromID": from_id, "toID": to_id, "message": message},
        timeout=30,
    )


class EventStreamReader:
    """Read a Server-Sent Events stream in a background thread.

    Each complete event is put on ``events`` as a dict of its fields;
    comment lines are put there as ``{"comment": text}``.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.response = requests.get(url, headers=headers, stream=True, timeout=30)
        self.events: queue.Queue = queue.Queue()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line == "":
                    if event:
                        self.events.put(event)
                    event = {}
                elif line.startswith(":"):
                    self.events.put({"comment": line[1:].strip()})
                else:
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
        except (requests.RequestException, AttributeError, OSError, ValueError):
            # close() from another thread ends the read with any of these.
            pass
        finally:
            self.finished.set()

    def next_event(self, timeout: float, kind: str = "notification") -> dict:
        """Return the next event of type ``kind``, skipping other lines."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind} event within {timeout:.0f} s")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event.get("event") == kind:
                return event

    def next_comment(self, timeout: float) -> str:
        """Return the text of the next comment line."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no comment line within {timeout:.0f} s")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if "comment" in event:
                return event["comment"]

    def close(self) -> None:
        self.response.close()
