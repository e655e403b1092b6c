"""Tests of NOTIFY_API_KEYS and NOTIFY_FEED_SECRET in load_settings."""

import pytest

from common.errors import SettingsError
from common.settings import load_settings


def test_auth_off_by_default():
    settings = load_settings({})

    assert settings.api_keys == ()
    assert settings.feed_secret is None


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("one", ("one",)),
        ("one,two", ("one", "two")),
        (" one , two ", ("one", "two")),
        ("one,,two,", ("one", "two")),
        (",, ,", ()),
        ("", ()),
        ("x" * 255, ("x" * 255,)),
    ],
)
def test_api_keys_split(value, keys):
    assert load_settings({"NOTIFY_API_KEYS": value}).api_keys == keys


@pytest.mark.parametrize(
    ("value", "position"),
    [
        ("good,a b", "key 2"),
        ("x" * 256, "key 1"),
        ("caf\u00e9", "key 1"),
        ("ok,\x01bad", "key 2"),
    ],
)
def test_api_keys_invalid(value, position):
    with pytest.raises(SettingsError, match="NOTIFY_API_KEYS") as raised:
        load_settings({"NOTIFY_API_KEYS": value})

    assert position in str(raised.value)


def test_api_keys_error_hides_value():
    with pytest.raises(SettingsError) as raised:
        load_settings({"NOTIFY_API_KEYS": "secret-key,bad key"})

    assert "secret-key" not in str(raised.value)
    assert "bad key" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "secret"),
    [("s3cret", "s3cret"), ("  s3cret\n", "s3cret"), ("   ", None)],
)
def test_feed_secret_read(value, secret):
    assert load_settings({"NOTIFY_FEED_SECRET": value}).feed_secret == secret


def test_credentials_not_in_repr():
    settings = load_settings(
        {"NOTIFY_API_KEYS": "key-in-repr", "NOTIFY_FEED_SECRET": "secret-in-repr"}
    )

    assert "key-in-repr" not in repr(settings)
    assert "secret-in-repr" not in repr(settings)
