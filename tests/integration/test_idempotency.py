"""POST /send with an Idempotency-Key: retries get one id and one notification."""

import uuid

import pytest
import requests

from tests.integration.conftest import make_env
from tests.support import GunicornService, fetch_feed, send, wait_until

KEY_HEADER = "Idempotency-Key"


@pytest.fixture(scope="module")
def services(broker, tmp_path_factory):
    """A two-worker producer, so that retries can reach either worker."""
    tmp_path = tmp_path_factory.mktemp("idempotency")
    env = make_env(broker, tmp_path)
    producer = GunicornService(
        "producer:create_app()", env, tmp_path / "p.log", workers=2
    )
    consumer = GunicornService("consumer:create_app()", env, tmp_path / "c.log")
    try:
        yield producer.start(), consumer.start()
    finally:
        producer.kill()
        consumer.kill()


def send_with_key(
    producer_url: str, from_id: int, message: str, key: str, to_id: int = 1
) -> requests.Response:
    return requests.post(
        f"{producer_url}/send",
        data={"fromID": from_id, "toID": to_id, "message": message},
        headers={KEY_HEADER: key},
        timeout=30,
    )


def feed_after_marker(producer_url: str, consumer_url: str, user: int) -> list[dict]:
    """Return a user's feed once everything sent to them so far is stored.

    A marker notification goes to the same user, so to the same partition,
    after the others. Once the consumer has stored it, it has read every
    earlier record of that partition.
    """
    response = send(producer_url, 4, user, "marker")
    assert response.status_code == 200, response.text
    marker_id = response.json()["id"]

    def feed_with_marker() -> list[dict] | None:
        feed = fetch_feed(consumer_url, user)
        return feed if any(item["id"] == marker_id for item in feed) else None

    return wait_until(feed_with_marker, 10, f"marker {marker_id} in user {user}'s feed")


def test_retries_share_one_id(services):
    producer, consumer = services
    key = f"retry-{uuid.uuid4()}"

    responses = [
        send_with_key(producer.url, 2, f"attempt {number}", key)
        for number in (1, 2, 3)
    ]

    assert [response.status_code for response in responses] == [200, 200, 200]
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 1
    (notification_id,) = ids
    feed = feed_after_marker(producer.url, consumer.url, 1)
    stored = [item for item in feed if item["id"] == notification_id]
    assert len(stored) == 1
    assert stored[0]["message"] == "attempt 1"
    assert stored[0]["from"] == {"id": 2, "name": "Bruno"}


def test_other_sender_other_id(services):
    producer, consumer = services
    key = f"shared-{uuid.uuid4()}"

    from_bruno = send_with_key(producer.url, 2, "from Bruno", key)
    from_rick = send_with_key(producer.url, 3, "from Rick", key)

    assert from_bruno.status_code == 200
    assert from_rick.status_code == 200
    assert from_bruno.json()["id"] != from_rick.json()["id"]
    feed = feed_after_marker(producer.url, consumer.url, 1)
    messages = {item["id"]: item["message"] for item in feed}
    assert messages[from_bruno.json()["id"]] == "from Bruno"
    assert messages[from_rick.json()["id"]] == "from Rick"


def test_id_is_uuid5(services):
    producer, _ = services

    response = send_with_key(producer.url, 2, "versioned", f"v-{uuid.uuid4()}")

    assert response.status_code == 200
    assert uuid.UUID(response.json()["id"]).version == 5


def test_no_key_gives_new_ids(services):
    producer, _ = services

    first = send(producer.url, 2, 1, "same text")
    second = send(producer.url, 2, 1, "same text")

    assert first.json()["id"] != second.json()["id"]
    assert uuid.UUID(first.json()["id"]).version == 4


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 256, id="256 characters"),
        pytest.param("a b", id="inner space"),
        pytest.param("caf\u00e9", id="non-ASCII"),
        pytest.param("a\tb", id="tab"),
    ],
)
def test_invalid_key_rejected(services, key):
    producer, _ = services

    response = send_with_key(producer.url, 2, "never sent", key)

    assert response.status_code == 400, response.text
    body = response.json()
    assert KEY_HEADER in body["message"]
    assert KEY_HEADER in body["errors"]


@pytest.mark.parametrize("key", ["a\x01b", "a\x7fb"], ids=["control", "DEL"])
def test_control_character_key_rejected(services, key):
    # Gunicorn rejects these header values itself, with its own HTML 400,
    # before the request reaches the app. tests/unit/test_idempotency.py checks
    # the app's own rule on them.
    producer, _ = services

    response = send_with_key(producer.url, 2, "never sent", key)

    assert response.status_code == 400
    assert KEY_HEADER.upper() in response.text.upper()


@pytest.mark.parametrize("key", ["k", "x" * 255, "!~#$%&'()*+,-./:;<=>?@[\\]^_`{|}"])
def test_valid_key_accepted(services, key):
    producer, _ = services

    response = send_with_key(producer.url, 2, "edge key", key)

    assert response.status_code == 200, response.text


def test_key_error_after_content_type(services):
    producer, _ = services

    response = requests.post(
        f"{producer.url}/send",
        data="fromID=2&toID=1&message=x",
        headers={"Content-Type": "text/plain", KEY_HEADER: "a b"},
        timeout=10,
    )

    assert response.status_code == 415


def test_key_error_with_field_errors(services):
    producer, _ = services

    response = requests.post(
        f"{producer.url}/send",
        data={"fromID": "abc", "toID": "1", "message": "x"},
        headers={KEY_HEADER: ""},
        timeout=10,
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"fromID", KEY_HEADER}


def test_key_error_before_unknown_user(services):
    producer, _ = services

    response = send_with_key(producer.url, 2, "to nobody", "a b", to_id=99)

    assert response.status_code == 400
