"""A notification store in a SQLite file shared by the processes of one host."""

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from common.errors import StoreError
from common.models import Notification, User
from consumer.store.base import NotificationStore

logger = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000

# seq gives the arrival order. AUTOINCREMENT keeps SQLite from reusing the
# seq of a deleted last row, so a newer notification never sorts before an
# older one.
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recipient_id INTEGER NOT NULL,
    recipient_name TEXT NOT NULL,
    sender_id INTEGER NOT NULL,
    sender_name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
_CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS notifications_recipient_seq
ON notifications (recipient_id, seq)
"""
_INSERT = """
INSERT OR IGNORE INTO notifications
    (id, recipient_id, recipient_name, sender_id, sender_name, message, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_SELECT_FOR_USER = """
SELECT id, sender_id, sender_name, recipient_id, recipient_name, message, created_at
FROM notifications
WHERE recipient_id = ?
ORDER BY seq
"""


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
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(_CREATE_TABLE)
            connection.execute(_CREATE_INDEX)
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
                changes_before = connection.total_changes
                connection.executemany(_INSERT, rows)
                added = connection.total_changes - changes_before
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
        with self._lock:
            connection = self._require_open()
            try:
                rows = connection.execute(_SELECT_FOR_USER, (user_id,)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"failed to read the notifications of user {user_id} from "
                    f"{self.path}: {exc}"
                ) from exc

        return [
            Notification(
                id=notification_id,
                sender=User(sender_id, sender_name),
                recipient=User(recipient_id, recipient_name),
                message=message,
                created_at=created_at,
            )
            for (
                notification_id,
                sender_id,
                sender_name,
                recipient_id,
                recipient_name,
                message,
                created_at,
            ) in rows
        ]

    def count(self) -> int:
        """Return the number of notifications stored for all users."""
        with self._lock:
            connection = self._require_open()
            try:
                (total,) = connection.execute(
                    "SELECT count(*) FROM notifications"
                ).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"failed to count the notifications in {self.path}: {exc}"
                ) from exc

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
