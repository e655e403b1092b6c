"""Notifications made up for the benchmark: for the store and for the topic."""

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Producer

from common.models import Notification, User
from consumer.store import open_store

PRODUCE_TIMEOUT = 120.0  # seconds to deliver every record before giving up
_STORE_BATCH = 5000


def user(user_id: int) -> User:
    """Return the user that the bench's users file lists under ``user_id``."""
    return User(user_id, f"User {user_id}")


def users_file_body(count: int) -> str:
    """Return the JSON of a users file that lists users 1 to ``count``."""
    return json.dumps([user(user_id).to_dict() for user_id in range(1, count + 1)])


def utc_timestamp() -> str:
    """Return the current UTC time in the producer service's RFC 3339 form."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_notification(sender: int, recipient: int, number: int) -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        sender=user(sender),
        recipient=user(recipient),
        message=f"User {sender} liked your post: 'Benchmark post number {number}'",
        created_at=utc_timestamp(),
    )


def fill_store(store_url: str, recipient: int, sender: int, count: int) -> None:
    """Store ``count`` notifications for ``recipient`` directly, in batches."""
    store = open_store(store_url)
    try:
        for start in range(0, count, _STORE_BATCH):
            batch = [
                make_notification(sender, recipient, number)
                for number in range(start, min(start + _STORE_BATCH, count))
            ]
            store.add_many(batch)
    finally:
        store.close()


def topic_records(count: int, users: int) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``count`` (key, value) records as the producer service builds them.

    Recipients cycle through users 1 to ``users``, so the keys spread over
    every partition. The value is ``Notification.to_dict`` as JSON, encoded
    the way ``producer.publisher.Publisher.publish`` encodes it.
    """
    for number in range(count):
        recipient = number % users + 1
        sender = recipient % users + 1
        notification = make_notification(sender, recipient, number)
        value = json.dumps(notification.to_dict(), ensure_ascii=False)
        yield notification.record_key, value.encode("utf-8")


def produce_records(
    bootstrap_servers: str, topic: str, count: int, users: int
) -> float:
    """Produce ``count`` records to ``topic`` and return the seconds it took.

    Raises ``RuntimeError`` when a record is not acknowledged in time.
    """
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "allow.auto.create.topics": False,
            "acks": "all",
            "enable.idempotence": True,
            # The service's partitioner, so a user's records land where the
            # service would put them.
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.perf_counter()
    for key, value in topic_records(count, users):
        try:
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        except BufferError:
            # The local queue is full: serve delivery reports, then retry once.
            producer.poll(1.0)
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(PRODUCE_TIMEOUT)
    elapsed = time.perf_counter() - started
    if remaining or failures:
        first = failures[0] if failures else "timed out"
        raise RuntimeError(
            f"{remaining} records unacknowledged and {len(failures)} failed "
            f"while producing to {topic}: {first}"
        )
    return elapsed
