"""Tests of the librdkafka configuration dicts.

Each dict is also handed to a real client: librdkafka validates every
property when the client is constructed and raises KafkaException on an
unknown name or an invalid value. Construction does not wait for a
connection, so the unreachable bootstrap address 127.0.0.1:1 is enough.
"""

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from common.kafka_config import admin_config, consumer_config, producer_config
from common.settings import load_settings

UNREACHABLE = "127.0.0.1:1"


@pytest.fixture
def settings():
    return load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE,
            "KAFKA_SESSION_TIMEOUT_MS": "9000",
            "NOTIFY_DELIVERY_TIMEOUT_MS": "7500",
            "NOTIFY_GROUP_ID": "unit-group",
        }
    )


# Producer


def test_producer_config_bootstrap(settings):
    assert producer_config(settings)["bootstrap.servers"] == UNREACHABLE


def test_producer_config_acks_all(settings):
    assert producer_config(settings)["acks"] == "all"


def test_producer_config_idempotence(settings):
    assert producer_config(settings)["enable.idempotence"] is True


def test_producer_config_message_timeout(settings):
    assert producer_config(settings)["message.timeout.ms"] == 7500


def test_producer_config_timeout_follows_default():
    config = producer_config(load_settings({}))

    assert config["message.timeout.ms"] == 10_000


def test_producer_config_no_topic_creation(settings):
    assert producer_config(settings)["allow.auto.create.topics"] is False


def test_producer_config_accepted(settings):
    # Raises KafkaException if librdkafka rejects a property.
    Producer(producer_config(settings))


# Consumer


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("bootstrap.servers", UNREACHABLE),
        ("group.id", "unit-group"),
        ("enable.auto.commit", False),
        ("auto.offset.reset", "earliest"),
        ("partition.assignment.strategy", "range"),
        ("session.timeout.ms", 9000),
        ("heartbeat.interval.ms", 3000),
        ("allow.auto.create.topics", False),
    ],
)
def test_consumer_config_value(settings, key, expected):
    assert consumer_config(settings)[key] == expected


def test_consumer_config_heartbeat_below_session():
    config = consumer_config(load_settings({"KAFKA_SESSION_TIMEOUT_MS": "1000"}))

    assert config["session.timeout.ms"] == 1000
    assert config["heartbeat.interval.ms"] == 333


def test_consumer_config_defaults():
    config = consumer_config(load_settings({}))

    assert config["group.id"] == "notifications-group"
    assert config["session.timeout.ms"] == 6000
    assert config["heartbeat.interval.ms"] == 2000


def test_consumer_config_accepted(settings):
    consumer = Consumer(consumer_config(settings))

    assert consumer.assignment() == []
    consumer.close()


# Admin client


def test_admin_config_values(settings):
    config = admin_config(settings)

    assert config["bootstrap.servers"] == UNREACHABLE
    assert config["allow.auto.create.topics"] is False


def test_admin_config_accepted(settings):
    # Raises KafkaException if librdkafka rejects a property.
    AdminClient(admin_config(settings))


def test_client_rejects_invalid_config(settings):
    # Shows that the construction checks above can fail.
    config = {**producer_config(settings), "acks": "several"}

    with pytest.raises(KafkaException):
        Producer(config)
