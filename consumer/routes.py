"""The feed routes: a user's notifications, their read state and deletion."""

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify, request

from common.errors import StoreError
from common.http_errors import error_response
from common.strict_json import loads_strict
from consumer.cursors import encode_cursor
from consumer.feed_params import (
    PageQuery,
    ParameterError,
    parse_mark_read,
    parse_page_query,
    parse_user,
)
from consumer.page_cache import CachedPage, PageCache
from consumer.store import NotificationStore, StoredNotification

log = logging.getLogger(__name__)

blueprint = Blueprint("feed", __name__)

STORE_UNAVAILABLE = "Notification store unavailable; retry shortly"
# The key of the app's PageCache in ``app.extensions``.
PAGE_CACHE_KEY = "notify_page_cache"
# Bodies of the feed routes are small JSON objects.
MAX_BODY_BYTES = 64 * 1024


def notification_json(stored: StoredNotification) -> dict:
    """Return a stored notification as the API shows it."""
    body = stored.notification.to_dict()
    body["read"] = stored.read
    body["cursor"] = encode_cursor(stored.seq)
    return body


def _store() -> NotificationStore:
    return current_app.extensions["notify_runtime"].ensure_started().store


def _user_exists(user_id: int) -> bool:
    return current_app.extensions["notify_users"].get(user_id) is not None


def _conditional(body: dict) -> Response:
    """Return ``body`` as JSON with an ETag, or 304 when the client has it."""
    response = jsonify(body)
    response.add_etag()
    return response.make_conditional(request)


def _page_cache() -> PageCache:
    return current_app.extensions[PAGE_CACHE_KEY]


def _build_page(store: NotificationStore, user: int, query: PageQuery) -> Response:
    """Read one page of the feed and return it as JSON with an ETag."""
    items, more = store.page(
        user,
        limit=query.limit,
        after_seq=query.after_seq,
        newest_first=query.newest_first,
    )
    body = {
        "notifications": [notification_json(item) for item in items],
        "next_cursor": encode_cursor(items[-1].seq) if more else None,
        "unread_count": store.unread_count(user),
    }
    if not items and query.after_seq is None:
        body["message"] = "No notifications found for user"
    response = jsonify(body)
    response.add_etag()
    return response


def _run(user_text: str, parse: Callable[[], object], action: Callable):
    """Validate, check the user, then run ``action`` against the store.

    Parameters are checked before the user, so invalid input gets its 400
    before an unknown user gets 404.
    """
    try:
        user_id = parse_user(user_text)
        parsed = parse()
    except ParameterError as exc:
        return error_response(exc.status, str(exc))
    if not _user_exists(user_id):
        return error_response(404, "User not found")

    try:
        return action(_store(), user_id, parsed)
    except StoreError as exc:
        log.error("Store failed for user %d on %s: %s", user_id, request.path, exc)
        return error_response(503, STORE_UNAVAILABLE)


@blueprint.get("/notifications/<user_id>")
def list_notifications(user_id: str):
    """Return one page of a user's notifications, oldest first by default."""

    def page(store: NotificationStore, user: int, query: PageQuery) -> Response:
        # Read before the page, so a change made in between gives the page a
        # version older than its content, never newer.
        version = store.feed_version(user)
        if version is None:
            return _build_page(store, user, query).make_conditional(request)

        key = (user, query)
        cached = _page_cache().get(key, version)
        if cached is None:
            response = _build_page(store, user, query)
            cached = CachedPage(version, response.get_data(), response.get_etag()[0])
            _page_cache().put(key, cached)
        else:
            response = Response(cached.body, mimetype="application/json")
            response.set_etag(cached.etag)
        return response.make_conditional(request)

    return _run(user_id, lambda: parse_page_query(request.args), page)


@blueprint.get("/notifications/<user_id>/unread_count")
def unread_count(user_id: str):
    """Return how many of a user's notifications are unread."""
    return _run(
        user_id,
        lambda: None,
        lambda store, user, _: _conditional(
            {"unread_count": store.unread_count(user)}
        ),
    )


@blueprint.post("/notifications/<user_id>/read")
def mark_read(user_id: str):
    """Mark some or all of a user's notifications read."""

    def parse() -> list[str] | None:
        if request.mimetype != "application/json":
            raise ParameterError(
                "Unsupported content type; send application/json", status=415
            )
        raw = request.get_data()
        if len(raw) > MAX_BODY_BYTES:
            raise ParameterError(
                f"Request body is over the limit of {MAX_BODY_BYTES} bytes", status=413
            )
        try:
            body = loads_strict(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParameterError(f"Body is not valid UTF-8 JSON: {exc}") from None
        except RecursionError:
            raise ParameterError("Body is not valid JSON: nested too deeply") from None
        return parse_mark_read(body)

    return _run(
        user_id,
        parse,
        lambda store, user, ids: jsonify({"unread_count": store.mark_read(user, ids)}),
    )


@blueprint.delete("/notifications/<user_id>/<uuid:notification_id>")
def delete_notification(user_id: str, notification_id):
    """Delete one of a user's notifications."""

    def delete(store: NotificationStore, user: int, _) -> Response:
        if not store.delete(user, str(notification_id)):
            return error_response(404, "Notification not found")
        return Response(status=204)

    return _run(user_id, lambda: None, delete)
