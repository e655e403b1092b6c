"""Sustained sends from 20 concurrent clients, and every acknowledged one stored.

Twenty clients, each with its own keep-alive session, send notifications
for ``NOTIFY_LOAD_SECONDS``: 8 by default, 600 under ``make soak``. The
producer and the consumer run two workers each under the shipped gunicorn
configuration. The load runs once per module, and the tests then check what
it left behind. A 503 is allowed but must stay rare, because it means the
broker did not acknowledge in time.

The run prints the resident memory of the broker and of every gunicorn
process at the start and at the end, and writes the same report to the
file named by ``NOTIFY_LOAD_REPORT`` when that is set.
"""

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import make_env
from tests.support import GunicornService
from tests.topic_reader import read_topic

LOAD_SECONDS = float(os.environ.get("NOTIFY_LOAD_SECONDS", "8"))
REPORT_PATH = os.environ.get("NOTIFY_LOAD_REPORT")
CLIENTS = 20
USERS = (1, 2, 3, 4)
# At most this share of the sends may get a 503.
MAX_503_SHARE = 0.01
# Time for the consumer to store the backlog once the clients stop, and how
# long the stored count may stay unchanged before the wait gives up early.
CATCH_UP_SECONDS = 60 + LOAD_SECONDS
STALL_SECONDS = 10.0

pytestmark = pytest.mark.timeout(CATCH_UP_SECONDS + LOAD_SECONDS + 180)


@dataclass
class ClientResult:
    """What one client sent and what it got back."""

    statuses: Counter = field(default_factory=Counter)
    accepted_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadRun:
    """The responses of one load run and what the topic and store contain after it."""

    statuses: Counter
    accepted: list[str]
    errors: list[str]
    published: list[str]
    stored: list[str]

    @property
    def sends(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def unavailable(self) -> int:
        return self.statuses.get(503, 0)


def run_client(number: int, send_url: str, deadline: float) -> ClientResult:
    """Send notifications over one keep-alive session until ``deadline``."""
    result = ClientResult()
    with requests.Session() as session:
        sent = 0
        while time.monotonic() < deadline:
            sender = USERS[(number + sent) % len(USERS)]
            recipient = USERS[(number + sent + 1) % len(USERS)]
            fields = {
                "fromID": sender,
                "toID": recipient,
                "message": f"load client {number} send {sent}",
            }
            sent += 1
            try:
                response = session.post(send_url, data=fields, timeout=30)
            except requests.RequestException as exc:
                result.errors.append(f"client {number}: {exc!r}")
                continue
            result.statuses[response.status_code] += 1
            if response.status_code == 200:
                result.accepted_ids.append(response.json()["id"])
    return result


def stored_total(consumer_url: str) -> int:
    """Return the number of notifications stored for all users."""
    total = 0
    for user in USERS:
        response = requests.get(
            f"{consumer_url}/notifications/{user}/unread_count", timeout=10
        )
        assert response.status_code == 200, response.text
        total += response.json()["unread_count"]
    return total


def stored_ids(consumer_url: str) -> list[str]:
    """Return the id of every stored notification, following each feed's pages."""
    ids = []
    for user in USERS:
        params = {"limit": 1000}
        while True:
            response = requests.get(
                f"{consumer_url}/notifications/{user}", params=params, timeout=30
            )
            assert response.status_code == 200, response.text
            page = response.json()
            ids.extend(notification["id"] for notification in page["notifications"])
            if page["next_cursor"] is None:
                break
            params = {"limit": 1000, "cursor": page["next_cursor"]}
    return ids


def wait_for_store(consumer_url: str, count: int) -> float:
    """Poll until ``count`` notifications are stored; return the seconds waited.

    Gives up after ``CATCH_UP_SECONDS``, or once the stored count has not
    changed for ``STALL_SECONDS``; the tests then report what is missing.
    """
    started = time.monotonic()
    last_total, last_change = -1, started
    while True:
        total = stored_total(consumer_url)
        now = time.monotonic()
        if total >= count:
            break
        if total != last_total:
            last_total, last_change = total, now
        if now - last_change > STALL_SECONDS or now - started > CATCH_UP_SECONDS:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def resident_kib(pid: int) -> int | None:
    """Return the resident set size of ``pid`` in KiB, or None if it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def memory_table(broker, services: dict[str, GunicornService]) -> dict:
    """Return the RSS in KiB of the broker and every gunicorn process.

    Keys are ``(role, pid)``, such as ``("producer worker 1", 1234)``.
    """
    processes = [("broker", broker.pid)]
    for name, service in services.items():
        processes.append((f"{name} master", service.process.pid))
        for index, pid in enumerate(sorted(service.worker_pids)):
            processes.append((f"{name} worker {index + 1}", pid))
    return {(role, pid): resident_kib(pid) for role, pid in processes}


def format_report(summary: list[str], start: dict, end: dict) -> str:
    """Format the summary and the memory at the start and the end as text."""

    def shown(table: dict, key) -> str:
        if key not in table:
            # The process started or exited during the run.
            return "-"
        kib = table[key]
        return "exited" if kib is None else f"{kib / 1024:.1f}"

    header = f"{'process':<20} {'pid':>8} {'start MiB':>10} {'end MiB':>10}"
    lines = [*summary, "", header]
    for key in sorted(set(start) | set(end)):
        role, pid = key
        lines.append(
            f"{role:<20} {pid:>8} {shown(start, key):>10} {shown(end, key):>10}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def services(broker, tmp_path_factory):
    """A producer and a consumer, two workers each, under the shipped config."""
    tmp_path = tmp_path_factory.mktemp("load")
    env = make_env(broker, tmp_path)
    options = {"workers": 2, "threads": 8, "shipped_config": True}
    started = {
        "producer": GunicornService(
            "producer:create_app()", env, tmp_path / "p.log", **options
        ),
        "consumer": GunicornService(
            "consumer:create_app()", env, tmp_path / "c.log", **options
        ),
    }
    try:
        for service in started.values():
            service.start()
        yield started, env
    finally:
        for service in started.values():
            service.kill()


@pytest.fixture(scope="module")
def load_run(services, broker) -> LoadRun:
    """Run the clients, wait for the consumer, and print the report."""
    running, env = services
    producer, consumer = running["producer"], running["consumer"]
    memory_at_start = memory_table(broker, running)

    started = time.monotonic()
    deadline = started + LOAD_SECONDS
    with ThreadPoolExecutor(CLIENTS, thread_name_prefix="load-client") as pool:
        futures = [
            pool.submit(run_client, number, f"{producer.url}/send", deadline)
            for number in range(CLIENTS)
        ]
        results = [future.result() for future in futures]
    elapsed = time.monotonic() - started

    statuses = sum((result.statuses for result in results), Counter())
    accepted = [id_ for result in results for id_ in result.accepted_ids]
    errors = [error for result in results for error in result.errors]

    waited = wait_for_store(consumer.url, len(accepted))
    run = LoadRun(
        statuses=statuses,
        accepted=accepted,
        errors=errors,
        published=[
            record.get("id")
            for record in read_topic(
                broker.bootstrap_servers,
                env["NOTIFY_TOPIC"],
                set(accepted),
                timeout=30 + LOAD_SECONDS / 5,
            )
        ],
        stored=stored_ids(consumer.url),
    )

    summary = [
        f"load: {CLIENTS} clients for {elapsed:.1f} s, {run.sends} sends "
        f"({run.sends / elapsed:.0f}/s); then {waited:.1f} s waiting for the store",
        f"answers: {dict(sorted(statuses.items()))}, client errors: {len(errors)}",
        f"acknowledged: {len(accepted)}, on the topic: {len(run.published)}, "
        f"stored: {len(run.stored)}",
    ]
    report = format_report(summary, memory_at_start, memory_table(broker, running))
    print("\n" + report)
    if REPORT_PATH:
        Path(REPORT_PATH).parent.mkdir(parents=True, exist_ok=True)
        Path(REPORT_PATH).write_text(report)
    return run


def test_load_sends_without_errors(load_run):
    assert load_run.errors == []
    assert [code for code in load_run.statuses if code >= 500 and code != 503] == []
    assert load_run.unavailable <= MAX_503_SHARE * load_run.sends
    assert len(load_run.accepted) > 0
    assert len(set(load_run.accepted)) == len(load_run.accepted)


def test_load_publishes_each_once(load_run):
    published = set(load_run.published)
    missing = set(load_run.accepted) - published

    assert not missing, f"{len(missing)} acknowledged, not on the topic"
    assert len(published) == len(load_run.published), "published twice"
    # A send that got a 503 may have been written anyway.
    assert len(published - set(load_run.accepted)) <= load_run.unavailable


# The embedded broker can return from a fetch records past ones it has not
# yet made readable while producers write; the consumer's offset check
# (consumer/offsets.py) reads such a partition again, so none is lost.
def test_load_stores_each_once(load_run):
    stored = set(load_run.stored)
    missing = set(load_run.accepted) - stored

    assert len(stored) == len(load_run.stored), "a notification stored twice"
    assert len(stored - set(load_run.accepted)) <= load_run.unavailable
    assert not missing, (
        f"{len(missing)} acknowledged, not stored: {sorted(missing)[:5]}"
    )
