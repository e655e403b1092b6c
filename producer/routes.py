"""The ``POST /send`` route."""

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError

from common.errors import DeliveryError
from common.http_errors import error_response
from common.models import Notification
from common.schemas import SendRequestSchema, describe_errors
from producer import idempotency
from producer.request_body import BodyError, read_send_body

log = logging.getLogger(__name__)

blueprint = Blueprint("send", __name__)
_schema = SendRequestSchema()


@blueprint.post("/send")
def send():
    """Publish a notification and return its id once Kafka has it."""
    try:
        fields = read_send_body(request)
    except BodyError as exc:
        return error_response(exc.status, exc.message)

    # The idempotency key is checked with the fields, so that one 400 names
    # every invalid field and header.
    key = request.headers.get(idempotency.HEADER)
    errors = {}
    try:
        data = _schema.load(fields)
    except ValidationError as exc:
        errors = exc.messages
    key_problem = idempotency.key_problem(key)
    if key_problem:
        errors = {**errors, idempotency.HEADER: [key_problem]}
    if errors:
        return error_response(
            400, f"Invalid request: {describe_errors(errors)}", errors=errors
        )

    users = current_app.extensions["notify_users"]
    sender = users.get(data["fromID"])
    recipient = users.get(data["toID"])
    if sender is None or recipient is None:
        return error_response(404, "User not found")

    notification = Notification(
        id=idempotency.notification_id(sender.id, key),
        sender=sender,
        recipient=recipient,
        message=data["message"],
        created_at=_utc_timestamp(),
    )
    publisher = current_app.extensions["notify_runtime"].ensure_started()
    try:
        publisher.publish(notification)
    except DeliveryError as exc:
        log.warning("Notification %s not sent: %s", notification.id, exc)
        return error_response(503, f"Notification not sent: {exc}; retry it")

    return jsonify(
        {"message": "Notification sent successfully!", "id": notification.id}
    )


def _utc_timestamp() -> str:
    """Return the current UTC time as RFC 3339 with microseconds and ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
