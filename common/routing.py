"""URL matching rules both services apply before routing a request."""

from flask import Flask, request
from werkzeug.exceptions import NotFound


def strict_routing(app: Flask) -> None:
    """Route only paths written exactly as the routes are.

    Werkzeug merges repeated slashes by default, so ``/notifications//1``
    would redirect with an HTML body, and gunicorn reads a target starting
    with ``//`` as a host name followed by a path, so ``POST //send`` would
    publish. The server also decodes ``%2F`` before routing, so
    ``/notifications%2F1`` would reach ``/notifications/1``. All of them get
    the JSON 404 of an unknown path instead.
    """
    app.url_map.merge_slashes = False

    @app.before_request
    def reject_ambiguous_path():
        # RAW_URI (gunicorn) and REQUEST_URI (other servers) keep the target
        # as the client sent it, before parsing and percent-decoding.
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        if not raw:
            return
        path = raw.split("?", 1)[0]
        # An absolute-form target (http://host/path) is routed by its path.
        scheme, separator, rest = path.partition("://")
        if separator and scheme.lower() in ("http", "https"):
            path = "/" + rest.partition("/")[2]
        if "//" in path or "%2f" in path.lower():
            raise NotFound()
