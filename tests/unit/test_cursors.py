"""Encoding and decoding of the feed's opaque cursors."""

import pytest

from consumer.cursors import MAX_SEQ, decode_cursor, encode_cursor


@pytest.mark.parametrize("seq", [0, 1, 49, 10**12, MAX_SEQ])
def test_cursor_round_trip(seq):
    assert decode_cursor(encode_cursor(seq)) == seq


def test_cursor_is_url_safe_without_padding():
    cursor = encode_cursor(1234567)

    assert cursor == "bjEyMzQ1Njc"
    assert "=" not in cursor


@pytest.mark.parametrize("seq", [MAX_SEQ + 1, 10**19 - 1])
def test_cursor_past_64_bits_rejected(seq):
    assert decode_cursor(encode_cursor(seq)) is None


# "bTE" is "m1": a number under another prefix.
@pytest.mark.parametrize("cursor", ["", "zz", "bTE", "A" * 41, "x%00"])
def test_cursor_invalid_rejected(cursor):
    assert decode_cursor(cursor) is None
