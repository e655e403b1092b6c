"""Cross-check compose.yaml against the settings, the image and itself."""

import re
from urllib.parse import urlsplit

import pytest

from common.errors import SettingsError
from common.settings import load_settings
from tests.deploy.conftest import SERVICE_NAMES
from tests.deploy.parsing import (
    REPO_ROOT,
    environment,
    http_urls,
    interpolate,
    interpolated_defaults,
    listeners,
    mounts,
    option_value,
    published_ports,
    publishes,
    required_variables,
    settings_variables,
)

KAFKA_SERVICE = "kafka"
POSTGRES_SERVICE = "postgres"
# The VOLUME that the postgres image declares from major version 18 on. Its
# data directory, PGDATA, is a directory per major version below it.
POSTGRES_DATA_DIR = "/var/lib/postgresql"
# Compose defaults that differ from the code's defaults on purpose:
# compose.yaml gives each one's reason next to it.
DELIBERATE_DEFAULTS = {"KAFKA_SESSION_TIMEOUT_MS"}


def test_depends_on_targets_are_services(compose):
    services = compose["services"]
    for name, service in services.items():
        for target in service.get("depends_on") or {}:
            assert target in services, f"{name} depends on undefined {target}"


def test_service_healthy_targets_have_healthchecks(compose):
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            continue
        for target, condition in depends_on.items():
            if condition.get("condition") != "service_healthy":
                continue
            assert "healthcheck" in services.get(target, {}), (
                f"{name} waits for {target} to be healthy, "
                f"but {target} has no healthcheck"
            )


def test_settings_variables_found():
    # Guards the check below: an extraction that finds nothing would let
    # every variable through.
    names = settings_variables()

    assert "KAFKA_BOOTSTRAP_SERVERS" in names
    assert "WEB_CONCURRENCY" in names
    assert "NOTIFY_THREADS" in names


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_sets_only_known_variables(compose, name):
    known = settings_variables()
    unknown = sorted(set(environment(compose["services"][name])) - known)

    assert not unknown, (
        f"{name} sets {', '.join(unknown)}, which common/settings.py does not read"
    )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_environment_loads(compose, name):
    values = {
        key: interpolate(value)
        for key, value in environment(compose["services"][name]).items()
    }
    try:
        load_settings(values)
    except SettingsError as exc:
        pytest.fail(f"{name}'s environment in compose.yaml is invalid: {exc}")


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_defaults_match_code(compose, defaults, name):
    for key, value in environment(compose["services"][name]).items():
        for variable, default in interpolated_defaults(value).items():
            if variable in DELIBERATE_DEFAULTS:
                continue
            assert load_settings({variable: default}) == defaults, (
                f"{name}: default {default!r} of ${{{variable}}} in {key} differs "
                "from the default in common/settings.py"
            )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_publishes_its_port(compose, service_ports, name):
    port = service_ports[name]
    ports = published_ports(compose["services"][name])

    assert [mapping.target for mapping in ports] == [port], (
        f"{name} must publish container port {port}, the port the image binds"
    )
    assert publishes(ports[0], port), (
        f"{name} must be reachable on host port {port}, as the reference "
        f"scenario expects; compose.yaml publishes {ports[0].published!r}"
    )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_healthcheck_hits_readyz(compose, service_ports, name):
    test = compose["services"][name]["healthcheck"]["test"]
    urls = http_urls(" ".join(test) if isinstance(test, list) else test)

    assert urls == [("127.0.0.1", service_ports[name], "/readyz")]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_builds_its_target(compose, dockerfile, name):
    build = compose["services"][name]["build"]

    assert (REPO_ROOT / build["context"] / build["dockerfile"]).is_file()
    assert build["target"] == name
    assert name in dockerfile.parents, f"docker/Dockerfile has no stage {name}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_uses_kafka_internal_listener(compose, name):
    kafka = environment(compose["services"][KAFKA_SERVICE])
    advertised = listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    for_containers = {
        f"{host}:{port}" for host, port in advertised.values() if host == KAFKA_SERVICE
    }
    bootstrap = environment(compose["services"][name])["KAFKA_BOOTSTRAP_SERVERS"]

    assert set(bootstrap.split(",")) <= for_containers, (
        f"{name} connects to {bootstrap}, but the broker advertises "
        f"{sorted(for_containers)} to other containers"
    )


def test_kafka_listeners_are_consistent(compose):
    kafka = environment(compose["services"][KAFKA_SERVICE])
    bound = listeners(kafka["KAFKA_LISTENERS"])
    advertised = listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    protocol_map = kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    protocols = dict(item.split(":") for item in protocol_map.split(","))

    assert set(bound) <= set(protocols), "a listener has no security protocol"
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] in bound
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    for name, (_, port) in advertised.items():
        assert bound.get(name, (None, None))[1] == port, (
            f"listener {name} is advertised on port {port} but bound on "
            f"{bound.get(name)}"
        )


def test_kafka_controller_voter_matches_listener(compose):
    kafka = environment(compose["services"][KAFKA_SERVICE])
    bound = listeners(kafka["KAFKA_LISTENERS"])
    controller_port = bound[kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]][1]
    node_id, _, address = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")

    assert node_id == kafka["KAFKA_NODE_ID"]
    assert address == f"{KAFKA_SERVICE}:{controller_port}"


def test_kafka_host_listener_is_published(compose):
    service = compose["services"][KAFKA_SERVICE]
    advertised = listeners(environment(service)["KAFKA_ADVERTISED_LISTENERS"])
    host_ports = [port for host, port in advertised.values() if host == "localhost"]
    published = published_ports(service)

    assert host_ports, "the broker advertises no listener for the Docker host"
    for port in host_ports:
        assert any(
            mapping.target == port and publishes(mapping, port) for mapping in published
        ), f"the broker advertises localhost:{port} but does not publish it"


def test_kafka_healthcheck_uses_a_listener(compose):
    service = compose["services"][KAFKA_SERVICE]
    test = service["healthcheck"]["test"]
    bound = listeners(environment(service)["KAFKA_LISTENERS"])
    server = test[test.index("--bootstrap-server") + 1]

    assert int(server.rpartition(":")[2]) in {port for _, port in bound.values()}


def test_kafka_log_dir_is_on_a_volume(compose):
    service = compose["services"][KAFKA_SERVICE]
    log_dir = environment(service)["KAFKA_LOG_DIRS"]

    assert log_dir in {mount.target for mount in mounts(service) if mount.named}


def test_consumer_store_is_postgres_service(compose):
    consumer = environment(compose["services"]["consumer"])
    postgres = environment(compose["services"][POSTGRES_SERVICE])
    store = urlsplit(interpolate(consumer["NOTIFY_STORE"]))

    assert store.scheme == "postgresql"
    assert store.hostname == POSTGRES_SERVICE
    assert store.port == 5432
    assert store.username == postgres["POSTGRES_USER"]
    assert store.path == f"/{postgres['POSTGRES_DB']}"
    assert store.password == interpolate(postgres["POSTGRES_PASSWORD"])
    # Both read the same variable, so the two cannot drift apart.
    assert required_variables(consumer["NOTIFY_STORE"]) == {"POSTGRES_PASSWORD"}


def test_consumer_waits_for_healthy_postgres(compose):
    depends_on = compose["services"]["consumer"]["depends_on"]

    assert depends_on[POSTGRES_SERVICE] == {"condition": "service_healthy"}


def test_postgres_image_pins_major_version(compose):
    name, _, tag = compose["services"][POSTGRES_SERVICE]["image"].partition(":")
    match = re.fullmatch(r"([0-9]+)(\.[0-9]+)?(-[a-z0-9]+)?", tag)

    assert name == "postgres"
    assert match, f"postgres:{tag} does not pin a major version"
    # POSTGRES_DATA_DIR is the image's volume from 18 on.
    assert int(match.group(1)) >= 18


def test_postgres_data_is_on_a_volume(compose):
    service = compose["services"][POSTGRES_SERVICE]

    assert POSTGRES_DATA_DIR in {
        mount.target for mount in mounts(service) if mount.named
    }, f"{POSTGRES_DATA_DIR} is not a named volume, so the store would not persist"


def test_postgres_password_has_no_default(compose):
    password = environment(compose["services"][POSTGRES_SERVICE])["POSTGRES_PASSWORD"]

    assert required_variables(password) == {"POSTGRES_PASSWORD"}
    assert interpolated_defaults(password) == {}


def test_postgres_healthcheck_checks_its_database(compose):
    service = compose["services"][POSTGRES_SERVICE]
    postgres = environment(service)
    test = service["healthcheck"]["test"]

    assert test[:2] == ["CMD", "pg_isready"]
    assert option_value(test, "--username") == postgres["POSTGRES_USER"]
    assert option_value(test, "--dbname") == postgres["POSTGRES_DB"]


def test_postgres_publishes_no_port(compose):
    # Only the consumers connect, over the Compose network.
    assert published_ports(compose["services"][POSTGRES_SERVICE]) == []


def test_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for mount in mounts(service):
            if mount.named:
                assert mount.source in declared, (
                    f"{name} mounts volume {mount.source}, which is not declared"
                )


def test_declared_volumes_are_used(compose):
    used = {
        mount.source
        for service in compose["services"].values()
        for mount in mounts(service)
        if mount.named
    }

    assert set(compose.get("volumes") or {}) <= used
