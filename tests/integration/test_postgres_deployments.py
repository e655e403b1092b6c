"""Two consumer deployments sharing one PostgreSQL store, as on two hosts.

Each deployment is its own gunicorn master with its own port and log file.
Both join the same consumer group on a 6-partition topic and open the same
database, so nothing but Kafka and PostgreSQL connects them.
"""

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.models import Notification, User
from consumer.store.postgres import PostgresStore
from tests.integration.conftest import make_env
from tests.support import EventStreamReader, fetch_feed, send, wait_for_feed, wait_until

USERS = (1, 2, 3, 4)
# Generous bounds: a missing notification fails, a slow machine does not.
STORED_BOUND = 60
EVENT_BOUND = 5


@pytest.fixture
def env(broker, tmp_path, postgres_database_url) -> dict[str, str]:
    """Settings of the deployments: a fresh topic, group and database."""
    return {
        **make_env(broker, tmp_path),
        "NOTIFY_STORE": postgres_database_url,
        "NOTIFY_TOPIC_PARTITIONS": "6",
    }


@pytest.fixture
def store(env) -> Iterator[PostgresStore]:
    """The shared store, opened from the test process as a third host would."""
    opened = PostgresStore(env["NOTIFY_STORE"])
    try:
        yield opened
    finally:
        opened.close()


def stored_count(consumer_url: str) -> float:
    """Return the deployment's notify_notifications_stored_total, all workers summed."""
    response = requests.get(f"{consumer_url}/metrics", timeout=5)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "notify_notifications_stored_total":
                return sample.value
    return 0.0


def start_deployment(start_service, env, workers: int):
    # The shipped configuration sums the metrics of the master's workers.
    return start_service(
        "consumer:create_app()", env, workers=workers, shipped_config=True
    )


def test_deployments_answer_identically(env, store, postgres_server, start_service):
    producer = start_service("producer:create_app()", env)
    first = start_deployment(start_service, env, workers=2)
    second = start_deployment(start_service, env, workers=2)

    sent: dict[int, list[str]] = {user: [] for user in USERS}
    for number in range(200):
        recipient = number % 4 + 1
        sender = (number + 1) % 4 + 1
        response = send(producer.url, sender, recipient, f"note {number}")
        assert response.status_code == 200, response.text
        sent[recipient].append(response.json()["id"])

    for deployment in (first, second):
        for user, ids in sent.items():
            wait_for_feed(deployment.url, user, len(ids), timeout=STORED_BOUND)
    for user, ids in sent.items():
        for _ in range(5):
            # New connections, so that the responses come from either worker.
            assert [n["id"] for n in fetch_feed(first.url, user)] == ids
            assert [n["id"] for n in fetch_feed(second.url, user)] == ids
        assert fetch_feed(first.url, user) == fetch_feed(second.url, user)

    # Every notification was stored by exactly one of the two deployments.
    assert stored_count(first.url) + stored_count(second.url) == 200
    assert store.count() == 200
    for deployment in (first, second):
        assert postgres_server.password not in deployment.log_path.read_text()


class Sender(threading.Thread):
    """Send notifications to the four users in turn until ``total`` are sent.

    ``accepted`` collects (recipient, id) of every 200 response, and ``failed``
    every other status.
    """

    def __init__(self, producer_url: str, total: int) -> None:
        super().__init__(daemon=True)
        self.producer_url = producer_url
        self.total = total
        self.accepted: list[tuple[int, str]] = []
        self.failed: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for number in range(self.total):
            if self.stop.is_set():
                return
            recipient = number % 4 + 1
            response = send(self.producer_url, 2, recipient, f"flow {number}")
            if response.status_code == 200:
                self.accepted.append((recipient, response.json()["id"]))
            else:
                self.failed.append(response.status_code)


def test_survivor_takes_over_killed_deployment(env, store, start_service):
    producer = start_service("producer:create_app()", env)
    deployments = [
        start_deployment(start_service, env, workers=1),
        start_deployment(start_service, env, workers=1),
    ]
    sender = Sender(producer.url, total=200)
    sender.start()
    try:
        wait_until(
            lambda: len(sender.accepted) >= 40, STORED_BOUND, "40 accepted sends"
        )
        # Kill the deployment that has stored the most, so that it surely
        # owned partitions with notifications still to come.
        counts = [stored_count(deployment.url) for deployment in deployments]
        victim_index = counts.index(max(counts))
        victim = deployments[victim_index]
        survivor = deployments[1 - victim_index]
        victim.kill()
        sender.join(timeout=STORED_BOUND * 2)
    finally:
        sender.stop.set()

    accepted_ids = [notification_id for _, notification_id in sender.accepted]
    wait_until(
        lambda: store.count() >= len(accepted_ids),
        STORED_BOUND,
        f"{len(accepted_ids)} stored notifications; see {survivor.log_path}",
    )

    assert not sender.is_alive()
    assert sender.failed == []
    assert len(accepted_ids) == 200
    assert max(counts) > 0
    # Exactly once: every accepted id is stored, and nothing else.
    assert store.count() == len(accepted_ids)
    for user in USERS:
        expected = [i for recipient, i in sender.accepted if recipient == user]
        feed = wait_for_feed(survivor.url, user, len(expected), timeout=STORED_BOUND)
        assert [n["id"] for n in feed] == expected


def test_stream_hears_other_hosts_write(env, store, start_service):
    # A short keep-alive lets the reader's close() return soon.
    env = {**env, "NOTIFY_STREAM_KEEPALIVE_SECONDS": "1"}
    deployment = start_deployment(start_service, env, workers=1)
    reader = EventStreamReader(f"{deployment.url}/notifications/3/stream")
    try:
        assert reader.response.status_code == 200
        notification = Notification(
            id=str(uuid.uuid4()),
            sender=User(4, "Lena"),
            recipient=User(3, "Rick"),
            message="stored by another host",
            created_at="2026-12-04T15:20:00.123456Z",
        )

        # The deployment consumes nothing of this: the row reaches it only
        # through PostgreSQL's NOTIFY.
        store.add_many([notification])
        event = reader.next_event(EVENT_BOUND)
    finally:
        reader.close()

    data = json.loads(event["data"])
    assert data["id"] == notification.id
    assert data["message"] == "stored by another host"
