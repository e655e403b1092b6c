"""Validation of the feed routes' path, query and body parameters.

Every function raises ``ParameterError`` with a message naming the
parameter, so that a route can return 400 before it looks the user up.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from common.schemas import MAX_USER_ID, parse_user_id
from consumer.cursors import decode_cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_READ_IDS = 1000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class ParameterError(ValueError):
    """A path, query or body parameter of a feed route is invalid.

    ``status`` is the HTTP status to return: 400 unless the body has the
    wrong content type (415).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PageQuery:
    """The parsed query of ``GET /notifications/<userID>``."""

    limit: int
    after_seq: int | None
    newest_first: bool


def parse_user(text: str) -> int:
    """Return the user id in a path segment."""
    user_id = parse_user_id(text)
    if user_id is None:
        raise ParameterError(
            f"Invalid user id {text!r}: use 1 to 18 ASCII digits (0 to {MAX_USER_ID})"
        )
    return user_id


def parse_page_query(args: Mapping[str, str]) -> PageQuery:
    """Return the limit, cursor and order of a feed request."""
    raw_limit = args.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"[0-9]{1,4}", raw_limit) or not (
        1 <= int(raw_limit) <= MAX_LIMIT
    ):
        raise ParameterError(
            f"Invalid limit {raw_limit!r}: use a whole number from 1 to {MAX_LIMIT}"
        )

    order = args.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise ParameterError(f"Invalid order {order!r}: use oldest or newest")

    after_seq = None
    if "cursor" in args:
        after_seq = parse_cursor("cursor", args["cursor"])

    return PageQuery(int(raw_limit), after_seq, order == "newest")


def parse_cursor(name: str, value: str) -> int:
    """Return the sequence number in a cursor given as parameter ``name``."""
    seq = decode_cursor(value)
    if seq is None:
        raise ParameterError(
            f"Invalid {name} {value[:60]!r}: use a cursor returned by this service"
        )
    return seq


def parse_mark_read(body: object) -> list[str] | None:
    """Return the ids to mark read, or None for ``{"all": true}``."""
    if not isinstance(body, dict):
        raise ParameterError(
            'Body must be a JSON object: {"ids": ["<uuid>", ...]} or {"all": true}'
        )
    has_ids, has_all = "ids" in body, "all" in body
    if has_ids == has_all:
        raise ParameterError('Body must have exactly one of "ids" or "all"')

    if has_all:
        if body["all"] is not True:
            raise ParameterError('"all" must be true')
        return None

    ids = body["ids"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_READ_IDS:
        raise ParameterError(
            f'"ids" must be a list of 1 to {MAX_READ_IDS} notification ids'
        )
    for value in ids:
        if not isinstance(value, str) or not _UUID.fullmatch(value.lower()):
            raise ParameterError(f'"ids" contains {value!r}, which is not a UUID')

    return [value.lower() for value in ids]
