"""Tests of the user directory: the default users and a JSON users file."""

import json
from pathlib import Path

import pytest

from common.errors import UserDirectoryError
from common.models import User
from common.users import UserDirectory, load_user_directory


def write_users(tmp_path: Path, content: bytes | str | list | dict) -> Path:
    """Write ``content`` to users.json: bytes as is, text as UTF-8, else as JSON."""
    path = tmp_path / "users.json"
    if isinstance(content, list | dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def test_users_default_directory():
    directory = load_user_directory(None)

    assert len(directory) == 4
    assert directory.get(1) == User(1, "Emma")
    assert directory.get(2) == User(2, "Bruno")
    assert directory.get(3) == User(3, "Rick")
    assert directory.get(4) == User(4, "Lena")


@pytest.mark.parametrize("user_id", [0, 5, 10**18 - 1])
def test_users_default_unknown_id(user_id):
    assert load_user_directory(None).get(user_id) is None


def test_users_file_replaces_defaults(tmp_path):
    path = write_users(
        tmp_path,
        [{"id": 10, "name": "Ana"}, {"id": "011", "name": "Zoë", "role": "admin"}],
    )

    directory = load_user_directory(str(path))

    assert len(directory) == 2
    assert directory.get(10) == User(10, "Ana")
    assert directory.get(11) == User(11, "Zoë")
    assert directory.get(1) is None


def test_users_file_empty_list(tmp_path):
    path = write_users(tmp_path, [])

    assert len(load_user_directory(str(path))) == 0


# Invalid users files: (content, text expected in the error message).
INVALID_FILES = [
    pytest.param(b"[{", "not valid UTF-8 JSON", id="invalid-json"),
    pytest.param(b"", "not valid UTF-8 JSON", id="empty-file"),
    pytest.param(
        b'[{"id": 1, "name": "Em\xffma"}]', "not valid UTF-8 JSON", id="invalid-utf8"
    ),
    pytest.param({"id": 1, "name": "Emma"}, "JSON list", id="object-not-list"),
    pytest.param('"Emma"', "JSON list", id="string-not-list"),
    pytest.param([{"id": "x1", "name": "Emma"}], "invalid entries", id="bad-id-text"),
    pytest.param([{"id": -1, "name": "Emma"}], "invalid entries", id="negative-id"),
    pytest.param([{"id": True, "name": "Emma"}], "invalid entries", id="bool-id"),
    pytest.param([{"name": "Emma"}], "invalid entries", id="missing-id"),
    pytest.param([{"id": 1, "name": "  "}], "invalid entries", id="blank-name"),
    pytest.param([{"id": 1}], "invalid entries", id="missing-name"),
    pytest.param([{"id": 1, "name": 7}], "invalid entries", id="name-not-text"),
    pytest.param(["Emma"], "invalid entries", id="entry-not-object"),
]


@pytest.mark.parametrize(("content", "expected"), INVALID_FILES)
def test_users_file_invalid(tmp_path, content, expected):
    path = write_users(tmp_path, content)

    with pytest.raises(UserDirectoryError) as caught:
        load_user_directory(str(path))

    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_users_file_missing(tmp_path):
    path = tmp_path / "absent.json"

    with pytest.raises(UserDirectoryError) as caught:
        load_user_directory(str(path))

    assert str(path) in str(caught.value)
    assert "No such file" in str(caught.value)


def test_users_file_bad_entry_names_field(tmp_path):
    path = write_users(tmp_path, [{"id": 1, "name": "Emma"}, {"id": 2, "name": ""}])

    with pytest.raises(UserDirectoryError) as caught:
        load_user_directory(str(path))

    assert "name" in str(caught.value)
    assert "must not be blank" in str(caught.value)


def test_users_directory_duplicate_id():
    with pytest.raises(UserDirectoryError) as caught:
        UserDirectory([User(1, "Emma"), User(1, "Emily")])

    assert "user id 1" in str(caught.value)


def test_users_file_duplicate_id(tmp_path):
    path = write_users(tmp_path, [{"id": 1, "name": "Emma"}, {"id": "01", "name": "B"}])

    with pytest.raises(UserDirectoryError):
        load_user_directory(str(path))


def test_users_file_duplicate_id_names_file(tmp_path):
    path = write_users(tmp_path, [{"id": 1, "name": "Emma"}, {"id": 1, "name": "B"}])

    with pytest.raises(UserDirectoryError) as caught:
        load_user_directory(str(path))

    assert str(path) in str(caught.value)
