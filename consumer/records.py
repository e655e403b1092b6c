"""Turn Kafka records into notifications, rejecting invalid ones."""

import json

from marshmallow import ValidationError

from common.models import Notification
from common.schemas import NotificationRecordSchema, describe_errors

_schema = NotificationRecordSchema()


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
        # Decoded first: json.loads on bytes would also accept UTF-16 and 32.
        data = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRecordError(f"value is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRecordError("value is not a JSON object")

    try:
        notification = _schema.load(data)
    except ValidationError as exc:
        raise InvalidRecordError(
            f"value does not match the schema: {describe_errors(exc.messages)}"
        ) from None

    if key != notification.record_key:
        recipient = notification.recipient.id
        if key is None:
            raise InvalidRecordError(f"record has no key; expected {recipient}")
        shown = key.decode("utf-8", "replace")
        raise InvalidRecordError(f"key {shown!r} is not the recipient id {recipient}")

    return notification
