"""ChangeWatcher: polling for plain stores, pushed changes for a ChangeFeed."""

import threading
from collections.abc import Callable, Iterator

import pytest

from common.models import Notification, User
from consumer.store.memory import MemoryStore
from consumer.watcher import ChangeFeed, ChangeWatcher

WAIT_SECONDS = 5


def add_one(store: MemoryStore, notification_id: str) -> None:
    store.add_many(
        [
            Notification(
                id=notification_id,
                sender=User(1, "Emma"),
                recipient=User(2, "Bruno"),
                message="hello",
                created_at="2026-12-04T15:20:00Z",
            )
        ]
    )


class PushingStore(MemoryStore):
    """A memory store whose changes the test pushes through ``watch_changes``."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.on_change: Callable[[int], None] | None = None
        self.watching = threading.Event()
        self.last_seq_calls = 0

    def last_seq(self) -> int:
        self.last_seq_calls += 1
        return super().last_seq()

    def watch_changes(
        self, on_change: Callable[[int], None], stop: threading.Event
    ) -> None:
        self.on_change = on_change
        self.watching.set()
        if self.fail:
            raise RuntimeError("change feed broke")
        stop.wait()


@pytest.fixture
def started() -> Iterator[Callable[[MemoryStore], ChangeWatcher]]:
    watchers: list[ChangeWatcher] = []

    def start(store: MemoryStore) -> ChangeWatcher:
        watcher = ChangeWatcher(store, interval=0.01)
        watcher.start()
        watchers.append(watcher)
        return watcher

    try:
        yield start
    finally:
        for watcher in watchers:
            watcher.stop()


def test_memory_store_is_no_change_feed() -> None:
    assert not isinstance(MemoryStore(), ChangeFeed)
    assert isinstance(PushingStore(), ChangeFeed)


def test_polling_wakes_on_new_row(started) -> None:
    store = MemoryStore()
    watcher = started(store)

    add_one(store, "a")

    assert watcher.wait_beyond(0, WAIT_SECONDS) is True
    assert watcher.last_seq == 1


def test_pushed_seq_wakes_waiters(started) -> None:
    store = PushingStore()
    watcher = started(store)
    assert store.watching.wait(WAIT_SECONDS)
    woken = []
    waiter = threading.Thread(
        target=lambda: woken.append(watcher.wait_beyond(0, WAIT_SECONDS))
    )
    waiter.start()

    store.on_change(7)
    waiter.join(WAIT_SECONDS)

    assert woken == [True]
    assert watcher.last_seq == 7


def test_pushed_lower_seq_is_ignored(started) -> None:
    store = PushingStore()
    watcher = started(store)
    assert store.watching.wait(WAIT_SECONDS)

    store.on_change(7)
    store.on_change(3)

    assert watcher.last_seq == 7


def test_change_feed_is_not_polled(started) -> None:
    store = PushingStore()
    watcher = started(store)
    assert store.watching.wait(WAIT_SECONDS)

    # Ten poll intervals pass without a call.
    woke = watcher.wait_beyond(0, 0.1)

    assert woke is False
    assert store.last_seq_calls == 1


def test_failed_change_feed_falls_back_to_polling(started, caplog) -> None:
    store = PushingStore(fail=True)
    watcher = started(store)
    assert store.watching.wait(WAIT_SECONDS)

    add_one(store, "a")

    assert watcher.wait_beyond(0, WAIT_SECONDS) is True
    assert "polling instead" in caplog.text


def test_stop_releases_waiters(started) -> None:
    store = PushingStore()
    watcher = started(store)

    watcher.stop()

    assert watcher.wait_beyond(0, WAIT_SECONDS) is False
    assert watcher.stopping is True


class CountingStore(MemoryStore):
    """A memory store that reports each read of its last sequence number."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = threading.Event()

    def last_seq(self) -> int:
        self.polled.set()
        return super().last_seq()


def test_idle_watcher_reads_no_store(started) -> None:
    store = CountingStore()
    watcher = started(store)
    store.polled.clear()

    # Twenty poll intervals with no stream waiting.
    polled_while_idle = store.polled.wait(0.2)
    waiter = threading.Thread(target=lambda: watcher.wait_beyond(0, WAIT_SECONDS))
    waiter.start()
    polled_while_waited = store.polled.wait(WAIT_SECONDS)
    add_one(store, "a")
    waiter.join(WAIT_SECONDS)

    assert polled_while_idle is False
    assert polled_while_waited is True
    assert not waiter.is_alive()
