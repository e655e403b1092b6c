"""Marks every test under tests/integration as an integration test."""

from pathlib import Path

import pytest

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    for item in items:
        if _INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
