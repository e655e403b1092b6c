"""JSON parsing for request bodies: no duplicate keys, no NaN or Infinity.

Python's json module keeps the last of two equal keys and accepts NaN and
Infinity, which JSON does not define. A request body with either is
ambiguous, so both services reject it.
"""

import json


def loads_strict(text: str) -> object:
    """Parse ``text`` as JSON; raise ValueError for duplicate keys or NaN."""
    return json.loads(
        text,
        object_pairs_hook=_reject_duplicate_keys,
        parse_constant=_reject_constant,
    )


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    data = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {key!r} appears more than once")
        data[key] = value
    return data


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
