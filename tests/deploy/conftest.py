"""Fixtures for the static checks of docker/Dockerfile and compose.yaml.

No Docker engine is needed: the files are parsed, linted and validated.
"""

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from common.settings import Settings, load_settings
from tests.deploy.parsing import COMPOSE_FILE, Dockerfile, read_dockerfile

# The compose services built from docker/Dockerfile, each by the build target
# of the same name.
SERVICE_NAMES = ("producer", "consumer")


def find_tool(name: str) -> str:
    """Return the path of a command-line tool installed with the test extras.

    The virtualenv's bin directory comes first, so the pinned version is used
    even when the environment is not activated.
    """
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)

    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed; install the test dependencies with "
            "`make install` or `pip install -e '.[test]'`"
        )
    return found


@pytest.fixture(scope="session")
def compose() -> dict:
    """compose.yaml, parsed, with YAML anchors and merge keys resolved."""
    with COMPOSE_FILE.open() as stream:
        return yaml.safe_load(stream)


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return read_dockerfile()


@pytest.fixture(scope="session")
def defaults() -> Settings:
    """The settings that the services use when no variable is set."""
    return load_settings({})


@pytest.fixture(scope="session")
def service_ports(defaults: Settings) -> dict[str, int]:
    """The HTTP port of each service, from the settings' defaults."""
    return {"producer": defaults.producer_port, "consumer": defaults.consumer_port}
