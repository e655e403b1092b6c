"""Tests of the notification stores: one contract for every backend, then SQLite."""

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.errors import StoreError
from common.models import Notification, User
from consumer.store import NotificationStore, open_store
from consumer.store.memory import MemoryStore
from consumer.store.sqlite import SQLiteStore

EMMA = User(1, "Emma")
BRUNO = User(2, "Bruno")
RICK = User(3, "Rick")
LENA = User(4, "Lena")

# Limit for every wait on a thread or child process, so a hang fails the test.
WAIT_TIMEOUT_SECONDS = 60


def make_notification(
    notification_id: str,
    recipient: User = BRUNO,
    sender: User = EMMA,
    message: str = "hello",
    created_at: str = "2026-12-04T15:20:00.000000Z",
) -> Notification:
    return Notification(
        id=notification_id,
        sender=sender,
        recipient=recipient,
        message=message,
        created_at=created_at,
    )


def ids_of(notifications: list[Notification]) -> list[str]:
    return [notification.id for notification in notifications]


@pytest.fixture(params=["memory", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[NotificationStore]:
    if request.param == "memory":
        url = "memory://"
    else:
        url = f"sqlite:///{tmp_path / 'notifications.db'}"
    opened = open_store(url)
    yield opened
    opened.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "notifications.db"


# The contract, run against every backend.


def test_add_many_returns_new_count(store: NotificationStore) -> None:
    added = store.add_many([make_notification("a"), make_notification("b")])

    assert added == 2


def test_list_returns_added_notifications(store: NotificationStore) -> None:
    first = make_notification("a", message="first")
    second = make_notification("b", sender=RICK, message="second")
    store.add_many([first, second])

    assert store.list_for_user(BRUNO.id) == [first, second]


def test_list_keeps_arrival_order_over_created_at(store: NotificationStore) -> None:
    later = make_notification("later", created_at="2026-12-04T15:21:00.000000Z")
    earlier = make_notification("earlier", created_at="2026-12-04T15:20:00.000000Z")
    store.add_many([later])
    store.add_many([earlier])

    assert ids_of(store.list_for_user(BRUNO.id)) == ["later", "earlier"]


def test_list_keeps_order_within_call(store: NotificationStore) -> None:
    names = [f"n{index}" for index in range(20)]
    store.add_many([make_notification(name) for name in reversed(names)])

    assert ids_of(store.list_for_user(BRUNO.id)) == list(reversed(names))


def test_add_many_skips_duplicate_across_calls(store: NotificationStore) -> None:
    first_added = store.add_many([make_notification("a"), make_notification("b")])
    second_added = store.add_many([make_notification("b"), make_notification("c")])

    assert first_added == 2
    assert second_added == 1
    assert ids_of(store.list_for_user(BRUNO.id)) == ["a", "b", "c"]


def test_add_many_skips_duplicate_within_call(store: NotificationStore) -> None:
    added = store.add_many(
        [make_notification("a"), make_notification("b"), make_notification("a")]
    )

    assert added == 2
    assert ids_of(store.list_for_user(BRUNO.id)) == ["a", "b"]


def test_add_many_keeps_first_copy_of_id(store: NotificationStore) -> None:
    original = make_notification("a", message="original")
    store.add_many([original, make_notification("a", message="in-call copy")])
    store.add_many([make_notification("a", message="later copy")])

    assert store.list_for_user(BRUNO.id) == [original]


def test_add_many_returns_zero_for_empty_list(store: NotificationStore) -> None:
    assert store.add_many([]) == 0
    assert store.count() == 0


def test_list_separates_users(store: NotificationStore) -> None:
    to_bruno = make_notification("to-bruno", recipient=BRUNO)
    to_rick = make_notification("to-rick", recipient=RICK)
    store.add_many([to_bruno, to_rick])

    assert store.list_for_user(BRUNO.id) == [to_bruno]
    assert store.list_for_user(RICK.id) == [to_rick]
    assert store.list_for_user(EMMA.id) == []


def test_list_returns_empty_for_unknown_user(store: NotificationStore) -> None:
    store.add_many([make_notification("a")])

    assert store.list_for_user(999) == []


def test_roundtrip_keeps_unicode_text(store: NotificationStore) -> None:
    notification = make_notification(
        "ünïcode-🆔",
        sender=User(10, "Zoë 🦊"),
        recipient=User(11, "Łukasz 山田"),
        message="Grüße 👋🏽 你好 👨‍👩‍👧 🇩🇪\nsecond line\ttab \u0000 end",
        created_at="2026-12-04T15:20:00.123456Z",
    )
    store.add_many([notification])

    [stored] = store.list_for_user(11)
    assert stored == notification
    assert stored.message == notification.message
    assert stored.sender.name == "Zoë 🦊"


def test_roundtrip_keeps_long_message(store: NotificationStore) -> None:
    message = ("0123456789abcdefghé😀" * 100)[:2000]
    store.add_many([make_notification("long", message=message)])

    [stored] = store.list_for_user(BRUNO.id)
    assert len(stored.message) == 2000
    assert stored.message == message


def test_roundtrip_keeps_created_at_text(store: NotificationStore) -> None:
    created_at = "2026-12-04T15:20:00Z"
    store.add_many([make_notification("a", created_at=created_at)])

    [stored] = store.list_for_user(BRUNO.id)
    assert stored.created_at == created_at


def test_count_totals_all_users(store: NotificationStore) -> None:
    empty_count = store.count()
    store.add_many(
        [
            make_notification("a", recipient=BRUNO),
            make_notification("b", recipient=RICK),
            make_notification("c", recipient=LENA),
            make_notification("a", recipient=BRUNO),
        ]
    )

    assert empty_count == 0
    assert store.count() == 3


def test_add_many_from_threads_loses_nothing(store: NotificationStore) -> None:
    thread_count = 4
    barrier = threading.Barrier(thread_count)
    added: list[int] = []

    def add_own_notifications(thread_index: int) -> None:
        barrier.wait(timeout=WAIT_TIMEOUT_SECONDS)
        for index in range(100):
            shared = make_notification(f"shared-{index}")
            own = make_notification(f"thread{thread_index}-{index}")
            added.append(store.add_many([shared, own]))

    threads = [
        threading.Thread(target=add_own_notifications, args=(thread_index,))
        for thread_index in range(thread_count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_TIMEOUT_SECONDS)

    listed_ids = ids_of(store.list_for_user(BRUNO.id))
    assert not any(thread.is_alive() for thread in threads)
    assert sum(added) == 500
    assert store.count() == 500
    assert len(listed_ids) == 500
    assert len(set(listed_ids)) == 500


def test_check_passes_when_open(store: NotificationStore) -> None:
    store.check()


def test_check_raises_after_close(store: NotificationStore) -> None:
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.check()


def test_add_many_raises_after_close(store: NotificationStore) -> None:
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.add_many([make_notification("a")])


# SQLite only.


def test_reopen_keeps_notifications(db_path: Path) -> None:
    notifications = [make_notification("a"), make_notification("b", recipient=RICK)]
    first = SQLiteStore(db_path)
    first.add_many(notifications)
    first.close()

    reopened = SQLiteStore(db_path)
    try:
        assert reopened.count() == 2
        assert reopened.list_for_user(BRUNO.id) == [notifications[0]]
        assert reopened.list_for_user(RICK.id) == [notifications[1]]
    finally:
        reopened.close()


def test_two_stores_share_writes(db_path: Path) -> None:
    worker_one = SQLiteStore(db_path)
    worker_two = SQLiteStore(db_path)
    try:
        worker_one.add_many([make_notification("a")])
        seen_by_two = ids_of(worker_two.list_for_user(BRUNO.id))
        added_by_two = worker_two.add_many(
            [make_notification("a"), make_notification("b")]
        )

        assert seen_by_two == ["a"]
        assert added_by_two == 1
        assert ids_of(worker_one.list_for_user(BRUNO.id)) == ["a", "b"]
        assert worker_one.count() == 2
    finally:
        worker_one.close()
        worker_two.close()


def add_one_by_one(
    path: str,
    notifications: list[Notification],
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue,
) -> None:
    """Add ``notifications`` one per call, once every process is ready."""
    # One transaction per notification gives the other process the most
    # chances to take the write lock in between.
    store = SQLiteStore(path)
    barrier.wait(timeout=WAIT_TIMEOUT_SECONDS)
    added = 0
    for notification in notifications:
        added += store.add_many([notification])
    store.close()
    results.put(added)


def make_process_batch(
    prefix: str, shared_offset: int, shared: list[Notification]
) -> list[Notification]:
    """Build 500 notifications: 400 of ``prefix`` with the shared ones among them.

    A shared notification takes every fifth position, starting at
    ``shared_offset``, so the two processes write the same ids at different times.
    """
    batch: list[Notification] = []
    own_index = 0
    for position in range(500):
        if position % 5 == shared_offset:
            batch.append(shared[position // 5])
        else:
            recipient = User(own_index % 4 + 1, f"user {own_index % 4 + 1}")
            batch.append(make_notification(f"{prefix}-{own_index}", recipient))
            own_index += 1
    return batch


def test_add_many_from_two_processes_loses_nothing(db_path: Path) -> None:
    shared = [
        make_notification(f"shared-{index}", User(index % 4 + 1, "shared"))
        for index in range(100)
    ]
    batches = {
        "a": make_process_batch("a", 0, shared),
        "b": make_process_batch("b", 4, shared),
    }
    SQLiteStore(db_path).close()  # Creates the file before the race.

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(batches))
    results = context.Queue()
    processes = [
        context.Process(
            target=add_one_by_one, args=(str(db_path), batch, barrier, results)
        )
        for batch in batches.values()
    ]
    for process in processes:
        process.start()
    try:
        # Joining before reading the queue is safe because each child puts one
        # small int, which fits in the pipe buffer. It also returns at once if
        # a child fails before putting its result.
        for process in processes:
            process.join(timeout=WAIT_TIMEOUT_SECONDS)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()

    assert [process.exitcode for process in processes] == [0, 0]
    added = [results.get(timeout=WAIT_TIMEOUT_SECONDS) for _ in processes]
    assert sum(added) == 900

    store = SQLiteStore(db_path)
    try:
        listed = [
            notification
            for user_id in range(1, 5)
            for notification in store.list_for_user(user_id)
        ]
        expected_ids = {n.id for batch in batches.values() for n in batch}
        assert store.count() == 900
        assert len(listed) == 900
        assert set(ids_of(listed)) == expected_ids
        for user_id in range(1, 5):
            received = ids_of(store.list_for_user(user_id))
            for prefix, batch in batches.items():
                sent_by_process = [
                    n.id
                    for n in batch
                    if n.id.startswith(f"{prefix}-") and n.recipient.id == user_id
                ]
                received_from_process = [
                    i for i in received if i.startswith(f"{prefix}-")
                ]
                assert received_from_process == sent_by_process
    finally:
        store.close()


def test_add_many_raises_when_locked(db_path: Path) -> None:
    store = SQLiteStore(db_path, busy_timeout_ms=50)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError) as raised:
            store.add_many([make_notification("a")])
        blocker.execute("ROLLBACK")

        assert str(db_path) in str(raised.value)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        assert store.count() == 0
        assert store.add_many([make_notification("a")]) == 1
        assert ids_of(store.list_for_user(BRUNO.id)) == ["a"]
    finally:
        blocker.close()
        store.close()


def test_add_many_rolls_back_on_bad_row(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    unbindable = make_notification("bad", message=object())  # type: ignore[arg-type]
    try:
        with pytest.raises(StoreError) as raised:
            store.add_many([make_notification("a"), unbindable])

        assert isinstance(raised.value.__cause__, sqlite3.Error)
        assert store.count() == 0
        assert store.add_many([make_notification("a")]) == 1
    finally:
        store.close()


def test_check_raises_when_file_deleted(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    try:
        db_path.unlink()

        with pytest.raises(StoreError, match="no longer exists"):
            store.check()
    finally:
        store.close()


def test_open_raises_for_non_database_file(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a SQLite database" * 100)

    with pytest.raises(StoreError, match=str(db_path)) as raised:
        SQLiteStore(db_path)

    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)


def test_open_uses_wal_mode(db_path: Path) -> None:
    SQLiteStore(db_path).close()

    connection = sqlite3.connect(db_path)
    try:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    finally:
        connection.close()

    assert mode == "wal"


# open_store URLs.


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory",
        "memory:///",
        "MEMORY://",
        "sqlite://",
        "sqlite:///",
        "sqlite://notifications.db",
        "postgresql://localhost/notifications",
        "/var/notifications.db",
    ],
)
def test_open_store_rejects_invalid_url(url: str) -> None:
    with pytest.raises(StoreError) as raised:
        open_store(url)

    assert repr(url) in str(raised.value)
    assert "sqlite:////" in str(raised.value)


def test_open_store_opens_memory() -> None:
    store = open_store("memory://")
    store.close()

    assert isinstance(store, MemoryStore)


def test_open_store_resolves_relative_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store("sqlite:///var/data/notifications.db")
    store.close()

    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "var" / "data" / "notifications.db"
    assert store.path.is_file()


def test_open_store_uses_absolute_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "absolute" / "notifications.db"
    url = f"sqlite:///{absolute}"

    store = open_store(url)
    store.close()

    assert url.startswith("sqlite:////")
    assert isinstance(store, SQLiteStore)
    assert store.path == absolute
    assert absolute.is_file()
    assert not (elsewhere / absolute.relative_to("/")).exists()
