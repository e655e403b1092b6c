"""The consumer's OpenAPI document."""

from flask import Blueprint

from common.api_schemas import (
    ConditionalHeadersSchema,
    FeedQuerySchema,
    MarkReadRequestSchema,
    NotificationPageSchema,
    NotificationPathSchema,
    StreamHeadersSchema,
    StreamQuerySchema,
    UnreadCountSchema,
    UserPathSchema,
)
from common.openapi import (
    auth_responses,
    build_spec,
    common_operations,
    json_content,
    json_response,
    openapi_blueprint,
    package_version,
    text_response,
)

# The feed routes take the token as a bearer token in the Authorization
# header. The stream also takes it as the token query parameter, because a
# browser's EventSource cannot set request headers.
SECURITY_SCHEMES = {
    "feedToken": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "Feed token of the user in the path, required when "
            "NOTIFY_FEED_SECRET is set: the lowercase hex HMAC-SHA256 of the "
            "user id in canonical decimal form, keyed with the secret."
        ),
    }
}
# The empty requirement makes the token optional while feed tokens are off.
_FEED_SECURITY = [{}, {"feedToken": []}]

_ETAG_HEADER = {
    "ETag": {
        "description": "Version of the response, for If-None-Match.",
        "schema": {"type": "string"},
    }
}


def _feed_errors() -> dict[str, dict]:
    """Return the error responses every per-user route shares."""
    return {
        "400": json_response("The user id or another parameter is invalid."),
        **auth_responses(
            "Feed tokens are enabled, and the request has no token or a "
            "malformed one. Checked before anything else.",
            "The token is not this user's token. A path whose user id is "
            "invalid matches no token, so it also gets 403.",
        ),
        "404": json_response('The user does not exist: "User not found".'),
        "503": json_response("The notification store is unavailable; retry."),
    }


def _cached_json_response(description: str, schema) -> dict:
    return {
        "description": description,
        "headers": _ETAG_HEADER,
        "content": json_content(schema),
    }


def _not_modified() -> dict:
    return {
        "description": "Not modified: If-None-Match matches the current ETag.",
        "headers": _ETAG_HEADER,
    }


def list_operation() -> dict:
    """Return the operation object of ``GET /notifications/{userID}``."""
    return {
        "summary": "List a user's notifications",
        "description": (
            "One page of the user's notifications, oldest first unless "
            "order=newest. Follow next_cursor for the next page."
        ),
        "tags": ["feed"],
        "security": _FEED_SECURITY,
        "parameters": [
            {"in": "path", "schema": UserPathSchema},
            {"in": "query", "schema": FeedQuerySchema},
            {"in": "header", "schema": ConditionalHeadersSchema},
        ],
        "responses": {
            "200": _cached_json_response(
                "A page of notifications.", NotificationPageSchema
            ),
            "304": _not_modified(),
            **_feed_errors(),
        },
    }


def unread_count_operation() -> dict:
    """Return the operation object of the unread count route."""
    return {
        "summary": "Count a user's unread notifications",
        "tags": ["feed"],
        "security": _FEED_SECURITY,
        "parameters": [
            {"in": "path", "schema": UserPathSchema},
            {"in": "header", "schema": ConditionalHeadersSchema},
        ],
        "responses": {
            "200": _cached_json_response("The unread count.", UnreadCountSchema),
            "304": _not_modified(),
            **_feed_errors(),
        },
    }


def mark_read_operation() -> dict:
    """Return the operation object of ``POST /notifications/{userID}/read``."""
    return {
        "summary": "Mark notifications read",
        "description": (
            "Mark the listed notifications, or all of them, read. Returns "
            "the unread count afterwards."
        ),
        "tags": ["feed"],
        "security": _FEED_SECURITY,
        "parameters": [{"in": "path", "schema": UserPathSchema}],
        "requestBody": {
            "required": True,
            "content": json_content(MarkReadRequestSchema),
        },
        "responses": {
            "200": json_response("The unread count afterwards.", UnreadCountSchema),
            **_feed_errors(),
            "413": json_response("The body is over the size limit."),
            "415": json_response("The content type is not application/json."),
        },
    }


def delete_operation() -> dict:
    """Return the operation object of the delete route."""
    errors = _feed_errors()
    errors["404"] = json_response(
        'User not found, or "Notification not found" when the user has no '
        "notification with this id. A notificationID that is not a UUID "
        "matches no route, so it also gets 404."
    )
    return {
        "summary": "Delete a notification",
        "tags": ["feed"],
        "security": _FEED_SECURITY,
        "parameters": [{"in": "path", "schema": NotificationPathSchema}],
        "responses": {
            "204": {"description": "Deleted."},
            **errors,
        },
    }


def stream_operation() -> dict:
    """Return the operation object of the Server-Sent Events route."""
    return {
        "summary": "Stream a user's notifications",
        "description": (
            "Server-Sent Events. Each new notification is one event named "
            "notification, with its cursor as the event id and the "
            "Notification JSON as data."
        ),
        "tags": ["feed"],
        "security": _FEED_SECURITY,
        "parameters": [
            {"in": "path", "schema": UserPathSchema},
            {"in": "query", "schema": StreamQuerySchema},
            {"in": "header", "schema": StreamHeadersSchema},
        ],
        "responses": {
            "200": text_response("An open event stream.", "text/event-stream"),
            **_feed_errors(),
        },
    }


def page_operation() -> dict:
    """Return the operation object of the HTML page at ``GET /``."""
    return {
        "summary": "Notifications page",
        "description": "An HTML page that shows a user's notifications.",
        "tags": ["feed"],
        "responses": {"200": text_response("The page.", "text/html")},
    }


def build_consumer_spec() -> dict:
    """Generate the consumer's OpenAPI document."""
    user_path = "/notifications/{userID}"
    operations = {
        "/": {"get": page_operation()},
        user_path: {"get": list_operation()},
        f"{user_path}/unread_count": {"get": unread_count_operation()},
        f"{user_path}/read": {"post": mark_read_operation()},
        f"{user_path}/{{notificationID}}": {"delete": delete_operation()},
        f"{user_path}/stream": {"get": stream_operation()},
        **common_operations(),
    }
    return build_spec(
        "kafka-notify consumer", package_version(), operations, SECURITY_SCHEMES
    )


def openapi_routes() -> Blueprint:
    """Build the blueprint that serves the consumer's OpenAPI document."""
    return openapi_blueprint(build_consumer_spec())
