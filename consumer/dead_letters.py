"""The dead-letter topic, where the consumer publishes the records it cannot store.

A dead-letter record has the key and value of the invalid record, byte for
byte, and four headers: ``x-error`` (why the record was rejected) and
``x-source-topic``, ``x-source-partition`` and ``x-source-offset`` (where it
was read, the numbers as decimal strings). All header values are UTF-8. The
invalid record's own headers are not copied.
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from common.errors import SettingsError
from common.kafka_config import dead_letter_producer_config
from common.settings import Settings

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".dlq"
# Kafka rejects topic names longer than this.
_MAX_TOPIC_LENGTH = 249
# How long to wait for delivery reports beyond message.timeout.ms, after
# which librdkafka must have reported every record.
_REPORT_GRACE = 5.0
_FLUSH_INTERVAL = 0.5
_CLOSE_TIMEOUT = 5.0


def dead_letter_topic(topic: str) -> str:
    """Return the name of the dead-letter topic of ``topic``.

    Raises ``SettingsError`` when the name would be longer than Kafka allows.
    """
    name = topic + DEAD_LETTER_SUFFIX
    if len(name) > _MAX_TOPIC_LENGTH:
        raise SettingsError(
            "NOTIFY_TOPIC",
            f"a topic name of {len(topic)} characters leaves no room for the "
            f"dead-letter topic {DEAD_LETTER_SUFFIX!r}: use at most "
            f"{_MAX_TOPIC_LENGTH - len(DEAD_LETTER_SUFFIX)} characters",
        )
    return name


@dataclass(frozen=True)
class DeadLetter:
    """An invalid record, where it was read and why it was rejected."""

    key: bytes | None
    value: bytes | None
    error: str
    topic: str
    partition: int
    offset: int

    @classmethod
    def from_message(cls, message: Message, error: str) -> "DeadLetter":
        return cls(
            key=message.key(),
            value=message.value(),
            error=error,
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
        )

    @property
    def source(self) -> str:
        """Position of the invalid record, as in ``topic[partition]@offset``."""
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("x-error", self.error.encode("utf-8")),
            ("x-source-topic", self.topic.encode("utf-8")),
            ("x-source-partition", str(self.partition).encode("ascii")),
            ("x-source-offset", str(self.offset).encode("ascii")),
        ]


@dataclass(frozen=True)
class DeadLetterFailure:
    """A dead letter the broker did not acknowledge, and the error."""

    letter: DeadLetter
    error: str


class DeadLetterPublisher:
    """Publish dead letters with one idempotent producer and await every report.

    Create it anywhere, but call ``open`` in the process that publishes,
    because librdkafka does not survive ``fork()``. One thread at a time may
    call ``publish``.
    """

    def __init__(self, settings: Settings) -> None:
        self.topic = dead_letter_topic(settings.topic)
        self._config = {
            **dead_letter_producer_config(settings),
            "error_cb": self._on_error,
            "logger": logging.getLogger("librdkafka"),
        }
        self._report_timeout = settings.delivery_timeout + _REPORT_GRACE
        self._producer: Producer | None = None
        # Set by error_cb, which flush() calls, when the idempotent producer
        # hits a fatal error, after which it fails every record.
        self._fatal = threading.Event()
        self._last_error = ""

    def open(self) -> None:
        self._producer = Producer(self._config)

    def publish(self, letters: Sequence[DeadLetter]) -> list[DeadLetterFailure]:
        """Produce ``letters`` and wait for their delivery reports.

        Returns the letters the broker did not acknowledge, with the error.
        An unacknowledged letter may still have been written, so publishing
        it again can leave two copies on the dead-letter topic.
        """
        if self._fatal.is_set() or self._producer is None:
            self._replace_producer()

        reports: dict[int, KafkaError | None] = {}
        failures: list[DeadLetterFailure] = []
        produced: list[tuple[int, DeadLetter]] = []
        for index, letter in enumerate(letters):
            try:
                self._producer.produce(
                    self.topic,
                    key=letter.key,
                    value=letter.value,
                    headers=letter.headers(),
                    on_delivery=_report_into(reports, index),
                )
            except BufferError:
                failures.append(
                    DeadLetterFailure(letter, "the producer's local queue is full")
                )
                continue
            except KafkaException as exc:
                failures.append(DeadLetterFailure(letter, exc.args[0].str()))
                continue
            produced.append((index, letter))

        self._await_reports(len(produced), reports)
        for index, letter in produced:
            if index not in reports:
                error = f"no delivery report within {self._report_timeout:.0f} s"
                failures.append(DeadLetterFailure(letter, error))
            elif reports[index] is not None:
                failures.append(DeadLetterFailure(letter, reports[index].str()))
        return failures

    def close(self) -> None:
        """Wait up to a few seconds for records in flight, then drop the producer."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        remaining = producer.flush(_CLOSE_TIMEOUT)
        if remaining:
            log.warning(
                "Dead-letter producer closed with %d records not acknowledged",
                remaining,
            )

    def _await_reports(self, expected: int, reports: dict) -> None:
        # librdkafka reports every record within message.timeout.ms, so the
        # wait ends before the deadline unless something is wrong.
        deadline = time.monotonic() + self._report_timeout
        while len(reports) < expected and time.monotonic() < deadline:
            self._producer.flush(_FLUSH_INTERVAL)

    def _replace_producer(self) -> None:
        # NOTE: no test reaches the fatal branch, because neither broker in
        # the tests makes the idempotent producer fail fatally.
        old = self._producer
        if old is not None:
            log.warning(
                "Replacing the dead-letter producer after a fatal error: %s",
                self._last_error,
            )
            # A producer in the fatal state never delivers its queued records.
            old.purge()
            old.flush(0)
        self._fatal.clear()
        self._producer = Producer(self._config)

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal.set()
        message = str(error)
        if message != self._last_error:
            log.warning("Kafka client error in the dead-letter producer: %s", message)
            self._last_error = message


def _report_into(reports: dict, index: int):
    def on_delivery(error: KafkaError | None, message: Message) -> None:
        reports[index] = error

    return on_delivery
