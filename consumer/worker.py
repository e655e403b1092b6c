"""The consumer thread: topic → store, committing only what is stored.

Invalid records go to the dead-letter topic instead of the store, and their
offsets are committed only once the broker has acknowledged that copy.
"""

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
    RECORDS_DEAD_LETTERED,
    RECORDS_SKIPPED,
    SECONDS_SINCE_COMMIT,
)
from common.models import Notification
from common.settings import Settings
from common.topics import TopicWaiter
from consumer.dead_letters import DeadLetter, DeadLetterPublisher
from consumer.offsets import OffsetTracker, Verdict
from consumer.records import InvalidRecordError, decode_record
from consumer.store import NotificationStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_POLL_TIMEOUT = 0.5
_RETRY_FIRST = 0.1
_RETRY_MAX = 5.0
_JOIN_TIMEOUT = 20.0


class ConsumerWorker:
    """Poll the topic in a group and write each batch to the store.

    Offsets are committed only after the batch they cover is stored and its
    invalid records are on the dead-letter topic, so a crash at any point
    loses nothing. Records handled but not committed are delivered again: the
    store ignores them by id, but an invalid one is dead-lettered again.
    """

    def __init__(self, settings: Settings, store: NotificationStore) -> None:
        self._settings = settings
        self._store = store
        self._dead_letters = DeadLetterPublisher(settings)
        self._topic_waiter = TopicWaiter(
            admin_config(settings), settings.topic, settings.topic_partitions
        )
        # The dead-letter topic gets the partition count of the main topic.
        self._dead_letter_waiter = TopicWaiter(
            admin_config(settings),
            self._dead_letters.topic,
            settings.topic_partitions,
        )
        self._stopping = threading.Event()
        self._assigned = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="notify-consumer", daemon=True
        )
        # Next offset to commit per (topic, partition), for stored records
        # whose commit has not succeeded yet.
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._offsets = OffsetTracker()
        # Why the batch in hand cannot be finished, while a retry loop runs.
        self._retry_problem = ""
        # Why this member is out of the group, after the broker dropped it.
        self._left_group_reason = ""
        self._last_error = ""
        # Monotonic time of the last commit, or of the assignment before the
        # first one; None while this worker has no partitions.
        self._commit_clock: float | None = None
        self.stored = 0
        self.dead_lettered = 0

    @property
    def processed(self) -> int:
        """Records handled so far: stored ones and dead-lettered invalid ones."""
        return self.stored + self.dead_lettered

    def start(self) -> None:
        self._topic_waiter.start()
        self._dead_letter_waiter.start()
        self._thread.start()

    def stop(self) -> None:
        """Finish the batch in hand, commit, leave the group and join.

        A batch whose store write or dead-letter publish is failing is given
        up instead, and its offsets are not committed.
        """
        self._topic_waiter.stop()
        self._dead_letter_waiter.stop()
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(_JOIN_TIMEOUT)
        if self._thread.is_alive():
            log.warning("Consumer thread did not stop within %.0f s", _JOIN_TIMEOUT)

    def readiness_problem(self) -> str | None:
        """Return why the consumer is not ready, or None when it is."""
        if not self._thread.is_alive():
            return "consumer thread is not running"
        for waiter in (self._topic_waiter, self._dead_letter_waiter):
            if not waiter.ready:
                return waiter.problem
        if self._retry_problem:
            return self._retry_problem
        if not self._assigned.is_set():
            if self._left_group_reason:
                return (
                    f"rejoining consumer group {self._settings.group_id} after "
                    f"leaving it: {self._left_group_reason}"
                )
            return f"not yet joined consumer group {self._settings.group_id}"
        return None

    def _run(self) -> None:
        for waiter in (self._topic_waiter, self._dead_letter_waiter):
            while not waiter.wait(_POLL_TIMEOUT):
                if self._stopping.is_set():
                    return

        self._dead_letters.open()
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
            self._dead_letters.close()
            log.info(
                "Consumer closed after %d records (%d stored, %d dead-lettered)",
                self.processed, self.stored, self.dead_lettered,
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
            in_order, rewinds = self._in_offset_order(batch)
            if not self._handle_batch(in_order):
                return
            self._commit(consumer)
            self._rewind(consumer, rewinds)

    def _in_offset_order(
        self, batch: list[Message]
    ) -> tuple[list[Message], dict[tuple[str, int], int]]:
        """Keep the records at each partition's next offsets, in order.

        Records already handled are dropped. At a gap, the partition's
        remaining records are dropped too, and the returned rewinds give
        the offset to read that partition from again.
        """
        in_order: list[Message] = []
        rewinds: dict[tuple[str, int], int] = {}
        for message in batch:
            if message.error() is not None:
                in_order.append(message)
                continue
            where = (message.topic(), message.partition())
            if where in rewinds:
                continue
            verdict = self._offsets.classify(*where, message.offset())
            if verdict is Verdict.NEW:
                in_order.append(message)
            elif verdict is Verdict.GAP:
                rewinds[where] = self._offsets.expected(*where)
                log.warning(
                    "Offset gap on %s[%d]: expected %d, got %d; reading again",
                    where[0], where[1], rewinds[where], message.offset(),
                )
        return in_order, rewinds

    def _rewind(self, consumer: Consumer, rewinds: dict[tuple[str, int], int]):
        if not rewinds:
            return
        # A short pause gives the broker time to make the missing records
        # readable before the partition is fetched again.
        self._stopping.wait(0.05)
        for (topic, partition), offset in rewinds.items():
            try:
                consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # The partition was revoked meanwhile; its next owner reads
                # from the committed offset.
                log.warning(
                    "Cannot rewind %s[%d] to %d: %s", topic, partition, offset, exc
                )

    def _handle_batch(self, batch: Iterable[Message]) -> bool:
        """Dead-letter the invalid records, store the valid ones, note offsets.

        Returns False if stopping interrupted a retry loop, and the batch's
        offsets are then not committed.
        """
        notifications: list[Notification] = []
        letters: list[DeadLetter] = []
        offsets: dict[tuple[str, int], int] = {}
        consumed = 0
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
                letters.append(DeadLetter.from_message(message, str(exc)))
                log.warning(
                    "Skipping invalid record at %s[%d] offset %d, publishing it "
                    "to %s: %s",
                    where[0], where[1], message.offset(), self._dead_letters.topic,
                    exc,
                )
        RECORDS_CONSUMED.inc(consumed)

        # These retry loops do not call poll(). When they last longer than
        # max.poll.interval.ms, librdkafka leaves the group. The commit after
        # this batch then fails, and the next poll() reports the partitions
        # lost and rejoins, so the batch is read again.
        if not self._dead_letter_with_retry(letters):
            return False
        RECORDS_DEAD_LETTERED.inc(len(letters))
        RECORDS_SKIPPED.inc(len(letters))
        self.dead_lettered += len(letters)

        new = self._store_with_retry(notifications)
        if new is None:
            return False
        NOTIFICATIONS_STORED.inc(new)
        self.stored += len(notifications)

        self._uncommitted.update(offsets)
        return True

    def _dead_letter_with_retry(self, letters: list[DeadLetter]) -> bool:
        """Publish until the broker acknowledges all; return False if stopping."""
        pending = letters
        delay = _RETRY_FIRST
        while pending:
            failures = self._dead_letters.publish(pending)
            if not failures:
                break

            pending = [failure.letter for failure in failures]
            first = failures[0]
            self._retry_problem = (
                f"publishing to dead-letter topic {self._dead_letters.topic} "
                f"failing: {first.error}"
            )
            log.error(
                "Publishing %d invalid records to %s failed, retrying in %.1f s. "
                "First failure, for the record at %s: %s",
                len(pending), self._dead_letters.topic, delay, first.letter.source,
                first.error,
            )
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, _RETRY_MAX)

        self._retry_problem = ""
        return True

    def _store_with_retry(self, notifications: list[Notification]) -> int | None:
        """Write until it succeeds; return the new count, None if stopping."""
        delay = _RETRY_FIRST
        while True:
            try:
                new = self._store.add_many(notifications)
            except StoreError as exc:
                self._retry_problem = f"store write failing: {exc}"
                log.error(
                    "Storing %d notifications failed, retrying in %.1f s: %s",
                    len(notifications), delay, exc,
                )
                if self._stopping.wait(delay):
                    return None
                delay = min(delay * 2, _RETRY_MAX)
                continue

            self._retry_problem = ""
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
            # The records are handled. If this commit is lost, they are read
            # again: the store ignores them by id, and invalid ones are
            # dead-lettered again.
            log.warning(
                "Commit of %s failed, so its records may be read again: %s",
                _describe(offsets), exc,
            )
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
        self._left_group_reason = ""
        self._expect_committed(consumer, partitions)
        self._assigned.set()

    def _expect_committed(self, consumer: Consumer, partitions: list) -> None:
        """Start each assigned partition's offset check at its committed offset."""
        for partition in partitions:
            self._offsets.forget(partition.topic, partition.partition)
        if not partitions:
            return
        try:
            committed = consumer.committed(partitions, timeout=5)
        except KafkaException as exc:
            # The check then starts at the first record read.
            log.warning("Cannot read committed offsets: %s", exc)
            return
        for partition in committed:
            if partition.offset >= 0:
                self._offsets.start_at(
                    partition.topic, partition.partition, partition.offset
                )

    def _on_revoke(self, consumer: Consumer, partitions: list) -> None:
        log.info("Partitions revoked: %s", _describe(partitions) or "none")
        keys = [(p.topic, p.partition) for p in partitions]
        self._commit(consumer, keys)
        # An offset whose commit failed here must not be committed later,
        # when another member may own the partition. The records are stored,
        # and the next owner reads them again.
        for key in keys:
            self._uncommitted.pop(key, None)
            self._offsets.forget(*key)

    def _on_lost(self, consumer: Consumer, partitions: list) -> None:
        log.warning("Partitions lost: %s", _describe(partitions))
        for partition in partitions:
            self._uncommitted.pop((partition.topic, partition.partition), None)
            self._offsets.forget(partition.topic, partition.partition)
        # After max.poll.interval.ms, the _MAX_POLL_EXCEEDED error gives a
        # more precise reason, and it comes before or after this callback.
        self._leave(self._left_group_reason or "partitions lost")

    def _on_message_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        if error.code() == KafkaError._MAX_POLL_EXCEEDED:
            # librdkafka has already left the group; the next poll() rejoins.
            log.warning(
                "Left consumer group %s: %s", self._settings.group_id, error.str()
            )
            self._leave(error.str())
            return
        log.warning("Consumer error: %s", error)

    def _leave(self, reason: str) -> None:
        """Report not ready until the next assignment."""
        self._left_group_reason = reason
        self._assigned.clear()

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
