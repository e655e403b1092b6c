"""One consumer process's runtime: its store connection and consumer thread."""

import logging

from common.settings import Settings
from consumer.store import NotificationStore, open_store
from consumer.watcher import ChangeWatcher
from consumer.worker import ConsumerWorker

log = logging.getLogger(__name__)


class ConsumerService:
    """Own the store and the consumer thread of one worker process.

    Both are created in the process that uses them: a SQLite connection or
    a PostgreSQL connection pool, like a Kafka client, must not cross
    ``fork()``.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.store: NotificationStore | None = None
        self.worker: ConsumerWorker | None = None
        self.watcher: ChangeWatcher | None = None

    def start(self) -> None:
        self.store = open_store(self._settings.store_url)
        self.watcher = ChangeWatcher(self.store)
        self.watcher.start()
        self.worker = ConsumerWorker(self._settings, self.store)
        self.worker.start()

    def begin_shutdown(self) -> None:
        """End open streams, so that gunicorn need not wait for them."""
        if self.watcher is not None:
            self.watcher.stop()

    def stop(self) -> None:
        self.begin_shutdown()
        if self.worker is not None:
            self.worker.stop()
        if self.store is not None:
            self.store.close()

    def readiness_problem(self) -> str | None:
        """Return why this process cannot serve yet, or None when it can."""
        return self.worker.readiness_problem()
