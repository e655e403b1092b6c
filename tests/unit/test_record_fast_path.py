"""The fast record check accepts only what the schema accepts, identically."""

import copy

import pytest
from marshmallow import ValidationError

from common.schemas import NotificationRecordSchema
from consumer.record_fast_path import load_valid_record

VALID = {
    "id": "0b6a9e1e-3f0c-4c55-9a3a-5d1f2e3c4b5a",
    "from": {"id": 2, "name": "Bruno"},
    "to": {"id": 1, "name": "Emma"},
    "message": "Bruno started following you.",
    "created_at": "2026-12-04T15:20:00.123456Z",
}


def variant(path: tuple, value) -> dict:
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


CASES = [
    VALID,
    variant(("from", "id"), "007"),
    variant(("to", "id"), 10**18 - 1),
    variant(("extra",), "ignored"),
    variant(("created_at",), "2026-12-04t15:20:00+01:00"),
    variant(("message",), "x" * 2000),
    variant(("message",), "x" * 2001),
    variant(("message",), "   "),
    variant(("message",), "a \ud800 b"),
    variant(("message",), 5),
    variant(("id",), "0B6A9E1E-3F0C-4C55-9A3A-5D1F2E3C4B5A"),
    variant(("id",), KeyError),
    variant(("from", "id"), True),
    variant(("from", "id"), 1.0),
    variant(("from", "id"), -1),
    variant(("to", "id"), 10**18),
    variant(("to", "id"), "١"),
    variant(("to", "name"), " "),
    variant(("to", "name"), KeyError),
    variant(("to",), "Emma"),
    variant(("created_at",), "2026-12-04T15:20:00"),
    variant(("created_at",), "2026-W49-5T15:20Z"),
    variant(("created_at",), "2026-13-04T15:20:00Z"),
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_fast_path_agrees_with_schema(data):
    fast = load_valid_record(data)
    try:
        expected = NotificationRecordSchema().load(data)
    except ValidationError:
        expected = None

    if fast is not None:
        assert fast == expected


def test_fast_path_takes_producer_shape():
    assert load_valid_record(VALID) == NotificationRecordSchema().load(VALID)
