"""API keys on POST /send and feed tokens on the feed routes, under gunicorn."""

import hashlib
import hmac
import http.client
import json
import uuid

import pytest
import requests

from tests.integration.conftest import make_env
from tests.support import EventStreamReader, GunicornService, wait_until

KEY_ONE = "producer-key-1"
KEY_TWO = "K2!~#%"
SECRET = "feed-secret-used-only-by-tests"
USERS = [
    {"id": 1, "name": "Emma"},
    {"id": 2, "name": "Bruno"},
    {"id": 7, "name": "Bond"},
]
ORIGIN = "http://app.example"
BASIC = {"Authorization": "Basic dXNlcjpwYXNz"}
EMPTY_BEARER = {"Authorization": "Bearer "}
VALID_SEND = {"fromID": "2", "toID": "1", "message": "Bruno started following you."}


def feed_token(user: int | str) -> str:
    """Compute a feed token the way a client would: HMAC-SHA256, hex."""
    return hmac.new(SECRET.encode(), str(user).encode(), hashlib.sha256).hexdigest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def secured(broker, tmp_path_factory):
    """A producer with two API keys and a consumer with a feed secret.

    Both run with the shipped gunicorn configuration, so that their logs
    include the access log.
    """
    tmp_path = tmp_path_factory.mktemp("auth")
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps(USERS))
    env = {
        **make_env(broker, tmp_path),
        "NOTIFY_API_KEYS": f" {KEY_ONE}, ,{KEY_TWO},",
        "NOTIFY_FEED_SECRET": SECRET,
        "NOTIFY_USERS_FILE": str(users_file),
        "NOTIFY_STREAM_KEEPALIVE_SECONDS": "1",
    }
    producer = GunicornService(
        "producer:create_app()", env, tmp_path / "p.log", shipped_config=True
    )
    consumer = GunicornService(
        "consumer:create_app()", env, tmp_path / "c.log", shipped_config=True
    )
    try:
        yield producer.start(), consumer.start()
    finally:
        producer.kill()
        consumer.kill()


@pytest.fixture(scope="module")
def producer_url(secured):
    return secured[0].url


@pytest.fixture(scope="module")
def consumer_url(secured):
    return secured[1].url


def send(producer_url: str, headers: dict, **options) -> requests.Response:
    options.setdefault("data", VALID_SEND)
    return requests.post(
        f"{producer_url}/send", headers=headers, timeout=30, **options
    )


def call(url: str, method: str, headers: dict, **options) -> int:
    """Return the status of a request, closing it at once (streams too)."""
    with requests.request(
        method, url, headers=headers, timeout=10, stream=True, **options
    ) as response:
        return response.status_code


def status_with_raw_header(url: str, method: str, path: str, value: str) -> int:
    """Send an Authorization header that requests would reject, such as spaces."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path)
        connection.putheader("Authorization", value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


# --- POST /send -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="none"),
        pytest.param(BASIC, 401, id="basic"),
        pytest.param(EMPTY_BEARER, 401, id="empty bearer"),
        pytest.param({"Authorization": KEY_ONE}, 401, id="no scheme"),
        pytest.param(bearer("wrong-key"), 403, id="wrong key"),
        pytest.param(bearer(KEY_ONE + "x"), 403, id="key with suffix"),
        pytest.param(bearer(KEY_ONE), 200, id="first key"),
        pytest.param(bearer(KEY_TWO), 200, id="second key"),
        pytest.param({"Authorization": f"bearer {KEY_TWO}"}, 200, id="lowercase"),
    ],
)
def test_send_credentials(producer_url, headers, status):
    response = send(producer_url, headers)

    assert response.status_code == status, response.text
    assert "message" in response.json()


def test_send_spaces_only_header(producer_url):
    status = status_with_raw_header(producer_url, "POST", "/send", "    ")

    assert status == 401


def test_send_401_challenge(producer_url):
    response = send(producer_url, {})

    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Content-Type"] == "application/json"
    assert "Authorization: Bearer" in response.json()["message"]


def test_send_403_body(producer_url):
    response = send(producer_url, bearer("wrong-key"))

    assert "WWW-Authenticate" not in response.headers
    assert response.headers["Content-Type"] == "application/json"
    assert "API key" in response.json()["message"]


# (case, request options, status once the key is right)
SEND_INVALID = [
    ("body over 64 KiB", {"data": {**VALID_SEND, "pad": "x" * 70_000}}, 413),
    ("text/plain", {"data": "x", "headers": {"Content-Type": "text/plain"}}, 415),
    ("malformed JSON", {"data": "{", "headers": {"Content-Type": "application/json"}},
     400),
    ("invalid field", {"data": {**VALID_SEND, "fromID": "abc"}}, 400),
    ("invalid idempotency key", {"headers": {"Idempotency-Key": "a b"}}, 400),
    ("unknown user", {"data": {**VALID_SEND, "toID": "99"}}, 404),
]


@pytest.mark.parametrize(
    ("options", "status"),
    [pytest.param(options, status, id=case) for case, options, status in SEND_INVALID],
)
def test_send_auth_before_validation(producer_url, options, status):
    def status_with(credentials: dict) -> int:
        headers = {**options.get("headers", {}), **credentials}
        rest = {key: value for key, value in options.items() if key != "headers"}
        return send(producer_url, headers, **rest).status_code

    assert status_with({}) == 401
    assert status_with(bearer("wrong-key")) == 403
    assert status_with(bearer(KEY_ONE)) == status


# --- feed routes --------------------------------------------------------------

MISSING_ID = "0b6a9e1e-3f0c-4c55-9a3a-5d1f2e3c4b5a"
# (name, method, path under /notifications/<user>, options, status when allowed)
FEED_ROUTES = [
    ("list", "GET", "", {}, 200),
    ("unread count", "GET", "/unread_count", {}, 200),
    ("mark read", "POST", "/read", {"json": {"all": True}}, 200),
    # The token passes, and then the notification is not found.
    ("delete", "DELETE", f"/{MISSING_ID}", {}, 404),
    ("stream", "GET", "/stream", {}, 200),
]
FEED_CREDENTIALS = [
    ("none", {}, 401),
    ("basic", BASIC, 401),
    ("empty bearer", EMPTY_BEARER, 401),
    ("wrong token", bearer("0" * 64), 403),
    ("uppercase token", bearer(feed_token(1).upper()), 403),
    ("other user's token", bearer(feed_token(2)), 403),
    ("right token", bearer(feed_token(1)), None),
]


@pytest.mark.parametrize(
    ("method", "suffix", "options", "allowed", "headers", "status"),
    [
        pytest.param(
            method, suffix, options, allowed, headers, status,
            id=f"{route} {case}",
        )
        for route, method, suffix, options, allowed in FEED_ROUTES
        for case, headers, status in FEED_CREDENTIALS
    ],
)
def test_feed_credentials(
    consumer_url, method, suffix, options, allowed, headers, status
):
    url = f"{consumer_url}/notifications/1{suffix}"

    expected = allowed if status is None else status
    assert call(url, method, headers, **options) == expected


@pytest.mark.parametrize(
    ("route", "method", "suffix"),
    [(route, method, suffix) for route, method, suffix, _, _ in FEED_ROUTES],
)
def test_feed_spaces_only_header(consumer_url, route, method, suffix):
    status = status_with_raw_header(
        consumer_url, method, f"/notifications/1{suffix}", "   "
    )

    assert status == 401


def test_feed_401_challenge(consumer_url):
    response = requests.get(f"{consumer_url}/notifications/1", timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in response.json()["message"]


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        pytest.param(f"token={feed_token(1)}", {}, 200, id="right"),
        pytest.param(f"token={feed_token(2)}", {}, 403, id="other user's"),
        pytest.param("token=", {}, 401, id="empty"),
        pytest.param("token=a%20b", {}, 401, id="with space"),
        pytest.param(f"token={feed_token(1)}", BASIC, 200, id="beside basic"),
        pytest.param(
            f"token={feed_token(1)}", bearer(feed_token(2)), 403,
            id="header wins",
        ),
    ],
)
def test_stream_query_token(consumer_url, query, headers, status):
    url = f"{consumer_url}/notifications/1/stream?{query}"

    assert call(url, "GET", headers) == status


def test_query_token_only_on_stream(consumer_url):
    url = f"{consumer_url}/notifications/1?token={feed_token(1)}"

    assert call(url, "GET", {}) == 401


# (case, method, path, request options, status with no token, status with
# the token of the path's user, or of user 1 when the id is invalid)
FEED_INVALID = [
    ("invalid user id", "GET", "/notifications/abc", {}, 401, 403),
    ("invalid id on delete", "DELETE", f"/notifications/abc/{MISSING_ID}", {}, 401,
     403),
    ("invalid id on stream", "GET", "/notifications/abc/stream", {}, 401, 403),
    ("invalid limit", "GET", "/notifications/1?limit=0", {}, 401, 400),
    ("invalid cursor", "GET", "/notifications/1/stream?last_event_id=x", {}, 401,
     400),
    ("wrong content type", "POST", "/notifications/1/read",
     {"data": "x", "headers": {"Content-Type": "text/plain"}}, 401, 415),
    ("malformed body", "POST", "/notifications/1/read",
     {"data": "{", "headers": {"Content-Type": "application/json"}}, 401, 400),
    ("body over 64 KiB", "POST", "/notifications/1/read",
     {"json": {"ids": ["x" * 70_000]}}, 401, 413),
    ("unknown user", "GET", "/notifications/99", {}, 401, 404),
]


def path_user(path: str) -> int:
    """Return the user of a feed path, or 1 when its id is not valid."""
    segment = path.split("/")[2].split("?")[0]
    return int(segment) if segment.isdigit() else 1


@pytest.mark.parametrize(
    ("method", "path", "options", "without", "with_token"),
    [pytest.param(*row[1:], id=row[0]) for row in FEED_INVALID],
)
def test_feed_auth_before_validation(
    consumer_url, method, path, options, without, with_token
):
    url = f"{consumer_url}{path}"
    extra = options.get("headers", {})
    rest = {key: value for key, value in options.items() if key != "headers"}
    token = feed_token(path_user(path))

    assert call(url, method, extra, **rest) == without
    assert call(url, method, {**extra, **bearer(token)}, **rest) == with_token


def test_leading_zeros_use_canonical_token(consumer_url):
    token_of_7 = bearer(feed_token(7))
    token_of_007 = bearer(feed_token("007"))
    feed_url = f"{consumer_url}/notifications/007"

    assert call(feed_url, "GET", token_of_7) == 200
    assert call(f"{feed_url}/unread_count", "GET", token_of_7) == 200
    assert call(feed_url, "GET", token_of_007) == 403


# --- routes without credentials -------------------------------------------


@pytest.mark.parametrize(
    ("service", "path", "method"),
    [
        (0, "/send", "POST"),
        (1, "/notifications/1", "GET"),
        (1, "/notifications/1/unread_count", "GET"),
        (1, "/notifications/1/read", "POST"),
        (1, f"/notifications/1/{MISSING_ID}", "DELETE"),
        (1, "/notifications/1/stream", "GET"),
    ],
)
def test_preflight_needs_no_credentials(secured, service, path, method):
    response = requests.options(
        f"{secured[service].url}{path}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert method in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_auth_errors_carry_cors_headers(secured):
    response = requests.post(
        f"{secured[0].url}/send", headers={"Origin": ORIGIN}, timeout=10
    )

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("service", [0, 1])
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_operations_routes_open(secured, service, path):
    response = requests.get(f"{secured[service].url}{path}", timeout=10)

    assert response.status_code == 200


def test_page_needs_no_credentials(consumer_url):
    response = requests.get(f"{consumer_url}/", timeout=10)

    assert response.status_code not in (401, 403)


def test_unknown_path_not_guarded(consumer_url):
    response = requests.get(f"{consumer_url}/nowhere", timeout=10)

    assert response.status_code == 404


# --- end to end ---------------------------------------------------------------


def test_authorized_round_trip(producer_url, consumer_url):
    reader = EventStreamReader(
        f"{consumer_url}/notifications/1/stream?token={feed_token(1)}"
    )
    try:
        assert reader.response.status_code == 200
        reader.next_comment(5)  # the stream is open once a keep-alive arrives
        message = f"round trip {uuid.uuid4()}"
        response = send(
            producer_url,
            bearer(KEY_ONE),
            data={**VALID_SEND, "message": message},
        )
        assert response.status_code == 200
        notification_id = response.json()["id"]

        event = reader.next_event(10)
    finally:
        reader.close()

    assert json.loads(event["data"])["id"] == notification_id

    def feed_ids() -> set[str]:
        feed = requests.get(
            f"{consumer_url}/notifications/1",
            headers=bearer(feed_token(1)),
            params={"limit": 1000},
            timeout=10,
        )
        return {item["id"] for item in feed.json()["notifications"]}

    wait_until(lambda: notification_id in feed_ids(), 10, "notification in feed")


def test_logs_hide_credentials(secured, consumer_url):
    producer, consumer = secured
    marker = f"log-check-{uuid.uuid4().hex}"
    call(f"{consumer_url}/notifications/1/stream?{marker}=1&token={feed_token(1)}",
         "GET", BASIC)
    call(f"{consumer_url}/notifications/2/stream?{marker}=2&token={feed_token(1)}",
         "GET", {})

    # An access log line is written once its response is complete, and the
    # open stream completes when the worker finds the client gone, at the
    # next keep-alive at the latest.
    def both_logged() -> bool:
        text = consumer.log_path.read_text(errors="replace")
        return f"{marker}=1" in text and f"{marker}=2" in text

    wait_until(both_logged, 10, "access log lines of both stream requests")
    consumer_log = consumer.log_path.read_text(errors="replace")
    producer_log = producer.log_path.read_text(errors="replace")
    assert f"{marker}=1&token=[redacted]" in consumer_log
    for log in (consumer_log, producer_log):
        assert feed_token(1) not in log
        assert SECRET not in log
        assert KEY_ONE not in log
        assert KEY_TWO not in log
