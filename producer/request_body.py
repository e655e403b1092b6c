"""Decode the body of ``POST /send`` into a dict of fields.

The checks follow the product's order: size (413), content type (415), then
decoding (400). Field validation happens afterwards, in the schema. Form
bodies are parsed here with strict UTF-8 because werkzeug's own form parsing
replaces invalid bytes instead of rejecting them.
"""

from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from common.strict_json import loads_strict

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 100

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
ACCEPTED_TYPES = (FORM, MULTIPART, JSON)


class BodyError(Exception):
    """The body cannot be used; ``status`` is the HTTP status to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_send_body(request: Request) -> dict:
    """Return the fields of a /send body, or raise ``BodyError``."""
    raw = _read_limited(request)
    mimetype = request.mimetype
    if mimetype not in ACCEPTED_TYPES:
        content_type = mimetype or "none"
        raise BodyError(
            415,
            f"Unsupported content type {content_type}; send {FORM}, {MULTIPART} "
            f"or {JSON}",
        )

    if mimetype == JSON:
        return _decode_json(raw)
    if mimetype == FORM:
        return _decode_urlencoded(raw)
    return _decode_multipart(raw, request.mimetype_params.get("boundary"))


def _read_limited(request: Request) -> bytes:
    too_large = BodyError(
        413, f"Request body is over the limit of {MAX_BODY_BYTES} bytes"
    )
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    try:
        # Werkzeug stops reading a chunked body at MAX_CONTENT_LENGTH without
        # an error, so the app sets it one byte above the limit and a body
        # that reaches that byte is too large.
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(raw) > MAX_BODY_BYTES:
        raise too_large

    return raw


def _decode_json(raw: bytes) -> dict:
    try:
        data = loads_strict(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"Body is not valid UTF-8: {exc.reason}") from None
    except ValueError as exc:
        raise BodyError(400, f"Body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BodyError(400, "Body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise BodyError(
            400, "JSON body must be an object with fromID, toID and message"
        )

    return data



def _decode_urlencoded(raw: bytes) -> dict:
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise BodyError(
            400,
            "Form body is not valid: it must be ASCII with UTF-8 "
            "percent-encoding",
        ) from None
    except ValueError as exc:
        raise BodyError(400, f"Form body is not valid: {exc}") from None

    return _single_values(pairs)


def _decode_multipart(raw: bytes, boundary: str | None) -> dict:
    if not boundary:
        raise BodyError(400, "Multipart body has no boundary parameter")

    decoder = MultipartDecoder(boundary.encode("latin-1"), MAX_BODY_BYTES)
    decoder.receive_data(raw)
    decoder.receive_data(None)
    pairs: list[tuple[str, str]] = []
    name, chunks, is_file = "", [], False
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, (Epilogue, NeedData)):
                break
            if isinstance(event, (Field, File)):
                name, chunks, is_file = event.name, [], isinstance(event, File)
            elif isinstance(event, Data):
                chunks.append(event.data)
                if not event.more_data:
                    pairs.append((name, _decode_part(name, chunks, is_file)))
    except ValueError as exc:
        raise BodyError(400, f"Multipart body is not valid: {exc}") from None
    if not isinstance(event, Epilogue):
        raise BodyError(400, "Multipart body is not valid: it ends early")
    if len(pairs) > MAX_FIELDS:
        raise BodyError(400, f"Body has more than {MAX_FIELDS} fields")

    return _single_values(pairs)


def _decode_part(name: str, chunks: list[bytes], is_file: bool) -> str:
    if is_file:
        raise BodyError(400, f"Field {name} must be a form field, not a file")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, f"Field {name} is not valid UTF-8") from None


def _single_values(pairs: list[tuple[str, str]]) -> dict:
    data: dict[str, str] = {}
    for key, value in pairs:
        if key in data:
            raise BodyError(400, f"Field {key} appears more than once; send it once")
        data[key] = value
    return data
