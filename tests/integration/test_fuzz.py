"""Fuzzing of both services with schemathesis, against their own OpenAPI documents.

Schemathesis reads ``/openapi.json`` from a running service, and Hypothesis
draws requests for one documented operation at a time from schemathesis'
strategies: valid requests and, where the operation takes any input,
requests that break the schema. No response may have a 5xx status. Each
must have a documented status code and content type, and headers and a
body that match the document. A request that breaks the schema must get a
4xx.

``NOTIFY_FUZZ_EXAMPLES`` sets the number of requests per operation (``make
fuzz`` raises it) and ``NOTIFY_FUZZ_SEED`` the Hypothesis seed, so that a
failing run can be repeated exactly.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("NOTIFY_FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("NOTIFY_FUZZ_SEED", "20261204"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# Statuses that count as rejecting a request that breaks the schema:
# schemathesis 4.32's default list plus 413, which both services return for
# a body over 64 KiB.
REJECTION_STATUSES = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
    "428", "429", "5xx",
]
# Ids of the default users. Random ids almost never name one, so without
# them the fuzzer would rarely get past the 404 for an unknown user.
KNOWN_USERS = ("1", "2", "3", "4")
# The event stream never ends, so its response could never be checked.
UNFUZZED = {"GET /notifications/{userID}/stream"}
PRODUCER_OPERATIONS = [
    "POST /send",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
]
CONSUMER_OPERATIONS = [
    "GET /",
    "GET /notifications/{userID}",
    "GET /notifications/{userID}/unread_count",
    "POST /notifications/{userID}/read",
    "DELETE /notifications/{userID}/{notificationID}",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def fuzz_config() -> schemathesis.Config:
    """Build a configuration that runs only ``CHECKS``."""
    checks = {name: {"enabled": True} for name in CHECKS}
    checks["negative_data_rejection"]["expected-statuses"] = REJECTION_STATUSES
    return schemathesis.Config.from_dict(
        {
            "request-timeout": 15,
            "checks": {"enabled": False, **checks},
            # Keeps schemathesis from writing .schemathesis/ into the work tree.
            "cache": {"enabled": False},
        }
    )


@pytest.fixture(scope="module")
def producer_api(shared_services):
    url = f"{shared_services[0].url}/openapi.json"
    return schemathesis.openapi.from_url(url, config=fuzz_config(), timeout=10)


@pytest.fixture(scope="module")
def consumer_api(shared_services):
    url = f"{shared_services[1].url}/openapi.json"
    return schemathesis.openapi.from_url(url, config=fuzz_config(), timeout=10)


def documented(schema) -> set[str]:
    """Return the labels, such as ``GET /healthz``, of the document's operations."""
    return {
        f"{method.upper()} {path}"
        for path, path_item in schema.raw_schema["paths"].items()
        for method in path_item
        if method in HTTP_METHODS
    }


def fuzz(schema, label: str) -> None:
    """Send ``EXAMPLES`` generated requests to one operation and check each response."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    takes_input = any(
        len(container)
        for container in (
            operation.path_parameters,
            operation.query,
            operation.headers,
            operation.body,
        )
    )
    if takes_input:
        strategy = (
            strategy
            | operation.as_strategy(GenerationMode.NEGATIVE)
            | st.builds(
                use_known_users,
                operation.as_strategy(GenerationMode.POSITIVE),
                st.sampled_from(KNOWN_USERS),
                st.sampled_from(KNOWN_USERS),
            )
        )

    # Shrinking is off: each step is a request to a live service, and the
    # check's failure message already contains a curl command that repeats it.
    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check_response(case):
        case.call_and_validate()

    check_response()


def use_known_users(case, sender: str, recipient: str):
    """Replace the user ids of a valid ``case`` with ids of existing users."""
    if "userID" in (case.path_parameters or {}):
        case.path_parameters["userID"] = recipient
    if isinstance(case.body, dict) and "toID" in case.body:
        case.body["fromID"] = sender
        case.body["toID"] = recipient
    return case


def test_fuzz_lists_every_operation(producer_api, consumer_api):
    assert documented(producer_api) - UNFUZZED == set(PRODUCER_OPERATIONS)
    assert documented(consumer_api) - UNFUZZED == set(CONSUMER_OPERATIONS)


@pytest.mark.parametrize("label", PRODUCER_OPERATIONS)
def test_fuzz_producer(producer_api, label):
    fuzz(producer_api, label)


@pytest.mark.parametrize("label", CONSUMER_OPERATIONS)
def test_fuzz_consumer(consumer_api, label):
    fuzz(consumer_api, label)
