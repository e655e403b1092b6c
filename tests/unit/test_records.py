"""Tests of decode_record: valid records and every kind of invalid record."""

import json

import pytest

from common.models import Notification, User
from consumer.records import InvalidRecordError, decode_record

NOTIFICATION = Notification(
    id="6f1c2b7e-8d4a-4f5e-9b3c-1a2d3e4f5a6b",
    sender=User(2, "Bruno"),
    recipient=User(1, "Emma"),
    message="Bruno started following you. ☕",
    created_at="2026-12-04T15:20:00.123456Z",
)


def encode(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def record_value(**overrides) -> bytes:
    return encode({**NOTIFICATION.to_dict(), **overrides})


def decode_error(key: bytes | None, value: bytes | None) -> str:
    with pytest.raises(InvalidRecordError) as caught:
        decode_record(key, value)
    return str(caught.value)


def test_records_round_trip():
    notification = decode_record(
        NOTIFICATION.record_key, encode(NOTIFICATION.to_dict())
    )

    assert notification == NOTIFICATION


def test_records_key_is_recipient_id():
    assert NOTIFICATION.record_key == b"1"


def test_records_large_recipient_id():
    recipient = User(10**18 - 1, "Max")
    value = record_value(to=recipient.to_dict())

    notification = decode_record(b"999999999999999999", value)

    assert notification.recipient == recipient


def test_records_ignores_unknown_fields():
    notification = decode_record(b"1", record_value(priority="high"))

    assert notification == NOTIFICATION


def test_records_value_none():
    assert "no value" in decode_error(b"1", None)


@pytest.mark.parametrize(
    "value",
    [b"\xff\xfe\xfd", b'{"message": "caf\xe9"}'],
    ids=["invalid-bytes", "latin1-byte"],
)
def test_records_value_not_utf8(value):
    assert "not UTF-8 JSON" in decode_error(b"1", value)


def test_records_value_utf16():
    value = json.dumps(NOTIFICATION.to_dict()).encode("utf-16")

    assert "not UTF-8 JSON" in decode_error(b"1", value)


@pytest.mark.parametrize(
    "value",
    [b"", b"{", b"not json", b"{'id': 1}"],
    ids=["empty", "unclosed", "text", "single-quotes"],
)
def test_records_value_not_json(value):
    assert "not UTF-8 JSON" in decode_error(b"1", value)


@pytest.mark.parametrize(
    "value",
    [
        b'{"to": {"id": NaN, "name": "Bruno"}}',
        b'{"to": {"id": Infinity, "name": "Bruno"}}',
        b'{"message": "\\ud800"}',
    ],
    ids=["nan", "infinity", "lone-surrogate"],
)
def test_records_value_outside_strict_json(value):
    assert "not UTF-8 JSON" in decode_error(b"1", value)


@pytest.mark.parametrize(
    "value",
    [b"[]", b'"text"', b"42", b"null", b"true"],
    ids=["array", "string", "number", "null", "true"],
)
def test_records_value_not_object(value):
    assert "not a JSON object" in decode_error(b"1", value)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (record_value(id="not-a-uuid"), "id must be a UUID"),
        (record_value(created_at="2026-12-04T15:20:00"), "created_at"),
        (record_value(message=""), "message must not be blank"),
        (record_value(message="x" * 2001), "message must be at most 2000"),
        (record_value(to={"id": "one", "name": "Emma"}), "to: id must be a user id"),
        (record_value(to="Emma"), "to"),
        (record_value(**{"from": {"id": 2}}), "from: name is missing"),
        (encode({"message": "hi"}), "created_at"),
    ],
    ids=[
        "bad-uuid",
        "no-zone",
        "blank-message",
        "long-message",
        "bad-recipient-id",
        "recipient-not-object",
        "sender-without-name",
        "missing-fields",
    ],
)
def test_records_schema_mismatch(value, field):
    message = decode_error(b"1", value)

    assert "does not match the schema" in message
    assert field in message


@pytest.mark.parametrize(
    "key",
    [b"2", b"01", b" 1", b"1 ", b"", b"\xff"],
    ids=[
        "sender-id",
        "leading-zero",
        "leading-space",
        "trailing-space",
        "empty",
        "not-utf8",
    ],
)
def test_records_key_not_recipient(key):
    message = decode_error(key, record_value())

    assert "is not the recipient id 1" in message


def test_records_key_none():
    message = decode_error(None, record_value())

    assert "record has no key" in message


def test_records_key_shown_in_message():
    assert "key '01'" in decode_error(b"01", record_value())
