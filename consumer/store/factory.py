"""Open the notification store that a store URL names."""

import os

from common.errors import StoreError
from consumer.store.base import NotificationStore
from consumer.store.memory import MemoryStore
from consumer.store.sqlite import SQLiteStore

MEMORY_URL = "memory://"
SQLITE_PREFIX = "sqlite:///"
ACCEPTED_FORMS = (
    "memory://, sqlite:///RELATIVE/PATH.db (relative to the working directory) "
    "or sqlite:////ABSOLUTE/PATH.db"
)


def open_store(url: str) -> NotificationStore:
    """Open the store that ``url`` names, creating a SQLite file if missing.

    Raises ``StoreError`` if the URL has another form or the store cannot open.
    """
    if url == MEMORY_URL:
        return MemoryStore()

    if url.startswith(SQLITE_PREFIX):
        path = url.removeprefix(SQLITE_PREFIX)
        if path:
            # A relative path is resolved now, so a later change of working
            # directory does not move the store.
            return SQLiteStore(os.path.abspath(path))

    raise StoreError(f"invalid store URL {url!r}: expected {ACCEPTED_FORMS}")
