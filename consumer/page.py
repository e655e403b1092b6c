"""The browser page of the consumer: ``GET /`` and its files under ``/assets``.

The page reads a user's feed from this service, follows new notifications
over the feed's Server-Sent Events stream and sends notifications through
the producer, whose URL it takes from a ``<meta>`` tag.
"""

import re
from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template

from common.errors import SettingsError
from common.settings import Settings
from common.users import DEFAULT_USERS

# A host and optional port that can be written in a Content-Security-Policy
# source expression: no user info, no spaces, commas or semicolons.
_CSP_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def page_blueprint(settings: Settings) -> Blueprint:
    """Build the blueprint of the page and its static files.

    Raises ``SettingsError`` when ``NOTIFY_PRODUCER_URL`` has user info or a
    host that a browser cannot be allowed to connect to.
    """
    # Not /static: by default a Flask app registers /static/<path:filename>
    # for its own static folder, and that rule would shadow this one.
    blueprint = Blueprint(
        "page",
        __name__,
        static_folder="static",
        static_url_path="/assets",
        template_folder="templates",
    )
    producer_origin = _producer_origin(settings.producer_url)
    security_policy = _content_security_policy(producer_origin)
    # With a users file the page offers the id input alone, because the
    # user directory supports lookups by id only.
    quick_users = DEFAULT_USERS if settings.users_file is None else ()

    @blueprint.get("/")
    def index():
        html = render_template(
            "index.html",
            producer_url=settings.producer_url,
            quick_users=quick_users,
        )
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = security_policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return blueprint


def _producer_origin(producer_url: str) -> str:
    parts = urlsplit(producer_url)
    if not _CSP_HOST.fullmatch(parts.netloc):
        raise SettingsError(
            "NOTIFY_PRODUCER_URL",
            f"invalid value {producer_url!r}: the page needs a URL with a "
            "plain host and optional port, such as http://localhost:8080",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _content_security_policy(producer_origin: str) -> str:
    """Build a policy that runs only the page's own script and style.

    Notification text never reaches the DOM as HTML, so this policy is a
    second line of defence, which also blocks inline event handlers.
    """
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: is for the empty favicon link, which stops a /favicon.ico
        # request.
        "img-src 'self' data:",
        f"connect-src 'self' {producer_origin}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)
