"""Tests of bearer parsing, key rules, feed tokens and the auth hook."""

import pytest
from flask import Blueprint, Flask

from common.auth import (
    api_key_guard,
    bearer_token,
    feed_token,
    feed_token_guard,
    install_auth,
    is_valid_key,
    secret_bytes,
)

SECRET = "s3cret"
# printf 7 | openssl dgst -sha256 -hmac s3cret
TOKEN_OF_7 = "f915ee12a38620754f99a33609612aeb709db7d03ff7b855b8d025be8a062269"
# printf 1 | openssl dgst -sha256 -hmac s3cret
TOKEN_OF_1 = "c4ab428b41967eb3a71f98b9ce3d5774599dd304aa2be4b882668adfe486fdea"


@pytest.mark.parametrize(
    "key",
    ["a", "!", "~", "x" * 255, "key-1_2.3", "a,b", "ABC=/+"],
)
def test_valid_key(key):
    assert is_valid_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x" * 256,
        "a b",
        " a",
        "a\t",
        "a\n",
        "\x00",
        "a\x7f",
        "caf\u00e9",
        "\u00a0",
        "\uff41",
    ],
)
def test_invalid_key(key):
    assert not is_valid_key(key)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("  Bearer abc", "abc"),
        ("Bearer a.b~c+/=", "a.b~c+/="),
        ("Bearer " + "x" * 1000, "x" * 1000),
    ],
)
def test_bearer_token_parsed(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearerabc",
        "Bearer\tabc",
        "Bearer a b",
        "Bearer caf\u00e9",
        "Bearer a\x01",
        "abc",
    ],
)
def test_bearer_token_malformed(header):
    assert bearer_token(header) is None


def test_feed_token_known_values():
    assert feed_token(secret_bytes(SECRET), 7) == TOKEN_OF_7
    assert feed_token(secret_bytes(SECRET), 1) == TOKEN_OF_1


def test_feed_token_depends_on_secret():
    assert feed_token(b"other", 7) != TOKEN_OF_7


def test_secret_bytes_keeps_undecodable_bytes():
    # os.environ decodes the byte 0xFF as the surrogate U+DCFF.
    assert secret_bytes("a\udcff") == b"a\xff"
    assert secret_bytes("caf\u00e9") == "caf\u00e9".encode()


def make_app() -> Flask:
    """Build an app with a send route, a feed and a stream, all guarded."""
    app = Flask(__name__)
    send = Blueprint("send", __name__)
    feed = Blueprint("feed", __name__)
    stream = Blueprint("stream", __name__)
    send.add_url_rule("/send", "send", lambda: "sent", methods=["POST"])
    feed.add_url_rule("/feed/<user_id>", "feed", lambda user_id: f"feed {user_id}")
    stream.add_url_rule(
        "/feed/<user_id>/stream", "stream", lambda user_id: f"stream {user_id}"
    )
    app.add_url_rule("/open", "open", lambda: "open")
    for blueprint in (send, feed, stream):
        app.register_blueprint(blueprint)

    install_auth(
        app,
        {
            "send": api_key_guard(("key-one", "key-two")),
            "feed": feed_token_guard(SECRET),
            "stream": feed_token_guard(SECRET, allow_query=True),
        },
    )
    return app


@pytest.fixture
def client():
    return make_app().test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic a2V5LW9uZQ=="}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "   "}, 401),
        (bearer("key-three"), 403),
        (bearer("key-one" + "x"), 403),
        (bearer("key-one"), 200),
        (bearer("key-two"), 200),
    ],
)
def test_api_key_guard(client, headers, status):
    response = client.post("/send", headers=headers)

    assert response.status_code == status


def test_unauthorized_response_shape(client):
    response = client.post("/send")

    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/json"
    assert "Authorization: Bearer" in response.get_json()["message"]


def test_forbidden_response_shape(client):
    response = client.post("/send", headers=bearer("wrong"))

    assert "WWW-Authenticate" not in response.headers
    assert response.mimetype == "application/json"
    assert "API key" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/feed/7", {}, 401),
        ("/feed/7", {"Authorization": "Bearer"}, 401),
        ("/feed/7", bearer(TOKEN_OF_7), 200),
        ("/feed/007", bearer(TOKEN_OF_7), 200),
        ("/feed/7", bearer(TOKEN_OF_7.upper()), 403),
        ("/feed/7", bearer(TOKEN_OF_1), 403),
        ("/feed/1", bearer(TOKEN_OF_7), 403),
        ("/feed/abc", bearer(TOKEN_OF_7), 403),
        ("/feed/abc", {}, 401),
        # The feed route takes no query token.
        (f"/feed/7?token={TOKEN_OF_7}", {}, 401),
    ],
)
def test_feed_token_guard(client, path, headers, status):
    assert client.get(path, headers=headers).status_code == status


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        (f"?token={TOKEN_OF_7}", {}, 200),
        ("?token=", {}, 401),
        ("?token=a%20b", {}, 401),
        (f"?token={TOKEN_OF_1}", {}, 403),
        ("", bearer(TOKEN_OF_7), 200),
        # A bearer token in the header wins over the query.
        (f"?token={TOKEN_OF_7}", bearer(TOKEN_OF_1), 403),
        # Credentials of another scheme leave the query token in use.
        (f"?token={TOKEN_OF_7}", {"Authorization": "Basic eDp5"}, 200),
    ],
)
def test_stream_query_token(client, query, headers, status):
    response = client.get(f"/feed/7/stream{query}", headers=headers)

    assert response.status_code == status


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/open"),
        ("GET", "/nowhere"),
        ("GET", "/send"),
        ("OPTIONS", "/send"),
        ("OPTIONS", "/feed/7"),
        ("OPTIONS", "/feed/abc/stream"),
    ],
)
def test_unguarded_requests_pass(client, method, path):
    response = client.open(path, method=method)

    assert response.status_code not in (401, 403)


def test_no_guards_installs_nothing():
    app = Flask(__name__)

    install_auth(app, {})

    assert not app.before_request_funcs
