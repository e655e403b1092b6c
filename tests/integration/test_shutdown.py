"""Graceful shutdown under load, and start-up before the broker exists."""

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from common.broker import EmbeddedBroker
from tests.support import fetch_feed, free_port, get_status, send, wait_until

SENDS = 500
# gunicorn's graceful_timeout in the shipped configuration, plus a margin.
EXIT_BOUND = 30 + 10


def send_outcome(producer_url: str, number: int) -> tuple[int | str, str | None]:
    """Send one notification; return its status (or the error) and id."""
    try:
        response = send(producer_url, 2, number % 4 + 1, f"under load {number}")
    except requests.ConnectionError:
        return "refused", None
    body = response.json()
    return response.status_code, body.get("id")


def test_sigterm_under_load_keeps_accepted(start_service, service_env):
    producer = start_service(
        "producer:create_app()", service_env, workers=2, shipped_config=True
    )
    consumer = start_service(
        "consumer:create_app()", service_env, shipped_config=True
    )

    halfway = threading.Event()
    outcomes = []

    def send_and_count(number: int):
        outcome = send_outcome(producer.url, number)
        if number == SENDS // 5:
            halfway.set()
        return outcome

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(send_and_count, n) for n in range(SENDS)]
        assert halfway.wait(60), "the first sends did not complete"
        stopped_at = time.monotonic()
        producer.process.send_signal(signal.SIGTERM)
        consumer.process.send_signal(signal.SIGTERM)
        outcomes = [future.result() for future in futures]

    assert producer.wait_exit(EXIT_BOUND) == 0
    assert consumer.wait_exit(EXIT_BOUND) == 0
    assert time.monotonic() - stopped_at < EXIT_BOUND

    statuses = {status for status, _ in outcomes}
    accepted = {
        notification_id for status, notification_id in outcomes if status == 200
    }
    assert statuses <= {200, 503, "refused"}
    assert len(accepted) >= SENDS // 5
    producer_log = producer.log_path.read_text()
    assert "Producer flushed and stopped" in producer_log
    assert "Consumer closed after" in consumer.log_path.read_text()

    # The restarted consumer resumes at the committed offsets and stores
    # whatever was acknowledged but not yet stored.
    consumer = start_service(
        "consumer:create_app()", service_env, shipped_config=True
    )

    def stored_ids() -> list[str]:
        feeds = [fetch_feed(consumer.url, user) for user in (1, 2, 3, 4)]
        return [notification["id"] for feed in feeds for notification in feed]

    wait_until(
        lambda: accepted <= set(stored_ids()),
        20,
        "every accepted notification stored after the restart",
    )
    ids = stored_ids()
    assert len(ids) == len(set(ids))


def test_services_wait_for_broker_then_recover(start_service, service_env):
    port = free_port()
    env = {
        **service_env,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "NOTIFY_DELIVERY_TIMEOUT_MS": "2000",
    }
    producer = start_service("producer:create_app()", env, wait_path="/healthz")
    consumer = start_service("consumer:create_app()", env, wait_path="/healthz")

    for service in (producer, consumer):
        response = requests.get(f"{service.url}/readyz", timeout=5)
        assert response.status_code == 503
        assert "broker" in response.json()["message"]

    started = time.monotonic()
    response = send(producer.url, 4, 2, "before any broker exists")
    assert response.status_code == 503
    assert "not sent" in response.json()["message"]
    # The delivery timeout (2 s) plus the callback grace (2 s), plus margin.
    assert time.monotonic() - started < 8

    broker = EmbeddedBroker(port)
    broker.start()
    try:
        for service in (producer, consumer):
            wait_until(
                lambda url=service.url: get_status(f"{url}/readyz") == 200,
                30,
                f"{service.target} ready once the broker is up",
            )
        response = send(producer.url, 4, 2, "after the broker came up")
        assert response.status_code == 200
        wait_until(lambda: fetch_feed(consumer.url, 2), 10, "stored notification")
    finally:
        broker.stop()
