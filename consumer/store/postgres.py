"""A notification store in PostgreSQL, shared by consumer instances on any host.

Every instance that opens the same database shares one table, one ``seq``
and one read and delete state. ``add_many`` sends a notification on the
channel ``notify_new_rows`` when it stores something new, and
``watch_changes`` listens on that channel, so that an open event stream on
one host learns of rows that another host stored.
"""

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from common.errors import StoreError
from common.models import Notification, User
from common.settings import mask_url_password
from consumer.store.base import (
    NotificationStore,
    StoredNotification,
    check_ids,
)
from consumer.store.sql_pages import PageQueries, page_from_rows

logger = logging.getLogger(__name__)

DEFAULT_MIN_CONNECTIONS = 1
DEFAULT_MAX_CONNECTIONS = 4
# How long a call waits for a free pooled connection, and how long opening
# the store waits for its first connection, in seconds.
DEFAULT_POOL_TIMEOUT = 10.0
# libpq's connect_timeout, in seconds, unless the URL sets one.
DEFAULT_CONNECT_TIMEOUT = 5

# NOTE: channels are per database, not per schema. Stores in two schemas of
# one database would hear each other's seqs, and a stream could then wait
# for its keep-alive instead of waking, so give each deployment a database.
CHANNEL = "notify_new_rows"
# Keys of the transaction-level advisory locks. Advisory locks are shared by
# everything in the database, so the keys are arbitrary but fixed constants.
SCHEMA_LOCK_KEY = 7_346_211_001
WRITE_LOCK_KEY = 7_346_211_002
# How often watch_changes wakes to check whether it should stop, in seconds.
# It sends nothing to the server when it wakes.
WATCH_WAKE_INTERVAL = 0.5
# Delay before the listening connection connects again after a failure, in
# seconds. It doubles with each failure in a row, up to the maximum.
WATCH_RETRY_MIN = 0.5
WATCH_RETRY_MAX = 10.0
# TCP keepalive of the listening connection, unless the URL sets it, so that
# a server that vanished without closing the connection is noticed within
# about a minute (30 s idle, then 3 probes 10 s apart).
_LISTEN_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}

# seq gives the arrival order. A deleted notification keeps its row with
# deleted = true, so its id stays in the UNIQUE index and ON CONFLICT skips it
# when it comes again. The text fields that come from a record are bytea
# holding UTF-8, because PostgreSQL's text type cannot contain U+0000, which
# a valid record may. Lone surrogates are stored as surrogatepass bytes.
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS notifications (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    recipient_id bigint NOT NULL,
    recipient_name bytea NOT NULL,
    sender_id bigint NOT NULL,
    sender_name bytea NOT NULL,
    message bytea NOT NULL,
    created_at text NOT NULL,
    read boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false
)
"""
# Columns added after the first version of the table, with the definitions
# that ALTER TABLE ... ADD COLUMN gives them.
_ADDED_COLUMNS = {
    "read": "boolean NOT NULL DEFAULT false",
    "deleted": "boolean NOT NULL DEFAULT false",
}
# Serves list_for_user and page.
_CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS notifications_recipient_seq
ON notifications (recipient_id, seq)
"""
# Per user: the number of unread notifications, and a version that grows
# with every change to the user's notifications. Statement triggers keep it
# in the transaction that changes notifications, one upsert per user and
# statement. So unread_count reads one row instead of counting every unread
# notification, which took 10 to 13 ms for 100,000 of them.
_CREATE_FEED_STATE = """
CREATE TABLE IF NOT EXISTS feed_state (
    recipient_id bigint PRIMARY KEY,
    unread bigint NOT NULL,
    version bigint NOT NULL
)
"""
_FILL_FEED_STATE = """
INSERT INTO feed_state (recipient_id, unread, version)
SELECT recipient_id, count(*) FILTER (WHERE NOT read AND NOT deleted), 1
FROM notifications
GROUP BY recipient_id
"""
# Each function adds the change in unread rows per user of a statement's
# rows and counts one version. The upserts go in recipient_id order, so two
# statements that change the same users lock their rows in the same order.
_CREATE_FEED_STATE_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION feed_state_after_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO feed_state AS state (recipient_id, unread, version)
        SELECT recipient_id, count(*) FILTER (WHERE NOT read AND NOT deleted), 1
        FROM new_rows
        GROUP BY recipient_id
        ORDER BY recipient_id
        ON CONFLICT (recipient_id) DO UPDATE
        SET unread = state.unread + excluded.unread, version = state.version + 1;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION feed_state_after_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO feed_state AS state (recipient_id, unread, version)
        SELECT
            new_row.recipient_id,
            sum(
                (NOT new_row.read AND NOT new_row.deleted)::int
                - (NOT old_row.read AND NOT old_row.deleted)::int
            ),
            1
        FROM old_rows AS old_row JOIN new_rows AS new_row USING (seq)
        WHERE old_row.read <> new_row.read OR old_row.deleted <> new_row.deleted
        GROUP BY new_row.recipient_id
        ORDER BY new_row.recipient_id
        ON CONFLICT (recipient_id) DO UPDATE
        SET unread = state.unread + excluded.unread, version = state.version + 1;
        RETURN NULL;
    END
    $$
    """,
    # The store never removes a row, but rows removed by hand keep the state
    # right too.
    """
    CREATE OR REPLACE FUNCTION feed_state_after_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE feed_state AS state
        SET unread = state.unread - removed.unread, version = state.version + 1
        FROM (
            SELECT recipient_id, count(*) FILTER (WHERE NOT read AND NOT deleted)
                AS unread
            FROM old_rows
            GROUP BY recipient_id
        ) AS removed
        WHERE state.recipient_id = removed.recipient_id;
        RETURN NULL;
    END
    $$
    """,
)
_CREATE_FEED_STATE_TRIGGERS = (
    """
    CREATE OR REPLACE TRIGGER feed_state_on_insert
    AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION feed_state_after_insert()
    """,
    """
    CREATE OR REPLACE TRIGGER feed_state_on_update
    AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION feed_state_after_update()
    """,
    """
    CREATE OR REPLACE TRIGGER feed_state_on_delete
    AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION feed_state_after_delete()
    """,
)
_SELECT_COLUMNS = """
SELECT column_name
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'notifications'
"""
# Inserts the batch in list order, so seq follows it. A row whose id is
# stored already, or comes earlier in the batch, is skipped. Its identity
# value is still drawn, which leaves a gap in seq.
_INSERT = """
WITH added AS (
    INSERT INTO notifications
        (id, recipient_id, recipient_name, sender_id, sender_name, message,
         created_at)
    SELECT id, recipient_id, recipient_name, sender_id, sender_name, message,
        created_at
    FROM unnest(
        %s::text[], %s::bigint[], %s::bytea[], %s::bigint[], %s::bytea[],
        %s::bytea[], %s::text[]
    ) WITH ORDINALITY AS batch(
        id, recipient_id, recipient_name, sender_id, sender_name, message,
        created_at, position
    )
    ORDER BY position
    ON CONFLICT (id) DO NOTHING
    RETURNING seq
)
SELECT count(*), max(seq) FROM added
"""
# The column order that _to_notification expects.
_NOTIFICATION_COLUMNS = (
    "id, sender_id, sender_name, recipient_id, recipient_name, message, created_at"
)
_SELECT_FOR_USER = f"""
SELECT {_NOTIFICATION_COLUMNS}
FROM notifications
WHERE recipient_id = %s AND NOT deleted
ORDER BY seq
"""
# Each page query takes (recipient_id, [after_seq,] limit + 1).
_PAGE_COLUMNS = f"seq, read, {_NOTIFICATION_COLUMNS}"
_SELECT_PAGE_OLDEST_FIRST = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = %s AND NOT deleted
ORDER BY seq
LIMIT %s
"""
_SELECT_PAGE_OLDEST_FIRST_AFTER = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = %s AND NOT deleted AND seq > %s
ORDER BY seq
LIMIT %s
"""
_SELECT_PAGE_NEWEST_FIRST = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = %s AND NOT deleted
ORDER BY seq DESC
LIMIT %s
"""
_SELECT_PAGE_NEWEST_FIRST_AFTER = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = %s AND NOT deleted AND seq < %s
ORDER BY seq DESC
LIMIT %s
"""

_PAGES = PageQueries(
    oldest_first=_SELECT_PAGE_OLDEST_FIRST,
    newest_first=_SELECT_PAGE_NEWEST_FIRST,
    oldest_first_after=_SELECT_PAGE_OLDEST_FIRST_AFTER,
    newest_first_after=_SELECT_PAGE_NEWEST_FIRST_AFTER,
)
_COUNT_UNREAD = """
SELECT coalesce(max(unread), 0)
FROM feed_state
WHERE recipient_id = %s
"""
_SELECT_FEED_VERSION = """
SELECT coalesce(max(version), 0)
FROM feed_state
WHERE recipient_id = %s
"""
_MARK_ALL_READ = """
UPDATE notifications
SET read = true
WHERE recipient_id = %s AND NOT read AND NOT deleted
"""
_MARK_READ = """
UPDATE notifications
SET read = true
WHERE id = ANY(%s) AND recipient_id = %s AND NOT read AND NOT deleted
"""
_DELETE = """
UPDATE notifications
SET deleted = true
WHERE id = %s AND recipient_id = %s AND NOT deleted
"""
# max(seq) and not the identity's sequence, which also advances for the rows
# that ON CONFLICT skips. PostgreSQL reads max() from the end of the primary
# key index.
_SELECT_LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM notifications"


class PostgresStore(NotificationStore):
    """Notifications in a PostgreSQL table that every consumer instance shares.

    Each store object has a small connection pool, opened in the process
    that uses it. ``self._lock`` guards the open or closed state, not the
    queries, which run in parallel on the pooled connections.

    ``add_many`` holds a transaction-level advisory lock from before its
    insert until its commit, so the transactions that add rows commit in
    ``seq`` order. A reader that reads a row therefore also reads every row with
    a lower ``seq``, on every host, and a stream that resumes after a ``seq``
    misses nothing.
    """

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = DEFAULT_MIN_CONNECTIONS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        if not 1 <= min_connections <= max_connections:
            raise ValueError(
                "expected 1 <= min_connections <= max_connections, got "
                f"{min_connections} and {max_connections}"
            )

        self._url = url
        # The URL with its password replaced, for messages and logs.
        self.masked_url = mask_url_password(url)
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._parameters = self._connection_parameters()

        # A connection of its own first: the pool retries failed connects in
        # the background and would report only a timeout, not the reason.
        try:
            with psycopg.connect(**self._parameters, autocommit=True) as connection:
                _create_schema(connection)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open notification store {self.masked_url}: "
                f"{self._redact(exc)}"
            ) from None

        self._pool: ConnectionPool | None = ConnectionPool(
            kwargs={**self._parameters, "autocommit": True},
            min_size=min_connections,
            max_size=max_connections,
            timeout=pool_timeout,
            # A connection that the server closed, for example on a restart,
            # is replaced before a call gets it.
            check=ConnectionPool.check_connection,
            name="notification-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=pool_timeout)
        except psycopg.Error as exc:
            self._pool.close()
            self._pool = None
            raise StoreError(
                f"cannot open the connection pool of notification store "
                f"{self.masked_url}: {self._redact(exc)}"
            ) from None

        logger.info(
            "Opened PostgreSQL notification store %s with %d to %d connections",
            self.masked_url, min_connections, max_connections,
        )

    def _connection_parameters(self) -> dict[str, str]:
        """Parse the URL into libpq parameters, adding this store's defaults."""
        try:
            parameters = conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            # The message can quote the whole URL, password included.
            raise StoreError(
                f"invalid store URL {self.masked_url}: {self._redact(exc)}"
            ) from None
        parameters.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT))
        parameters.setdefault("application_name", "kafka-notify-consumer")
        return parameters

    def add_many(self, notifications: Sequence[Notification]) -> int:
        """Store, in order, each notification whose id is not stored yet."""
        if not notifications:
            return 0
        columns = _batch_columns(notifications)

        with self._transaction(
            f"store {len(notifications)} notifications", "stored none of them"
        ) as connection:
            # The lock makes each writer draw its seqs and commit before the
            # next one draws, so commit order is seq order (see the class).
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
            added, max_seq = connection.execute(_INSERT, columns).fetchone()
            if added:
                # Delivered to the listeners when the transaction commits.
                connection.execute(
                    "SELECT pg_notify(%s, %s)", (CHANNEL, str(max_seq))
                )
        return added

    def list_for_user(self, user_id: int) -> list[Notification]:
        """Return the notifications sent to ``user_id``, oldest first."""
        rows = self._fetch_all(
            _SELECT_FOR_USER,
            (user_id,),
            f"read the notifications of user {user_id}",
        )
        return [_to_notification(row) for row in rows]

    def page(
        self,
        user_id: int,
        *,
        limit: int,
        after_seq: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[StoredNotification], bool]:
        """Return one page of the notifications of ``user_id`` that are not deleted."""
        query, parameters = _PAGES.choose(user_id, limit, after_seq, newest_first)
        rows = self._fetch_all(
            query, parameters, f"read a page of the notifications of user {user_id}"
        )
        return page_from_rows(rows, limit, _to_notification)

    def unread_count(self, user_id: int) -> int:
        """Return the number of notifications of ``user_id`` that are unread."""
        [(unread,)] = self._fetch_all(
            _COUNT_UNREAD,
            (user_id,),
            f"count the unread notifications of user {user_id}",
        )
        return unread

    def feed_version(self, user_id: int) -> int:
        """Return the version of the notifications of ``user_id``."""
        [(version,)] = self._fetch_all(
            _SELECT_FEED_VERSION,
            (user_id,),
            f"read the feed version of user {user_id}",
        )
        return version

    def mark_read(self, user_id: int, ids: Sequence[str] | None) -> int:
        """Mark notifications of ``user_id`` read and return the unread count after."""
        check_ids(ids)
        with self._transaction(
            f"mark notifications of user {user_id} read", "changed nothing"
        ) as connection:
            if ids is None:
                connection.execute(_MARK_ALL_READ, (user_id,))
            else:
                # A text value cannot contain U+0000, so no stored id does.
                storable = [i for i in ids if "\x00" not in i]
                connection.execute(_MARK_READ, (storable, user_id))
            [unread] = connection.execute(_COUNT_UNREAD, (user_id,)).fetchone()
        return unread

    def delete(self, user_id: int, notification_id: str) -> bool:
        """Delete the notification ``notification_id`` of ``user_id``."""
        if "\x00" in notification_id:
            return False
        with self._transaction(
            f"delete notification {notification_id!r} of user {user_id}",
            "changed nothing",
        ) as connection:
            cursor = connection.execute(_DELETE, (notification_id, user_id))
        return cursor.rowcount == 1

    def last_seq(self) -> int:
        """Return the highest ``seq`` of a stored notification, or 0 if none."""
        [(seq,)] = self._fetch_all(_SELECT_LAST_SEQ, (), "read the last seq")
        return seq

    def count(self) -> int:
        """Return the number of notifications stored for all users, deleted included."""
        [(total,)] = self._fetch_all(
            "SELECT count(*) FROM notifications", (), "count the notifications"
        )
        return total

    def check(self) -> None:
        """Raise ``StoreError`` if the server cannot be reached or the table read."""
        self._fetch_all(
            "SELECT 1 FROM notifications LIMIT 1", (), "read the notifications table"
        )

    def close(self) -> None:
        """Close the connection pool and end ``watch_changes``."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._closed.set()
            if pool is None:
                return
            try:
                pool.close()
            except psycopg.Error as exc:
                raise StoreError(
                    f"failed to close notification store {self.masked_url}: "
                    f"{self._redact(exc)}"
                ) from None

        logger.info("Closed PostgreSQL notification store %s", self.masked_url)

    def watch_changes(
        self, on_change: Callable[[int], None], stop: threading.Event
    ) -> None:
        """Call ``on_change`` with the highest ``seq`` each time rows are added.

        Any process that shares the database counts. The method blocks the
        calling thread until ``stop`` is set or the store is closed. It uses
        one connection of its own, outside the pool, that listens on
        ``CHANNEL``, so it sends no query while nothing happens. When that
        connection fails, it connects again after a delay that doubles from
        ``WATCH_RETRY_MIN`` up to ``WATCH_RETRY_MAX`` seconds. After each
        connect it calls ``on_change`` with the current highest ``seq``, which
        covers the rows added while nothing listened.
        """
        parameters = {**self._parameters, "autocommit": True}
        parameters["application_name"] = "kafka-notify-listener"
        for name, value in _LISTEN_KEEPALIVES.items():
            parameters.setdefault(name, value)

        delay = WATCH_RETRY_MIN
        failures = 0
        while not self._watch_should_stop(stop):
            try:
                with psycopg.connect(**parameters) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    [(seq,)] = connection.execute(_SELECT_LAST_SEQ).fetchall()
                    if failures:
                        logger.info(
                            "Listening on %s for new notifications again after "
                            "%d failed attempts",
                            self.masked_url, failures,
                        )
                    failures, delay = 0, WATCH_RETRY_MIN
                    on_change(seq)
                    self._forward_notifications(connection, on_change, stop)
            except psycopg.Error as exc:
                failures += 1
                # Log the first failure of a series and then every tenth, so
                # that an outage does not flood the log.
                if failures % 10 == 1:
                    logger.warning(
                        "Listening on %s for new notifications failed (attempt "
                        "%d); retrying in %.1f s: %s",
                        self.masked_url, failures, delay, self._redact(exc),
                    )
                self._pause_watch(stop, delay)
                delay = min(delay * 2, WATCH_RETRY_MAX)

    def _forward_notifications(
        self,
        connection: psycopg.Connection,
        on_change: Callable[[int], None],
        stop: threading.Event,
    ) -> None:
        """Pass on the seq of each notification on ``CHANNEL`` until the watch stops."""
        while not self._watch_should_stop(stop):
            for notify in connection.notifies(timeout=WATCH_WAKE_INTERVAL):
                try:
                    seq = int(notify.payload)
                except ValueError:
                    # Not sent by add_many. Reading the table is still correct.
                    logger.warning(
                        "Ignoring payload %r on channel %s, which is not a seq",
                        notify.payload[:100], CHANNEL,
                    )
                    [(seq,)] = connection.execute(_SELECT_LAST_SEQ).fetchall()
                on_change(seq)

    def _watch_should_stop(self, stop: threading.Event) -> bool:
        return stop.is_set() or self._closed.is_set()

    def _pause_watch(self, stop: threading.Event, seconds: float) -> None:
        """Wait ``seconds``, or less if the watch should stop."""
        deadline = time.monotonic() + seconds
        while not self._watch_should_stop(stop):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            stop.wait(min(remaining, WATCH_WAKE_INTERVAL))

    def _require_open(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                raise StoreError(f"notification store {self.masked_url} is closed")
            return self._pool

    @contextlib.contextmanager
    def _connection(
        self, action: str, outcome: str | None = None
    ) -> Iterator[psycopg.Connection]:
        """Lend a pooled connection in autocommit mode to the body.

        When the body or the pool raises ``psycopg.Error``, this raises
        ``StoreError`` saying that it failed to ``action`` and, if given,
        the ``outcome`` for the data.
        """
        pool = self._require_open()
        try:
            with pool.connection() as connection:
                yield connection
        except psycopg.Error as exc:
            outcome_text = f", and {outcome}" if outcome else ""
            raise StoreError(
                f"failed to {action} in {self.masked_url}{outcome_text}: "
                f"{self._redact(exc)}"
            ) from exc

    @contextlib.contextmanager
    def _transaction(self, action: str, outcome: str) -> Iterator[psycopg.Connection]:
        """Run the body in one transaction, committed at the end or rolled back."""
        with (
            self._connection(action, outcome) as connection,
            connection.transaction(),
        ):
            yield connection

    def _fetch_all(self, query: str, parameters: tuple, action: str) -> list[tuple]:
        """Run a read-only ``query`` and return its rows."""
        with self._connection(action) as connection:
            return connection.execute(query, parameters).fetchall()

    def _redact(self, error: Exception) -> str:
        """Return the message of ``error`` with the URL's password masked."""
        message = str(error).strip().replace(self._url, self.masked_url)
        passwords = {
            _password_of(self._url),
            getattr(self, "_parameters", {}).get("password"),
        }
        # libpq does not put passwords in its messages, so this only matters
        # for text that quotes the URL. A password of one to three characters
        # is left alone, since replacing it would garble the message.
        for password in passwords:
            if password and len(password) > 3:
                message = message.replace(password, "***")
        return message


def _create_schema(connection: psycopg.Connection) -> None:
    """Create the table and its indexes, or add what an older table lacks.

    The advisory lock makes instances that start at once do this one after
    another. DDL runs only for what the catalog shows missing, because ALTER
    TABLE and CREATE INDEX lock the table even when IF NOT EXISTS makes them
    do nothing. So an instance that starts against an up-to-date table
    neither waits for nor blocks the others' reads and writes.
    """
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        [(table,)] = connection.execute(
            "SELECT to_regclass('notifications')"
        ).fetchall()
        if table is None:
            connection.execute(_CREATE_TABLE)
        present = {name for (name,) in connection.execute(_SELECT_COLUMNS)}
        for name, definition in _ADDED_COLUMNS.items():
            if name not in present:
                connection.execute(
                    f"ALTER TABLE notifications ADD COLUMN IF NOT EXISTS "
                    f"{name} {definition}"
                )
        [(index,)] = connection.execute(
            "SELECT to_regclass('notifications_recipient_seq')"
        ).fetchall()
        if index is None:
            connection.execute(_CREATE_INDEX)
        [(state,)] = connection.execute("SELECT to_regclass('feed_state')").fetchall()
        if state is None:
            _create_feed_state(connection)


def _create_feed_state(connection: psycopg.Connection) -> None:
    """Create the feed_state table and its triggers, and fill it.

    The triggers come first. Creating one waits for the transactions that
    are writing notifications and blocks new ones until the commit, so the
    fill counts every row that no trigger saw.
    """
    for statement in _CREATE_FEED_STATE_FUNCTIONS:
        connection.execute(statement)
    connection.execute(_CREATE_FEED_STATE)
    for statement in _CREATE_FEED_STATE_TRIGGERS:
        connection.execute(statement)
    connection.execute(_FILL_FEED_STATE)
    # The unread count used this index before feed_state existed.
    connection.execute("DROP INDEX IF EXISTS notifications_recipient_unread")


def _batch_columns(notifications: Sequence[Notification]) -> tuple[list, ...]:
    """Return the parameters of ``_INSERT``: one list per column, in batch order."""
    return (
        [n.id for n in notifications],
        [n.recipient.id for n in notifications],
        [_encode(n.recipient.name) for n in notifications],
        [n.sender.id for n in notifications],
        [_encode(n.sender.name) for n in notifications],
        [_encode(n.message) for n in notifications],
        [n.created_at for n in notifications],
    )


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    return bytes(data).decode("utf-8", "surrogatepass")


def _to_notification(row: Sequence) -> Notification:
    """Build a notification from the columns in ``_NOTIFICATION_COLUMNS`` order."""
    (
        notification_id,
        sender_id,
        sender_name,
        recipient_id,
        recipient_name,
        message,
        created_at,
    ) = row
    return Notification(
        id=notification_id,
        sender=User(sender_id, _decode(sender_name)),
        recipient=User(recipient_id, _decode(recipient_name)),
        message=_decode(message),
        created_at=created_at,
    )


def _password_of(url: str) -> str | None:
    """Return the password written in ``url``, as written, or None."""
    match = re.match(r"[a-z]+://[^:@/]*:([^@/]*)@", url)
    if match:
        return match.group(1)
    match = re.search(r"[?&]password=([^&]*)", url)
    return match.group(1) if match else None
