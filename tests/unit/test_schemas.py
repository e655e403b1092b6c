"""Tests of the user-id grammar, the /send schema and the record schema."""

import pytest
from marshmallow import ValidationError

from common.models import Notification, User
from common.schemas import (
    MAX_MESSAGE_CHARS,
    NotificationRecordSchema,
    SendRequestSchema,
    UserSchema,
    describe_errors,
    parse_user_id,
)

EIGHTEEN_DIGITS = "9" * 18

# (input, expected value) for ids that are valid in a JSON body.
VALID_IDS = [
    ("0", 0),
    ("7", 7),
    ("007", 7),
    (EIGHTEEN_DIGITS, 10**18 - 1),
    ("000000000000000001", 1),
    (0, 0),
    (42, 42),
    (10**18 - 1, 10**18 - 1),
]
VALID_ID_NAMES = [
    "text-0",
    "text-7",
    "text-007",
    "text-18-digits",
    "text-18-digits-leading-zeros",
    "int-0",
    "int-42",
    "int-max",
]

INVALID_IDS = [
    ("", "empty"),
    (" 1", "leading-space"),
    ("1 ", "trailing-space"),
    ("1\n", "trailing-newline"),
    ("+1", "plus-sign"),
    ("-1", "minus-sign-text"),
    ("1.0", "decimal-point"),
    ("1e3", "exponent"),
    ("1_000", "underscore"),
    ("1,000", "comma"),
    ("0x1", "hex"),
    ("\uff11", "fullwidth-digit"),
    ("\u0661", "arabic-indic-one"),
    ("\u0663", "arabic-indic-three"),
    ("\u00b2", "superscript-two"),
    ("1" * 19, "19-digits"),
    (True, "true"),
    (False, "false"),
    (1.0, "float"),
    (-1, "negative-int"),
    (10**18, "int-too-large"),
    (None, "null"),
    ([], "list"),
    ({}, "object"),
]
INVALID_TEXT_IDS = [
    (value, name) for value, name in INVALID_IDS if isinstance(value, str)
]


def send_body(**overrides) -> dict:
    body = {"fromID": 2, "toID": 1, "message": "Bruno started following you."}
    body.update(overrides)
    return body


def load_errors(schema, data) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def record_data(**overrides) -> dict:
    data = {
        "id": "0b6a9e1e-3f0c-4c55-9a3a-2f1f3d3b6a10",
        "from": {"id": 2, "name": "Bruno"},
        "to": {"id": 1, "name": "Emma"},
        "message": "Bruno started following you.",
        "created_at": "2026-12-04T15:20:00.123456Z",
    }
    data.update(overrides)
    return data


# parse_user_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("7", 7), ("007", 7), (EIGHTEEN_DIGITS, 10**18 - 1)],
    ids=["zero", "seven", "leading-zeros", "18-digits"],
)
def test_parse_user_id_valid(text, expected):
    assert parse_user_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [value for value, _ in INVALID_TEXT_IDS],
    ids=[name for _, name in INVALID_TEXT_IDS],
)
def test_parse_user_id_invalid(text):
    assert parse_user_id(text) is None


# SendRequestSchema: the user-id field


@pytest.mark.parametrize(("value", "expected"), VALID_IDS, ids=VALID_ID_NAMES)
def test_send_schema_valid_id(value, expected):
    loaded = SendRequestSchema().load(send_body(fromID=value, toID=value))

    assert loaded["fromID"] == expected
    assert loaded["toID"] == expected
    assert type(loaded["fromID"]) is int


@pytest.mark.parametrize(
    "value",
    [value for value, _ in INVALID_IDS],
    ids=[name for _, name in INVALID_IDS],
)
def test_send_schema_invalid_from_id(value):
    errors = load_errors(SendRequestSchema(), send_body(fromID=value))

    assert list(errors) == ["fromID"]


@pytest.mark.parametrize(
    "value",
    [value for value, _ in INVALID_IDS],
    ids=[name for _, name in INVALID_IDS],
)
def test_send_schema_invalid_to_id(value):
    errors = load_errors(SendRequestSchema(), send_body(toID=value))

    assert list(errors) == ["toID"]


def test_send_schema_invalid_id_message():
    errors = load_errors(SendRequestSchema(), send_body(fromID="1e3"))

    assert "ASCII digits" in errors["fromID"][0]


def test_send_schema_null_id_message():
    errors = load_errors(SendRequestSchema(), send_body(toID=None))

    assert errors["toID"] == ["must not be null"]


# SendRequestSchema: missing fields and the message field


def test_send_schema_valid_body():
    loaded = SendRequestSchema().load(send_body())

    assert loaded == {
        "fromID": 2,
        "toID": 1,
        "message": "Bruno started following you.",
    }


@pytest.mark.parametrize("field", ["fromID", "toID", "message"])
def test_send_schema_missing_field(field):
    body = send_body()
    del body[field]

    errors = load_errors(SendRequestSchema(), body)

    assert errors == {field: ["is missing"]}


def test_send_schema_empty_body_names_every_field():
    message = describe_errors(load_errors(SendRequestSchema(), {}))

    assert "fromID is missing" in message
    assert "toID is missing" in message
    assert "message is missing" in message


def test_send_schema_names_every_invalid_field():
    body = {"fromID": "abc", "toID": -5, "message": "   "}

    message = describe_errors(load_errors(SendRequestSchema(), body))

    assert "fromID must be a user id" in message
    assert "toID must be a user id" in message
    assert "message must not be blank" in message


def test_send_schema_message_max_length_accepted():
    text = "x" * MAX_MESSAGE_CHARS

    loaded = SendRequestSchema().load(send_body(message=text))

    assert loaded["message"] == text


def test_send_schema_message_too_long():
    errors = load_errors(SendRequestSchema(), send_body(message="x" * 2001))

    assert "at most 2000 characters" in errors["message"][0]
    assert "2001" in errors["message"][0]


def test_send_schema_message_counts_characters():
    # 2,000 characters of 4 UTF-8 bytes each are still 2,000 characters.
    text = "\U0001f600" * MAX_MESSAGE_CHARS

    loaded = SendRequestSchema().load(send_body(message=text))

    assert loaded["message"] == text


@pytest.mark.parametrize(
    "text", ["", " ", "\t\n ", "\u3000"], ids=["empty", "space", "mixed", "ideographic"]
)
def test_send_schema_message_blank(text):
    errors = load_errors(SendRequestSchema(), send_body(message=text))

    assert errors == {"message": ["must not be blank"]}


@pytest.mark.parametrize(
    "value", [5, 1.5, True, [], {}], ids=["int", "float", "bool", "list", "object"]
)
def test_send_schema_message_not_text(value):
    errors = load_errors(SendRequestSchema(), send_body(message=value))

    assert errors == {"message": ["must be text"]}


def test_send_schema_message_null():
    errors = load_errors(SendRequestSchema(), send_body(message=None))

    assert errors == {"message": ["must not be null"]}


def test_send_schema_message_kept_verbatim():
    text = "  Emma mentioned you: 'Great seeing you, @Bruno!'  "

    loaded = SendRequestSchema().load(send_body(message=text))

    assert loaded["message"] == text


def test_send_schema_ignores_unknown_fields():
    loaded = SendRequestSchema().load(send_body(extra="x", priority=3))

    assert "extra" not in loaded
    assert "priority" not in loaded


# UserSchema


def test_user_schema_loads_user():
    assert UserSchema().load({"id": "007", "name": "Bond"}) == User(7, "Bond")


UUID_PROBLEM = "must be a UUID in lowercase 8-4-4-4-12 form"


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"name": "Emma"}, "id", "is missing"),
        ({"id": 1}, "name", "is missing"),
        ({"id": 1, "name": "  "}, "name", "must not be blank"),
    ],
    ids=["missing-id", "missing-name", "blank-name"],
)
def test_user_schema_invalid(data, field, expected):
    errors = load_errors(UserSchema(), data)

    assert errors == {field: [expected]}


# NotificationRecordSchema


def test_record_schema_valid():
    loaded = NotificationRecordSchema().load(record_data())

    assert loaded == Notification(
        id="0b6a9e1e-3f0c-4c55-9a3a-2f1f3d3b6a10",
        sender=User(2, "Bruno"),
        recipient=User(1, "Emma"),
        message="Bruno started following you.",
        created_at="2026-12-04T15:20:00.123456Z",
    )


def test_record_schema_round_trip():
    data = record_data()

    loaded = NotificationRecordSchema().load(data)

    assert loaded.to_dict() == data


@pytest.mark.parametrize(
    "created_at",
    [
        "2026-12-04T15:20:00Z",
        "2026-12-04T15:20:00.5+02:00",
        "2026-12-04T15:20:00-05:00",
    ],
    ids=["utc-z", "plus-offset", "minus-offset"],
)
def test_record_schema_valid_timestamp(created_at):
    loaded = NotificationRecordSchema().load(record_data(created_at=created_at))

    assert loaded.created_at == created_at


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        (record_data(id="not-a-uuid"), "id", UUID_PROBLEM),
        (record_data(id="0b6a9e1e-3f0c-4c55-9a3a"), "id", UUID_PROBLEM),
        (record_data(id="{0b6a9e1e-3f0c-4c55-9a3a-5d1f2e3c4b5a}"), "id", UUID_PROBLEM),
        (record_data(id="0B6A9E1E-3F0C-4C55-9A3A-5D1F2E3C4B5A"), "id", UUID_PROBLEM),
        (
            record_data(created_at="2026-12-04T15:20:00"),
            "created_at",
            "must be an RFC 3339 timestamp with a time zone",
        ),
        (
            record_data(created_at="yesterday"),
            "created_at",
            "must be an RFC 3339 timestamp with a time zone",
        ),
        (record_data(message="   "), "message", "must not be blank"),
    ],
    ids=[
        "bad-uuid",
        "short-uuid",
        "braced-uuid",
        "uppercase-uuid",
        "no-zone",
        "not-timestamp",
        "blank-message",
    ],
)
def test_record_schema_invalid_field(data, field, expected):
    errors = load_errors(NotificationRecordSchema(), data)

    assert errors == {field: [expected]}


@pytest.mark.parametrize("field", ["id", "from", "to", "message", "created_at"])
def test_record_schema_missing_field(field):
    data = record_data()
    del data[field]

    errors = load_errors(NotificationRecordSchema(), data)

    assert list(errors) == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "Bruno"),
        ("from", 2),
        ("from", [2, "Bruno"]),
        ("to", "Emma"),
        ("to", None),
    ],
    ids=["from-text", "from-int", "from-list", "to-text", "to-null"],
)
def test_record_schema_user_not_object(field, value):
    errors = load_errors(NotificationRecordSchema(), record_data(**{field: value}))

    assert list(errors) == [field]


@pytest.mark.parametrize(
    "created_at",
    ["20261204T152000Z", "2026-W49-5T15:20Z"],
    ids=["basic-format", "week-date"],
)
def test_record_schema_rejects_non_rfc3339(created_at):
    errors = load_errors(NotificationRecordSchema(), record_data(created_at=created_at))

    assert list(errors) == ["created_at"]


# describe_errors


def test_describe_errors_flat():
    messages = {"toID": ["is missing"], "fromID": ["must not be null"]}

    assert describe_errors(messages) == "fromID must not be null. toID is missing."


def test_describe_errors_joins_problems():
    messages = {"message": ["must be text.", "must not be blank"]}

    assert describe_errors(messages) == "message must be text; must not be blank."


def test_describe_errors_nested():
    messages = load_errors(
        NotificationRecordSchema(),
        record_data(to={"id": -1, "name": " "}, id="x"),
    )

    described = describe_errors(messages)

    assert described.startswith(f"id {UUID_PROBLEM}. to: ")
    assert "to: id must be a user id" in described
    assert "name must not be blank." in described
