"""Validate compose.yaml against the Compose Specification's JSON schema.

check-jsonschema ships a copy of the schema (``vendor.compose-spec``), so the
check runs offline and needs no Docker engine.
"""

import subprocess

from tests.deploy.conftest import find_tool
from tests.deploy.parsing import COMPOSE_FILE, REPO_ROOT

COMPOSE_SCHEMA = "vendor.compose-spec"


def test_compose_file_matches_compose_spec():
    result = subprocess.run(
        [
            find_tool("check-jsonschema"),
            "--builtin-schema",
            COMPOSE_SCHEMA,
            str(COMPOSE_FILE),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, (
        f"compose.yaml does not match {COMPOSE_SCHEMA}:\n{result.stdout}{result.stderr}"
    )


def test_compose_file_has_no_version_key(compose):
    # The Compose Specification ignores `version` and marks it deprecated.
    assert "version" not in compose
