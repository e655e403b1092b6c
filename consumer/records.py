"""Turn Kafka records into notifications, rejecting invalid ones."""

import orjson
from marshmallow import ValidationError

from common.models import Notification
from common.schemas import NotificationRecordSchema, describe_errors
from consumer.record_fast_path import load_valid_record

_schema = NotificationRecordSchema()
# Longer keys are cut in error messages, which end up in logs and in the
# x-error header of dead-letter records.
_MAX_KEY_SHOWN = 64


class InvalidRecordError(ValueError):
    """A record on the topic is not a valid notification."""


def decode_record(key: bytes | None, value: bytes | None) -> Notification:
    """Validate a record's key and JSON value; return its notification.

    Raises ``InvalidRecordError`` saying what is wrong: no value, a value
    that is not UTF-8 JSON or does not match the schema, or a key that is not
    the recipient's id.
    """
    if value is None:
        raise InvalidRecordError("record has no value")
    try:
        # orjson takes UTF-8 only, and rejects NaN, Infinity and escaped
        # lone surrogates, none of which a valid notification holds.
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecordError(f"value is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRecordError("value is not a JSON object")

    notification = load_valid_record(data)
    try:
        if notification is None:
            notification = _schema.load(data)
    except ValidationError as exc:
        raise InvalidRecordError(
            f"value does not match the schema: {describe_errors(exc.messages)}"
        ) from None

    if key != notification.record_key:
        recipient = notification.recipient.id
        if key is None:
            raise InvalidRecordError(f"record has no key; expected {recipient}")
        raise InvalidRecordError(
            f"key {_shorten(key)} is not the recipient id {recipient}"
        )

    return notification


def _shorten(key: bytes) -> str:
    text = repr(key[:_MAX_KEY_SHOWN].decode("utf-8", "replace"))
    if len(key) > _MAX_KEY_SHOWN:
        return f"{text}... ({len(key)} bytes)"
    return text
