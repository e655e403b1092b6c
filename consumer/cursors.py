"""Opaque cursors: a notification's position in the store, as clients see it.

A cursor encodes the store's arrival sequence number. Clients treat it as
an opaque string: it pages the feed and is the event id of the stream.
"""

import base64
import binascii
import re

_PREFIX = "n"
_SEQ = re.compile(r"[0-9]{1,19}")
# The largest seq a store can hold: SQLite's INTEGER and PostgreSQL's bigint
# are signed 64-bit integers.
MAX_SEQ = 2**63 - 1
# The character swap of base64.urlsafe_b64encode, done here in one step
# because every notification of a page gets a cursor.
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode_cursor(seq: int) -> str:
    """Return the cursor of the notification with sequence number ``seq``."""
    raw = binascii.b2a_base64(f"{_PREFIX}{seq}".encode("ascii"), newline=False)
    return raw.translate(_URL_SAFE).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int | None:
    """Return the sequence number in ``cursor``, or None when it is invalid."""
    if not cursor or len(cursor) > 40:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    if not raw.startswith(_PREFIX) or not _SEQ.fullmatch(raw[1:]):
        return None
    seq = int(raw[1:])
    if seq > MAX_SEQ:
        return None

    return seq
