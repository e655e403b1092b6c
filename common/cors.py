"""CORS for browser ``fetch`` from other origins, with flask-cors."""

from flask import Flask
from flask_cors import CORS

from common.settings import Settings

# Request headers a browser client may send: the body type, credentials,
# the idempotency key of /send, and the conditional and resume headers of
# the feed.
_ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "Last-Event-ID",
]


def enable_cors(app: Flask, settings: Settings) -> None:
    """Handle preflight requests and add CORS headers to every response.

    The allowed origins come from ``NOTIFY_CORS_ORIGINS``. flask-cors adds
    its headers after the error handlers have built their JSON responses,
    so errors carry them too.
    """
    any_origin = "*" in settings.cors_origins
    CORS(
        app,
        origins="*" if any_origin else list(settings.cors_origins),
        send_wildcard=any_origin,
        allow_headers=_ALLOWED_HEADERS,
        expose_headers=["ETag"],
        methods=["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
        max_age=600,
    )
