"""Tests of how the consumer worker handles a batch, with a fake publisher and store.

The batch handling runs in the test's thread, without a broker: the tests
call the worker's batch method directly and read its bookkeeping of offsets
to commit.
"""

import json
import threading
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from common.errors import StoreError
from common.settings import load_settings
from consumer.dead_letters import DeadLetter, DeadLetterFailure
from consumer.store.memory import MemoryStore
from consumer.worker import ConsumerWorker
from tests.support import wait_until

TOPIC = "unit"
NAMES = {1: "Emma", 2: "Bruno"}


class FakePublisher:
    """Fail the first ``failures`` calls, or the letters in ``reject``."""

    topic = f"{TOPIC}.dlq"

    def __init__(self, failures: int = 0, reject: tuple[int, ...] = ()) -> None:
        self.failures = failures
        self.reject = set(reject)
        self.calls: list[list[DeadLetter]] = []
        self.published: list[DeadLetter] = []

    def publish(self, letters):
        self.calls.append(list(letters))
        if self.failures > 0:
            self.failures -= 1
            return [DeadLetterFailure(letter, "broker down") for letter in letters]
        failed = [letter for letter in letters if letter.offset in self.reject]
        self.reject.clear()
        self.published += [letter for letter in letters if letter not in failed]
        return [DeadLetterFailure(letter, "broker down") for letter in failed]


class FailingStore(MemoryStore):
    """A memory store whose first ``failures`` writes raise ``StoreError``."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def add_many(self, notifications):
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("disk full")
        return super().add_many(notifications)


class FakeConsumer:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.commits: list[list[TopicPartition]] = []

    def commit(self, offsets, asynchronous):
        self.commits.append(offsets)
        if self.fail:
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_MEMBER_ID))


def record_value(to_id: int, message: str) -> bytes:
    """Build the JSON value of a valid notification to user ``to_id``."""
    sender = 3 - to_id
    value = {
        "id": str(uuid.uuid4()),
        "from": {"id": sender, "name": NAMES[sender]},
        "to": {"id": to_id, "name": NAMES[to_id]},
        "message": message,
        "created_at": "2026-12-04T15:20:00.123456Z",
    }
    return json.dumps(value).encode()


def make_worker(publisher: FakePublisher, store=None) -> ConsumerWorker:
    settings = load_settings({"NOTIFY_TOPIC": TOPIC})
    worker = ConsumerWorker(settings, store or MemoryStore())
    worker._dead_letters = publisher
    return worker


def record(offset: int, key: bytes | None, value: bytes | None, partition=0):
    return Message(
        topic=TOPIC, partition=partition, offset=offset, key=key, value=value
    )


def test_batch_splits_valid_and_invalid():
    publisher = FakePublisher()
    worker = make_worker(publisher)
    batch = [
        record(0, b"1", b"not json"),
        record(1, b"1", record_value(1, "valid")),
        record(2, None, None),
        record(7, b"2", record_value(2, "other partition"), partition=1),
    ]

    assert worker._handle_batch(batch) is True

    assert [letter.offset for letter in publisher.published] == [0, 2]
    assert publisher.published[0].value == b"not json"
    assert "not UTF-8 JSON" in publisher.published[0].error
    assert worker._store.count() == 2
    assert worker._uncommitted == {(TOPIC, 0): 3, (TOPIC, 1): 8}
    assert (worker.stored, worker.dead_lettered) == (2, 2)


def test_batch_retries_dead_letters():
    publisher = FakePublisher(failures=2)
    worker = make_worker(publisher)
    batch = [record(0, b"1", b"junk"), record(1, b"1", record_value(1, "valid"))]

    assert worker._handle_batch(batch) is True

    assert len(publisher.calls) == 3
    assert [letter.offset for letter in publisher.published] == [0]
    assert worker._retry_problem == ""
    assert worker._uncommitted == {(TOPIC, 0): 2}


def test_batch_republishes_only_failed():
    publisher = FakePublisher(reject=(1,))
    worker = make_worker(publisher)
    batch = [record(offset, b"1", b"junk") for offset in range(3)]

    assert worker._handle_batch(batch) is True

    assert [[letter.offset for letter in call] for call in publisher.calls] == [
        [0, 1, 2],
        [1],
    ]
    assert sorted(letter.offset for letter in publisher.published) == [0, 1, 2]


def test_batch_stops_while_dead_letters_fail():
    publisher = FakePublisher(failures=1_000)
    store = MemoryStore()
    worker = make_worker(publisher, store)
    batch = [record(0, b"1", b"junk"), record(1, b"1", record_value(1, "valid"))]
    result = []
    thread = threading.Thread(target=lambda: result.append(worker._handle_batch(batch)))
    thread.start()
    try:
        wait_until(lambda: len(publisher.calls) >= 2, 10, "a second attempt")
        problem = worker._retry_problem
    finally:
        worker._stopping.set()
        thread.join(10)

    assert result == [False]
    assert f"dead-letter topic {TOPIC}.dlq failing: broker down" in problem
    # The valid record after the invalid one is not stored, and no offset
    # is noted for commit.
    assert store.count() == 0
    assert worker._uncommitted == {}


def test_batch_store_retry_after_dead_letters():
    publisher = FakePublisher()
    worker = make_worker(publisher, FailingStore(failures=2))
    batch = [record(0, b"1", b"junk"), record(1, b"1", record_value(1, "valid"))]

    assert worker._handle_batch(batch) is True

    # The dead letter is published once, however often the store fails.
    assert len(publisher.calls) == 1
    assert worker._store.count() == 1
    assert worker._uncommitted == {(TOPIC, 0): 2}


def test_batch_without_invalid_publishes_nothing():
    publisher = FakePublisher()
    worker = make_worker(publisher)

    assert worker._handle_batch([record(0, b"1", record_value(1, "valid"))])

    assert publisher.calls == []


def test_max_poll_error_leaves_group():
    worker = make_worker(FakePublisher())
    worker._assigned.set()
    error = Message(
        topic=TOPIC,
        partition=-1,
        offset=-1001,
        error=KafkaError(KafkaError._MAX_POLL_EXCEEDED, "exceeded by 321ms"),
    )

    assert worker._handle_batch([error]) is True

    assert not worker._assigned.is_set()
    assert worker._left_group_reason == "exceeded by 321ms"


@pytest.mark.parametrize("commit_fails", [False, True], ids=["ok", "failed"])
def test_revoke_forgets_offsets(commit_fails):
    worker = make_worker(FakePublisher())
    worker._uncommitted = {(TOPIC, 0): 5, (TOPIC, 1): 9}
    consumer = FakeConsumer(fail=commit_fails)

    worker._on_revoke(consumer, [TopicPartition(TOPIC, 0)])

    assert [(tp.partition, tp.offset) for tp in consumer.commits[0]] == [(0, 5)]
    assert worker._uncommitted == {(TOPIC, 1): 9}


def test_lost_after_max_poll_keeps_reason():
    worker = make_worker(FakePublisher())
    worker._uncommitted = {(TOPIC, 0): 5}
    worker._leave("exceeded by 321ms")

    worker._on_lost(None, [TopicPartition(TOPIC, 0)])

    assert worker._uncommitted == {}
    assert worker._left_group_reason == "exceeded by 321ms"
