"""Storage of the notifications the consumer receives, per recipient."""

from consumer.store.base import NotificationStore
from consumer.store.factory import open_store

__all__ = ["NotificationStore", "open_store"]
