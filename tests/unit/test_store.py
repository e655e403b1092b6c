"""Tests of the notification stores: one contract for every backend, then SQLite."""

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.errors import StoreError
from common.models import Notification, User
from consumer.store import NotificationStore, StoredNotification, open_store
from consumer.store import sqlite as sqlite_store
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


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        # Needs the embedded PostgreSQL server, so it is left out of
        # `make test-unit` with the other tests that need a server.
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[NotificationStore]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'notifications.db'}"
    else:
        # A fresh schema of the session's server for each test.
        url = request.getfixturevalue("postgres_schema_url")
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


# Pages, read state and deletion, run against every backend.


def add_numbered(
    store: NotificationStore, count: int, recipient: User = BRUNO, prefix: str = "n"
) -> list[str]:
    """Add ``count`` notifications for ``recipient``, one call each, and return ids."""
    ids = [f"{prefix}{index}" for index in range(count)]
    for notification_id in ids:
        store.add_many([make_notification(notification_id, recipient)])
    return ids


def page_ids(items: list[StoredNotification]) -> list[str]:
    return [item.notification.id for item in items]


def read_all_pages(
    store: NotificationStore, user_id: int, limit: int, newest_first: bool
) -> list[StoredNotification]:
    """Follow ``after_seq`` from the first page to the last and return every item."""
    collected: list[StoredNotification] = []
    after_seq = None
    for _ in range(1000):
        items, has_more = store.page(
            user_id, limit=limit, after_seq=after_seq, newest_first=newest_first
        )
        collected.extend(items)
        if not has_more:
            return collected
        assert items, "a page with has_more=True must not be empty"
        after_seq = items[-1].seq
    raise AssertionError("pagination did not end after 1000 pages")


def test_page_oldest_first_splits_at_limit(store: NotificationStore) -> None:
    ids = add_numbered(store, 10)

    first, first_has_more = store.page(BRUNO.id, limit=5)
    second, second_has_more = store.page(BRUNO.id, limit=5, after_seq=first[-1].seq)

    assert page_ids(first) == ids[:5]
    assert first_has_more is True
    assert page_ids(second) == ids[5:]
    assert second_has_more is False


def test_page_newest_first_splits_at_limit(store: NotificationStore) -> None:
    ids = add_numbered(store, 10)

    first, first_has_more = store.page(BRUNO.id, limit=5, newest_first=True)
    second, second_has_more = store.page(
        BRUNO.id, limit=5, after_seq=first[-1].seq, newest_first=True
    )

    assert page_ids(first) == ids[::-1][:5]
    assert first_has_more is True
    assert page_ids(second) == ids[::-1][5:]
    assert second_has_more is False


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("limit", [10, 11, 1000])
def test_page_fits_all_without_more(
    store: NotificationStore, limit: int, newest_first: bool
) -> None:
    ids = add_numbered(store, 10)

    items, has_more = store.page(BRUNO.id, limit=limit, newest_first=newest_first)

    assert page_ids(items) == (ids[::-1] if newest_first else ids)
    assert has_more is False


@pytest.mark.parametrize("newest_first", [False, True])
def test_page_limit_one_steps_singly(
    store: NotificationStore, newest_first: bool
) -> None:
    ids = add_numbered(store, 3)

    items = read_all_pages(store, BRUNO.id, limit=1, newest_first=newest_first)

    assert page_ids(items) == (ids[::-1] if newest_first else ids)


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("limit", [1, 4, 7, 23, 24])
def test_page_continuation_yields_each_once(
    store: NotificationStore, limit: int, newest_first: bool
) -> None:
    # Other users' notifications between Bruno's leave gaps in his seqs.
    expected: list[str] = []
    for index in range(23):
        store.add_many(
            [
                make_notification(f"bruno-{index}", BRUNO),
                make_notification(f"rick-{index}", RICK),
            ]
        )
        expected.append(f"bruno-{index}")
    if newest_first:
        expected.reverse()

    items = read_all_pages(store, BRUNO.id, limit=limit, newest_first=newest_first)

    seqs = [item.seq for item in items]
    assert page_ids(items) == expected
    assert seqs == sorted(seqs, reverse=newest_first)
    assert len(set(seqs)) == len(seqs)


def test_page_returns_stored_fields(store: NotificationStore) -> None:
    notification = make_notification("a", sender=RICK, message="hi")
    store.add_many([notification])

    [item], has_more = store.page(BRUNO.id, limit=10)

    assert isinstance(item, StoredNotification)
    assert item.notification == notification
    assert item.seq == store.last_seq()
    assert item.read is False
    assert has_more is False


def test_page_seq_follows_arrival_order(store: NotificationStore) -> None:
    store.add_many([make_notification("a", BRUNO), make_notification("b", RICK)])
    store.add_many([make_notification("c", BRUNO)])

    [a, c], _ = store.page(BRUNO.id, limit=10)
    [b], _ = store.page(RICK.id, limit=10)

    assert 0 < a.seq < b.seq < c.seq


def test_page_returns_empty_for_unknown_user(store: NotificationStore) -> None:
    add_numbered(store, 3)

    assert store.page(999, limit=10) == ([], False)
    assert store.page(999, limit=10, newest_first=True) == ([], False)


def test_page_after_end_returns_empty(store: NotificationStore) -> None:
    add_numbered(store, 3)
    [first, *_, last], _ = store.page(BRUNO.id, limit=10)

    assert store.page(BRUNO.id, limit=10, after_seq=last.seq) == ([], False)
    assert store.page(BRUNO.id, limit=10, after_seq=first.seq, newest_first=True) == (
        [],
        False,
    )


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_page_rejects_limit_out_of_range(store: NotificationStore, limit: int) -> None:
    with pytest.raises(ValueError, match=f"got {limit}"):
        store.page(BRUNO.id, limit=limit)


def test_page_skips_deleted(store: NotificationStore) -> None:
    ids = add_numbered(store, 6)
    store.delete(BRUNO.id, ids[1])
    store.delete(BRUNO.id, ids[5])

    items, has_more = store.page(BRUNO.id, limit=4)
    newest, newest_has_more = store.page(BRUNO.id, limit=4, newest_first=True)

    assert page_ids(items) == [ids[0], ids[2], ids[3], ids[4]]
    assert has_more is False
    assert page_ids(newest) == [ids[4], ids[3], ids[2], ids[0]]
    assert newest_has_more is False


def test_new_notifications_are_unread(store: NotificationStore) -> None:
    add_numbered(store, 3)
    add_numbered(store, 2, recipient=RICK, prefix="r")

    items, _ = store.page(BRUNO.id, limit=10)

    assert [item.read for item in items] == [False, False, False]
    assert store.unread_count(BRUNO.id) == 3
    assert store.unread_count(RICK.id) == 2
    assert store.unread_count(999) == 0


def test_mark_read_marks_given_ids(store: NotificationStore) -> None:
    ids = add_numbered(store, 4)

    unread = store.mark_read(BRUNO.id, [ids[0], ids[2]])

    items, _ = store.page(BRUNO.id, limit=10)
    assert unread == 2
    assert store.unread_count(BRUNO.id) == 2
    assert [item.read for item in items] == [True, False, True, False]


def test_mark_read_all_with_none(store: NotificationStore) -> None:
    add_numbered(store, 4)
    add_numbered(store, 2, recipient=RICK, prefix="r")

    unread = store.mark_read(BRUNO.id, None)

    items, _ = store.page(BRUNO.id, limit=10)
    assert unread == 0
    assert store.unread_count(BRUNO.id) == 0
    assert all(item.read for item in items)
    assert store.unread_count(RICK.id) == 2


def test_mark_read_ignores_other_users_ids(store: NotificationStore) -> None:
    add_numbered(store, 2)
    rick_ids = add_numbered(store, 2, recipient=RICK, prefix="r")

    unread = store.mark_read(BRUNO.id, rick_ids)

    rick_items, _ = store.page(RICK.id, limit=10)
    assert unread == 2
    assert store.unread_count(RICK.id) == 2
    assert [item.read for item in rick_items] == [False, False]


def test_mark_read_ignores_unknown_ids(store: NotificationStore) -> None:
    ids = add_numbered(store, 2)

    unread = store.mark_read(BRUNO.id, ["unknown", ids[0], "", ids[0]])

    assert unread == 1
    assert store.unread_count(BRUNO.id) == 1


def test_mark_read_again_changes_nothing(store: NotificationStore) -> None:
    ids = add_numbered(store, 2)
    store.mark_read(BRUNO.id, ids[:1])

    assert store.mark_read(BRUNO.id, ids[:1]) == 1
    assert store.mark_read(BRUNO.id, []) == 1
    assert store.mark_read(BRUNO.id, None) == 0
    assert store.mark_read(BRUNO.id, None) == 0


def test_mark_read_for_unknown_user(store: NotificationStore) -> None:
    ids = add_numbered(store, 2)

    assert store.mark_read(999, None) == 0
    assert store.mark_read(999, ids) == 0
    assert store.unread_count(BRUNO.id) == 2


def test_mark_read_rejects_single_string(store: NotificationStore) -> None:
    add_numbered(store, 1)

    with pytest.raises(TypeError, match="n0"):
        store.mark_read(BRUNO.id, "n0")
    assert store.unread_count(BRUNO.id) == 1


def test_unread_after_mark_counts_new_ones(store: NotificationStore) -> None:
    add_numbered(store, 3)
    store.mark_read(BRUNO.id, None)
    add_numbered(store, 2, prefix="later")

    assert store.unread_count(BRUNO.id) == 2


def test_delete_own_removes_it(store: NotificationStore) -> None:
    ids = add_numbered(store, 3)

    deleted = store.delete(BRUNO.id, ids[1])

    items, _ = store.page(BRUNO.id, limit=10)
    newest, _ = store.page(BRUNO.id, limit=10, newest_first=True)
    assert deleted is True
    assert page_ids(items) == [ids[0], ids[2]]
    assert page_ids(newest) == [ids[2], ids[0]]
    assert ids_of(store.list_for_user(BRUNO.id)) == [ids[0], ids[2]]
    assert store.unread_count(BRUNO.id) == 2


def test_delete_again_returns_false(store: NotificationStore) -> None:
    ids = add_numbered(store, 2)
    store.delete(BRUNO.id, ids[0])

    assert store.delete(BRUNO.id, ids[0]) is False
    assert ids_of(store.list_for_user(BRUNO.id)) == [ids[1]]


def test_delete_other_users_returns_false(store: NotificationStore) -> None:
    [rick_id] = add_numbered(store, 1, recipient=RICK, prefix="r")

    deleted = store.delete(BRUNO.id, rick_id)

    assert deleted is False
    assert ids_of(store.list_for_user(RICK.id)) == [rick_id]
    assert store.unread_count(RICK.id) == 1
    assert store.delete(RICK.id, rick_id) is True


def test_delete_unknown_returns_false(store: NotificationStore) -> None:
    add_numbered(store, 1)

    assert store.delete(BRUNO.id, "unknown") is False
    assert store.delete(999, "n0") is False
    assert ids_of(store.list_for_user(BRUNO.id)) == ["n0"]


def test_delete_read_keeps_unread_count(store: NotificationStore) -> None:
    ids = add_numbered(store, 3)
    store.mark_read(BRUNO.id, [ids[0]])

    store.delete(BRUNO.id, ids[0])

    assert store.unread_count(BRUNO.id) == 2


def test_mark_read_ignores_deleted(store: NotificationStore) -> None:
    ids = add_numbered(store, 3)
    store.delete(BRUNO.id, ids[0])

    assert store.mark_read(BRUNO.id, [ids[0]]) == 2
    assert store.mark_read(BRUNO.id, None) == 0
    assert page_ids(store.page(BRUNO.id, limit=10)[0]) == ids[1:]


def test_deleted_stays_deleted_when_added_again(store: NotificationStore) -> None:
    original = make_notification("a")
    store.add_many([original, make_notification("b")])
    last_seq = store.last_seq()
    store.delete(BRUNO.id, "a")

    added = store.add_many([original])
    added_with_new = store.add_many([make_notification("a"), make_notification("c")])

    assert added == 0
    assert added_with_new == 1
    assert ids_of(store.list_for_user(BRUNO.id)) == ["b", "c"]
    assert page_ids(store.page(BRUNO.id, limit=10)[0]) == ["b", "c"]
    assert store.unread_count(BRUNO.id) == 2
    assert store.last_seq() > last_seq
    assert store.page(BRUNO.id, limit=10)[0][-1].seq == store.last_seq()


def test_count_includes_deleted(store: NotificationStore) -> None:
    ids = add_numbered(store, 3)
    store.delete(BRUNO.id, ids[0])

    assert store.count() == 3


def test_last_seq_grows_with_adds(store: NotificationStore) -> None:
    empty = store.last_seq()
    store.add_many([make_notification("a"), make_notification("b", RICK)])
    after_two = store.last_seq()
    store.add_many([make_notification("a")])
    after_duplicate = store.last_seq()
    store.add_many([make_notification("c")])
    after_three = store.last_seq()

    assert empty == 0
    assert after_two > 0
    assert after_duplicate == after_two
    assert after_three > after_two
    assert after_three == store.page(BRUNO.id, limit=10, newest_first=True)[0][0].seq


def test_last_seq_ignores_read_and_delete(store: NotificationStore) -> None:
    ids = add_numbered(store, 2)
    before = store.last_seq()

    store.mark_read(BRUNO.id, None)
    store.delete(BRUNO.id, ids[1])

    assert store.last_seq() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.page(BRUNO.id, limit=10),
        lambda store: store.unread_count(BRUNO.id),
        lambda store: store.mark_read(BRUNO.id, None),
        lambda store: store.delete(BRUNO.id, "a"),
        lambda store: store.last_seq(),
        lambda store: store.list_for_user(BRUNO.id),
        lambda store: store.count(),
    ],
    ids=[
        "page",
        "unread_count",
        "mark_read",
        "delete",
        "last_seq",
        "list_for_user",
        "count",
    ],
)
def test_calls_raise_after_close(
    store: NotificationStore, call: Callable[[NotificationStore], object]
) -> None:
    store.close()

    with pytest.raises(StoreError, match="closed"):
        call(store)


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


def test_second_store_sees_read_state(db_path: Path) -> None:
    worker_one = SQLiteStore(db_path)
    worker_two = SQLiteStore(db_path)
    try:
        worker_one.add_many([make_notification(f"n{index}") for index in range(3)])
        unread_before = worker_two.unread_count(BRUNO.id)
        worker_one.mark_read(BRUNO.id, ["n0"])
        unread_after_one = worker_two.unread_count(BRUNO.id)
        items, _ = worker_two.page(BRUNO.id, limit=10)
        unread_after_all = worker_two.mark_read(BRUNO.id, None)

        assert unread_before == 3
        assert unread_after_one == 2
        assert [item.read for item in items] == [True, False, False]
        assert unread_after_all == 0
        assert worker_one.unread_count(BRUNO.id) == 0
    finally:
        worker_one.close()
        worker_two.close()


def test_second_store_sees_deletion(db_path: Path) -> None:
    worker_one = SQLiteStore(db_path)
    worker_two = SQLiteStore(db_path)
    try:
        worker_one.add_many([make_notification("a"), make_notification("b")])
        deleted_by_one = worker_one.delete(BRUNO.id, "a")
        deleted_by_two = worker_two.delete(BRUNO.id, "a")
        added_by_two = worker_two.add_many([make_notification("a")])

        assert deleted_by_one is True
        assert deleted_by_two is False
        assert added_by_two == 0
        assert ids_of(worker_two.list_for_user(BRUNO.id)) == ["b"]
        assert page_ids(worker_two.page(BRUNO.id, limit=10)[0]) == ["b"]
        assert worker_two.unread_count(BRUNO.id) == 1
    finally:
        worker_one.close()
        worker_two.close()


def test_second_store_sees_last_seq(db_path: Path) -> None:
    worker_one = SQLiteStore(db_path)
    worker_two = SQLiteStore(db_path)
    try:
        empty = worker_two.last_seq()
        worker_one.add_many([make_notification("a")])
        one_after_first = worker_one.last_seq()
        two_after_first = worker_two.last_seq()
        worker_two.add_many([make_notification("b")])
        one_after_second = worker_one.last_seq()
        two_after_second = worker_two.last_seq()

        assert empty == 0
        assert one_after_first > 0
        assert two_after_first == one_after_first
        assert one_after_second > one_after_first
        assert two_after_second == one_after_second
    finally:
        worker_one.close()
        worker_two.close()


# The table and index as the store created them before read state and deletion.
OLD_CREATE_TABLE = """
CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    recipient_id INTEGER NOT NULL,
    recipient_name TEXT NOT NULL,
    sender_id INTEGER NOT NULL,
    sender_name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
OLD_CREATE_INDEX = """
CREATE INDEX notifications_recipient_seq ON notifications (recipient_id, seq)
"""


def create_old_format_file(path: Path, notifications: list[Notification]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute(OLD_CREATE_TABLE)
        connection.execute(OLD_CREATE_INDEX)
        connection.executemany(
            "INSERT INTO notifications (id, recipient_id, recipient_name, "
            "sender_id, sender_name, message, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    n.id,
                    n.recipient.id,
                    n.recipient.name,
                    n.sender.id,
                    n.sender.name,
                    n.message,
                    n.created_at,
                )
                for n in notifications
            ],
        )
        connection.commit()
    finally:
        connection.close()


def column_names(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [
            row[1] for row in connection.execute("PRAGMA table_info(notifications)")
        ]
    finally:
        connection.close()


def test_open_upgrades_old_format_file(db_path: Path) -> None:
    old = [make_notification("a"), make_notification("b", RICK)]
    create_old_format_file(db_path, old)

    store = SQLiteStore(db_path)
    try:
        columns = column_names(db_path)
        items, _ = store.page(BRUNO.id, limit=10)
        rick_unread = store.unread_count(RICK.id)
        last_seq_before_add = store.last_seq()
        added = store.add_many([make_notification("a"), make_notification("c")])

        assert columns[-2:] == ["read", "deleted"]
        assert [item.notification for item in items] == [old[0]]
        assert [item.read for item in items] == [False]
        assert store.unread_count(BRUNO.id) == 2
        assert rick_unread == 1
        assert last_seq_before_add == 2
        assert added == 1
        assert store.mark_read(BRUNO.id, ["a"]) == 1
        assert store.delete(RICK.id, "b") is True
    finally:
        store.close()

    reopened = SQLiteStore(db_path)
    try:
        items, _ = reopened.page(BRUNO.id, limit=10)

        assert column_names(db_path) == columns
        assert [(item.notification.id, item.read) for item in items] == [
            ("a", True),
            ("c", False),
        ]
        assert reopened.list_for_user(RICK.id) == []
    finally:
        reopened.close()


def test_feed_version_grows_with_each_change(store: NotificationStore) -> None:
    versions = [store.feed_version(BRUNO.id)]
    store.add_many([make_notification("a"), make_notification("b")])
    versions.append(store.feed_version(BRUNO.id))
    store.mark_read(BRUNO.id, ["a"])
    versions.append(store.feed_version(BRUNO.id))
    store.delete(BRUNO.id, "b")
    versions.append(store.feed_version(BRUNO.id))

    assert versions[0] < versions[1] < versions[2] < versions[3]


def test_feed_version_kept_without_changes(store: NotificationStore) -> None:
    store.add_many([make_notification("a"), make_notification("r", RICK)])
    store.mark_read(BRUNO.id, ["a"])
    before = store.feed_version(BRUNO.id)

    store.add_many([make_notification("a"), make_notification("s", RICK)])
    store.mark_read(BRUNO.id, ["a", "unknown"])
    store.mark_read(BRUNO.id, None)
    store.delete(BRUNO.id, "unknown")
    store.delete(BRUNO.id, "r")

    assert store.feed_version(BRUNO.id) == before


# What the store created before it kept a state row per user.
PARTIAL_UNREAD_INDEX = """
CREATE INDEX notifications_recipient_unread
ON notifications (recipient_id)
WHERE read = 0 AND deleted = 0
"""


def make_file_without_feed_state(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        for trigger in (
            "feed_state_on_insert",
            "feed_state_on_update",
            "feed_state_on_delete",
        ):
            connection.execute(f"DROP TRIGGER {trigger}")
        connection.execute("DROP TABLE feed_state")
        connection.execute(PARTIAL_UNREAD_INDEX)
        connection.commit()
    finally:
        connection.close()


def sqlite_names(path: Path, kind: str) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = ?", (kind,)
        ).fetchall()
        return {name for (name,) in rows}
    finally:
        connection.close()


def test_open_fills_missing_feed_state(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    store.add_many(
        [
            make_notification("a"),
            make_notification("b"),
            make_notification("c"),
            make_notification("d", RICK),
        ]
    )
    store.mark_read(BRUNO.id, ["a"])
    store.delete(BRUNO.id, "b")
    store.close()
    make_file_without_feed_state(db_path)

    reopened = SQLiteStore(db_path)
    try:
        counts = (reopened.unread_count(BRUNO.id), reopened.unread_count(RICK.id))
        reopened.add_many([make_notification("e")])

        assert counts == (1, 1)
        assert reopened.unread_count(BRUNO.id) == 2
        assert "notifications_recipient_unread" not in sqlite_names(db_path, "index")
        assert "feed_state_on_insert" in sqlite_names(db_path, "trigger")
    finally:
        reopened.close()


def test_unread_count_follows_outside_changes(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    try:
        store.add_many([make_notification(name) for name in "abcd"])
        connection = sqlite3.connect(db_path)
        try:
            connection.execute("UPDATE notifications SET read = 1 WHERE id = 'a'")
            connection.execute("UPDATE notifications SET deleted = 1 WHERE id = 'b'")
            # Read and deleted at once counts once.
            connection.execute(
                "UPDATE notifications SET read = 1, deleted = 1 WHERE id = 'c'"
            )
            connection.execute("UPDATE notifications SET read = 0 WHERE id = 'a'")
            connection.execute("DELETE FROM notifications WHERE id = 'd'")
            connection.commit()
        finally:
            connection.close()

        assert store.unread_count(BRUNO.id) == 1
        assert [item.notification.id for item in store.page(BRUNO.id, limit=10)[0]] == [
            "a",
        ]
    finally:
        store.close()


def open_and_report(
    path: str,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue,
) -> None:
    """Open a store once every process is ready, and put its unread count."""
    barrier.wait(timeout=WAIT_TIMEOUT_SECONDS)
    store = SQLiteStore(path)
    results.put(store.unread_count(BRUNO.id))
    store.close()


def test_processes_upgrade_old_file_at_once(db_path: Path) -> None:
    create_old_format_file(db_path, [make_notification("a")])
    process_count = 3

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(process_count)
    results = context.Queue()
    processes = [
        context.Process(target=open_and_report, args=(str(db_path), barrier, results))
        for _ in range(process_count)
    ]
    for process in processes:
        process.start()
    try:
        # Each child puts one small int, so joining before reading is safe.
        for process in processes:
            process.join(timeout=WAIT_TIMEOUT_SECONDS)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()

    assert [process.exitcode for process in processes] == [0] * process_count
    unread = [results.get(timeout=WAIT_TIMEOUT_SECONDS) for _ in processes]
    assert unread == [1] * process_count
    assert column_names(db_path)[-2:] == ["read", "deleted"]


def query_plan(connection: sqlite3.Connection, query: str, parameters: tuple) -> str:
    rows = connection.execute(f"EXPLAIN QUERY PLAN {query}", parameters).fetchall()
    return "\n".join(row[3] for row in rows)


@pytest.mark.parametrize(
    ("query", "parameters", "index"),
    [
        (sqlite_store._SELECT_FOR_USER, (2,), "notifications_recipient_seq"),
        (
            sqlite_store._SELECT_PAGE_OLDEST_FIRST,
            (2, 11),
            "notifications_recipient_seq",
        ),
        (
            sqlite_store._SELECT_PAGE_OLDEST_FIRST_AFTER,
            (2, 5, 11),
            "notifications_recipient_seq",
        ),
        (
            sqlite_store._SELECT_PAGE_NEWEST_FIRST,
            (2, 11),
            "notifications_recipient_seq",
        ),
        (
            sqlite_store._SELECT_PAGE_NEWEST_FIRST_AFTER,
            (2, 5, 11),
            "notifications_recipient_seq",
        ),
        (
            sqlite_store._COUNT_UNREAD,
            (2,),
            "SEARCH feed_state USING INTEGER PRIMARY KEY",
        ),
        (sqlite_store._MARK_ALL_READ, (2,), "notifications_recipient_seq"),
        (sqlite_store._MARK_ONE_READ, ("a", 2), "sqlite_autoindex_notifications_1"),
        (sqlite_store._DELETE, ("a", 2), "sqlite_autoindex_notifications_1"),
    ],
    ids=[
        "list_for_user",
        "page_oldest_first",
        "page_oldest_first_after",
        "page_newest_first",
        "page_newest_first_after",
        "unread_count",
        "mark_all_read",
        "mark_one_read",
        "delete",
    ],
)
def test_queries_use_index(
    db_path: Path, query: str, parameters: tuple, index: str
) -> None:
    store = SQLiteStore(db_path)
    store.add_many(
        [
            make_notification(f"n{index}", User(index % 50, "user"))
            for index in range(500)
        ]
    )
    store.close()

    connection = sqlite3.connect(db_path)
    try:
        plan = query_plan(connection, query, parameters)
    finally:
        connection.close()

    # An index by name, or the rowid of a table, which is its own index.
    assert f"INDEX {index} " in plan or plan.startswith(index)
    assert "SCAN notifications" not in plan
    # An ORDER BY that the index does not give would need a sort step.
    assert "TEMP B-TREE" not in plan


def test_last_seq_query_avoids_scan(db_path: Path) -> None:
    SQLiteStore(db_path).close()

    connection = sqlite3.connect(db_path)
    try:
        plan = query_plan(connection, sqlite_store._SELECT_LAST_SEQ, ())
    finally:
        connection.close()

    # SQLite shows max() of the rowid read from the end of the b-tree as a
    # SEARCH with no index or constraint.
    assert plan == "SEARCH notifications"


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
        "postgresql://",
        "postgres://",
        "postgresq://localhost/notifications",
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


def test_sqlite_unread_count_sees_other_connection(db_path: Path) -> None:
    first = SQLiteStore(db_path)
    second = SQLiteStore(db_path)
    try:
        notifications = [make_notification(str(uuid.uuid4())) for _ in range(3)]
        first.add_many(notifications)
        assert first.unread_count(BRUNO.id) == 3

        second.mark_read(BRUNO.id, [notifications[0].id])
        assert first.unread_count(BRUNO.id) == 2

        second.add_many([make_notification(str(uuid.uuid4()))])
        assert first.unread_count(BRUNO.id) == 3

        first.mark_read(BRUNO.id, None)
        assert first.unread_count(BRUNO.id) == 0
        assert second.unread_count(BRUNO.id) == 0
    finally:
        first.close()
        second.close()
