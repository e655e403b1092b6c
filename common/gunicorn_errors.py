"""JSON bodies for the errors gunicorn returns before the app runs.

Gunicorn rejects some requests itself, such as a request line over
``limit_request_line`` (414) or a malformed header (400), and writes a
small HTML page for them. The shipped configuration replaces that writer
with ``write_json_error`` so these responses have the same JSON shape as the
app's own errors.
"""

import json

from gunicorn import util


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Write a complete HTTP error response with a JSON ``message`` body."""
    detail = f": {mesg}" if mesg else ""
    body = json.dumps({"message": f"{reason}{detail}"}).encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    """Make gunicorn's workers write ``write_json_error`` responses."""
    util.write_error = write_json_error
