"""Topic creation and the background task that waits for the broker."""

import logging
import threading

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from common.errors import KafkaClientError

log = logging.getLogger(__name__)


def ensure_topic(
    admin_conf: dict, topic: str, partitions: int, timeout: float = 5.0
) -> bool:
    """Create ``topic`` with ``partitions`` partitions unless it exists.

    Returns True when this call created it. Raises ``KafkaClientError`` when
    the broker cannot be reached or refuses the request. Safe to call from
    several processes at once: losing the race to create is success.
    """
    admin = AdminClient(admin_conf)
    try:
        # Listing all topics, rather than asking for this one, keeps the
        # metadata request from auto-creating it with the broker's defaults.
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaClientError(
            f"cannot list topics: {exc.args[0]}", exc.args[0]
        ) from exc
    if topic in metadata.topics and metadata.topics[topic].error is None:
        return False

    future = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=-1)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )[topic]
    try:
        future.result(timeout=timeout + 1)
    except KafkaException as exc:
        error = exc.args[0]
        if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise KafkaClientError(
            f"cannot create topic {topic}: {error}", error
        ) from exc

    log.info("Created topic %s with %d partitions", topic, partitions)
    return True


class TopicWaiter:
    """Ensure the topic exists in a background thread, retrying until it does.

    A service starts before the broker may be reachable; it reports not ready
    (``problem`` gives the reason) until the topic exists.
    """

    def __init__(
        self, admin_conf: dict, topic: str, partitions: int, retry_max: float = 5.0
    ) -> None:
        self._admin_conf = admin_conf
        self._topic = topic
        self._partitions = partitions
        self._retry_max = retry_max
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self.problem = f"checking topic {topic} on the broker"
        self._thread = threading.Thread(
            target=self._run, name="topic-waiter", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the topic exists or ``timeout`` passes; True if it does."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def _run(self) -> None:
        delay = 0.2
        attempt = 0
        while not self._stopping.is_set():
            attempt += 1
            try:
                ensure_topic(self._admin_conf, self._topic, self._partitions)
            except KafkaClientError as exc:
                self.problem = f"broker not reachable or topic missing: {exc}"
                log.warning(
                    "Topic %s not ready (attempt %d), retrying in %.1f s: %s",
                    self._topic, attempt, delay, exc,
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, self._retry_max)
                continue

            self.problem = ""
            self._ready.set()
            return
