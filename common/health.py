"""The /healthz and /readyz routes both services serve."""

from collections.abc import Callable

from flask import Blueprint, jsonify

from common.http_errors import error_response


def health_blueprint(readiness_problem: Callable[[], str | None]) -> Blueprint:
    """Build the health routes; ``readiness_problem`` returns why not ready."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @blueprint.get("/readyz")
    def readyz():
        problem = readiness_problem()
        if problem:
            return error_response(503, f"Not ready: {problem}", status="not ready")
        return jsonify({"status": "ready"})

    return blueprint
