"""The interface every notification store implements."""

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from common.models import Notification

# Bounds of the ``limit`` argument of ``NotificationStore.page``.
MIN_PAGE_LIMIT = 1
MAX_PAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """A notification with the state the store keeps for it.

    ``seq`` is the store's arrival number: unique across the whole store and
    larger for every later notification, but not always consecutive.
    Processes that share one SQLite file share one sequence. ``read`` is
    whether the recipient has marked it read.
    """

    notification: Notification
    seq: int
    read: bool


class NotificationStore(abc.ABC):
    """Notifications received from the topic, kept per recipient.

    Implementations are safe to call from several threads at once, and each one
    guards its state with a ``threading.RLock``. Every method raises
    ``common.errors.StoreError`` when the store cannot serve the call.

    Deleting a notification leaves a tombstone: the store keeps its id, so a
    copy of it delivered again is skipped and it stays deleted.
    """

    @abc.abstractmethod
    def add_many(self, notifications: Sequence[Notification]) -> int:
        """Store, in order, each notification whose id is not stored yet.

        A notification whose ``id`` is already stored, or appears earlier in
        ``notifications``, is skipped, so a record delivered twice is stored
        once. A deleted notification counts as stored, so it is skipped too.
        The call is one transaction: when it raises ``StoreError``, none of
        the notifications were stored. New notifications are unread. Returns
        the number stored.
        """

    @abc.abstractmethod
    def list_for_user(self, user_id: int) -> list[Notification]:
        """Return the notifications sent to ``user_id``, oldest first.

        Deleted notifications are left out. The order is the order in which
        they were added, not ``created_at``.
        """

    @abc.abstractmethod
    def page(
        self,
        user_id: int,
        *,
        limit: int,
        after_seq: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[StoredNotification], bool]:
        """Return one page of the notifications of ``user_id`` that are not deleted.

        Oldest first, the page contains those with ``seq > after_seq`` in
        ascending ``seq`` order. Newest first, it contains those with
        ``seq < after_seq`` in descending order. With ``after_seq=None`` the
        page starts at the oldest or the newest one. To read the next page,
        pass the ``seq`` of the last item as ``after_seq``.

        Returns up to ``limit`` items, and ``True`` when more items follow
        the page in the same direction. Raises ``ValueError`` unless
        ``MIN_PAGE_LIMIT <= limit <= MAX_PAGE_LIMIT``.
        """

    @abc.abstractmethod
    def unread_count(self, user_id: int) -> int:
        """Return the number of notifications of ``user_id`` that are unread.

        Deleted notifications are not counted.
        """

    def feed_version(self, user_id: int) -> int | None:
        """Return a number that grows with each change to the feed of ``user_id``.

        Adding, marking read and deleting a notification of the user each
        change it. A page read after the version was read shows at least
        the changes up to that version, so a page built then stays current
        while the version stays the same. Returns None when the store keeps
        no version, and then no page is reused.
        """
        return None

    @abc.abstractmethod
    def mark_read(self, user_id: int, ids: Sequence[str] | None) -> int:
        """Mark notifications of ``user_id`` read and return the unread count after.

        With ``ids=None`` every notification of the user is marked. Otherwise
        only those in ``ids``: an id that is unknown, deleted or another
        user's is ignored. The call is one transaction. Raises ``TypeError``
        when ``ids`` is a single ``str``, which would be read as a sequence
        of one-character ids.
        """

    @abc.abstractmethod
    def delete(self, user_id: int, notification_id: str) -> bool:
        """Delete the notification ``notification_id`` of ``user_id``.

        Returns ``True`` when it was stored for that user and not deleted
        yet, and ``False`` otherwise, which leaves the store unchanged. The
        store keeps a tombstone, so ``add_many`` never stores the id again.
        """

    @abc.abstractmethod
    def last_seq(self) -> int:
        """Return the highest ``seq`` of a stored notification, or 0 when there is none.

        Deleted notifications count. The value grows exactly when a process
        sharing the store adds a notification, and is read fresh on every
        call, so a caller can poll it several times a second to learn that
        something new arrived.
        """

    @abc.abstractmethod
    def count(self) -> int:
        """Return the number of notifications stored for all users.

        Deleted notifications are counted, because their tombstones stay
        stored. The count therefore equals the sum of what ``add_many``
        returned.
        """

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ``StoreError`` with the reason if the store cannot serve calls.

        The check is cheap enough for a readiness probe.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's resources.

        Calling ``close`` again does nothing, and other later calls raise
        ``StoreError``.
        """


def check_page_limit(limit: int) -> None:
    """Raise ``ValueError`` unless ``limit`` is a valid page size."""
    if not MIN_PAGE_LIMIT <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(
            f"page limit must be from {MIN_PAGE_LIMIT} to {MAX_PAGE_LIMIT}, got {limit}"
        )


def check_ids(ids: Sequence[str] | None) -> None:
    """Raise ``TypeError`` if ``ids`` is one ``str`` instead of a sequence of them."""
    if isinstance(ids, str):
        raise TypeError(
            f"ids must be a sequence of notification ids or None, got the str {ids!r}"
        )
