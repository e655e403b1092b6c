"""Tests of read_send_body: size, content type and decoding of /send bodies."""

import io

import pytest
from werkzeug.test import EnvironBuilder

from producer.request_body import MAX_BODY_BYTES, BodyError, read_send_body

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
BOUNDARY = "test-boundary-7f3a"
MULTIPART_TYPE = f"{MULTIPART}; boundary={BOUNDARY}"


def make_request(data: bytes, content_type: str | None = None, **kwargs):
    builder = EnvironBuilder(
        method="POST", path="/send", data=data, content_type=content_type, **kwargs
    )
    return builder.get_request()


def make_chunked_request(data: bytes, content_type: str):
    """Build a request whose body arrives with Transfer-Encoding: chunked.

    Werkzeug ignores Content-Length on a chunked request, so its
    ``content_length`` is None. Gunicorn decodes the chunks itself and sets
    ``wsgi.input_terminated``; without that key werkzeug reads an empty body.
    """
    builder = EnvironBuilder(
        method="POST",
        path="/send",
        input_stream=io.BytesIO(data),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    return builder.get_request()


def body_error(request) -> BodyError:
    with pytest.raises(BodyError) as caught:
        read_send_body(request)
    return caught.value


def multipart_part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    headers = f"Content-Disposition: {disposition}\r\n"
    if filename is not None:
        headers += "Content-Type: text/plain\r\n"
    return f"--{BOUNDARY}\r\n{headers}\r\n".encode("ascii") + value + b"\r\n"


def multipart_body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode("ascii")


SEND_FIELDS = multipart_body(
    multipart_part("fromID", b"2"),
    multipart_part("toID", b"1"),
    multipart_part("message", "Zoë liked your post: 'Café ☕'".encode()),
)


# Size: 413 comes before every other check.


def test_body_over_limit():
    error = body_error(make_request(b"x" * (MAX_BODY_BYTES + 1), FORM))

    assert error.status == 413
    assert str(MAX_BODY_BYTES) in error.message


def test_body_limit_is_64_kib():
    assert MAX_BODY_BYTES == 64 * 1024


def test_body_at_limit_accepted():
    padding = "x" * (MAX_BODY_BYTES - len("message="))
    data = f"message={padding}".encode("ascii")

    fields = read_send_body(make_request(data, FORM))

    assert len(data) == MAX_BODY_BYTES
    assert fields == {"message": padding}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", None, JSON],
    ids=["wrong-type", "no-type", "json"],
)
def test_body_over_limit_before_content_type(content_type):
    error = body_error(make_request(b"{" * (MAX_BODY_BYTES + 1), content_type))

    assert error.status == 413


def test_body_chunked_within_limit():
    request = make_chunked_request(b'{"fromID": 2, "toID": 1}', JSON)

    assert request.content_length is None
    assert read_send_body(request) == {"fromID": 2, "toID": 1}


@pytest.mark.parametrize(
    "content_type", [JSON, "text/plain"], ids=["json", "wrong-type"]
)
def test_body_chunked_over_limit(content_type):
    request = make_chunked_request(b"x" * (MAX_BODY_BYTES + 1), content_type)

    error = body_error(request)

    assert request.content_length is None
    assert error.status == 413


# Content type: 415 comes before decoding.


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/json",
        "application/xml",
        "application/octet-stream",
        "application/json-patch+json",
        "multipart/mixed; boundary=x",
    ],
)
def test_body_unsupported_content_type(content_type):
    error = body_error(make_request(b"not even decodable \xff", content_type))

    assert error.status == 415
    assert content_type.split(";")[0] in error.message
    assert JSON in error.message


def test_body_missing_content_type():
    error = body_error(make_request(b'{"fromID": 1}'))

    assert error.status == 415
    assert "none" in error.message


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
    ],
    ids=["charset", "charset-no-space", "upper-case"],
)
def test_body_json_content_type_variants(content_type):
    fields = read_send_body(make_request(b'{"toID": "1"}', content_type))

    assert fields == {"toID": "1"}


# JSON bodies


def test_body_json_object():
    data = '{"fromID": 2, "toID": "1", "message": "Zoë ☕", "extra": null}'

    fields = read_send_body(make_request(data.encode(), JSON))

    assert fields == {"fromID": 2, "toID": "1", "message": "Zoë ☕", "extra": None}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"message": "caf\xe9"}', "not valid UTF-8"),
        (b'\xff{"message": "x"}', "not valid UTF-8"),
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"fromID": 1,}', "not valid JSON"),
        (b"{'fromID': 1}", "not valid JSON"),
        (b'{"fromID": 1} {"toID": 2}', "not valid JSON"),
        (b'{"fromID": NaN}', "NaN"),
        (b'{"fromID": Infinity}', "Infinity"),
        (b'{"fromID": -Infinity}', "-Infinity"),
        (b'{"fromID": 1, "fromID": 2}', "more than once"),
        (b'{"u": {"a": 1, "a": 1}}', "more than once"),
        (b"[]", "must be an object"),
        (b'[{"fromID": 1}]', "must be an object"),
        (b'"fromID"', "must be an object"),
        (b"42", "must be an object"),
        (b"null", "must be an object"),
        (b"true", "must be an object"),
    ],
    ids=[
        "latin1-byte",
        "leading-invalid-byte",
        "empty",
        "unclosed",
        "trailing-comma",
        "single-quotes",
        "two-values",
        "nan",
        "infinity",
        "minus-infinity",
        "duplicate-key",
        "nested-duplicate-key",
        "empty-array",
        "array",
        "string",
        "number",
        "null",
        "true",
    ],
)
def test_body_json_invalid(data, expected):
    error = body_error(make_request(data, JSON))

    assert error.status == 400
    assert expected in error.message


# URL-encoded form bodies


def test_body_form_fields():
    data = b"fromID=2&toID=1&message=Bruno+started%20following+you."

    fields = read_send_body(make_request(data, FORM))

    assert fields == {
        "fromID": "2",
        "toID": "1",
        "message": "Bruno started following you.",
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"message=a+b", "a b"),
        (b"message=a%20b", "a b"),
        (b"message=a%2Bb", "a+b"),
        (b"message=caf%C3%A9", "café"),
        (b"message=%E2%98%95", "☕"),
        (b"message=a%26b%3Dc", "a&b=c"),
        (b"message=", ""),
        (b"message", ""),
    ],
    ids=[
        "plus",
        "percent-20",
        "encoded-plus",
        "utf8-two-bytes",
        "utf8-three-bytes",
        "encoded-separators",
        "blank-value",
        "no-equals-sign",
    ],
)
def test_body_form_decoding(data, expected):
    assert read_send_body(make_request(data, FORM)) == {"message": expected}


def test_body_form_empty():
    assert read_send_body(make_request(b"", FORM)) == {}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"message=%FF", "UTF-8"),
        (b"message=caf%E9", "UTF-8"),
        (b"message=%C3", "UTF-8"),
        ("message=café".encode(), "ASCII"),
        (b"message=\xff", "ASCII"),
        (b"fromID=1&fromID=2", "fromID appears more than once"),
        (b"message=a&message=a", "message appears more than once"),
    ],
    ids=[
        "percent-ff",
        "percent-latin1",
        "percent-truncated-utf8",
        "raw-utf8",
        "raw-ff",
        "duplicate-field",
        "duplicate-same-value",
    ],
)
def test_body_form_invalid(data, expected):
    error = body_error(make_request(data, FORM))

    assert error.status == 400
    assert expected in error.message


def test_body_form_too_many_fields():
    data = "&".join(f"f{index}=1" for index in range(101)).encode("ascii")

    error = body_error(make_request(data, FORM))

    assert error.status == 400


# Multipart form bodies


def test_body_multipart_fields():
    fields = read_send_body(make_request(SEND_FIELDS, MULTIPART_TYPE))

    assert fields == {
        "fromID": "2",
        "toID": "1",
        "message": "Zoë liked your post: 'Café ☕'",
    }


def test_body_multipart_empty_field():
    data = multipart_body(multipart_part("message", b""))

    assert read_send_body(make_request(data, MULTIPART_TYPE)) == {"message": ""}


def test_body_multipart_value_with_line_breaks():
    data = multipart_body(multipart_part("message", b"line one\r\nline two"))

    fields = read_send_body(make_request(data, MULTIPART_TYPE))

    assert fields == {"message": "line one\r\nline two"}


def test_body_multipart_invalid_utf8():
    data = multipart_body(
        multipart_part("fromID", b"2"), multipart_part("message", b"caf\xe9")
    )

    error = body_error(make_request(data, MULTIPART_TYPE))

    assert error.status == 400
    assert "message" in error.message
    assert "UTF-8" in error.message


def test_body_multipart_file_part():
    data = multipart_body(multipart_part("message", b"hello", filename="note.txt"))

    error = body_error(make_request(data, MULTIPART_TYPE))

    assert error.status == 400
    assert "message" in error.message
    assert "file" in error.message


def test_body_multipart_duplicate_field():
    data = multipart_body(multipart_part("toID", b"1"), multipart_part("toID", b"2"))

    error = body_error(make_request(data, MULTIPART_TYPE))

    assert error.status == 400
    assert "toID appears more than once" in error.message


def test_body_multipart_missing_boundary():
    error = body_error(make_request(SEND_FIELDS, MULTIPART))

    assert error.status == 400
    assert "boundary" in error.message


@pytest.mark.parametrize(
    "cut",
    [
        len(SEND_FIELDS) - len(f"--{BOUNDARY}--\r\n"),
        len(SEND_FIELDS) // 2,
        30,
    ],
    ids=["no-closing-boundary", "inside-part", "inside-headers"],
)
def test_body_multipart_truncated(cut):
    error = body_error(make_request(SEND_FIELDS[:cut], MULTIPART_TYPE))

    assert error.status == 400
    assert "Multipart body is not valid" in error.message


def test_body_multipart_wrong_boundary():
    content_type = f"{MULTIPART}; boundary=other-boundary"

    error = body_error(make_request(SEND_FIELDS, content_type))

    assert error.status == 400


@pytest.mark.parametrize(
    "data",
    [b"", f"--{BOUNDARY}--\r\n".encode("ascii")],
    ids=["empty", "closing-boundary-only"],
)
def test_body_multipart_no_parts(data):
    # As with an empty form body, the result has no fields, so the schema
    # reports every field missing.
    assert read_send_body(make_request(data, MULTIPART_TYPE)) == {}


def test_body_multipart_not_multipart():
    error = body_error(make_request(b"fromID=2&toID=1", MULTIPART_TYPE))

    assert error.status == 400
