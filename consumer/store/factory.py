"""Open the notification store that a store URL names."""

import os
import re

from common.errors import StoreError
from common.settings import POSTGRES_URL_PREFIXES, mask_url_password
from consumer.store.base import NotificationStore
from consumer.store.memory import MemoryStore
from consumer.store.sqlite import DEFAULT_BUSY_TIMEOUT_MS, SQLiteStore

MEMORY_URL = "memory://"
SQLITE_PREFIX = "sqlite:///"
ACCEPTED_FORMS = (
    "memory://, sqlite:///RELATIVE/PATH.db (relative to the working directory) "
    "or sqlite:////ABSOLUTE/PATH.db, each optionally followed by "
    "?busy_timeout_ms=MILLISECONDS, or "
    "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (postgres:// works too)"
)


def open_store(url: str) -> NotificationStore:
    """Open the store that ``url`` names, creating a SQLite file if missing.

    A SQLite URL may end in ``?busy_timeout_ms=N``: how long a write waits for
    another connection's lock before it fails (default 5000). A ``?`` in a
    SQLite URL always starts this query, so the path cannot contain one.
    A ``postgresql://`` or ``postgres://`` URL is a libpq connection URI,
    query parameters included. The store creates its table if missing.
    Raises ``StoreError`` if the URL has another form or the store cannot open.
    """
    if url == MEMORY_URL:
        return MemoryStore()

    if url.startswith(SQLITE_PREFIX):
        path, _, query = url.removeprefix(SQLITE_PREFIX).partition("?")
        if path:
            # A relative path is resolved now, so a later change of working
            # directory does not move the store.
            return SQLiteStore(
                os.path.abspath(path), busy_timeout_ms=_busy_timeout_ms(url, query)
            )

    if url.startswith(POSTGRES_URL_PREFIXES) and url not in POSTGRES_URL_PREFIXES:
        # Imported here, so that a worker with another store does not load
        # psycopg at boot: `python -X importtime` measured about 0.2 s for
        # it on a 2-core machine.
        from consumer.store.postgres import PostgresStore

        return PostgresStore(url)

    raise StoreError(
        f"invalid store URL {mask_url_password(url)!r}: expected {ACCEPTED_FORMS}"
    )


def _busy_timeout_ms(url: str, query: str) -> int:
    if not query:
        return DEFAULT_BUSY_TIMEOUT_MS
    match = re.fullmatch(r"busy_timeout_ms=([0-9]{1,9})", query)
    if match is None:
        raise StoreError(
            f"invalid store URL {url!r}: the only query parameter is "
            "busy_timeout_ms, a whole number of milliseconds"
        )
    return int(match.group(1))
