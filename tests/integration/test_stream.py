"""GET /notifications/<userID>/stream: Server-Sent Events of new notifications."""

import json
import signal
import time

import pytest
import requests

from tests.support import EventStreamReader, send

# Generous bounds: a missing event fails, a slow machine does not. The
# one-second promise itself is measured by scripts/measure-stream-latency.
EVENT_BOUND = 5


@pytest.fixture
def streaming(start_service, service_env):
    """A producer and a two-worker consumer with a one-second keep-alive."""
    env = {**service_env, "NOTIFY_STREAM_KEEPALIVE_SECONDS": "1"}
    producer = start_service("producer:create_app()", env)
    consumer = start_service("consumer:create_app()", env, workers=2, threads=8)
    readers: list[EventStreamReader] = []

    def open_stream(user: int, **headers) -> EventStreamReader:
        reader = EventStreamReader(
            f"{consumer.url}/notifications/{user}/stream", headers=headers
        )
        assert reader.response.status_code == 200
        readers.append(reader)
        return reader

    try:
        yield producer, consumer, open_stream
    finally:
        for reader in readers:
            reader.close()


def sent_id(producer_url: str, to_id: int, message: str) -> str:
    response = send(producer_url, 2, to_id, message)
    assert response.status_code == 200
    return response.json()["id"]


def test_stream_sends_each_new_notification(streaming):
    producer, _, open_stream = streaming
    reader = open_stream(1)
    assert reader.response.headers["Content-Type"].startswith("text/event-stream")

    notification_id = sent_id(producer.url, 1, "live <b>text</b>")
    event = reader.next_event(EVENT_BOUND)

    data = json.loads(event["data"])
    assert data["id"] == notification_id
    assert data["message"] == "live <b>text</b>"
    assert data["read"] is False
    assert event["id"] == data["cursor"]


def test_stream_sends_from_any_worker(streaming):
    producer, _, open_stream = streaming
    # Four users on three partitions spread over two workers: the streams
    # and the writes land on both workers.
    readers = {user: open_stream(user) for user in (1, 2, 3, 4)}

    sent = {user: sent_id(producer.url, user, f"for {user}") for user in readers}

    for user, reader in readers.items():
        event = reader.next_event(EVENT_BOUND)
        assert json.loads(event["data"])["id"] == sent[user]


@pytest.mark.parametrize("how", ["header", "query"])
def test_stream_resumes_after_last_event_id(streaming, how):
    producer, consumer, open_stream = streaming
    first_reader = open_stream(3)
    sent_id(producer.url, 3, "first")
    last_event_id = first_reader.next_event(EVENT_BOUND)["id"]
    first_reader.close()

    missed = [sent_id(producer.url, 3, f"missed {n}") for n in range(2)]
    if how == "header":
        reader = open_stream(3, **{"Last-Event-ID": last_event_id})
    else:
        reader = EventStreamReader(
            f"{consumer.url}/notifications/3/stream?last_event_id={last_event_id}"
        )

    received = [json.loads(reader.next_event(EVENT_BOUND)["data"])["id"]]
    received.append(json.loads(reader.next_event(EVENT_BOUND)["data"])["id"])
    assert received == missed
    # Nothing is repeated: the next line is a keep-alive, not an event.
    assert reader.next_comment(EVENT_BOUND) == "keep-alive"
    assert all("event" not in e for e in list(reader.events.queue))
    reader.close()


def test_stream_sends_keepalive_comments(streaming):
    _, _, open_stream = streaming
    reader = open_stream(2)

    assert reader.next_comment(EVENT_BOUND) == "keep-alive"
    assert reader.next_comment(EVENT_BOUND) == "keep-alive"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/notifications/abc/stream", {}, 400),
        ("/notifications/99/stream", {}, 404),
        ("/notifications/1/stream", {"Last-Event-ID": "garbage"}, 400),
        ("/notifications/1/stream?last_event_id=garbage", {}, 400),
    ],
)
def test_stream_rejects_bad_request(streaming, path, headers, status):
    _, consumer, _ = streaming

    response = requests.get(f"{consumer.url}{path}", headers=headers, timeout=5)

    assert response.status_code == status
    assert response.json()["message"]


@pytest.mark.parametrize("shipped_config", [False, True], ids=["plain", "config"])
def test_stream_ends_when_worker_stops(start_service, service_env, shipped_config):
    consumer = start_service(
        "consumer:create_app()", service_env, shipped_config=shipped_config
    )
    reader = EventStreamReader(f"{consumer.url}/notifications/1/stream")
    assert reader.response.status_code == 200

    stopped_at = time.monotonic()
    consumer.process.send_signal(signal.SIGTERM)

    assert reader.finished.wait(10), "the stream stayed open after SIGTERM"
    assert consumer.wait_exit(15) == 0
    # Well inside gunicorn's 30 s graceful timeout: the stream did not hold
    # the worker until the timeout.
    assert time.monotonic() - stopped_at < 15


def test_stream_frees_thread_when_client_leaves(start_service, service_env):
    env = {**service_env, "NOTIFY_STREAM_KEEPALIVE_SECONDS": "1"}
    consumer = start_service("consumer:create_app()", env, threads=2)
    readers = [
        EventStreamReader(f"{consumer.url}/notifications/{user}/stream")
        for user in (1, 2)
    ]
    for reader in readers:
        assert reader.response.status_code == 200

    for reader in readers:
        reader.close()

    # Both threads were held by the streams. The next keep-alive write to a
    # closed connection ends each stream, so the worker serves requests again.
    response = requests.get(f"{consumer.url}/healthz", timeout=EVENT_BOUND * 2)
    assert response.status_code == 200
