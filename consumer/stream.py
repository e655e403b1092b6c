"""``GET /notifications/<userID>/stream``: new notifications as Server-Sent Events.

Each event is ``event: notification``, ``id: <cursor>`` and
``data: <notification JSON>``. A client that reconnects with the last id it
saw, in the ``Last-Event-ID`` header or the ``last_event_id`` query
parameter, gets every later notification once. A stream occupies one
gunicorn thread for as long as it is open.
"""

import logging
from collections.abc import Iterator

import orjson
from flask import Blueprint, Response, current_app, request

from common.errors import StoreError
from common.http_errors import error_response
from consumer.feed_params import ParameterError, parse_cursor, parse_user
from consumer.routes import notification_json
from consumer.service import ConsumerService

log = logging.getLogger(__name__)

blueprint = Blueprint("stream", __name__)

# Notifications fetched per store read while catching up.
_BATCH = 100


@blueprint.get("/notifications/<user_id>/stream")
def stream(user_id: str):
    """Stream a user's new notifications as Server-Sent Events."""
    try:
        user = parse_user(user_id)
        resume_from = _resume_point()
    except ParameterError as exc:
        return error_response(400, str(exc))
    if current_app.extensions["notify_users"].get(user) is None:
        return error_response(404, "User not found")

    service = current_app.extensions["notify_runtime"].ensure_started()
    keepalive = current_app.extensions["notify_settings"].stream_keepalive_seconds
    try:
        after_seq = service.store.last_seq() if resume_from is None else resume_from
    except StoreError as exc:
        log.error("Opening the stream of user %d failed: %s", user, exc)
        return error_response(503, "Notification store unavailable; retry shortly")

    return Response(
        _events(service, user, after_seq, keepalive),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_point() -> int | None:
    header = request.headers.get("Last-Event-ID")
    if header:
        return parse_cursor("Last-Event-ID", header)
    query = request.args.get("last_event_id")
    if query:
        return parse_cursor("last_event_id", query)
    return None


def _events(
    service: ConsumerService, user: int, after_seq: int, keepalive: float
) -> Iterator[str]:
    """Yield events until the client leaves or the worker stops."""
    watcher = service.watcher
    # Tell the client how long to wait before reconnecting, and send the
    # headers at once so that EventSource reports the stream open.
    yield "retry: 2000\n\n"
    while not watcher.stopping:
        # Read before the query: a notification stored during the query
        # raises last_seq above this and ends the wait below at once.
        seen = watcher.last_seq
        try:
            items, more = service.store.page(user, limit=_BATCH, after_seq=after_seq)
        except StoreError as exc:
            log.warning("Stream of user %d cannot read the store: %s", user, exc)
            items, more = [], False
        for item in items:
            after_seq = item.seq
            yield _format(item)
        if more:
            continue
        if not watcher.wait_beyond(seen, keepalive) and not watcher.stopping:
            # A comment line keeps proxies from closing an idle stream and
            # shows whether the client is still there.
            yield ": keep-alive\n\n"


def _format(item) -> str:
    body = notification_json(item)
    data = orjson.dumps(body).decode("utf-8")
    return f"event: notification\nid: {body['cursor']}\ndata: {data}\n\n"
