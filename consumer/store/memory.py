"""A notification store in process memory."""

import logging
import threading
from collections.abc import Sequence

from common.errors import StoreError
from common.models import Notification
from consumer.store.base import NotificationStore

logger = logging.getLogger(__name__)


class MemoryStore(NotificationStore):
    """Notifications in a dict of per-user lists, private to this process.

    Nothing survives a restart, and each gunicorn worker has its own copy, so a
    request returns only the notifications that the worker serving it consumed.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_user: dict[int, list[Notification]] = {}
        self._ids: set[str] = set()
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
                if notification.id in self._ids or notification.id in new_ids:
                    continue
                new.append(notification)
                new_ids.add(notification.id)

            for notification in new:
                self._by_user.setdefault(notification.recipient.id, []).append(
                    notification
                )
            self._ids |= new_ids
            return len(new)

    def list_for_user(self, user_id: int) -> list[Notification]:
        """Return the notifications sent to ``user_id``, oldest first."""
        with self._lock:
            self._require_open()
            return list(self._by_user.get(user_id, ()))

    def count(self) -> int:
        """Return the number of notifications stored for all users."""
        with self._lock:
            self._require_open()
            return len(self._ids)

    def check(self) -> None:
        """Raise ``StoreError`` if the store has been closed."""
        with self._lock:
            self._require_open()

    def close(self) -> None:
        """Drop the stored notifications and mark the store closed."""
        with self._lock:
            self._closed = True
            self._by_user.clear()
            self._ids.clear()

    def _require_open(self) -> None:
        if self._closed:
            raise StoreError("in-memory notification store is closed")
