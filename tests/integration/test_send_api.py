"""Every row of the POST /send response table, in the order of its checks."""

import json

import pytest
import requests

from tests.support import wait_for_feed

FORM = "application/x-www-form-urlencoded"
VALID = {"fromID": "2", "toID": "1", "message": "Bruno started following you."}
USER_ID_PROBLEM = "must be a user id"


@pytest.fixture(scope="module")
def producer_url(shared_services):
    return shared_services[0].url


@pytest.fixture(scope="module")
def consumer_url(shared_services):
    return shared_services[1].url


def post(url: str, body: bytes | str, content_type: str | None) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.post(f"{url}/send", data=body, headers=headers, timeout=15)


def form(**fields) -> str:
    return "&".join(f"{key}={value}" for key, value in fields.items())


# (case, body, content type, status, words the message must contain)
CASES = [
    ("body over 64 KiB", form(**VALID, pad="x" * 70_000), FORM, 413, "limit"),
    ("oversized and wrong type", b"x" * 70_000, "text/plain", 413, "limit"),
    ("text/plain", form(**VALID), "text/plain", 415, "content type"),
    ("no content type", form(**VALID).encode(), None, 415, "content type"),
    ("invalid UTF-8 JSON", b'{"fromID": "\xff"}', "application/json", 400, "UTF-8"),
    ("malformed JSON", b'{"fromID": ', "application/json", 400, "JSON"),
    ("JSON array", b"[1, 2]", "application/json", 400, "object"),
    ("percent-encoded invalid UTF-8", "fromID=%FF&toID=1&message=x", FORM, 400,
     "UTF-8"),
    ("fromID missing", form(toID="1", message="x"), FORM, 400, "fromID is missing"),
    ("toID missing", form(fromID="1", message="x"), FORM, 400, "toID is missing"),
    ("message missing", form(fromID="2", toID="1"), FORM, 400, "message is missing"),
    ("fromID not digits", form(fromID="abc", toID="1", message="x"), FORM, 400,
     f"fromID {USER_ID_PROBLEM}"),
    ("toID negative", form(fromID="2", toID="-1", message="x"), FORM, 400,
     f"toID {USER_ID_PROBLEM}"),
    ("toID with space", form(fromID="2", toID="1%20", message="x"), FORM, 400,
     f"toID {USER_ID_PROBLEM}"),
    ("toID Arabic-Indic digit", form(fromID="2", toID="%D9%A1", message="x"), FORM,
     400, f"toID {USER_ID_PROBLEM}"),
    ("toID 19 digits", form(fromID="2", toID="1" * 19, message="x"), FORM, 400,
     f"toID {USER_ID_PROBLEM}"),
    ("message blank", form(fromID="2", toID="1", message="%20%20"), FORM, 400,
     "message must not be blank"),
    ("message over 2000", form(fromID="2", toID="1", message="x" * 2001), FORM, 400,
     "message must be at most 2000 characters"),
    ("every field invalid", form(fromID="x", toID="y", message=""), FORM, 400,
     "fromID"),
    ("JSON id boolean", json.dumps({**VALID, "fromID": True}), "application/json",
     400, f"fromID {USER_ID_PROBLEM}"),
    ("JSON id float", json.dumps({**VALID, "toID": 1.0}), "application/json", 400,
     f"toID {USER_ID_PROBLEM}"),
    ("JSON id too large", json.dumps({**VALID, "toID": 10**18}), "application/json",
     400, f"toID {USER_ID_PROBLEM}"),
    ("JSON message not text", json.dumps({**VALID, "message": 5}),
     "application/json", 400, "message must be text"),
    ("unknown sender", form(fromID="9", toID="1", message="x"), FORM, 404,
     "User not found"),
    ("unknown recipient", json.dumps({**VALID, "toID": 77}), "application/json",
     404, "User not found"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_send_rejects_bad_request(producer_url, body, content_type, status, words):
    response = post(producer_url, body, content_type)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert words in response.json()["message"]


def test_send_lists_every_invalid_field(producer_url):
    response = post(producer_url, form(fromID="x", toID="", message=""), FORM)

    message = response.json()["message"]
    assert response.status_code == 400
    assert "fromID" in message
    assert "toID" in message
    assert "message" in message


def test_send_checks_fields_before_users(producer_url):
    response = post(producer_url, form(fromID="9", toID="1", message=" "), FORM)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (form(**VALID), FORM),
        (json.dumps({"fromID": 2, "toID": "001", "message": "JSON body"}),
         "application/json"),
    ],
    ids=["form", "json"],
)
def test_send_accepted_returns_id(producer_url, body, content_type):
    response = post(producer_url, body, content_type)

    assert response.status_code == 200
    assert response.json()["message"] == "Notification sent successfully!"
    assert len(response.json()["id"]) == 36


def test_send_multipart_is_stored(producer_url, consumer_url):
    text = "Rick sent a multipart note: ünïcödé ✓"
    response = requests.post(
        f"{producer_url}/send",
        files={"fromID": (None, "3"), "toID": (None, "4"), "message": (None, text)},
        timeout=15,
    )
    assert response.status_code == 200

    lena = wait_for_feed(consumer_url, 4, 1)
    stored = [n for n in lena if n["id"] == response.json()["id"]]
    assert stored[0]["message"] == text
    assert stored[0]["from"] == {"id": 3, "name": "Rick"}


def test_send_multipart_file_rejected(producer_url):
    response = requests.post(
        f"{producer_url}/send",
        files={"fromID": (None, "3"), "toID": (None, "4"), "message": ("a.txt", b"x")},
        timeout=15,
    )

    assert response.status_code == 400
    assert "not a file" in response.json()["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_send_wrong_method_is_json_405(producer_url, method):
    response = requests.request(method, f"{producer_url}/send", timeout=5)

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "not allowed" in response.json()["message"]


def test_unknown_path_is_json_404(producer_url):
    response = requests.get(f"{producer_url}/no/such/path", timeout=5)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert "/no/such/path" in response.json()["message"]
