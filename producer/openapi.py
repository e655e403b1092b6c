"""The producer's OpenAPI document."""

from flask import Blueprint

from common.api_schemas import SendErrorSchema, SendHeadersSchema, SendResponseSchema
from common.openapi import (
    auth_responses,
    build_spec,
    common_operations,
    json_response,
    openapi_blueprint,
    package_version,
)
from common.schemas import SendRequestSchema
from producer.request_body import ACCEPTED_TYPES, MAX_BODY_BYTES

SECURITY_SCHEMES = {
    "producerKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "Producer API key, required when API keys are enabled.",
    }
}


def send_operation() -> dict:
    """Return the operation object of ``POST /send``."""
    return {
        "summary": "Send a notification",
        "description": (
            "Publish a notification from one user to another. The response "
            "comes once the broker has acknowledged the record."
        ),
        "tags": ["notifications"],
        # The empty requirement makes the key optional while keys are disabled.
        "security": [{}, {"producerKey": []}],
        "parameters": [{"in": "header", "schema": SendHeadersSchema}],
        "requestBody": {
            "required": True,
            "description": f"At most {MAX_BODY_BYTES} bytes.",
            "content": {
                media_type: {"schema": SendRequestSchema}
                for media_type in ACCEPTED_TYPES
            },
        },
        "responses": {
            "200": json_response("The broker acknowledged it.", SendResponseSchema),
            "400": json_response(
                "The body cannot be decoded, or a field or the Idempotency-Key "
                "header is invalid.",
                SendErrorSchema,
            ),
            **auth_responses(
                "API keys are enabled, and the request has no bearer token or "
                "a malformed one. Checked before anything else.",
                "The bearer token is not one of the API keys.",
            ),
            "404": json_response("The sender or recipient does not exist."),
            "413": json_response(f"The body is over {MAX_BODY_BYTES} bytes."),
            "415": json_response("The content type is not form, multipart or JSON."),
            "503": json_response(
                "Not acknowledged in time, or the local queue is full. The "
                "record may still have been written, so retry it."
            ),
        },
    }


def build_producer_spec() -> dict:
    """Generate the producer's OpenAPI document."""
    operations = {"/send": {"post": send_operation()}, **common_operations()}
    return build_spec(
        "kafka-notify producer", package_version(), operations, SECURITY_SCHEMES
    )


def openapi_routes() -> Blueprint:
    """Build the blueprint that serves the producer's OpenAPI document."""
    return openapi_blueprint(build_producer_spec())
