"""Marshmallow schemas of the HTTP API, for the generated OpenAPI documents.

The routes build their JSON bodies and read their parameters themselves.
These schemas only describe those bodies and parameters, so that apispec can
turn them into OpenAPI schema and parameter objects. ``SendRequestSchema``
from ``common.schemas`` is the one schema both the route and the document use.
"""

from marshmallow import EXCLUDE, Schema, fields, validate

from common.schemas import MAX_USER_ID

# ECMA-262 patterns, as OpenAPI expects. Python's re gives them the same
# meaning, so marshmallow's Regexp validator can use them too.
USER_ID_PATTERN = r"^[0-9]{1,18}$"
# One to 255 visible ASCII characters: "!" (0x21) to "~" (0x7E).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"

# Copies of the limits in consumer/feed_params.py, because common/ does not
# import from consumer/. tests/unit/test_openapi.py checks that they agree.
DEFAULT_FEED_LIMIT = 100
MAX_FEED_LIMIT = 1000
MAX_READ_IDS = 1000


class ApiSchema(Schema):
    """Base of the schemas below.

    A body may gain keys in a later version, so the generated schemas leave
    additionalProperties unset and extra keys stay valid.
    """

    class Meta:
        unknown = EXCLUDE


class ErrorSchema(ApiSchema):
    """The body of every error response."""

    class Meta(ApiSchema.Meta):
        description = "Error body. Some errors add more keys."

    message = fields.String(
        required=True,
        metadata={"description": "What failed and what to do next."},
    )


class SendErrorSchema(ErrorSchema):
    """The 400 body of ``POST /send``."""

    class Meta(ApiSchema.Meta):
        description = "Invalid request to POST /send."

    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": (
                "Problems by field or header name. Present when the body "
                "decoded but its fields or the Idempotency-Key header are "
                "invalid."
            )
        },
    )


class SendResponseSchema(ApiSchema):
    """The 200 body of ``POST /send``."""

    message = fields.String(
        required=True,
        validate=validate.OneOf(["Notification sent successfully!"]),
    )
    id = fields.UUID(
        required=True,
        metadata={"description": "Id of the notification the broker acknowledged."},
    )


class NotificationUserSchema(ApiSchema):
    """A sender or recipient as a notification shows it."""

    class Meta(ApiSchema.Meta):
        description = "A user, with the id in canonical integer form."

    id = fields.Integer(required=True, validate=validate.Range(0, MAX_USER_ID))
    name = fields.String(required=True)


class NotificationSchema(ApiSchema):
    """One notification in a feed response or an event stream."""

    id = fields.UUID(required=True)
    sender = fields.Nested(NotificationUserSchema, required=True, data_key="from")
    recipient = fields.Nested(NotificationUserSchema, required=True, data_key="to")
    message = fields.String(required=True)
    created_at = fields.String(
        required=True,
        metadata={
            "format": "date-time",
            "description": "Producer's UTC timestamp in RFC 3339 form.",
        },
    )
    read = fields.Boolean(required=True)
    cursor = fields.String(
        required=True,
        metadata={
            "description": (
                "Opaque position of this notification in the user's feed. "
                "Pass it back as cursor or Last-Event-ID."
            )
        },
    )


class NotificationPageSchema(ApiSchema):
    """The 200 body of ``GET /notifications/{userID}``."""

    notifications = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": (
                "Cursor of the next page, or null when this page is the last."
            )
        },
    )
    unread_count = fields.Integer(required=True, validate=validate.Range(min=0))
    message = fields.String(
        metadata={
            "description": (
                'Present as "No notifications found for user" when a request '
                "without cursor finds no notifications."
            )
        },
    )


class UnreadCountSchema(ApiSchema):
    """The number of unread notifications of a user."""

    unread_count = fields.Integer(required=True, validate=validate.Range(min=0))


class MarkReadRequestSchema(ApiSchema):
    """The body of ``POST /notifications/{userID}/read``."""

    class Meta(ApiSchema.Meta):
        description = 'Exactly one of "ids" or "all".'

    ids = fields.List(
        fields.UUID(),
        validate=validate.Length(1, MAX_READ_IDS),
        metadata={"description": "Ids of the notifications to mark read."},
    )
    all = fields.Boolean(
        validate=validate.OneOf([True]),
        metadata={"description": "true marks every notification of the user read."},
    )


class HealthSchema(ApiSchema):
    """The 200 body of ``GET /healthz``."""

    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class ReadinessSchema(ApiSchema):
    """The 200 body of ``GET /readyz``."""

    status = fields.String(required=True, validate=validate.OneOf(["ready"]))


class NotReadySchema(ErrorSchema):
    """The 503 body of ``GET /readyz``."""

    class Meta(ApiSchema.Meta):
        description = "The service is not ready. message gives the reason."

    status = fields.String(required=True, validate=validate.OneOf(["not ready"]))


# Parameter schemas. apispec expands each field into one parameter object,
# named by its data_key when it has one.


class SendHeadersSchema(ApiSchema):
    """The optional request headers of ``POST /send``."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(IDEMPOTENCY_KEY_PATTERN),
        metadata={
            "description": (
                "Client-chosen key that makes a retried send safe. The "
                "notification id is derived from the sender and this key, so "
                "every retry returns the same id, and the feed keeps only the "
                "first notification with it."
            )
        },
    )


class UserPathSchema(ApiSchema):
    """The path of a user's feed routes."""

    userID = fields.String(
        required=True,
        validate=validate.Regexp(USER_ID_PATTERN),
        metadata={"description": "User id: 1 to 18 ASCII digits."},
    )


class NotificationPathSchema(UserPathSchema):
    """The path of one notification of a user."""

    notificationID = fields.UUID(required=True)


class FeedQuerySchema(ApiSchema):
    """The query of ``GET /notifications/{userID}``."""

    limit = fields.Integer(
        load_default=DEFAULT_FEED_LIMIT,
        validate=validate.Range(1, MAX_FEED_LIMIT),
        metadata={"description": "Maximum number of notifications to return."},
    )
    cursor = fields.String(
        metadata={
            "description": (
                "Return the notifications after this one: a cursor or "
                "next_cursor from an earlier response."
            )
        },
    )
    order = fields.String(
        load_default="oldest",
        validate=validate.OneOf(["oldest", "newest"]),
    )


class ConditionalHeadersSchema(ApiSchema):
    """The conditional request header of the cacheable feed routes."""

    if_none_match = fields.String(
        data_key="If-None-Match",
        metadata={"description": "ETag of an earlier response; a match gets 304."},
    )


class StreamQuerySchema(ApiSchema):
    """The query of ``GET /notifications/{userID}/stream``."""

    last_event_id = fields.String(
        metadata={
            "description": (
                "Resume after the notification with this cursor; the "
                "Last-Event-ID header does the same."
            )
        },
    )
    token = fields.String(
        metadata={
            "description": (
                "Feed token, for clients that cannot send the Authorization "
                "header, such as EventSource. A bearer token in that header "
                "takes precedence."
            )
        },
    )


class StreamHeadersSchema(ApiSchema):
    """The request header a reconnecting EventSource sends."""

    last_event_id = fields.String(
        data_key="Last-Event-ID",
        metadata={"description": "Resume after the notification with this cursor."},
    )
