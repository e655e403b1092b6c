"""Tests that the shipped gunicorn logger keeps credentials out of access logs."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from common.access_log import REDACTED, RedactingLogger, redact_tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=abc", f"token={REDACTED}"),
        ("/s?token=abc", f"/s?token={REDACTED}"),
        ("/s?a=1&token=abc&b=2", f"/s?a=1&token={REDACTED}&b=2"),
        ("/s?token=abc#x", f"/s?token={REDACTED}#x"),
        ("GET /s?token=abc HTTP/1.1", f"GET /s?token={REDACTED} HTTP/1.1"),
        ("/s?token=a&token=b", f"/s?token={REDACTED}&token={REDACTED}"),
        ("/s?token=", f"/s?token={REDACTED}"),
        ("/s?mytoken=abc", "/s?mytoken=abc"),
        ("/s?a=token=abc", "/s?a=token=abc"),
        ("/s?limit=5", "/s?limit=5"),
    ],
)
def test_redact_tokens(text, expected):
    assert redact_tokens(text) == expected


def test_logger_atoms_hide_credentials():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/notifications/1/stream?token=abc123",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/notifications/1/stream",
        "QUERY_STRING": "token=abc123",
        "HTTP_REFERER": "http://app.example/?token=abc123",
        "HTTP_AUTHORIZATION": "Bearer abc123",
    }
    request = SimpleNamespace(
        headers=[("AUTHORIZATION", "Bearer abc123"), ("REFERER", "x?token=abc123")]
    )
    response = SimpleNamespace(status="200 OK", headers=[], sent=0)

    atoms = logger.atoms(response, request, environ, timedelta(seconds=1))

    leaked = {name: value for name, value in atoms.items() if "abc123" in str(value)}
    assert leaked == {}
    assert atoms["r"] == f"GET /notifications/1/stream?token={REDACTED} HTTP/1.1"
    assert atoms["U"] == "/notifications/1/stream"
