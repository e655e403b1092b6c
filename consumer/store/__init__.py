"""Storage of the notifications the consumer receives, per recipient."""

from consumer.store.base import (
    MAX_PAGE_LIMIT,
    MIN_PAGE_LIMIT,
    NotificationStore,
    StoredNotification,
)
from consumer.store.factory import open_store

__all__ = [
    "MAX_PAGE_LIMIT",
    "MIN_PAGE_LIMIT",
    "NotificationStore",
    "StoredNotification",
    "open_store",
]
