"""Prometheus metrics of both services, served at ``GET /metrics``.

Under the shipped gunicorn configuration, ``PROMETHEUS_MULTIPROC_DIR`` is
set before any worker starts, so prometheus-client runs in its multiprocess
mode: each worker writes its values to files there and ``/metrics``
aggregates every live worker, whichever worker serves the scrape. Without
that variable, each process reports only its own values.
"""

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Other method names are counted as "other", so a client cannot create
# label values at will.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "notify_http_requests_total",
    "HTTP requests served, by service, route, method and status code.",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "notify_http_request_duration_seconds",
    "Time to serve an HTTP request, by service and route.",
    ["service", "route"],
)
PUBLISHED = Counter(
    "notify_notifications_published_total",
    "Notifications the broker acknowledged.",
)
PUBLISH_FAILED = Counter(
    "notify_notifications_publish_failed_total",
    "Notifications not acknowledged, by reason: queue_full, rejected, "
    "delivery_failed or timeout.",
    ["reason"],
)
DELIVERY_LATENCY = Histogram(
    "notify_delivery_latency_seconds",
    "Time from producing a record to the broker's acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS_CONSUMED = Counter(
    "notify_records_consumed_total",
    "Records the consumer read from the topic, valid or not.",
)
NOTIFICATIONS_STORED = Counter(
    "notify_notifications_stored_total",
    "Notifications newly written to the store (duplicates not counted).",
)
RECORDS_SKIPPED = Counter(
    "notify_records_skipped_total",
    "Invalid records the consumer skipped.",
)
RECORDS_DEAD_LETTERED = Counter(
    "notify_records_dead_lettered_total",
    "Invalid records the consumer published to the dead-letter topic and the "
    "broker acknowledged.",
)
LAST_COMMIT = Gauge(
    "notify_consumer_last_commit_timestamp_seconds",
    "Unix time of the last successful offset commit by any consumer worker.",
    multiprocess_mode="max",
)
SECONDS_SINCE_COMMIT = Gauge(
    "notify_consumer_seconds_since_last_commit",
    "Seconds since the last offset commit (or since the assignment, before "
    "the first commit), for the live worker where it is largest; workers "
    "without partitions report 0. It grows on an idle topic too.",
    multiprocess_mode="livemax",
)


def _registry() -> CollectorRegistry:
    if MULTIPROC_DIR_VARIABLE not in os.environ:
        return REGISTRY

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_blueprint() -> Blueprint:
    """Build the ``GET /metrics`` route."""
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def metrics():
        # content_type, not mimetype: CONTENT_TYPE_LATEST already names the
        # charset, and Flask would add it a second time.
        return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)

    return blueprint


def instrument_requests(app: Flask, service: str) -> None:
    """Count every request of ``app`` and time it, labelled by route."""

    @app.before_request
    def start_timer():
        g.notify_request_started = time.perf_counter()

    @app.after_request
    def record_request(response):
        # The route pattern, not the path, keeps label values bounded.
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(service, rule, method, str(response.status_code)).inc()
        started = g.get("notify_request_started")
        if started is not None:
            HTTP_DURATION.labels(service, rule).observe(time.perf_counter() - started)
        return response
