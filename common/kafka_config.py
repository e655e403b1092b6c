"""librdkafka configuration dicts for the producer, consumer and admin client.

Keys are librdkafka's own dotted names; see
https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md
The values suit both Apache Kafka and the embedded broker.
"""

from common.settings import Settings


def _common_config(settings: Settings, client_id: str) -> dict:
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": client_id,
        # Only the services create the topic, with the configured partition
        # count; a metadata request must never create it with the broker's
        # default count.
        "allow.auto.create.topics": False,
        "reconnect.backoff.max.ms": 2000,
    }


def producer_config(settings: Settings) -> dict:
    """Return the configuration of the publishing ``Producer``."""
    return {
        **_common_config(settings, "notify-producer"),
        "acks": "all",
        "enable.idempotence": True,
        # No record may be delivered after its request got its response, so the
        # client gives up exactly when the request stops waiting.
        "message.timeout.ms": settings.delivery_timeout_ms,
        # Requests that arrive within 5 ms share one produce request. Against
        # 2 ms it cut the embedded broker's CPU by about a third under load,
        # and /send at 32 connections got about 25% more requests through.
        "linger.ms": 5,
        # The Java client's partitioner, so that a user's records land on the
        # same partition whichever client language produced them.
        "partitioner": "murmur2_random",
    }


def dead_letter_producer_config(settings: Settings) -> dict:
    """Return the configuration of the consumer's dead-letter ``Producer``."""
    return {
        **producer_config(settings),
        "client.id": "notify-dead-letters",
    }


def consumer_config(settings: Settings) -> dict:
    """Return the configuration of the group ``Consumer``."""
    session_timeout_ms = settings.kafka_session_timeout_ms
    return {
        **_common_config(settings, "notify-consumer"),
        "group.id": settings.group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "range",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(session_timeout_ms // 3, 100),
        # A consumer that does not call poll() for this long leaves the group,
        # and its partitions go to the other members.
        "max.poll.interval.ms": settings.max_poll_interval_ms,
        # An idle consumer receives a new record after at most this long.
        "fetch.wait.max.ms": 10,
        "topic.metadata.refresh.interval.ms": 10_000,
        "enable.partition.eof": False,
    }


def admin_config(settings: Settings) -> dict:
    """Return the configuration of the ``AdminClient`` that creates the topic."""
    return {
        **_common_config(settings, "notify-admin"),
        # Failed admin calls raise, and their callers log each one; without
        # this, every reconnect attempt to a down broker adds a line.
        "log_level": 2,
    }
