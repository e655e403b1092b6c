"""The user directory: the four default users or a JSON file of users."""

import json
from collections.abc import Iterable

from marshmallow import ValidationError

from common.errors import UserDirectoryError
from common.models import User
from common.schemas import UserSchema

DEFAULT_USERS = (
    User(1, "Emma"),
    User(2, "Bruno"),
    User(3, "Rick"),
    User(4, "Lena"),
)


class UserDirectory:
    """Look users up by id."""

    def __init__(self, users: Iterable[User]) -> None:
        self._by_id: dict[int, User] = {}
        for user in users:
            if user.id in self._by_id:
                raise UserDirectoryError(f"user id {user.id} appears twice")
            self._by_id[user.id] = user

    def get(self, user_id: int) -> User | None:
        """Return the user with ``user_id``, or ``None`` when unknown."""
        return self._by_id.get(user_id)

    def __len__(self) -> int:
        return len(self._by_id)


def load_user_directory(users_file: str | None) -> UserDirectory:
    """Load the users of ``users_file``, or the defaults when it is ``None``.

    The file contains a JSON list of ``{"id": ..., "name": ...}`` objects.
    Raises ``UserDirectoryError`` naming the file and the problem.
    """
    if users_file is None:
        return UserDirectory(DEFAULT_USERS)

    try:
        with open(users_file, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise UserDirectoryError(
            f"cannot read users file {users_file}: {exc.strerror}"
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserDirectoryError(
            f"users file {users_file} is not valid UTF-8 JSON: {exc}"
        ) from exc

    if not isinstance(data, list):
        raise UserDirectoryError(
            f"users file {users_file} must hold a JSON list of users"
        )
    try:
        users = UserSchema(many=True).load(data)
    except ValidationError as exc:
        raise UserDirectoryError(
            f"users file {users_file} has invalid entries: {exc.messages}"
        ) from exc

    try:
        return UserDirectory(users)
    except UserDirectoryError as exc:
        raise UserDirectoryError(f"users file {users_file}: {exc}") from exc
