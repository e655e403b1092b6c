"""Tests of the generated OpenAPI documents of both services."""

import pytest
from flask import Flask
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from common import api_schemas
from common.openapi import OPENAPI_VERSION, openapi_blueprint
from consumer.openapi import build_consumer_spec
from producer.openapi import build_producer_spec

BUILDERS = {"producer": build_producer_spec, "consumer": build_consumer_spec}
SEND_CONTENT_TYPES = {
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/json",
}
SEND_STATUSES = {"200", "400", "401", "403", "404", "413", "415", "503"}
SCHEMA_REF_PREFIX = "#/components/schemas/"


@pytest.fixture(params=sorted(BUILDERS))
def spec(request) -> dict:
    return BUILDERS[request.param]()


def collect_refs(node) -> set[str]:
    """Return every ``$ref`` value anywhere under ``node``."""
    refs = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                refs.add(value)
            else:
                refs |= collect_refs(value)
    elif isinstance(node, list):
        for item in node:
            refs |= collect_refs(item)
    return refs


def test_spec_validates(spec):
    assert spec["openapi"] == OPENAPI_VERSION

    validate(spec, cls=OpenAPIV31SpecValidator)


def test_spec_has_schema_components(spec):
    assert spec["components"]["schemas"]


def test_spec_references_every_schema(spec):
    defined = {SCHEMA_REF_PREFIX + name for name in spec["components"]["schemas"]}

    unreferenced = defined - collect_refs(spec)

    assert not unreferenced, f"schema components never referenced: {unreferenced}"


def test_spec_refs_resolve(spec):
    defined = {SCHEMA_REF_PREFIX + name for name in spec["components"]["schemas"]}
    schema_refs = {
        ref for ref in collect_refs(spec) if ref.startswith(SCHEMA_REF_PREFIX)
    }

    assert schema_refs <= defined


def test_spec_operations_list_responses(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method.upper()} {path}"
            assert operation.get("summary"), f"{method.upper()} {path}"


def test_send_request_content_types():
    send = build_producer_spec()["paths"]["/send"]["post"]

    assert set(send["requestBody"]["content"]) == SEND_CONTENT_TYPES
    assert send["requestBody"]["required"] is True


def test_send_request_schema_fields():
    spec = build_producer_spec()
    send = spec["paths"]["/send"]["post"]
    schemas = {
        media["schema"]["$ref"] for media in send["requestBody"]["content"].values()
    }

    assert schemas == {SCHEMA_REF_PREFIX + "SendRequest"}
    request_schema = spec["components"]["schemas"]["SendRequest"]
    assert set(request_schema["required"]) == {"fromID", "toID", "message"}
    assert request_schema["properties"]["message"]["maxLength"] == 2000


def test_send_response_statuses():
    send = build_producer_spec()["paths"]["/send"]["post"]

    assert set(send["responses"]) == SEND_STATUSES


def test_send_idempotency_key_header():
    send = build_producer_spec()["paths"]["/send"]["post"]
    headers = {p["name"]: p for p in send["parameters"] if p["in"] == "header"}

    assert "Idempotency-Key" in headers
    assert headers["Idempotency-Key"]["required"] is False


def test_feed_user_id_path_parameter():
    spec = build_consumer_spec()

    for path, operations in spec["paths"].items():
        if "{userID}" not in path:
            continue
        for method, operation in operations.items():
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert "userID" in names, f"{method.upper()} {path}"


def test_feed_next_cursor_nullable():
    page = build_consumer_spec()["components"]["schemas"]["NotificationPage"]

    assert page["properties"]["next_cursor"]["type"] == ["string", "null"]


def test_blueprint_serves_spec():
    spec = build_producer_spec()
    app = Flask(__name__)
    app.register_blueprint(openapi_blueprint(spec))

    response = app.test_client().get("/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == spec


def test_feed_limits_match_routes():
    feed_params = pytest.importorskip("consumer.feed_params")

    assert api_schemas.DEFAULT_FEED_LIMIT == feed_params.DEFAULT_LIMIT
    assert api_schemas.MAX_FEED_LIMIT == feed_params.MAX_LIMIT
    assert api_schemas.MAX_READ_IDS == feed_params.MAX_READ_IDS
