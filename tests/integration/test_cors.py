"""CORS headers on every response, and preflight responses without credentials."""

import pytest
import requests

ORIGIN = "http://app.example"


@pytest.mark.parametrize(
    ("service", "method", "path", "status"),
    [
        (0, "POST", "/send", 415),
        (0, "GET", "/nowhere", 404),
        (1, "GET", "/notifications/1", 200),
        (1, "GET", "/notifications/abc", 400),
        (1, "GET", "/notifications/99", 404),
        (1, "PUT", "/notifications/1", 405),
    ],
)
def test_cors_header_on_every_response(shared_services, service, method, path, status):
    url = shared_services[service].url

    response = requests.request(
        method, f"{url}{path}", headers={"Origin": ORIGIN}, timeout=5
    )

    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("service", "path", "method"),
    [
        (0, "/send", "POST"),
        (1, "/notifications/1", "GET"),
        (1, "/notifications/1/read", "POST"),
        (1, "/notifications/1/0b6a9e1e-3f0c-4c55-9a3a-5d1f2e3c4b5a", "DELETE"),
    ],
)
def test_cors_preflight_answered(shared_services, service, path, method):
    url = shared_services[service].url

    response = requests.options(
        f"{url}{path}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        timeout=5,
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert method in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_cors_only_configured_origins(start_service, service_env):
    env = {**service_env, "NOTIFY_CORS_ORIGINS": f"{ORIGIN}, http://other.example"}
    producer = start_service("producer:create_app()", env)

    allowed = requests.get(
        f"{producer.url}/healthz", headers={"Origin": ORIGIN}, timeout=5
    )
    refused = requests.get(
        f"{producer.url}/healthz", headers={"Origin": "http://evil.example"}, timeout=5
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in refused.headers
