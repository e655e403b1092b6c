"""The feed route: ``GET /notifications/<userID>``."""

import logging

from flask import Blueprint, current_app, jsonify

from common.errors import StoreError
from common.http_errors import error_response
from common.schemas import MAX_USER_ID, parse_user_id

log = logging.getLogger(__name__)

blueprint = Blueprint("feed", __name__)


@blueprint.get("/notifications/<user_id>")
def list_notifications(user_id: str):
    """Return a user's notifications, oldest first."""
    parsed = parse_user_id(user_id)
    if parsed is None:
        return error_response(
            400,
            f"Invalid user id {user_id!r}: use 1 to 18 ASCII digits "
            f"(0 to {MAX_USER_ID})",
        )
    if current_app.extensions["notify_users"].get(parsed) is None:
        return error_response(404, "User not found")

    service = current_app.extensions["notify_runtime"].ensure_started()
    try:
        notifications = service.store.list_for_user(parsed)
    except StoreError as exc:
        log.error("Reading notifications of user %d failed: %s", parsed, exc)
        return error_response(503, "Notification store unavailable; retry shortly")

    body = {"notifications": [n.to_dict() for n in notifications]}
    if not notifications:
        body["message"] = "No notifications found for user"
    return jsonify(body)
