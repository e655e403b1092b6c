"""A notification store in process memory."""

import bisect
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from common.errors import StoreError
from common.models import Notification
from consumer.store.base import (
    NotificationStore,
    StoredNotification,
    check_ids,
    check_page_limit,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    """The mutable record of one stored notification."""

    notification: Notification
    seq: int
    read: bool = False
    deleted: bool = False

    def to_stored(self) -> StoredNotification:
        return StoredNotification(self.notification, self.seq, self.read)


@dataclass(slots=True)
class _UserNotifications:
    """The entries of one recipient in ``seq`` order, tombstones included."""

    entries: list[_Entry]
    seqs: list[int]  # seqs[i] == entries[i].seq, searched with bisect.
    unread: int = 0
    # The feed version, which grows with every change to the entries.
    version: int = 0


class MemoryStore(NotificationStore):
    """Notifications in per-user lists, private to this process.

    Nothing survives a restart, and each gunicorn worker has its own copy, so a
    request returns only the notifications that the worker serving it consumed,
    and read state and deletions are not shared between workers.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_user: dict[int, _UserNotifications] = {}
        self._by_id: dict[str, _Entry] = {}
        self._last_seq = 0
        self._closed = False
        logger.info(
            "Opened in-memory notification store: notifications are lost on "
            "restart and not shared between processes"
        )

    def add_many(self, notifications: Sequence[Notification]) -> int:
        """Store, in order, each notification whose id is not stored yet."""
        with self._lock:
            self._require_open()
            # Collect first and change state after, so a bad element leaves
            # the store as it was.
            new: list[Notification] = []
            new_ids: set[str] = set()
            for notification in notifications:
                if notification.id in self._by_id or notification.id in new_ids:
                    continue
                new.append(notification)
                new_ids.add(notification.id)

            for notification in new:
                self._last_seq += 1
                entry = _Entry(notification, self._last_seq)
                user = self._by_user.get(notification.recipient.id)
                if user is None:
                    user = _UserNotifications(entries=[], seqs=[])
                    self._by_user[notification.recipient.id] = user
                user.entries.append(entry)
                user.seqs.append(entry.seq)
                user.unread += 1
                user.version += 1
                self._by_id[notification.id] = entry
            return len(new)

    def list_for_user(self, user_id: int) -> list[Notification]:
        """Return the notifications sent to ``user_id``, oldest first."""
        with self._lock:
            self._require_open()
            user = self._by_user.get(user_id)
            if user is None:
                return []
            return [entry.notification for entry in user.entries if not entry.deleted]

    def page(
        self,
        user_id: int,
        *,
        limit: int,
        after_seq: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[StoredNotification], bool]:
        """Return one page of the notifications of ``user_id`` that are not deleted."""
        check_page_limit(limit)
        with self._lock:
            self._require_open()
            user = self._by_user.get(user_id)
            if user is None:
                return [], False

            if newest_first:
                end = (
                    len(user.seqs)
                    if after_seq is None
                    else bisect.bisect_left(user.seqs, after_seq)
                )
                candidates = (user.entries[index] for index in range(end - 1, -1, -1))
            else:
                start = (
                    0
                    if after_seq is None
                    else bisect.bisect_right(user.seqs, after_seq)
                )
                candidates = (
                    user.entries[index] for index in range(start, len(user.entries))
                )

            # Fetching one item past the page shows whether more follow.
            found: list[StoredNotification] = []
            for entry in candidates:
                if entry.deleted:
                    continue
                found.append(entry.to_stored())
                if len(found) > limit:
                    break
            return found[:limit], len(found) > limit

    def unread_count(self, user_id: int) -> int:
        """Return the number of notifications of ``user_id`` that are unread."""
        with self._lock:
            self._require_open()
            user = self._by_user.get(user_id)
            return 0 if user is None else user.unread

    def feed_version(self, user_id: int) -> int:
        """Return the version of the notifications of ``user_id``."""
        with self._lock:
            self._require_open()
            user = self._by_user.get(user_id)
            return 0 if user is None else user.version

    def mark_read(self, user_id: int, ids: Sequence[str] | None) -> int:
        """Mark notifications of ``user_id`` read and return the unread count after."""
        check_ids(ids)
        with self._lock:
            self._require_open()
            user = self._by_user.get(user_id)
            if user is None:
                return 0

            if ids is None:
                entries = user.entries
            else:
                entries = [self._by_id[i] for i in ids if i in self._by_id]
            for entry in entries:
                is_users = entry.notification.recipient.id == user_id
                if is_users and not entry.read and not entry.deleted:
                    entry.read = True
                    user.unread -= 1
                    user.version += 1
            return user.unread

    def delete(self, user_id: int, notification_id: str) -> bool:
        """Delete the notification ``notification_id`` of ``user_id``."""
        with self._lock:
            self._require_open()
            entry = self._by_id.get(notification_id)
            if (
                entry is None
                or entry.deleted
                or entry.notification.recipient.id != user_id
            ):
                return False

            entry.deleted = True
            user = self._by_user[user_id]
            user.version += 1
            if not entry.read:
                user.unread -= 1
            return True

    def last_seq(self) -> int:
        """Return the highest ``seq`` of a stored notification, or 0 if none."""
        with self._lock:
            self._require_open()
            return self._last_seq

    def count(self) -> int:
        """Return the number of notifications stored for all users, deleted included."""
        with self._lock:
            self._require_open()
            return len(self._by_id)

    def check(self) -> None:
        """Raise ``StoreError`` if the store has been closed."""
        with self._lock:
            self._require_open()

    def close(self) -> None:
        """Drop the stored notifications and mark the store closed."""
        with self._lock:
            self._closed = True
            self._by_user.clear()
            self._by_id.clear()

    def _require_open(self) -> None:
        if self._closed:
            raise StoreError("in-memory notification store is closed")
