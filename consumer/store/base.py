"""The interface every notification store implements."""

import abc
from collections.abc import Sequence

from common.models import Notification


class NotificationStore(abc.ABC):
    """Notifications received from the topic, kept per recipient.

    Implementations are safe to call from several threads at once, and each one
    guards its state with a ``threading.RLock``. Every method raises
    ``common.errors.StoreError`` when the store cannot serve the call.
    """

    @abc.abstractmethod
    def add_many(self, notifications: Sequence[Notification]) -> int:
        """Store, in order, each notification whose id is not stored yet.

        A notification whose ``id`` is already stored, or appears earlier in
        ``notifications``, is skipped, so a record delivered twice is stored
        once. The call is one transaction: when it raises ``StoreError``,
        none of the notifications were stored. Returns the number stored.
        """

    @abc.abstractmethod
    def list_for_user(self, user_id: int) -> list[Notification]:
        """Return the notifications sent to ``user_id``, oldest first.

        The order is the order in which they were added, not ``created_at``.
        """

    @abc.abstractmethod
    def count(self) -> int:
        """Return the number of notifications stored for all users."""

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
