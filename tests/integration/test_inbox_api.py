"""The inbox routes: pages, read state, unread count, deletion and ETags."""

import itertools
import json

import pytest
import requests

from tests.integration.conftest import make_env
from tests.support import GunicornService, send, wait_for_feed

# Each test takes its own recipients from this range, so that the tests of
# this module share one deployment without seeing each other's data.
_USERS = itertools.count(100)


@pytest.fixture(scope="module")
def inbox(broker, tmp_path_factory):
    """A producer and a two-worker consumer whose directory has many users."""
    tmp_path = tmp_path_factory.mktemp("inbox")
    users_file = tmp_path / "users.json"
    users = [{"id": 1, "name": "Emma"}] + [
        {"id": user_id, "name": f"User {user_id}"} for user_id in range(100, 200)
    ]
    users_file.write_text(json.dumps(users))
    env = {**make_env(broker, tmp_path), "NOTIFY_USERS_FILE": str(users_file)}
    producer = GunicornService("producer:create_app()", env, tmp_path / "p.log")
    consumer = GunicornService(
        "consumer:create_app()", env, tmp_path / "c.log", workers=2
    )
    try:
        yield producer.start().url, consumer.start().url
    finally:
        producer.kill()
        consumer.kill()


def fill(inbox, count: int) -> tuple[int, list[str]]:
    """Send ``count`` notifications to a fresh user; return it and the ids."""
    producer_url, consumer_url = inbox
    user = next(_USERS)
    ids = []
    for number in range(count):
        response = send(producer_url, 1, user, f"note {number}")
        assert response.status_code == 200
        ids.append(response.json()["id"])
    wait_for_feed(consumer_url, user, count)
    return user, ids


def get(url: str, **params) -> requests.Response:
    return requests.get(url, params=params, timeout=5)


def test_pages_follow_cursor_to_the_end(inbox):
    user, ids = fill(inbox, 7)
    url = f"{inbox[1]}/notifications/{user}"

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = get(url, **params).json()
        pages += 1
        seen += [n["id"] for n in body["notifications"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == ids
    assert pages == 3


def test_page_newest_first_reverses(inbox):
    user, ids = fill(inbox, 5)
    url = f"{inbox[1]}/notifications/{user}"

    first = get(url, order="newest", limit=2).json()
    rest = get(url, order="newest", cursor=first["next_cursor"]).json()

    assert [n["id"] for n in first["notifications"]] == ids[::-1][:2]
    assert [n["id"] for n in rest["notifications"]] == ids[::-1][2:]
    assert rest["next_cursor"] is None


def test_plain_get_returns_first_hundred(inbox):
    user, ids = fill(inbox, 101)

    body = get(f"{inbox[1]}/notifications/{user}").json()

    assert [n["id"] for n in body["notifications"]] == ids[:100]
    assert body["next_cursor"] is not None
    assert body["unread_count"] == 101


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": ""}, "cursor"),
    ],
)
def test_page_invalid_parameter_is_400(inbox, params, named):
    response = get(f"{inbox[1]}/notifications/1", **params)

    assert response.status_code == 400
    assert named in response.json()["message"]


def test_page_invalid_parameter_before_unknown_user(inbox):
    response = get(f"{inbox[1]}/notifications/99", limit="0")

    assert response.status_code == 400


def test_notifications_start_unread(inbox):
    user, _ = fill(inbox, 2)

    body = get(f"{inbox[1]}/notifications/{user}").json()

    assert [n["read"] for n in body["notifications"]] == [False, False]
    assert body["unread_count"] == 2


def test_mark_read_by_ids_then_all(inbox):
    user, ids = fill(inbox, 3)
    base = f"{inbox[1]}/notifications/{user}"

    marked = requests.post(f"{base}/read", json={"ids": ids[:2]}, timeout=5)
    assert marked.status_code == 200
    assert marked.json() == {"unread_count": 1}
    assert get(f"{base}/unread_count").json() == {"unread_count": 1}

    marked = requests.post(f"{base}/read", json={"all": True}, timeout=5)
    assert marked.json() == {"unread_count": 0}
    reads = [n["read"] for n in get(base).json()["notifications"]]
    assert reads == [True, True, True]


def test_read_state_shared_by_workers(inbox):
    user, ids = fill(inbox, 2)
    base = f"{inbox[1]}/notifications/{user}"
    requests.post(f"{base}/read", json={"ids": [ids[0]]}, timeout=5)

    # Each request opens a new connection, so both workers serve some.
    for _ in range(10):
        reads = [n["read"] for n in get(base).json()["notifications"]]
        assert reads == [True, False]


def test_mark_read_ignores_other_users_ids(inbox):
    user, _ = fill(inbox, 1)
    other, other_ids = fill(inbox, 1)

    response = requests.post(
        f"{inbox[1]}/notifications/{user}/read", json={"ids": other_ids}, timeout=5
    )

    assert response.json() == {"unread_count": 1}
    assert get(f"{inbox[1]}/notifications/{other}/unread_count").json() == {
        "unread_count": 1
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ({}, "application/json", 400),
        ({"ids": [], "all": True}, "application/json", 400),
        ({"all": False}, "application/json", 400),
        ({"ids": []}, "application/json", 400),
        ({"ids": ["not-a-uuid"]}, "application/json", 400),
        ({"ids": "0b6a9e1e-3f0c-4c55-9a3a-5d1f2e3c4b5a"}, "application/json", 400),
        ([1, 2], "application/json", 400),
        ("{", "application/json", 400),
        ('{"all": true, "all": true}', "application/json", 400),
        ({"all": True}, "text/plain", 415),
    ],
    ids=[
        "empty",
        "both",
        "all-false",
        "no-ids",
        "bad-id",
        "ids-not-list",
        "array",
        "malformed",
        "duplicate-key",
        "not-json",
    ],
)
def test_mark_read_invalid_body(inbox, body, content_type, status):
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.post(
        f"{inbox[1]}/notifications/1/read",
        data=data,
        headers={"Content-Type": content_type},
        timeout=5,
    )

    assert response.status_code == status
    assert response.json()["message"]


def test_mark_read_unknown_user_is_404(inbox):
    response = requests.post(
        f"{inbox[1]}/notifications/99/read", json={"all": True}, timeout=5
    )

    assert response.status_code == 404


def test_delete_removes_then_404(inbox):
    user, ids = fill(inbox, 2)
    base = f"{inbox[1]}/notifications/{user}"

    first = requests.delete(f"{base}/{ids[0]}", timeout=5)
    again = requests.delete(f"{base}/{ids[0]}", timeout=5)

    assert first.status_code == 204
    assert first.content == b""
    assert again.status_code == 404
    assert again.json() == {"message": "Notification not found"}
    assert [n["id"] for n in get(base).json()["notifications"]] == [ids[1]]


def test_delete_other_users_notification_is_404(inbox):
    user, _ = fill(inbox, 1)
    other, other_ids = fill(inbox, 1)

    response = requests.delete(
        f"{inbox[1]}/notifications/{user}/{other_ids[0]}", timeout=5
    )

    assert response.status_code == 404
    assert len(get(f"{inbox[1]}/notifications/{other}").json()["notifications"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("DELETE", "/notifications/1/stream", 405),
        ("DELETE", "/notifications/1/unread_count", 405),
        ("DELETE", "/notifications/1/not-a-uuid", 404),
        ("GET", "/notifications/1/read", 405),
        ("POST", "/notifications/1/unread_count", 405),
    ],
)
def test_feed_route_shapes(inbox, method, path, status):
    response = requests.request(method, f"{inbox[1]}{path}", timeout=5)

    assert response.status_code == status
    assert response.json()["message"]


@pytest.mark.parametrize("suffix", ["", "/unread_count"])
def test_etag_gives_304_until_change(inbox, suffix):
    producer_url, consumer_url = inbox
    user, _ = fill(inbox, 1)
    url = f"{consumer_url}/notifications/{user}{suffix}"

    first = get(url)
    etag = first.headers["ETag"]
    unchanged = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    assert send(producer_url, 1, user, "a change").status_code == 200
    wait_for_feed(consumer_url, user, 2)
    changed = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_page_current_on_every_worker(inbox):
    _, consumer_url = inbox
    user, ids = fill(inbox, 3)
    url = f"{consumer_url}/notifications/{user}"
    # Each request opens a new connection, so both workers most likely
    # serve some of them, and each builds and keeps the page.
    before = [get(url).json() for _ in range(20)]

    marked = requests.post(f"{url}/read", json={"ids": [ids[0]]}, timeout=5)
    deleted = requests.delete(f"{url}/{ids[1]}", timeout=5)
    after = [get(url).json() for _ in range(20)]

    assert marked.status_code == 200
    assert deleted.status_code == 204
    assert all(page == before[0] for page in before)
    assert all(page["unread_count"] == 1 for page in after)
    for page in after:
        assert [item["id"] for item in page["notifications"]] == [ids[0], ids[2]]
        assert [item["read"] for item in page["notifications"]] == [True, False]
