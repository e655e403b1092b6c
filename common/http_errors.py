"""One JSON error shape for every error either service returns.

Every error body is ``{"message": "<what failed and what to do>"}``, with
optional extra keys. The handlers below make the framework's own errors
(404, 405, 413, ...) and unexpected exceptions use it too, so a client never
gets an HTML page or a traceback.
"""

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def error_response(
    status_code: int, message: str, **extra
) -> tuple[Response, int]:
    """Build the JSON error response ``{"message": message, **extra}``."""
    return jsonify({"message": message, **extra}), status_code


def _describe_http_error(exc: HTTPException) -> str:
    if exc.code == 404:
        return (
            f"No route matches {request.path}; "
            "check the path against the service's routes"
        )
    if exc.code == 405:
        allowed = exc.valid_methods or []
        return (
            f"Method {request.method} is not allowed on {request.path}; "
            f"use {', '.join(sorted(allowed))}"
        )
    if exc.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit:
            # The apps set the limit one byte above the largest body allowed.
            return f"Request body is over the limit of {limit - 1} bytes"
    return exc.description or exc.name


def register_error_handlers(app: Flask) -> None:
    """Make every error of ``app`` a JSON response."""

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        response, status = error_response(exc.code or 500, _describe_http_error(exc))
        # Keep headers the exception carries, such as Allow on a 405.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value

        return response, status

    @app.errorhandler(Exception)
    def handle_unexpected_error(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(
            500, "Internal server error; the service logged the details"
        )
