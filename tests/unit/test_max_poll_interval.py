"""Tests of NOTIFY_MAX_POLL_INTERVAL_MS: the setting and the consumer configuration."""

import pytest
from confluent_kafka import Consumer, KafkaException

from common.errors import SettingsError
from common.kafka_config import consumer_config
from common.settings import load_settings

UNREACHABLE = "127.0.0.1:1"


def test_max_poll_default():
    assert load_settings({}).max_poll_interval_ms == 300_000


def test_max_poll_set():
    settings = load_settings(
        {"KAFKA_SESSION_TIMEOUT_MS": "2000", "NOTIFY_MAX_POLL_INTERVAL_MS": "3000"}
    )

    assert settings.max_poll_interval_ms == 3000


def test_max_poll_equal_to_session():
    settings = load_settings(
        {"KAFKA_SESSION_TIMEOUT_MS": "6000", "NOTIFY_MAX_POLL_INTERVAL_MS": "6000"}
    )

    assert settings.max_poll_interval_ms == 6000


def test_max_poll_default_follows_session():
    settings = load_settings({"KAFKA_SESSION_TIMEOUT_MS": "600000"})

    assert settings.max_poll_interval_ms == 600_000


def test_max_poll_below_session():
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"KAFKA_SESSION_TIMEOUT_MS": "6000", "NOTIFY_MAX_POLL_INTERVAL_MS": "5999"}
        )

    assert caught.value.variable == "NOTIFY_MAX_POLL_INTERVAL_MS"
    assert "at least KAFKA_SESSION_TIMEOUT_MS (6000)" in str(caught.value)


@pytest.mark.parametrize("value", ["0", "999", "86400001", "3s", "-1"])
def test_max_poll_invalid(value):
    with pytest.raises(SettingsError) as caught:
        load_settings({"NOTIFY_MAX_POLL_INTERVAL_MS": value})

    assert caught.value.variable == "NOTIFY_MAX_POLL_INTERVAL_MS"


def test_consumer_config_max_poll():
    settings = load_settings({"NOTIFY_MAX_POLL_INTERVAL_MS": "45000"})

    assert consumer_config(settings)["max.poll.interval.ms"] == 45_000


def test_consumer_config_max_poll_accepted():
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE,
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "NOTIFY_MAX_POLL_INTERVAL_MS": "2000",
        }
    )

    # Raises KafkaException if librdkafka rejects a property.
    Consumer(consumer_config(settings)).close()


def test_librdkafka_rejects_max_poll_below_session():
    # The rule that load_settings enforces, shown on librdkafka itself.
    settings = load_settings({"KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE})
    config = {
        **consumer_config(settings),
        "session.timeout.ms": 6000,
        "max.poll.interval.ms": 5999,
    }

    with pytest.raises(KafkaException):
        Consumer(config)
