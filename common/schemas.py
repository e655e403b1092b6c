"""Marshmallow schemas: the /send input, users and the Kafka record."""

import re
from datetime import datetime

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validates,
)

from common.models import Notification, User

MAX_USER_ID = 10**18 - 1
MAX_MESSAGE_CHARS = 2000

# ASCII digits only: str.isdigit() and \d would also accept other scripts.
USER_ID_TEXT = re.compile(r"[0-9]{1,18}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# RFC 3339 date-time; datetime.fromisoformat alone also accepts other
# ISO 8601 forms, such as week dates.
RFC3339_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_REQUIRED = "is missing"
_REQUIRED_MESSAGES = {"required": _REQUIRED, "null": "must not be null"}


def parse_user_id(text: str) -> int | None:
    """Return the value of a user id written as text, or ``None`` if invalid."""
    if USER_ID_TEXT.fullmatch(text):
        return int(text)
    return None


class UserId(fields.Field):
    """A user id: 1 to 18 ASCII digits, or a JSON integer in the same range."""

    default_error_messages = {
        "invalid": (
            "must be a user id: 1 to 18 ASCII digits, or an integer "
            f"from 0 to {MAX_USER_ID}"
        ),
        "required": _REQUIRED,
        "null": "must not be null",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        # bool is a subclass of int, and true is not a user id.
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value <= MAX_USER_ID:
                return value
        elif isinstance(value, str):
            user_id = parse_user_id(value)
            if user_id is not None:
                return user_id
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class MessageText(fields.String):
    """Notification text: 1 to 2,000 characters, not only whitespace."""

    default_error_messages = {
        "invalid": "must be text",
        "required": _REQUIRED,
        "null": "must not be null",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # JSON escapes can spell a lone surrogate, which is not text.
            raise ValidationError("must be valid Unicode text") from None
        if not text.strip():
            raise ValidationError("must not be blank")
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValidationError(
                f"must be at most {MAX_MESSAGE_CHARS} characters, "
                f"got {len(text)}"
            )

        return text


class SendRequestSchema(Schema):
    """The fields of ``POST /send``; unknown fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    fromID = UserId(required=True)
    toID = UserId(required=True)
    message = MessageText(required=True)


class UserSchema(Schema):
    """A user as it appears in the users file and in records."""

    error_messages = {"type": "must be an object"}

    class Meta:
        unknown = EXCLUDE

    id = UserId(required=True)
    name = fields.String(required=True, error_messages=_REQUIRED_MESSAGES)

    @validates("name")
    def _check_name(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")

    @post_load
    def _make_user(self, data: dict, **kwargs) -> User:
        return User(id=data["id"], name=data["name"])


class NotificationRecordSchema(Schema):
    """The JSON value of a record on the notifications topic."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, error_messages=_REQUIRED_MESSAGES)
    sender = fields.Nested(
        UserSchema, required=True, data_key="from", error_messages=_REQUIRED_MESSAGES
    )
    recipient = fields.Nested(
        UserSchema, required=True, data_key="to", error_messages=_REQUIRED_MESSAGES
    )
    message = MessageText(required=True)
    created_at = fields.String(required=True, error_messages=_REQUIRED_MESSAGES)

    @validates("id")
    def _check_id(self, value: str, **kwargs) -> None:
        if not UUID_TEXT.fullmatch(value):
            raise ValidationError("must be a UUID in lowercase 8-4-4-4-12 form")

    @validates("created_at")
    def _check_created_at(self, value: str, **kwargs) -> None:
        problem = "must be an RFC 3339 timestamp with a time zone"
        if not RFC3339_TEXT.fullmatch(value):
            raise ValidationError(problem)
        try:
            datetime.fromisoformat(value.upper())
        except ValueError:
            raise ValidationError(problem) from None

    @post_load
    def _make_notification(self, data: dict, **kwargs) -> Notification:
        return Notification(**data)


def describe_errors(messages: dict) -> str:
    """Turn marshmallow's error dict into one sentence per invalid field."""
    parts = []
    for field, problems in sorted(messages.items()):
        if isinstance(problems, dict):
            parts.append(f"{field}: {describe_errors(problems)}")
            continue
        text = "; ".join(str(problem).rstrip(".") for problem in problems)
        # marshmallow files errors about the value as a whole under _schema.
        if field == "_schema":
            parts.append(f"{text}.")
        else:
            parts.append(f"{field} {text}.")

    return " ".join(parts)
