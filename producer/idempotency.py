"""Notification ids for ``POST /send``, derived from the ``Idempotency-Key`` header.

With a key, the id is a name-based UUID (version 5) of the sender and the
key, so every retry of one send gets the same id on any worker. The store
keeps the first notification it consumes with that id. Without a key, the
id is random.
"""

import uuid

from common.auth import is_valid_key

HEADER = "Idempotency-Key"

# Fixed for the project: changing it would give retries of a send made
# before the change another id.
_NAMESPACE = uuid.UUID("03e4f884-619a-4b44-9ca4-b0e4f2c48186")

KEY_PROBLEM = "must be 1 to 255 visible ASCII characters, without spaces"


def key_problem(key: str | None) -> str | None:
    """Return what is wrong with an idempotency key, or None when it is valid.

    A missing key (None) is valid.
    """
    if key is None or is_valid_key(key):
        return None
    return KEY_PROBLEM


def notification_id(sender_id: int, key: str | None) -> str:
    """Return the id of a notification from ``sender_id``.

    The id is derived from the sender and ``key`` when there is a key, and
    random otherwise.
    """
    if key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_NAMESPACE, f"{sender_id}:{key}"))
