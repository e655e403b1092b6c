"""Tests of the busy_timeout_ms query parameter of SQLite store URLs."""

import sqlite3
import time

import pytest

from common.errors import StoreError
from common.models import Notification, User
from consumer.store import open_store


def make_notification(notification_id: str) -> Notification:
    return Notification(
        id=notification_id,
        sender=User(1, "Emma"),
        recipient=User(2, "Bruno"),
        message="hello",
        created_at="2026-12-04T15:20:00.000000Z",
    )


def locked_write_seconds(url: str, path) -> float:
    """Return how long a write waits for another connection's lock before failing."""
    store = open_store(url)
    lock = sqlite3.connect(path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreError, match="database is locked"):
            store.add_many([make_notification("a")])
        return time.monotonic() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        store.close()


def test_busy_timeout_short(tmp_path):
    path = tmp_path / "n.db"

    waited = locked_write_seconds(f"sqlite:///{path}?busy_timeout_ms=100", path)

    assert 0.1 <= waited < 2


def test_busy_timeout_zero(tmp_path):
    path = tmp_path / "n.db"

    assert locked_write_seconds(f"sqlite:///{path}?busy_timeout_ms=0", path) < 1


def test_busy_timeout_path(tmp_path):
    path = tmp_path / "n.db"
    store = open_store(f"sqlite:///{path}?busy_timeout_ms=100")
    try:
        store.add_many([make_notification("a")])
    finally:
        store.close()

    assert path.exists()
    assert not list(tmp_path.glob("*busy_timeout*"))


@pytest.mark.parametrize(
    "query",
    [
        "busy_timeout_ms=",
        "busy_timeout_ms=-1",
        "busy_timeout_ms=1.5",
        "busy_timeout_ms=1000000000",
        "timeout=100",
        "busy_timeout_ms=100&mode=ro",
    ],
)
def test_busy_timeout_invalid(tmp_path, query):
    with pytest.raises(StoreError, match="busy_timeout_ms"):
        open_store(f"sqlite:///{tmp_path}/n.db?{query}")
