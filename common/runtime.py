"""Start a service's Kafka clients and threads in the worker process only.

librdkafka does not survive ``fork()``, so no Kafka client or thread may be
created in a gunicorn master that later forks workers (``--preload``). The
shipped gunicorn configuration starts the runtime from its worker hooks.
Without it, ``attach_runtime`` starts the runtime at once when the app is
created inside a worker or outside gunicorn. When the app is created in the
master, the runtime starts in each worker after the fork.
"""

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from flask import Flask

log = logging.getLogger(__name__)

EXTENSION_KEY = "notify_runtime"


class Component(Protocol):
    """Something with background threads: a publisher or a consumer worker."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class WorkerRuntime:
    """Own one component per process, started once and stopped once."""

    def __init__(self, factory: Callable[[], Component]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._component: Component | None = None
        self._pid: int | None = None
        self._signal_installed = False

    @property
    def component(self) -> Component | None:
        """The component of this process, or None before it started."""
        if self._pid != os.getpid():
            return None
        return self._component

    def ensure_started(self) -> Component:
        """Start the component in this process unless it already runs here."""
        pid = os.getpid()
        if self._pid == pid and self._component is not None:
            return self._component

        with self._lock:
            if self._pid != pid or self._component is None:
                # A component inherited through fork belongs to the parent:
                # its threads do not exist here, so build a fresh one.
                component = self._factory()
                component.start()
                self._component, self._pid = component, pid
                log.info("Started %s", type(component).__name__)

        return self._component

    def begin_shutdown(self) -> None:
        """Tell the component that the worker is stopping, if it runs here.

        A component with long-lived responses (the consumer's event streams)
        ends them, so the worker's graceful shutdown need not wait for them.
        """
        component = self.component
        begin = getattr(component, "begin_shutdown", None)
        if begin is not None:
            begin()

    def install_shutdown_signal(self) -> None:
        """Call ``begin_shutdown`` on SIGTERM, then the previous handler.

        Gunicorn workers stop gracefully on SIGTERM. Only the main thread can
        install signal handlers, and only once gunicorn has installed its own
        does chaining them work, so this runs from the app factory inside a
        worker or from the shipped configuration's post_worker_init hook.
        """
        if self._signal_installed or threading.current_thread() is not (
            threading.main_thread()
        ):
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            # Only chain onto a handler gunicorn installed, so that SIGTERM
            # keeps its default effect everywhere else.
            return

        def on_sigterm(signum, frame):
            self.begin_shutdown()
            previous(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._signal_installed = True

    def stop(self) -> None:
        """Stop the component of this process, if it runs here."""
        with self._lock:
            component = self.component
            self._component = None
        if component is not None:
            component.stop()


def in_gunicorn_master() -> bool:
    """Return True when called while a gunicorn master loads the app.

    With ``--preload`` the master imports the app before forking; without it
    each worker loads the app from ``gunicorn/workers``. A stack with
    gunicorn's arbiter but no worker frame is the master.
    """
    if "gunicorn.arbiter" not in sys.modules:
        return False

    in_arbiter = False
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename.replace(os.sep, "/")
        if "/gunicorn/workers/" in filename:
            return False
        if filename.endswith("/gunicorn/arbiter.py"):
            in_arbiter = True
        frame = frame.f_back

    return in_arbiter


def attach_runtime(app: Flask, runtime: WorkerRuntime) -> None:
    """Start ``runtime`` in the process that serves ``app``; stop it at exit."""
    app.extensions[EXTENSION_KEY] = runtime
    if in_gunicorn_master():
        log.info("Loaded in the gunicorn master; Kafka clients start per worker")
        # NOTE: gunicorn installs its signal handlers after this fork hook,
        # so with --preload and no shipped configuration, open event streams
        # delay a graceful stop until gunicorn's graceful_timeout.
        os.register_at_fork(after_in_child=runtime.ensure_started)
    else:
        runtime.ensure_started()
        runtime.install_shutdown_signal()

    # Daemon threads keep running during interpreter shutdown until this
    # stops them: it flushes the producer and commits and closes the consumer.
    atexit.register(runtime.stop)
