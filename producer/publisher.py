"""The publisher: one long-lived Kafka producer per worker process.

Each request produces its record with its own delivery callback and waits
on a future that the callback completes. A background thread serves
``poll()`` so callbacks run while request threads wait; nothing flushes per
request, and ``stop()`` flushes once.
"""

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer

from common.errors import DeliveryError
from common.kafka_config import admin_config, producer_config
from common.metrics import DELIVERY_LATENCY, PUBLISH_FAILED, PUBLISHED
from common.models import Notification
from common.settings import Settings
from common.topics import TopicWaiter

log = logging.getLogger(__name__)

# Extra wait beyond message.timeout.ms for the callback that reports the
# timeout to arrive, so a request never gives up before librdkafka does.
_CALLBACK_GRACE = 2.0
_FLUSH_TIMEOUT = 10.0


class Publisher:
    """Publish notifications and wait for the broker's acknowledgement."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = settings.topic
        self._producer: Producer | None = None
        self._stopping = threading.Event()
        self._poll_thread = threading.Thread(
            target=self._serve_poll, name="producer-poll", daemon=True
        )
        self._topic_waiter = TopicWaiter(
            admin_config(settings), settings.topic, settings.topic_partitions
        )
        self._metadata_ready = threading.Event()
        self._last_error = ""

    def start(self) -> None:
        """Create the producer and start the poll and topic threads."""
        self._producer = Producer(
            {
                **producer_config(self._settings),
                "error_cb": self._on_error,
                "logger": logging.getLogger("librdkafka"),
            }
        )
        self._topic_waiter.start()
        self._poll_thread.start()

    def stop(self) -> None:
        """Deliver what is queued, then stop the threads."""
        self._topic_waiter.stop()
        self._stopping.set()
        self._poll_thread.join(timeout=5)
        if self._producer is None:
            return

        remaining = self._producer.flush(_FLUSH_TIMEOUT)
        if remaining:
            log.warning(
                "Producer stopped with %d records not acknowledged", remaining
            )
        else:
            log.info("Producer flushed and stopped")

    def readiness_problem(self) -> str | None:
        """Return why the publisher cannot publish yet, or None when it can."""
        if not self._topic_waiter.ready:
            return self._topic_waiter.problem
        if not self._metadata_ready.is_set():
            return f"no metadata for topic {self._topic} from the broker yet"
        return None

    def publish(self, notification: Notification) -> None:
        """Produce ``notification`` and wait until the broker acknowledges it.

        Raises ``DeliveryError`` when the local queue is full, the broker
        rejects the record or no acknowledgement arrives in time.
        """
        future: Future = Future()
        value = orjson.dumps(notification.to_dict())
        started = time.perf_counter()
        try:
            self._producer.produce(
                self._topic,
                key=notification.record_key,
                value=value,
                on_delivery=lambda err, msg: _complete(future, started, err, msg),
            )
        except BufferError as exc:
            PUBLISH_FAILED.labels("queue_full").inc()
            raise DeliveryError(
                "the producer's local queue is full; retry shortly"
            ) from exc
        except KafkaException as exc:
            PUBLISH_FAILED.labels("rejected").inc()
            raise DeliveryError(
                f"the producer rejected the record: {exc.args[0]}", exc.args[0]
            ) from exc

        timeout = self._settings.delivery_timeout + _CALLBACK_GRACE
        try:
            future.result(timeout=timeout)
        except FutureTimeoutError as exc:
            PUBLISH_FAILED.labels("timeout").inc()
            raise DeliveryError(
                f"no acknowledgement from Kafka within {timeout:.1f} s"
            ) from exc

    def _serve_poll(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)
            if not self._metadata_ready.is_set() and self._topic_waiter.ready:
                self._load_metadata()

    def _load_metadata(self) -> None:
        try:
            metadata = self._producer.list_topics(self._topic, timeout=2)
        except KafkaException as exc:
            log.warning("Cannot read metadata of topic %s: %s", self._topic, exc)
            return
        topic = metadata.topics.get(self._topic)
        if topic is not None and topic.error is None and topic.partitions:
            log.info(
                "Topic %s has %d partitions; producer ready",
                self._topic, len(topic.partitions),
            )
            self._metadata_ready.set()

    def _on_error(self, error: KafkaError) -> None:
        message = str(error)
        if message != self._last_error:
            log.warning("Kafka client error: %s", message)
            self._last_error = message


def _complete(
    future: Future, started: float, error: KafkaError | None, message
) -> None:
    """Delivery callback: resolve the request's future with the outcome."""
    if error is None:
        PUBLISHED.inc()
        DELIVERY_LATENCY.observe(time.perf_counter() - started)
        future.set_result((message.partition(), message.offset()))
        return

    PUBLISH_FAILED.labels("delivery_failed").inc()
    log.warning(
        "Delivery failed for key %s: %s", message.key().decode("ascii"), error
    )
    future.set_exception(
        DeliveryError(f"Kafka did not acknowledge the record: {error.str()}", error)
    )

