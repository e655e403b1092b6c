"""Bearer authentication: API keys on ``POST /send``, tokens on each feed.

Both schemes are off unless configured. A protected request without usable
credentials gets 401 with ``WWW-Authenticate: Bearer``, and one whose key or
token does not match gets 403. ``install_auth`` runs the check in a
``before_request`` hook, so it comes before every other check of the route:
body size, content type, parameters and the user lookup.
"""

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping

from flask import Flask, Response, request

from common.http_errors import error_response
from common.schemas import parse_user_id

log = logging.getLogger(__name__)

# API keys and idempotency keys: 1 to 255 visible ASCII characters, "!"
# (0x21) to "~" (0x7E), so no spaces or control characters.
_KEY = re.compile(r"[!-~]{1,255}")
# A presented credential: visible ASCII of any length. A long one is well
# formed and simply matches nothing.
_CREDENTIAL = re.compile(r"[!-~]+")

# A guard checks the credentials of the current request. It returns None to
# let the request through, or the 401 or 403 response.
Guard = Callable[[], Response | None]


def is_valid_key(text: str) -> bool:
    """Return whether ``text`` is 1 to 255 visible ASCII characters."""
    return _KEY.fullmatch(text) is not None


def bearer_token(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header.

    Returns None when the header is missing, uses another scheme, or has an
    empty token or one with characters other than visible ASCII. The scheme
    name is case-insensitive (RFC 7235, section 2.1).
    """
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return _credential(token.strip())


def feed_token(secret: bytes, user_id: int) -> str:
    """Compute the feed token of ``user_id``.

    The token is the lowercase hex HMAC-SHA256 of the canonical decimal id
    (``7`` for a path ``007``) under the secret.
    """
    message = str(user_id).encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def secret_bytes(secret: str) -> bytes:
    """Return the bytes of a secret read from the environment.

    Python decodes environment variables with ``surrogateescape``, so this
    restores the original bytes even when they are not valid UTF-8.
    """
    return secret.encode("utf-8", "surrogateescape")


def api_key_guard(api_keys: tuple[str, ...]) -> Guard:
    """Build the guard that requires one of ``api_keys`` as a bearer token."""
    # Comparing SHA-256 digests gives every comparison the same length, so
    # the time taken does not depend on the length of any configured key.
    digests = [_sha256(key) for key in api_keys]

    def check_api_key() -> Response | None:
        presented = bearer_token(request.headers.get("Authorization"))
        if presented is None:
            return unauthorized(
                "Missing or malformed credentials: send the header "
                "Authorization: Bearer <API key>"
            )
        presented_digest = _sha256(presented)
        matched = False
        # No early exit, so the time taken does not reveal which key matched.
        for digest in digests:
            matched |= hmac.compare_digest(presented_digest, digest)
        if not matched:
            return forbidden("The API key is not valid for this service")
        return None

    return check_api_key


def feed_token_guard(secret: str, allow_query: bool = False) -> Guard:
    """Build the guard that requires the feed token of the path's user.

    The route's path must have a ``user_id`` argument. With ``allow_query``,
    a ``token`` query parameter is accepted when the request has no bearer
    token, because a browser's EventSource cannot set request headers.
    """
    key = secret_bytes(secret)

    def check_feed_token() -> Response | None:
        presented = bearer_token(request.headers.get("Authorization"))
        if presented is None and allow_query:
            presented = _credential(request.args.get("token", ""))
        if presented is None:
            where = " or the token query parameter" if allow_query else ""
            return unauthorized(
                "Missing or malformed credentials: send the user's feed "
                f"token in the header Authorization: Bearer <token>{where}"
            )

        user_id = parse_user_id((request.view_args or {}).get("user_id", ""))
        # A path that is not a valid user id has no token, so nothing matches.
        if user_id is None or not hmac.compare_digest(
            presented, feed_token(key, user_id)
        ):
            return forbidden("The token does not grant access to this user's feed")
        return None

    return check_feed_token


def install_auth(app: Flask, guards: Mapping[str, Guard]) -> None:
    """Run the guard of each request's blueprint before anything else.

    ``guards`` maps blueprint names to guards. Requests to other blueprints,
    unknown paths and wrong methods pass unchecked. Preflight ``OPTIONS``
    requests pass too, because browsers send no credentials on them, and
    flask-cors then responds to them.
    """
    if not guards:
        return
    log.info("Bearer authentication is on for blueprints %s", ", ".join(guards))

    @app.before_request
    def authenticate() -> Response | None:
        if request.method == "OPTIONS":
            return None
        guard = guards.get(request.blueprint or "")
        return guard() if guard else None


def unauthorized(message: str) -> Response:
    """Build a 401 response with the challenge ``WWW-Authenticate: Bearer``."""
    response, status = error_response(401, message)
    response.status_code = status
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def forbidden(message: str) -> Response:
    """Build a 403 response."""
    response, status = error_response(403, message)
    response.status_code = status
    return response


def _credential(text: str) -> str | None:
    return text if _CREDENTIAL.fullmatch(text) else None


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("ascii")).digest()
