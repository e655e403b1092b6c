"""Lint docker/Dockerfile with hadolint and check what the services rely on."""

import fnmatch
import os
import subprocess

import pytest

from tests.deploy.conftest import SERVICE_NAMES, find_tool
from tests.deploy.parsing import (
    DOCKERFILE,
    REPO_ROOT,
    copy_sources,
    http_urls,
    option_value,
)

HADOLINT_CONFIG = REPO_ROOT / ".hadolint.yaml"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
ROOT_USERS = {"root", "0"}


def test_dockerfile_passes_hadolint():
    # HADOLINT_* variables would override the configuration file.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HADOLINT_")
    }
    result = subprocess.run(
        [
            find_tool("hadolint"),
            "--config",
            str(HADOLINT_CONFIG),
            "--disable-ignore-pragma",
            "--no-color",
            str(DOCKERFILE),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, (
        f"hadolint found problems:\n{result.stdout}{result.stderr}"
    )


@pytest.mark.parametrize("stage", SERVICE_NAMES)
def test_service_stage_runs_as_non_root(dockerfile, stage):
    user = dockerfile.last(stage, "USER")

    assert user is not None, f"stage {stage} runs as root: it has no USER"
    assert user.arguments.partition(":")[0] not in ROOT_USERS


@pytest.mark.parametrize("stage", SERVICE_NAMES)
def test_service_cmd_is_exec_form(dockerfile, stage):
    cmd = dockerfile.last(stage, "CMD")

    assert cmd is not None, f"stage {stage} has no CMD"
    assert cmd.exec_form() is not None, (
        f"line {cmd.line}: CMD must be a JSON array so gunicorn is PID 1 "
        "and receives SIGTERM"
    )


@pytest.mark.parametrize("stage", SERVICE_NAMES)
def test_service_cmd_serves_its_app(dockerfile, service_ports, stage):
    command = dockerfile.last(stage, "CMD").exec_form()
    port = service_ports[stage]

    assert command[0] == "gunicorn"
    assert command[-1] == f"{stage}:create_app()"
    assert option_value(command, "--bind") == f"0.0.0.0:{port}"
    assert dockerfile.last(stage, "EXPOSE").arguments == str(port)


@pytest.mark.parametrize("stage", SERVICE_NAMES)
def test_service_cmd_config_is_copied(dockerfile, stage):
    command = dockerfile.last(stage, "CMD").exec_form()
    config = option_value(command, "--config")
    copied = {
        source.rstrip("/")
        for instruction in dockerfile.stage(stage)
        if instruction.keyword in ("COPY", "ADD")
        for source in copy_sources(instruction)
    }

    # WORKDIR is /app and COPY keeps each path, so the config is at the
    # same relative path in the image as in the repository.
    assert config in copied, f"CMD reads {config}, which no COPY puts in the image"


@pytest.mark.parametrize("stage", SERVICE_NAMES)
def test_service_healthcheck_hits_readyz(dockerfile, service_ports, stage):
    healthcheck = dockerfile.last(stage, "HEALTHCHECK")

    assert healthcheck is not None, f"stage {stage} has no HEALTHCHECK"
    assert http_urls(healthcheck.arguments) == [
        ("127.0.0.1", service_ports[stage], "/readyz")
    ]


def test_copied_files_exist(dockerfile):
    for instruction in dockerfile.instructions:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(instruction):
            assert (REPO_ROOT / source).exists(), (
                f"line {instruction.line}: {instruction.keyword} source {source} "
                "does not exist"
            )


def test_copied_files_not_dockerignored(dockerfile):
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "!"))
    ]
    for instruction in dockerfile.instructions:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(instruction):
            parts = source.rstrip("/").split("/")
            # A pattern that matches a parent directory excludes it too.
            prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
            excluded = [
                (prefix, pattern)
                for prefix in prefixes
                for pattern in patterns
                if fnmatch.fnmatchcase(prefix, pattern.rstrip("/"))
            ]

            assert not excluded, (
                f"line {instruction.line}: {source} is excluded by .dockerignore "
                f"({excluded})"
            )
