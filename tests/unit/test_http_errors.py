"""Tests of the JSON error handlers: no HTML page and no traceback."""

import logging

import pytest
from flask import Flask, request

from common.http_errors import error_response, register_error_handlers

EXCEPTION_DETAIL = "token=4f9c-internal-detail"


@pytest.fixture
def client():
    app = Flask(__name__)
    register_error_handlers(app)

    @app.get("/boom")
    def boom():
        raise RuntimeError(EXCEPTION_DETAIL)

    @app.get("/teapot")
    def teapot():
        return error_response(418, "Short and stout", hint="tip me over")

    @app.route("/items", methods=["GET", "POST"])
    def items():
        return {"items": []}

    return app.test_client()


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str)
    assert body["message"] != ""
    assert b"<html" not in response.data.lower()
    assert b"Traceback" not in response.data
    return body


def test_http_errors_not_found(client):
    body = assert_json_error(client.get("/missing/path"), 404)

    assert "/missing/path" in body["message"]


def test_http_errors_method_not_allowed(client):
    response = client.delete("/items")

    body = assert_json_error(response, 405)

    assert "DELETE" in body["message"]
    assert "GET" in body["message"]
    assert "POST" in body["message"]


def test_http_errors_405_keeps_allow_header(client):
    response = client.put("/items")

    allowed = {method.strip() for method in response.headers["Allow"].split(",")}

    assert "GET" in allowed
    assert "POST" in allowed
    assert response.mimetype == "application/json"


def test_http_errors_unexpected_exception(client, caplog):
    with caplog.at_level(logging.ERROR, logger="common.http_errors"):
        response = client.get("/boom")

    body = assert_json_error(response, 500)

    assert EXCEPTION_DETAIL.encode() not in response.data
    assert "RuntimeError" not in body["message"]
    assert "GET /boom" in caplog.text
    assert EXCEPTION_DETAIL in caplog.text


def test_http_errors_error_response(client):
    response = client.get("/teapot")

    body = assert_json_error(response, 418)

    assert body == {"message": "Short and stout", "hint": "tip me over"}


def test_http_errors_request_too_large():
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10
    register_error_handlers(app)

    @app.post("/upload")
    def upload():
        return {"size": len(request.get_data())}

    response = app.test_client().post("/upload", data=b"x" * 100)

    assert_json_error(response, 413)
