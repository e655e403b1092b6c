"""Tests of the Idempotency-Key rules and the notification ids they give."""

import uuid

import pytest

from producer.idempotency import KEY_PROBLEM, key_problem, notification_id


def test_key_absent_is_valid():
    assert key_problem(None) is None


@pytest.mark.parametrize("key", ["k", "order-42", "x" * 255, "!~"])
def test_key_valid(key):
    assert key_problem(key) is None


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "a b", "caf\u00e9", "a\tb", "a\x7f", "\x1b[0m"],
)
def test_key_invalid(key):
    assert key_problem(key) == KEY_PROBLEM


def test_id_repeats_for_same_key():
    first = notification_id(2, "order-42")

    assert notification_id(2, "order-42") == first
    assert uuid.UUID(first).version == 5


def test_id_depends_on_sender():
    assert notification_id(2, "order-42") != notification_id(3, "order-42")


def test_id_depends_on_key():
    assert notification_id(2, "order-42") != notification_id(2, "order-43")


def test_id_is_stable_across_releases():
    # A change here gives retries of earlier sends another id.
    assert notification_id(2, "order-42") == str(
        uuid.uuid5(uuid.UUID("03e4f884-619a-4b44-9ca4-b0e4f2c48186"), "2:order-42")
    )


def test_id_without_key_is_random():
    first = notification_id(2, None)

    assert notification_id(2, None) != first
    assert uuid.UUID(first).version == 4
