"""Consumer ingest: how fast a consumer service moves a full topic into its store."""

import functools
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.processes import GunicornService
from consumer.store.base import NotificationStore

# A function that returns how many notifications the store under test contains.
# Called with exact=False it may return more than the true count, but never
# less, so a caller confirms the end with exact=True.
StoredCount = Callable[[bool], int]

POLL_INTERVAL = 0.05


@dataclass(frozen=True)
class IngestResult:
    """Timings of one ingest, in seconds from the start of gunicorn."""

    store: str
    workers: int
    records: int
    first_stored: float
    all_stored: float

    @property
    def records_per_second(self) -> float:
        """The rate from the first stored record to the last."""
        return self.records / (self.all_stored - self.first_stored)

    @property
    def records_per_second_from_start(self) -> float:
        """The rate including gunicorn's start and the group join."""
        return self.records / self.all_stored


def _stored_count(path: Path, exact: bool) -> int:
    """Return how many notifications the store at ``path`` holds, 0 if none yet.

    Without ``exact`` it returns max(seq), one b-tree lookup. That equals
    the row count on a fresh store until a redelivered duplicate leaves a
    gap in seq, so a caller confirms the end with ``exact``.
    """
    if not path.exists():
        return 0
    query = (
        "SELECT count(*) FROM notifications"
        if exact
        else "SELECT coalesce(max(seq), 0) FROM notifications"
    )
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute(query).fetchone()[0]
    except sqlite3.OperationalError:
        # The consumer has not created the table yet.
        return 0


def sqlite_stored_count(path: Path) -> StoredCount:
    """Return a ``StoredCount`` that reads the SQLite file at ``path``."""
    return functools.partial(_stored_count, path)


def store_stored_count(store: NotificationStore) -> StoredCount:
    """Return a ``StoredCount`` that queries ``store``, for stores on a server.

    The cheap form is ``last_seq``, which never undercounts because a
    skipped duplicate leaves a gap in seq instead of reusing it.
    """

    def count(exact: bool) -> int:
        return store.count() if exact else store.last_seq()

    return count


def time_ingest(
    service: GunicornService, store: str, stored_count: StoredCount,
    records: int, workers: int, timeout: float,
    on_started: Callable[[], None] | None = None,
) -> IngestResult:
    """Start ``service`` and time it until ``stored_count`` reaches ``records``.

    ``store`` names the store kind in the result. The topic must already
    hold the records. ``on_started`` runs right after
    the start, to attach a profiler. Raises ``RuntimeError`` when the service
    exits or ``timeout`` seconds pass first.
    """
    started = time.perf_counter()
    service.start()
    if on_started is not None:
        on_started()
    deadline = started + timeout
    first_stored = None
    while True:
        now = time.perf_counter()
        stored = stored_count(False)
        if stored and first_stored is None:
            first_stored = now - started
        if stored >= records and stored_count(True) >= records:
            return IngestResult(store, workers, records, first_stored, now - started)
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited during the ingest; see {service.log_path}"
            )
        if now > deadline:
            raise RuntimeError(
                f"{service.name} stored {stored} of {records} records within "
                f"{timeout:.0f} s; see {service.log_path}"
            )
        time.sleep(POLL_INTERVAL)
