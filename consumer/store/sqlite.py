"""A notification store in a SQLite file shared by the processes of one host."""

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from common.errors import StoreError
from common.models import Notification, User
from consumer.store.base import (
    NotificationStore,
    StoredNotification,
    check_ids,
)
from consumer.store.sql_pages import PageQueries, page_from_rows

logger = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000

# seq gives the arrival order. AUTOINCREMENT keeps SQLite from reusing the
# seq of a deleted last row, so a newer notification never sorts before an
# older one. A deleted notification keeps its row with deleted = 1, so its id
# stays in the UNIQUE index and INSERT OR IGNORE skips it when it comes again.
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recipient_id INTEGER NOT NULL,
    recipient_name TEXT NOT NULL,
    sender_id INTEGER NOT NULL,
    sender_name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0
)
"""
# Columns that files created before read state and deletion existed lack, with
# the definitions that ALTER TABLE ... ADD COLUMN gives them.
_ADDED_COLUMNS = {
    "read": "INTEGER NOT NULL DEFAULT 0",
    "deleted": "INTEGER NOT NULL DEFAULT 0",
}
# Serves list_for_user and page.
_CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS notifications_recipient_seq
ON notifications (recipient_id, seq)
"""
# Per user: the number of unread notifications, and a version that grows
# with every change to the user's notifications. The triggers below keep it
# inside the statement that changes a notification, in this process or any
# other with the file open. unread_count reads one row, and feed_version
# lets a reader see that a page it built earlier is still current. A partial
# index of unread rows served the count before. Updating it cost each insert
# about a quarter of its time, so it is dropped.
_CREATE_FEED_STATE = """
CREATE TABLE IF NOT EXISTS feed_state (
    recipient_id INTEGER PRIMARY KEY,
    unread INTEGER NOT NULL,
    version INTEGER NOT NULL
)
"""
_FILL_FEED_STATE = """
INSERT INTO feed_state (recipient_id, unread, version)
SELECT recipient_id, sum(read = 0 AND deleted = 0), 1
FROM notifications
GROUP BY recipient_id
"""
_CREATE_FEED_STATE_TRIGGERS = (
    """
    CREATE TRIGGER IF NOT EXISTS feed_state_on_insert
    AFTER INSERT ON notifications
    BEGIN
        INSERT INTO feed_state (recipient_id, unread, version)
        VALUES (NEW.recipient_id, NEW.read = 0 AND NEW.deleted = 0, 1)
        ON CONFLICT (recipient_id) DO UPDATE
        SET unread = unread + excluded.unread, version = version + 1;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS feed_state_on_update
    AFTER UPDATE OF read, deleted ON notifications
    WHEN OLD.read != NEW.read OR OLD.deleted != NEW.deleted
    BEGIN
        INSERT INTO feed_state (recipient_id, unread, version)
        VALUES (
            NEW.recipient_id,
            (NEW.read = 0 AND NEW.deleted = 0) - (OLD.read = 0 AND OLD.deleted = 0),
            1
        )
        ON CONFLICT (recipient_id) DO UPDATE
        SET unread = unread + excluded.unread, version = version + 1;
    END
    """,
    # The store never removes a row, but a row removed by hand keeps the
    # state right too.
    """
    CREATE TRIGGER IF NOT EXISTS feed_state_on_delete
    AFTER DELETE ON notifications
    BEGIN
        UPDATE feed_state
        SET unread = unread - (OLD.read = 0 AND OLD.deleted = 0),
            version = version + 1
        WHERE recipient_id = OLD.recipient_id;
    END
    """,
)
_INSERT = """
INSERT OR IGNORE INTO notifications
    (id, recipient_id, recipient_name, sender_id, sender_name, message, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
# The column order that _to_notification expects.
_NOTIFICATION_COLUMNS = (
    "id, sender_id, sender_name, recipient_id, recipient_name, message, created_at"
)
_SELECT_FOR_USER = f"""
SELECT {_NOTIFICATION_COLUMNS}
FROM notifications
WHERE recipient_id = ? AND deleted = 0
ORDER BY seq
"""
# Each page query takes (recipient_id, [after_seq,] limit + 1).
_PAGE_COLUMNS = f"seq, read, {_NOTIFICATION_COLUMNS}"
_SELECT_PAGE_OLDEST_FIRST = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = ? AND deleted = 0
ORDER BY seq
LIMIT ?
"""
_SELECT_PAGE_OLDEST_FIRST_AFTER = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = ? AND deleted = 0 AND seq > ?
ORDER BY seq
LIMIT ?
"""
_SELECT_PAGE_NEWEST_FIRST = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = ? AND deleted = 0
ORDER BY seq DESC
LIMIT ?
"""
_SELECT_PAGE_NEWEST_FIRST_AFTER = f"""
SELECT {_PAGE_COLUMNS}
FROM notifications
WHERE recipient_id = ? AND deleted = 0 AND seq < ?
ORDER BY seq DESC
LIMIT ?
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
WHERE recipient_id = ?
"""
_SELECT_FEED_VERSION = """
SELECT coalesce(max(version), 0)
FROM feed_state
WHERE recipient_id = ?
"""
_MARK_ALL_READ = """
UPDATE notifications
SET read = 1
WHERE recipient_id = ? AND read = 0 AND deleted = 0
"""
_MARK_ONE_READ = """
UPDATE notifications
SET read = 1
WHERE id = ? AND recipient_id = ? AND read = 0 AND deleted = 0
"""
_DELETE = """
UPDATE notifications
SET deleted = 1
WHERE id = ? AND recipient_id = ? AND deleted = 0
"""
# max(seq) and not sqlite_sequence, because an INSERT OR IGNORE that skips a
# duplicate still advances sqlite_sequence (SQLite 3.40.1), and a redelivered
# batch would look like new notifications. Those skipped values leave gaps in
# seq. SQLite reads max() of the rowid from the end of the table b-tree
# without a scan.
_SELECT_LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM notifications"

# The connection's page cache, in KiB when negative: 8 MiB. SQLite's
# default of 2 MiB cannot hold the index of ids, into which random UUIDs
# insert all over. With 8 MiB one worker stored 200,000 notifications about
# 20% faster here, and 16 MiB was no faster.
_CACHE_SIZE = -8 * 1024

class SQLiteStore(NotificationStore):
    """Notifications in a SQLite database file that survives restarts.

    Several processes may open the same file, each with its own store object
    and connection. The database runs in WAL mode so that reads do not block
    the writer, and a writer waits up to ``busy_timeout_ms`` milliseconds for
    another process's write lock before the call raises ``StoreError``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        if busy_timeout_ms < 0:
            raise ValueError(f"busy_timeout_ms must be >= 0, got {busy_timeout_ms}")

        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory of notification store {self.path}: "
                f"{exc.strerror}"
            ) from exc

        self._connection: sqlite3.Connection | None = self._connect(busy_timeout_ms)
        logger.info("Opened SQLite notification store %s", self.path)

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        connection = None
        try:
            # isolation_level=None turns off the module's implicit transactions,
            # so only the explicit BEGIN statements in this class open one.
            # timeout is SQLite's busy timeout, in seconds.
            connection = sqlite3.connect(
                self.path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            mode = _enable_wal(connection, busy_timeout_ms)
            if mode.lower() != "wal":
                raise StoreError(
                    f"cannot open notification store {self.path}: SQLite kept "
                    f"journal mode {mode!r} instead of WAL. Check that the file "
                    "system of this path supports WAL."
                )
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute(f"PRAGMA cache_size = {_CACHE_SIZE}")
            # IMMEDIATE makes processes that open the file at once create or
            # upgrade the schema one after another.
            connection.execute("BEGIN IMMEDIATE")
            _create_schema(connection)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise StoreError(
                f"cannot open notification store {self.path}: {exc}"
            ) from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise

        return connection

    def add_many(self, notifications: Sequence[Notification]) -> int:
        """Store, in order, each notification whose id is not stored yet."""
        rows = [
            (
                notification.id,
                notification.recipient.id,
                notification.recipient.name,
                notification.sender.id,
                notification.sender.name,
                notification.message,
                notification.created_at,
            )
            for notification in notifications
        ]
        if not rows:
            return 0

        with self._lock:
            connection = self._require_open()
            try:
                # IMMEDIATE takes the write lock now, so waiting for another
                # process happens here, under busy_timeout, and not halfway
                # through the inserts.
                connection.execute("BEGIN IMMEDIATE")
                # rowcount sums the rows each INSERT added, leaving out those
                # it ignored and the triggers' changes to feed_state.
                added = connection.executemany(_INSERT, rows).rowcount
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(connection)
                raise StoreError(
                    f"failed to store {len(rows)} notifications in {self.path} "
                    f"and stored none of them: {exc}"
                ) from exc
            except BaseException:
                self._rollback(connection)
                raise

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
        with (
            self._lock,
            self._write_transaction(
                f"mark notifications of user {user_id} read"
            ) as connection,
        ):
            if ids is None:
                connection.execute(_MARK_ALL_READ, (user_id,))
            else:
                # One statement per id, so no list of ids can exceed SQLite's
                # limit on bound parameters.
                connection.executemany(
                    _MARK_ONE_READ,
                    [(notification_id, user_id) for notification_id in ids],
                )
            (unread,) = connection.execute(_COUNT_UNREAD, (user_id,)).fetchone()
        return unread

    def delete(self, user_id: int, notification_id: str) -> bool:
        """Delete the notification ``notification_id`` of ``user_id``."""
        with (
            self._lock,
            self._write_transaction(
                f"delete notification {notification_id!r} of user {user_id}"
            ) as connection,
        ):
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
        """Raise ``StoreError`` if the file is gone or cannot be read."""
        with self._lock:
            connection = self._require_open()
            # A deleted file stays readable through the open connection, but
            # processes that open the path later would get a new, empty one.
            if not self.path.exists():
                raise StoreError(
                    f"notification store {self.path} no longer exists. Restart "
                    "the service to create it again."
                )
            try:
                connection.execute("SELECT 1 FROM notifications LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read notification store {self.path}: {exc}"
                ) from exc

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.close()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"failed to close notification store {self.path}: {exc}"
                ) from exc

        logger.info("Closed SQLite notification store %s", self.path)

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"notification store {self.path} is closed")
        return self._connection

    def _fetch_all(self, query: str, parameters: tuple, action: str) -> list[tuple]:
        """Run a read-only ``query`` and return its rows.

        ``action`` completes the message of the ``StoreError`` raised on failure.
        """
        with self._lock:
            connection = self._require_open()
            try:
                return connection.execute(query, parameters).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"failed to {action} in {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _write_transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """Run the body in one write transaction and commit it, or roll it back.

        Call it with ``self._lock`` held. ``action`` completes the message of
        the ``StoreError`` raised on failure.
        """
        connection = self._require_open()
        try:
            # IMMEDIATE takes the write lock now, so waiting for another
            # process happens here, under busy_timeout.
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(connection)
            raise StoreError(
                f"failed to {action} in {self.path}, and changed nothing: {exc}"
            ) from exc
        except BaseException:
            self._rollback(connection)
            raise

    def _rollback(self, connection: sqlite3.Connection) -> None:
        if not connection.in_transaction:
            return
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            # An open transaction would keep the write lock from every other
            # process. Closing the connection rolls it back, and check() then
            # reports the store as closed.
            logger.exception(
                "Rollback failed on notification store %s, so the store is closed",
                self.path,
            )
            self._connection = None
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def _create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables, index and triggers, or add what an older file lacks.

    Call it inside a write transaction.
    """
    connection.execute(_CREATE_TABLE)
    present = {
        name for _, name, *_ in connection.execute("PRAGMA table_info(notifications)")
    }
    for name, definition in _ADDED_COLUMNS.items():
        if name in present:
            continue
        try:
            connection.execute(
                f"ALTER TABLE notifications ADD COLUMN {name} {definition}"
            )
        except sqlite3.OperationalError as exc:
            # Another process added the column since table_info was read.
            # The write transaction should prevent this, so it is only a
            # safeguard.
            if "duplicate column name" not in str(exc):
                raise
    connection.execute(_CREATE_INDEX)
    state_exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feed_state'"
    ).fetchone()
    if not state_exists:
        connection.execute(_CREATE_FEED_STATE)
        connection.execute(_FILL_FEED_STATE)
    for trigger in _CREATE_FEED_STATE_TRIGGERS:
        connection.execute(trigger)
    connection.execute("DROP INDEX IF EXISTS notifications_recipient_unread")


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
        sender=User(sender_id, sender_name),
        recipient=User(recipient_id, recipient_name),
        message=message,
        created_at=created_at,
    )


def _enable_wal(connection: sqlite3.Connection, busy_timeout_ms: int) -> str:
    """Switch the database to WAL mode and return the journal mode now in force.

    Retries for up to ``busy_timeout_ms`` while the database is busy.
    """
    # When several processes open a new file at once, SQLite (3.40.1 here)
    # can fail the switch with SQLITE_BUSY at once instead of calling the busy
    # handler, so the busy timeout alone does not make the processes wait.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    delay = 0.005
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            return mode
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise

        time.sleep(delay)
        delay = min(delay * 2, 0.1)
