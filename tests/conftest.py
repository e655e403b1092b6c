"""Marks every test under tests/integration as an integration test.

Also provides the PostgreSQL server that tests of the PostgreSQL store share.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import EmbeddedPostgres
from tests.support import free_port

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    for item in items:
        if _INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL server on a free port for the whole session."""
    server = EmbeddedPostgres(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_schema_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """The URL of a fresh, empty schema, dropped after the test."""
    schema = postgres_server.create_schema()
    try:
        yield postgres_server.schema_url(schema)
    finally:
        postgres_server.drop_schema(schema)


@pytest.fixture
def postgres_database_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test.

    A database of its own also keeps the test's ``NOTIFY`` messages apart,
    since their channels are per database.
    """
    database = postgres_server.create_database()
    try:
        yield postgres_server.url(database)
    finally:
        postgres_server.drop_database(database)
