"""Tests that each OpenAPI document lists exactly the routes its app serves."""

import re

import pytest

import consumer
import producer
from common.runtime import EXTENSION_KEY
from consumer.openapi import build_consumer_spec
from producer.openapi import build_producer_spec

# Nothing listens on port 1, so the Kafka clients that the factories start
# retry in the background and never reach a broker.
APP_CONFIG = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "NOTIFY_STORE": "memory://",
}
# Flask rule argument names and the OpenAPI path parameters they stand for.
PATH_PARAMETERS = {
    "user_id": "userID",
    "notification_id": "notificationID",
}
# Methods that Flask serves on every rule and the documents leave out.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
# <name> or <converter:name> or <converter(args):name>
FLASK_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")


def openapi_path(rule: str) -> str:
    """Rewrite a Flask rule such as ``/a/<user_id>`` as ``/a/{userID}``."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in PATH_PARAMETERS:
            raise AssertionError(
                f"Rule {rule} has argument <{name}>; add it to PATH_PARAMETERS"
            )
        return "{" + PATH_PARAMETERS[name] + "}"

    return FLASK_ARGUMENT.sub(replace, rule)


def app_operations(app) -> set[tuple[str, str]]:
    """Return (path, method) for every route of ``app`` but static files."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in rule.methods - IMPLICIT_METHODS:
            operations.add((openapi_path(rule.rule), method))
    return operations


def documented_operations(spec: dict) -> set[tuple[str, str]]:
    """Return (path, method) for every operation in an OpenAPI document."""
    return {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
    }


def build_app(create_app):
    app = create_app(APP_CONFIG)
    yield app
    app.extensions[EXTENSION_KEY].stop()


@pytest.fixture
def producer_app():
    yield from build_app(producer.create_app)


@pytest.fixture
def consumer_app():
    yield from build_app(consumer.create_app)


def test_openapi_path_rewrites_arguments():
    assert openapi_path("/n/<user_id>") == "/n/{userID}"
    assert openapi_path("/n/<user_id>/read") == "/n/{userID}/read"
    assert (
        openapi_path("/n/<user_id>/<uuid:notification_id>")
        == "/n/{userID}/{notificationID}"
    )
    assert openapi_path("/healthz") == "/healthz"


def test_openapi_path_rejects_unknown_argument():
    with pytest.raises(AssertionError, match="PATH_PARAMETERS"):
        openapi_path("/n/<int:page>")


def test_producer_routes_match_spec(producer_app):
    served = app_operations(producer_app)
    documented = documented_operations(build_producer_spec())

    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_consumer_routes_match_spec(consumer_app):
    served = app_operations(consumer_app)
    documented = documented_operations(build_consumer_spec())

    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"
