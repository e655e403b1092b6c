"""Notice new notifications stored by any worker process.

Each consumer worker writes to the shared store; a stream served by one
worker must learn of notifications that another worker stored. The watcher
polls the store's highest sequence number, a single indexed read, and wakes
every waiting stream when it grows.
"""

import logging
import threading

from common.errors import StoreError
from consumer.store import NotificationStore

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.1


class ChangeWatcher:
    """Wake waiting streams when the store's last sequence number grows."""

    def __init__(self, store: NotificationStore, interval: float = POLL_INTERVAL):
        self._store = store
        self._interval = interval
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self.last_seq = 0
        self._thread = threading.Thread(
            target=self._run, name="store-watcher", daemon=True
        )

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        self.last_seq = self._store.last_seq()
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and release every waiting stream."""
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Block until the store holds a sequence number above ``seq``.

        Returns False when ``timeout`` seconds pass or the watcher stops
        first.
        """
        with self._condition:
            return self._condition.wait_for(
                lambda: self.last_seq > seq or self.stopping, timeout
            ) and not self.stopping

    def _run(self) -> None:
        failing = False
        while not self._stopping.wait(self._interval):
            try:
                last_seq = self._store.last_seq()
            except StoreError as exc:
                if not failing:
                    log.warning("Watching the store failed: %s", exc)
                failing = True
                continue
            failing = False
            if last_seq != self.last_seq:
                with self._condition:
                    self.last_seq = last_seq
                    self._condition.notify_all()
