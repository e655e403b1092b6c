"""Tests of the dead-letter topic name, record headers and publisher."""

import time

import pytest
from confluent_kafka import Message, Producer

from common.errors import SettingsError
from common.kafka_config import dead_letter_producer_config
from common.settings import load_settings
from consumer.dead_letters import DeadLetter, DeadLetterPublisher, dead_letter_topic

UNREACHABLE = "127.0.0.1:1"


def test_dead_letter_topic_suffix():
    assert dead_letter_topic("notifications") == "notifications.dlq"


def test_dead_letter_topic_longest():
    assert dead_letter_topic("t" * 245) == "t" * 245 + ".dlq"


def test_dead_letter_topic_too_long():
    with pytest.raises(SettingsError) as caught:
        dead_letter_topic("t" * 246)

    assert caught.value.variable == "NOTIFY_TOPIC"
    assert "at most 245 characters" in str(caught.value)


def test_dead_letter_from_message():
    message = Message(
        topic="notifications", partition=2, offset=41, key=b"\x00k", value=b"\xff"
    )

    letter = DeadLetter.from_message(message, "value is not UTF-8 JSON")

    assert letter.key == b"\x00k"
    assert letter.value == b"\xff"
    assert letter.source == "notifications[2]@41"


def test_dead_letter_keeps_none():
    message = Message(topic="t", partition=0, offset=0, key=None, value=None)

    letter = DeadLetter.from_message(message, "record has no value")

    assert letter.key is None
    assert letter.value is None


def test_dead_letter_headers():
    letter = DeadLetter(
        key=None,
        value=b"x",
        error="key '2' is not the recipient id 1 – café",
        topic="notifications",
        partition=12,
        offset=1_234_567_890_123,
    )

    assert letter.headers() == [
        ("x-error", "key '2' is not the recipient id 1 – café".encode()),
        ("x-source-topic", b"notifications"),
        ("x-source-partition", b"12"),
        ("x-source-offset", b"1234567890123"),
    ]


def test_dead_letter_producer_config():
    settings = load_settings({"KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE})
    config = dead_letter_producer_config(settings)

    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["client.id"] == "notify-dead-letters"
    # Raises KafkaException if librdkafka rejects a property.
    Producer(config)


def test_publisher_reports_failures():
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": UNREACHABLE,
            "NOTIFY_TOPIC": "unit",
            "NOTIFY_DELIVERY_TIMEOUT_MS": "100",
        }
    )
    publisher = DeadLetterPublisher(settings)
    letters = [
        DeadLetter(b"1", b"a", "broken", "unit", 0, 0),
        DeadLetter(None, None, "no value", "unit", 0, 1),
    ]
    publisher.open()
    started = time.monotonic()
    try:
        failures = publisher.publish(letters)
    finally:
        publisher.close()

    assert [failure.letter for failure in failures] == letters
    assert all("timed out" in failure.error for failure in failures)
    # message.timeout.ms is 100 ms, so the reports come long before the
    # publisher's own deadline of 5.1 s.
    assert time.monotonic() - started < 5


def test_publisher_topic():
    settings = load_settings({"NOTIFY_TOPIC": "orders"})

    assert DeadLetterPublisher(settings).topic == "orders.dlq"
