"""A gunicorn logger that keeps feed tokens out of the access log.

The feed's event stream takes its token as the ``token`` query parameter,
and gunicorn's access log writes the request line with its query string.
``RedactingLogger`` replaces the value of every ``token`` parameter before
the line is written.
"""

import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

REDACTED = "[redacted]"

# A query parameter at the start of a query string or after "?" or "&". Its
# value ends at the next "&", "#" or whitespace.
_PARAMETER = re.compile(r"(^|[?&])([^=&#?\s]+)=([^&#\s]*)")


def _redact_parameter(match: re.Match) -> str:
    # Flask decodes parameter names, so %74oken= is a token parameter too.
    if unquote_plus(match.group(2)) != "token":
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}={REDACTED}"


def redact_tokens(text: str) -> str:
    """Replace the value of each ``token`` query parameter in ``text``."""
    # A name that decodes to "token" either contains it or has a %-escape.
    # Most lines have neither, and skip the regular expression.
    if "token" not in text and "%" not in text:
        return text
    return _PARAMETER.sub(_redact_parameter, text)


class RedactingLogger(Logger):
    """Gunicorn's logger, with credentials hidden in access log lines.

    Every atom has its ``token`` query values replaced: the request line,
    the query string, the Referer and the environ atoms that repeat them.
    Atoms of the ``Authorization`` header are replaced whole, in case an
    access log format names them.
    """

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if "authorization" in name:
                atoms[name] = REDACTED
            elif isinstance(value, str) and "=" in value:
                atoms[name] = redact_tokens(value)
        return atoms
