"""What the PostgreSQL store adds to the store contract of tests/unit/test_store.py.

Schema creation and upgrade, query plans, password masking, the commit order
of ``seq`` across store objects, and ``LISTEN``/``NOTIFY``. Each test gets a
fresh database of the session's embedded server.
"""

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from common.errors import StoreError
from common.models import Notification, User
from consumer.store import open_store
from consumer.store import postgres as postgres_store
from consumer.store.postgres import CHANNEL, PostgresStore
from consumer.watcher import ChangeWatcher
from tests.postgres import EmbeddedPostgres
from tests.support import wait_until

BRUNO = User(2, "Bruno")
EMMA = User(1, "Emma")
# Bound on every wait, so a hang fails the test instead of blocking it.
WAIT_SECONDS = 10


def make_notification(notification_id: str, recipient: User = BRUNO) -> Notification:
    return Notification(
        id=notification_id,
        sender=EMMA,
        recipient=recipient,
        message=f"message {notification_id}",
        created_at="2026-12-04T15:20:00.000000Z",
    )


@pytest.fixture
def database(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """The name of a fresh database."""
    name = postgres_server.create_database()
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def url(postgres_server: EmbeddedPostgres, database: str) -> str:
    return postgres_server.url(database)


@pytest.fixture
def admin(
    postgres_server: EmbeddedPostgres, database: str
) -> Iterator[psycopg.Connection]:
    """An autocommit superuser connection to the test's database."""
    with postgres_server.connect(database) as connection:
        yield connection


@pytest.fixture
def open_stores(url: str) -> Iterator:
    """Open PostgreSQL stores on the test's database; close them at teardown."""
    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        store = PostgresStore(url)
        opened.append(store)
        return store

    try:
        yield open_one
    finally:
        for store in opened:
            store.close()


def column_names(admin: psycopg.Connection) -> list[str]:
    rows = admin.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'notifications' ORDER BY ordinal_position"
    ).fetchall()
    return [name for (name,) in rows]


def trigger_names(admin: psycopg.Connection) -> set[str]:
    rows = admin.execute(
        "SELECT tgname FROM pg_trigger "
        "WHERE tgrelid = 'notifications'::regclass AND NOT tgisinternal"
    ).fetchall()
    return {name for (name,) in rows}


def index_names(admin: psycopg.Connection) -> set[str]:
    rows = admin.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'notifications'"
    ).fetchall()
    return {name for (name,) in rows}


# Opening, schema and URLs.


def test_open_store_accepts_both_schemes(postgres_server, database) -> None:
    for scheme in ("postgresql", "postgres"):
        url = postgres_server.url(database).replace("postgresql", scheme, 1)
        store = open_store(url)
        store.close()

        assert isinstance(store, PostgresStore)


def test_open_creates_table_and_indexes(open_stores, admin) -> None:
    open_stores()

    assert column_names(admin) == [
        "seq",
        "id",
        "recipient_id",
        "recipient_name",
        "sender_id",
        "sender_name",
        "message",
        "created_at",
        "read",
        "deleted",
    ]
    assert index_names(admin) == {
        "notifications_pkey",
        "notifications_id_key",
        "notifications_recipient_seq",
    }


def test_racing_opens_create_schema_once(url, admin) -> None:
    store_count = 6
    barrier = threading.Barrier(store_count)
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_at_once() -> None:
        barrier.wait(timeout=WAIT_SECONDS)
        try:
            stores.append(PostgresStore(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_at_once) for _ in range(store_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS * 3)
    try:
        stores[0].add_many([make_notification("a")])
        counts = [store.count() for store in stores]
    finally:
        for store in stores:
            store.close()

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert counts == [1] * store_count
    assert len(index_names(admin)) == 3
    assert trigger_names(admin) == {
        "feed_state_on_insert",
        "feed_state_on_update",
        "feed_state_on_delete",
    }


def test_open_upgrades_old_table(open_stores, admin) -> None:
    # The table as it was before read state and deletion existed.
    admin.execute(
        """
        CREATE TABLE notifications (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            recipient_id bigint NOT NULL,
            recipient_name bytea NOT NULL,
            sender_id bigint NOT NULL,
            sender_name bytea NOT NULL,
            message bytea NOT NULL,
            created_at text NOT NULL
        )
        """
    )
    admin.execute(
        "INSERT INTO notifications (id, recipient_id, recipient_name, sender_id, "
        "sender_name, message, created_at) "
        "VALUES ('old', 2, 'Bruno', 1, 'Emma', 'from before', '2026-12-04T15:20:00Z')"
    )

    store = open_stores()
    [item], _ = store.page(BRUNO.id, limit=10)

    assert column_names(admin)[-2:] == ["read", "deleted"]
    assert "notifications_recipient_unread" not in index_names(admin)
    assert item.notification.message == "from before"
    assert item.read is False
    assert store.unread_count(BRUNO.id) == 1
    assert store.delete(BRUNO.id, "old") is True


def test_open_fills_missing_feed_state(open_stores, admin) -> None:
    first = open_stores()
    first.add_many([make_notification(name) for name in "abc"])
    first.add_many([make_notification("e", EMMA)])
    first.mark_read(BRUNO.id, ["a"])
    first.delete(BRUNO.id, "b")
    # The schema as it was before feed_state existed.
    admin.execute("DROP TABLE feed_state")
    for trigger in trigger_names(admin):
        admin.execute(f"DROP TRIGGER {trigger} ON notifications")
    admin.execute(
        "CREATE INDEX notifications_recipient_unread ON notifications "
        "(recipient_id) WHERE NOT read AND NOT deleted"
    )

    store = open_stores()
    counts = (store.unread_count(BRUNO.id), store.unread_count(EMMA.id))
    store.add_many([make_notification("d")])

    assert counts == (1, 1)
    assert store.unread_count(BRUNO.id) == 2
    assert "notifications_recipient_unread" not in index_names(admin)
    assert len(trigger_names(admin)) == 3


def test_feed_state_follows_changes_by_hand(open_stores, admin) -> None:
    store = open_stores()
    store.add_many([make_notification(name) for name in "abcde"])
    before = store.feed_version(BRUNO.id)

    admin.execute("UPDATE notifications SET read = true WHERE id IN ('a', 'b')")
    admin.execute("UPDATE notifications SET deleted = true WHERE id = 'b'")
    admin.execute("UPDATE notifications SET read = true, deleted = true WHERE id = 'c'")
    admin.execute("UPDATE notifications SET read = false WHERE id = 'a'")
    admin.execute("DELETE FROM notifications WHERE id IN ('d', 'e')")

    assert store.unread_count(BRUNO.id) == 1
    assert store.feed_version(BRUNO.id) == before + 5


def test_reopen_keeps_notifications(open_stores) -> None:
    first = open_stores()
    first.add_many([make_notification("a"), make_notification("b")])
    first.mark_read(BRUNO.id, ["a"])
    first.close()

    reopened = open_stores()
    items, _ = reopened.page(BRUNO.id, limit=10)

    assert [(item.notification.id, item.read) for item in items] == [
        ("a", True),
        ("b", False),
    ]


def test_wrong_password_error_hides_it(postgres_server, database) -> None:
    wrong = "not-the-password-" + uuid.uuid4().hex
    url = postgres_server.url(database).replace(
        postgres_server.password, wrong, 1
    )

    with pytest.raises(StoreError) as raised:
        PostgresStore(url)

    message = str(raised.value)
    assert wrong not in message
    assert "postgres:***@" in message
    assert "password authentication failed" in message


def test_invalid_url_error_hides_password() -> None:
    # libpq quotes the whole URL when it cannot parse it.
    url = "postgresql://notify:hunter2-secret@[::1/notify"

    with pytest.raises(StoreError) as raised:
        open_store(url)

    assert "hunter2-secret" not in str(raised.value)
    assert "notify:***@" in str(raised.value)


def test_log_hides_password(postgres_server, url, caplog) -> None:
    caplog.set_level(logging.INFO, logger="consumer.store.postgres")

    PostgresStore(url).close()

    messages = [record.getMessage() for record in caplog.records]
    assert any("Opened PostgreSQL notification store" in m for m in messages)
    assert all(postgres_server.password not in m for m in messages)
    assert any("postgres:***@" in m for m in messages)


def test_pool_replaces_ended_connections(open_stores, admin) -> None:
    store = open_stores()
    store.add_many([make_notification("a")])
    # Ends the pooled sessions, as a server restart would.
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'kafka-notify-consumer'"
    )

    # The pool checks each connection before lending it, so the dead
    # ones are replaced and the call succeeds.
    assert store.count() == 1
    store.check()


def test_storing_nul_ids_is_ignored(open_stores) -> None:
    store = open_stores()
    store.add_many([make_notification("a")])

    assert store.mark_read(BRUNO.id, ["a\x00", "a"]) == 0
    assert store.delete(BRUNO.id, "a\x00") is False


# Query plans. 100,000 rows over 1,000 users, as in a store a while in use.


def query_plan(admin: psycopg.Connection, query: str, parameters: tuple) -> str:
    rows = admin.execute(f"EXPLAIN {query}", parameters).fetchall()
    return "\n".join(line for (line,) in rows)


@pytest.fixture(scope="module")
def filled(postgres_server: EmbeddedPostgres) -> Iterator[psycopg.Connection]:
    """A connection to a database whose table has 100 rows for each of 1,000 users.

    EXPLAIN only plans the statements, so the tests share it.
    """
    database = postgres_server.create_database()
    try:
        PostgresStore(postgres_server.url(database)).close()
        with postgres_server.connect(database) as connection:
            connection.execute(
                "INSERT INTO notifications (id, recipient_id, recipient_name, "
                "sender_id, sender_name, message, created_at) "
                "SELECT 'n' || i, i % 1000, 'user', 1, 'sender', 'message', "
                "'2026-12-04T15:20:00Z' FROM generate_series(1, 100000) AS i"
            )
            connection.execute("ANALYZE notifications")
            connection.execute("ANALYZE feed_state")
            yield connection
    finally:
        postgres_server.drop_database(database)


@pytest.mark.parametrize(
    ("query", "parameters", "index"),
    [
        (
            postgres_store._SELECT_PAGE_OLDEST_FIRST,
            (2, 11),
            "notifications_recipient_seq",
        ),
        (
            postgres_store._SELECT_PAGE_OLDEST_FIRST_AFTER,
            (2, 10_000, 11),
            "notifications_recipient_seq",
        ),
        (
            postgres_store._SELECT_PAGE_NEWEST_FIRST,
            (2, 11),
            "notifications_recipient_seq",
        ),
        (
            postgres_store._SELECT_PAGE_NEWEST_FIRST_AFTER,
            (2, 90_000, 11),
            "notifications_recipient_seq",
        ),
        (postgres_store._COUNT_UNREAD, (2,), "feed_state_pkey"),
        (postgres_store._SELECT_FEED_VERSION, (2,), "feed_state_pkey"),
        (postgres_store._MARK_ALL_READ, (2,), "notifications_recipient_seq"),
        (postgres_store._MARK_READ, (["n2", "n1002"], 2), "notifications_id_key"),
        (postgres_store._DELETE, ("n2", 2), "notifications_id_key"),
        (postgres_store._SELECT_LAST_SEQ, (), "notifications_pkey"),
    ],
    ids=[
        "page_oldest_first",
        "page_oldest_first_after",
        "page_newest_first",
        "page_newest_first_after",
        "unread_count",
        "feed_version",
        "mark_all_read",
        "mark_read",
        "delete",
        "last_seq",
    ],
)
def test_queries_use_index(filled, query, parameters, index) -> None:
    plan = query_plan(filled, query, parameters)

    assert f"on {index}" in plan or f"using {index}" in plan, plan
    assert "Seq Scan" not in plan, plan
    # The pages come in index order, so they need no sort step.
    assert "Sort" not in plan, plan


def test_list_for_user_avoids_seq_scan(filled) -> None:
    plan = query_plan(filled, postgres_store._SELECT_FOR_USER, (2,))

    # With no LIMIT, the planner may read the user's rows through a bitmap
    # and sort them, which is fine for one user's rows.
    assert "notifications_recipient_seq" in plan, plan
    assert "Seq Scan" not in plan, plan


# Arrival order across store objects, as on several hosts.


def test_follower_misses_no_concurrent_write(open_stores) -> None:
    # Two writers on separate store objects, and a reader that pages on from
    # the last seq it saw, as an event stream does. A row whose seq is below
    # one the reader has seen must already be visible to it.
    writers = [open_stores(), open_stores()]
    reader = open_stores()
    per_writer = 150
    done = threading.Event()

    def write(index: int, store: PostgresStore) -> None:
        for number in range(per_writer):
            store.add_many([make_notification(f"w{index}-{number}")])

    threads = [
        threading.Thread(target=write, args=(index, store))
        for index, store in enumerate(writers)
    ]
    for thread in threads:
        thread.start()

    seen: list[str] = []
    after_seq = 0
    deadline = time.monotonic() + WAIT_SECONDS * 6
    while time.monotonic() < deadline:
        # Read before the page, so that the last, empty page comes after
        # every write.
        writers_done = not any(thread.is_alive() for thread in threads)
        items, _ = reader.page(BRUNO.id, limit=50, after_seq=after_seq)
        seen.extend(item.notification.id for item in items)
        if items:
            after_seq = items[-1].seq
        elif writers_done:
            done.set()
            break
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)

    expected = {f"w{index}-{n}" for index in range(2) for n in range(per_writer)}
    assert done.is_set()
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_two_stores_share_state(open_stores) -> None:
    first, second = open_stores(), open_stores()
    first.add_many([make_notification("a")])

    added = second.add_many([make_notification("a"), make_notification("b")])
    second.mark_read(BRUNO.id, ["a"])
    second.delete(BRUNO.id, "b")

    assert added == 1
    assert [n.id for n in first.list_for_user(BRUNO.id)] == ["a"]
    assert first.unread_count(BRUNO.id) == 0
    assert first.add_many([make_notification("b")]) == 0
    assert first.last_seq() == second.last_seq()


# LISTEN/NOTIFY.


def test_add_many_notifies_new_rows(open_stores, postgres_server, database) -> None:
    store = open_stores()
    with postgres_server.connect(database) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        store.add_many([make_notification("a"), make_notification("b")])
        first_seq = store.last_seq()
        first = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]

        # None of these stores a new row. A notification from any of them
        # would arrive before the one of the last call, which does.
        store.add_many([make_notification("a")])
        store.mark_read(BRUNO.id, None)
        store.delete(BRUNO.id, "a")
        store.add_many([])
        store.add_many([make_notification("b"), make_notification("c")])
        last = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]

    assert first == [str(first_seq)]
    assert last == [str(store.last_seq())]


class SeqRecorder:
    """Collect the seqs that ``watch_changes`` reports, from its thread."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, seq: int) -> None:
        with self._lock:
            self.seqs.append(seq)

    def reached(self, seq: int) -> bool:
        with self._lock:
            return bool(self.seqs) and self.seqs[-1] >= seq


@pytest.fixture
def watching(open_stores) -> Iterator:
    """Run ``watch_changes`` of one store in a thread; return it and its recorder."""
    store = open_stores()
    recorder = SeqRecorder()
    stop = threading.Event()
    thread = threading.Thread(
        target=store.watch_changes, args=(recorder, stop), daemon=True
    )
    thread.start()
    try:
        yield store, recorder, stop, thread
    finally:
        stop.set()
        thread.join(timeout=WAIT_SECONDS)


def test_watch_reports_other_stores_rows(watching, open_stores) -> None:
    _, recorder, stop, thread = watching
    other_host = open_stores()
    wait_until(lambda: recorder.seqs, WAIT_SECONDS, "the seq read after LISTEN")

    started = time.monotonic()
    other_host.add_many([make_notification("a"), make_notification("b")])
    wait_until(
        lambda: recorder.reached(other_host.last_seq()),
        WAIT_SECONDS,
        "the seq of the other store's rows",
        interval=0.01,
    )
    elapsed = time.monotonic() - started
    stop.set()
    thread.join(timeout=WAIT_SECONDS)

    assert recorder.seqs[0] == 0
    assert elapsed < 1
    assert not thread.is_alive()


def test_watch_ends_when_store_closes(watching) -> None:
    store, recorder, _, thread = watching
    wait_until(lambda: recorder.seqs, WAIT_SECONDS, "the seq read after LISTEN")

    store.close()
    thread.join(timeout=WAIT_SECONDS)

    assert not thread.is_alive()


def test_watch_reconnects_after_drop(watching, open_stores, admin) -> None:
    _, recorder, _, _ = watching
    other_host = open_stores()
    wait_until(lambda: recorder.seqs, WAIT_SECONDS, "the seq read after LISTEN")

    [(ended,)] = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'kafka-notify-listener'"
    ).fetchall()
    # Stored while the listener is down, or right after it returns: either
    # way the watcher must report it.
    other_host.add_many([make_notification("during")])
    wait_until(
        lambda: recorder.reached(other_host.last_seq()),
        WAIT_SECONDS,
        "the seq of the row stored while the listener reconnected",
    )
    other_host.add_many([make_notification("after")])
    wait_until(
        lambda: recorder.reached(other_host.last_seq()),
        WAIT_SECONDS,
        "the seq of the row stored after the reconnect",
    )

    assert ended == 1


def listener_query(admin: psycopg.Connection) -> str | None:
    """Return the last query of the watcher's listening connection, if any."""
    row = admin.execute(
        "SELECT query FROM pg_stat_activity "
        "WHERE application_name = 'kafka-notify-listener'"
    ).fetchone()
    return row[0] if row else None


def test_watcher_wakes_without_polling(open_stores, admin) -> None:
    store = open_stores()
    other_host = open_stores()
    calls: list[int] = []
    original = store.last_seq

    def counted_last_seq() -> int:
        calls.append(1)
        return original()

    store.last_seq = counted_last_seq
    watcher = ChangeWatcher(store)
    watcher.start()
    try:
        wait_until(
            lambda: listener_query(admin) == postgres_store._SELECT_LAST_SEQ,
            WAIT_SECONDS,
            "the watcher's listening connection to read the last seq",
        )
        woke = watcher.wait_beyond(0, 0.5)
        other_host.add_many([make_notification("a")])
        woke_on_add = watcher.wait_beyond(0, WAIT_SECONDS)
        last_query = listener_query(admin)
    finally:
        watcher.stop()

    assert woke is False
    assert woke_on_add is True
    assert watcher.last_seq == other_host.last_seq()
    # ChangeWatcher.start reads last_seq once; nothing polls it after.
    assert calls == [1]
    # The listening connection ran its start-up read and nothing since.
    assert last_query == postgres_store._SELECT_LAST_SEQ
