"""The consumer thread: topic → store, committing only what is stored."""

import logging
import threading
import time
from collections.abc import Iterable

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from common.errors import StoreError
from common.kafka_config import admin_config, consumer_config
from common.metrics import (
    LAST_COMMIT,
    NOTIFICATIONS_STORED,
    RECORDS_CONSUMED,
    RECORDS_SKIPPED,
    SECONDS_SINCE_COMMIT,
)
from common.settings import Settings
from common.topics import TopicWaiter
from consumer.records import InvalidRecordError, decode_record
from consumer.store import NotificationStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_POLL_TIMEOUT = 0.5
_STORE_RETRY_MAX = 5.0
_JOIN_TIMEOUT = 20.0


class ConsumerWorker:
    """Poll the topic in a group and write each batch to the store.

    Offsets are committed only after the batch they cover is stored, so a
    crash at any point loses nothing; records stored but not committed are
    delivered again and the store ignores them by id.
    """

    def __init__(self, settings: Settings, store: NotificationStore) -> None:
        self._settings = settings
        self._store = store
        self._topic_waiter = TopicWaiter(
            admin_config(settings), settings.topic, settings.topic_partitions
        )
        self._stopping = threading.Event()
        self._assigned = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="notify-consumer", daemon=True
        )
        # Next offset to commit per (topic, partition), for stored records
        # whose commit has not succeeded yet.
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._store_problem = ""
        self._last_error = ""
        # Monotonic time of the last commit, or of the assignment before the
        # first one; None while this worker has no partitions.
        self._commit_clock: float | None = None
        self.stored = 0
        self.skipped = 0

    @property
    def processed(self) -> int:
        """Records handled so far: stored ones and skipped invalid ones."""
        return self.stored + self.skipped

    def start(self) -> None:
        self._topic_waiter.start()
        self._thread.start()

    def stop(self) -> None:
        """Finish the batch in hand, commit, leave the group and join."""
        self._topic_waiter.stop()
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(_JOIN_TIMEOUT)
        if self._thread.is_alive():
            log.warning("Consumer thread did not stop within %.0f s", _JOIN_TIMEOUT)

    def readiness_problem(self) -> str | None:
        """Return why the consumer is not ready, or None when it is."""
        if not self._thread.is_alive():
            return "consumer thread is not running"
        if not self._topic_waiter.ready:
            return self._topic_waiter.problem
        if not self._assigned.is_set():
            return f"not yet joined consumer group {self._settings.group_id}"
        if self._store_problem:
            return f"store write failing: {self._store_problem}"
        return None

    def _run(self) -> None:
        while not self._topic_waiter.wait(_POLL_TIMEOUT):
            if self._stopping.is_set():
                return

        consumer = Consumer(
            {
                **consumer_config(self._settings),
                "error_cb": self._on_error,
                "logger": logging.getLogger("librdkafka"),
            }
        )
        try:
            consumer.subscribe(
                [self._settings.topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._consume(consumer)
        except Exception:
            log.exception("Consumer loop failed; the consumer stops")
            raise
        finally:
            self._commit(consumer)
            consumer.close()
            log.info(
                "Consumer closed after %d records (%d stored, %d skipped)",
                self.processed, self.stored, self.skipped,
            )

    def _consume(self, consumer: Consumer) -> None:
        while not self._stopping.is_set():
            first = consumer.poll(_POLL_TIMEOUT)
            self._report_commit_age()
            if first is None:
                continue
            # Drain what is already fetched without waiting, so a single
            # record is stored at once and a burst is stored in batches.
            batch = [first, *consumer.consume(BATCH_SIZE - 1, timeout=0)]
            if not self._handle_batch(batch):
                return
            self._commit(consumer)

    def _handle_batch(self, batch: Iterable[Message]) -> bool:
        """Store a batch; return False if stopping interrupted a failing write."""
        notifications = []
        offsets: dict[tuple[str, int], int] = {}
        consumed = skipped = 0
        for message in batch:
            if message.error() is not None:
                self._on_message_error(message.error())
                continue
            consumed += 1

            where = (message.topic(), message.partition())
            offsets[where] = message.offset() + 1
            try:
                notifications.append(decode_record(message.key(), message.value()))
            except InvalidRecordError as exc:
                skipped += 1
                log.warning(
                    "Skipping invalid record at %s[%d] offset %d: %s",
                    where[0], where[1], message.offset(), exc,
                )

        RECORDS_CONSUMED.inc(consumed)
        RECORDS_SKIPPED.inc(skipped)
        new = self._store_with_retry(notifications)
        if new is None:
            return False
        NOTIFICATIONS_STORED.inc(new)
        self.stored += len(notifications)
        self.skipped += skipped
        self._uncommitted.update(offsets)

        return True

    def _store_with_retry(self, notifications: list) -> int | None:
        """Write until it succeeds; return the new count, None if stopping."""
        delay = 0.1
        while True:
            try:
                new = self._store.add_many(notifications)
            except StoreError as exc:
                self._store_problem = str(exc)
                log.error(
                    "Storing %d notifications failed, retrying in %.1f s: %s",
                    len(notifications), delay, exc,
                )
                # NOTE: a write that keeps failing for longer than
                # max.poll.interval.ms makes the broker drop this member
                # until the retry loop also serves poll().
                if self._stopping.wait(delay):
                    return None
                delay = min(delay * 2, _STORE_RETRY_MAX)
                continue

            self._store_problem = ""
            return new

    def _commit(self, consumer: Consumer, only: Iterable | None = None) -> None:
        keys = list(self._uncommitted if only is None else only)
        offsets = [
            TopicPartition(topic, partition, self._uncommitted[(topic, partition)])
            for topic, partition in keys
            if (topic, partition) in self._uncommitted
        ]
        if not offsets:
            return

        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The records are stored; if this commit is lost they are read
            # again and the store ignores them by id.
            log.warning("Commit of %s failed: %s", _describe(offsets), exc)
            return
        for offset in offsets:
            self._uncommitted.pop((offset.topic, offset.partition), None)
        LAST_COMMIT.set(time.time())
        if self._commit_clock is not None:
            self._commit_clock = time.monotonic()

    def _report_commit_age(self) -> None:
        if self._commit_clock is None:
            SECONDS_SINCE_COMMIT.set(0)
        else:
            SECONDS_SINCE_COMMIT.set(time.monotonic() - self._commit_clock)

    def _on_assign(self, consumer: Consumer, partitions: list) -> None:
        log.info(
            "Joined group %s with partitions %s",
            self._settings.group_id, _describe(partitions) or "none",
        )
        self._commit_clock = time.monotonic() if partitions else None
        self._assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list) -> None:
        log.info("Partitions revoked: %s", _describe(partitions) or "none")
        self._commit(consumer, [(p.topic, p.partition) for p in partitions])

    def _on_lost(self, consumer: Consumer, partitions: list) -> None:
        log.warning("Partitions lost: %s", _describe(partitions))
        for partition in partitions:
            self._uncommitted.pop((partition.topic, partition.partition), None)

    def _on_message_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("Consumer error: %s", error)

    def _on_error(self, error: KafkaError) -> None:
        message = str(error)
        if message != self._last_error:
            log.warning("Kafka client error: %s", message)
            self._last_error = message


def _describe(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(
        f"{p.topic}[{p.partition}]" + (f"@{p.offset}" if p.offset >= 0 else "")
        for p in partitions
    )
