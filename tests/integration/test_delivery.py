"""End-to-end delivery: consumer outages, restarts, invalid records, no broker."""

import signal
import time

import requests

from common.broker import EmbeddedBroker
from tests.integration.conftest import record_value
from tests.support import fetch_feed, free_port, send, wait_for_feed


def send_ok(producer_url: str, from_id: int, to_id: int, message: str) -> str:
    response = send(producer_url, from_id, to_id, message)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_send_while_consumer_down_is_stored_later(start_service, service_env):
    producer = start_service("producer:create_app()", service_env)
    sent = [send_ok(producer.url, 2, 1, f"while down {i}") for i in range(3)]

    consumer = start_service("consumer:create_app()", service_env)
    emma = wait_for_feed(consumer.url, 1, 3)

    assert [n["id"] for n in emma] == sent


def test_consumer_restart_keeps_store_and_stores_once(start_service, service_env):
    producer = start_service("producer:create_app()", service_env)
    # NOTE: one worker, because the embedded broker can keep a group from
    # ever rebalancing again when two members leave during a rebalance.
    consumer = start_service("consumer:create_app()", service_env)
    sent = [send_ok(producer.url, 4, 3, f"before restart {i}") for i in range(20)]
    wait_for_feed(consumer.url, 3, 20)

    assert consumer.stop(signal.SIGTERM, timeout=40) == 0
    assert "Consumer closed after" in consumer.log_path.read_text()

    # Same group: resumes at the committed offsets.
    consumer = start_service("consumer:create_app()", service_env)
    sent.append(send_ok(producer.url, 4, 3, "after restart"))
    rick = wait_for_feed(consumer.url, 3, 21)
    assert [n["id"] for n in rick] == sent
    consumer.stop()

    # A new group reads the topic from the start: every record arrives again
    # and the store must keep one copy of each.
    new_group = service_env["NOTIFY_GROUP_ID"] + "-b"
    rereading = {**service_env, "NOTIFY_GROUP_ID": new_group}
    consumer = start_service("consumer:create_app()", rereading)
    sent.append(send_ok(producer.url, 4, 3, "after rereading"))
    rick = wait_for_feed(consumer.url, 3, 22)

    assert [n["id"] for n in rick] == sent
    assert len(fetch_feed(consumer.url, 3)) == 22


def test_invalid_records_skipped_next_stored(
    start_service, service_env, raw_producer
):
    consumer = start_service("consumer:create_app()", service_env)
    topic = service_env["NOTIFY_TOPIC"]
    invalid = [
        (b"1", b"not json at all"),
        (b"1", b"\xff\xfe"),
        (b"1", b'["a", "list"]'),
        (b"1", record_value(1, "no sender", **{"from": None})),
        (b"1", record_value(1, "   ")),
        (b"1", record_value(1, "bad id", id="not-a-uuid")),
        (b"2", record_value(1, "key is another user")),
        (None, record_value(1, "no key")),
        (b"1", None),
    ]
    for key, value in invalid:
        raw_producer.produce(topic, key=key, value=value, partition=0)
    valid = record_value(1, "the valid one")
    raw_producer.produce(topic, key=b"1", value=valid, partition=0)
    assert raw_producer.flush(10) == 0

    emma = wait_for_feed(consumer.url, 1, 1)

    assert [n["message"] for n in emma] == ["the valid one"]
    log = consumer.log_path.read_text()
    assert log.count("Skipping invalid record") == len(invalid)
    assert requests.get(f"{consumer.url}/readyz", timeout=5).status_code == 200


def test_send_without_broker_is_503_within_timeout(start_service, service_env):
    broker = EmbeddedBroker(free_port())
    broker.start()
    env = {
        **service_env,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "NOTIFY_DELIVERY_TIMEOUT_MS": "2000",
    }
    try:
        producer = start_service("producer:create_app()", env)
        send_ok(producer.url, 2, 1, "while the broker runs")
    finally:
        broker.stop()

    started = time.monotonic()
    response = send(producer.url, 2, 1, "after the broker stopped")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "not sent" in response.json()["message"]
    # The delivery timeout (2 s) plus the callback grace (2 s), plus margin.
    assert elapsed < 8
