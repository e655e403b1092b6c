"""Gunicorn configuration shipped with kafka-notify.

Used by ``make run`` and the container images:

    gunicorn --config docker/gunicorn.conf.py --bind HOST:PORT "producer:create_app()"

Workers and threads come from ``WEB_CONCURRENCY`` and ``NOTIFY_THREADS``.
The hooks start each worker's Kafka clients and consumer thread after the
fork and stop them when the worker exits: the producer flushes, and the
consumer commits and leaves its group. The app factories start them lazily
as well, so the services also run without this file.
"""

import os
import shutil
import tempfile
from pathlib import Path

from common import gunicorn_errors
from common.runtime import EXTENSION_KEY
from common.settings import load_settings

_settings = load_settings()

# prometheus-client reads this variable when it is first imported, so it is
# set here, in the master, before any worker loads the app. Each master gets
# a fresh directory unless the operator names one.
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_created_metrics_dir: str | None = None
if os.environ.get(_METRICS_DIR):
    for stale in Path(os.environ[_METRICS_DIR]).glob("*.db"):
        stale.unlink()
else:
    _created_metrics_dir = tempfile.mkdtemp(prefix="kafka-notify-metrics-")
    os.environ[_METRICS_DIR] = _created_metrics_dir

worker_class = "gthread"
workers = _settings.web_concurrency
threads = _settings.threads

# Gunicorn's defaults, stated because shutdown depends on them: a worker
# finishes its in-flight requests within graceful_timeout of SIGTERM.
timeout = 30
graceful_timeout = 30

accesslog = "-"
errorlog = "-"
# Hides the token query parameter of the feed's event stream.
logger_class = "common.access_log.RedactingLogger"
loglevel = _settings.log_level.lower()

# Requests gunicorn rejects itself (a request line over 4,094 bytes, a
# malformed header) get JSON bodies, like the app's own errors.
gunicorn_errors.install()

# Every gunicorn 27 master would otherwise use the same control socket path.
control_socket_disable = True


def _runtime(worker):
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", {})
    return extensions.get(EXTENSION_KEY)


def post_worker_init(worker):
    """Start the worker's Kafka clients once its app is loaded."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.ensure_started()
        runtime.install_shutdown_signal()


def worker_exit(server, worker):
    """Flush the producer, or commit and close the consumer, as the worker exits."""
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.stop()


def child_exit(server, worker):
    """Drop the exited worker's live gauges from the aggregated metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master created."""
    if _created_metrics_dir is not None:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
