"""Generate a service's OpenAPI document and serve it at ``GET /openapi.json``.

Each service lists its operations as OpenAPI operation objects in which
schemas are marshmallow ``Schema`` classes. apispec's ``MarshmallowPlugin``
turns those classes into component schemas and parameter objects, so the
document follows the schemas in ``common.api_schemas``.
"""

import copy
from collections.abc import Mapping
from importlib import metadata

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify
from marshmallow import fields

from common.api_schemas import (
    USER_ID_PATTERN,
    ErrorSchema,
    HealthSchema,
    NotReadySchema,
    ReadinessSchema,
)
from common.schemas import MAX_MESSAGE_CHARS, MAX_USER_ID, MessageText, UserId

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/openapi.json"


def package_version() -> str:
    """Return the installed version of the kafka-notify distribution."""
    return metadata.version("kafka-notify")


def build_spec(
    title: str,
    version: str,
    operations: Mapping[str, Mapping[str, dict]],
    security_schemes: Mapping[str, dict] | None = None,
) -> dict:
    """Generate an OpenAPI document as a JSON-ready dict.

    ``operations`` maps each path, written with OpenAPI path parameters
    such as ``{userID}``, to its operation objects by lowercase HTTP method.
    ``security_schemes`` maps names to OpenAPI security scheme objects. The
    input is copied, because apispec rewrites operation objects in place.
    """
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
    )
    # The converter exists only once the plugin is attached to a spec.
    plugin.converter.add_attribute_function(_custom_field_properties)

    for name, scheme in (security_schemes or {}).items():
        spec.components.security_scheme(name, copy.deepcopy(scheme))
    for path, path_operations in operations.items():
        spec.path(path=path, operations=copy.deepcopy(dict(path_operations)))

    return spec.to_dict()


def _custom_field_properties(converter, field: fields.Field, **kwargs) -> dict:
    """Describe the project's own field types, which apispec cannot map."""
    if isinstance(field, UserId):
        return {
            "oneOf": [
                {"type": "string", "pattern": USER_ID_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": MAX_USER_ID},
            ],
            "description": "User id: 1 to 18 ASCII digits, or an integer.",
        }
    if isinstance(field, MessageText):
        # Python's str.isspace() and ECMA-262's \S disagree on U+001C to
        # U+001F, U+0085 and U+FEFF, so the pattern is close but not exact.
        return {
            "minLength": 1,
            "maxLength": MAX_MESSAGE_CHARS,
            "pattern": r"\S",
            "description": "Notification text; it must not be only whitespace.",
        }
    return {}


def json_content(schema) -> dict:
    """Return an OpenAPI content map with ``schema`` as application/json."""
    return {"application/json": {"schema": schema}}


def json_response(description: str, schema=ErrorSchema) -> dict:
    """Return an OpenAPI response object with a JSON body."""
    return {"description": description, "content": json_content(schema)}


def auth_responses(unauthorized: str, forbidden: str) -> dict[str, dict]:
    """Return the 401 and 403 responses of a route that needs a bearer token."""
    challenge = {
        "WWW-Authenticate": {
            "description": "Always Bearer: the route takes a bearer token.",
            "schema": {"type": "string"},
        }
    }
    return {
        "401": {**json_response(unauthorized), "headers": challenge},
        "403": json_response(forbidden),
    }


def text_response(description: str, media_type: str) -> dict:
    """Return an OpenAPI response object with a text body of ``media_type``."""
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string"}}},
    }


def common_operations() -> dict[str, dict[str, dict]]:
    """Return the operations both services serve: health, metrics, document."""
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness check",
                "tags": ["operations"],
                "responses": {
                    "200": json_response("The process is running.", HealthSchema),
                },
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness check",
                "tags": ["operations"],
                "responses": {
                    "200": json_response("Ready to serve.", ReadinessSchema),
                    "503": json_response("Not ready yet.", NotReadySchema),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "tags": ["operations"],
                "responses": {
                    "200": text_response(
                        "Metrics in the Prometheus text exposition format.",
                        "text/plain",
                    ),
                },
            }
        },
        DOCUMENT_PATH: {
            "get": {
                "summary": "This OpenAPI document",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "The service's OpenAPI document.",
                        "content": json_content({"type": "object"}),
                    },
                },
            }
        },
    }


def openapi_blueprint(spec_dict: dict) -> Blueprint:
    """Build the ``GET /openapi.json`` route, which returns ``spec_dict``."""
    blueprint = Blueprint("openapi", __name__)

    @blueprint.get(DOCUMENT_PATH)
    def openapi_document():
        return jsonify(spec_dict)

    return blueprint
