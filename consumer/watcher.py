"""Notice new notifications stored by any worker process.

Each consumer worker writes to the shared store; a stream served by one
worker must learn of notifications that another worker, or another host,
stored. How the watcher learns of them depends on the store:

- A store with a ``watch_changes`` method (``ChangeFeed``) pushes each new
  highest sequence number. The PostgreSQL store does this with
  ``LISTEN``/``NOTIFY``, so instances on other hosts are heard at once and
  the table is not polled.
- Any other store is polled: the watcher reads its highest sequence number,
  a single indexed read, every ``POLL_INTERVAL`` seconds while a stream
  waits. With no stream waiting it does not read the store.

Either way the watcher wakes every waiting stream when the number grows.
"""

import logging
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from common.errors import StoreError
from consumer.store import NotificationStore

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.02


@runtime_checkable
class ChangeFeed(Protocol):
    """A store that reports new rows itself instead of being polled."""

    def watch_changes(
        self, on_change: Callable[[int], None], stop: threading.Event
    ) -> None:
        """Call ``on_change(seq)`` when rows are added, until ``stop`` is set.

        ``seq`` is the store's highest sequence number at that moment. The
        method blocks, handles connection failures itself, and returns only
        once ``stop`` is set or the store is closed.
        """


class ChangeWatcher:
    """Wake waiting streams when the store's last sequence number grows."""

    def __init__(self, store: NotificationStore, interval: float = POLL_INTERVAL):
        self._store = store
        self._interval = interval
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        # The number of streams in wait_beyond, and whether there is one.
        self._waiting = 0
        self._streams_waiting = threading.Event()
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
        """Stop watching and release every waiting stream.

        It does not wait for the watcher's thread, so it is safe to call
        from a signal handler.
        """
        self._stopping.set()
        self._streams_waiting.set()
        with self._condition:
            self._condition.notify_all()

    def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Block until the store holds a sequence number above ``seq``.

        Returns False when ``timeout`` seconds pass or the watcher stops
        first.
        """
        with self._condition:
            self._waiting += 1
            self._streams_waiting.set()
            try:
                return self._condition.wait_for(
                    lambda: self.last_seq > seq or self.stopping, timeout
                ) and not self.stopping
            finally:
                self._waiting -= 1
                if self._waiting == 0 and not self.stopping:
                    self._streams_waiting.clear()

    def _run(self) -> None:
        if isinstance(self._store, ChangeFeed):
            try:
                self._store.watch_changes(self._advance, self._stopping)
                return
            except Exception:
                # Streams would otherwise hear of new rows only at their
                # keep-alive timeout.
                log.exception("The store's change feed failed; polling instead")
        self._poll()

    def _advance(self, seq: int) -> None:
        """Raise ``last_seq`` to ``seq`` and wake the streams, if it is higher."""
        if seq <= self.last_seq:
            return
        with self._condition:
            self.last_seq = max(self.last_seq, seq)
            self._condition.notify_all()

    def _poll(self) -> None:
        failing = False
        while True:
            self._streams_waiting.wait()
            if self._stopping.wait(self._interval):
                return
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
