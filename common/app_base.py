"""The parts of an app factory that the producer and the consumer share."""

import os
from collections.abc import Callable, Mapping

from flask import Flask

from common.cors import enable_cors
from common.health import health_blueprint
from common.http_errors import register_error_handlers
from common.json_provider import OrjsonProvider
from common.logging_setup import configure_logging
from common.metrics import instrument_requests, metrics_blueprint
from common.routing import strict_routing
from common.runtime import EXTENSION_KEY, Component, WorkerRuntime, attach_runtime
from common.settings import Settings, load_settings
from common.users import load_user_directory


def new_app(
    import_name: str,
    service: str,
    config: Mapping[str, str] | None,
    max_body_bytes: int,
    **flask_options,
) -> tuple[Flask, Settings]:
    """Create a Flask app with the settings, errors, routing, CORS and metrics.

    ``config`` overrides environment variables by name, for tests. The
    service's own routes come next, then ``finish_app``.
    """
    settings = load_settings({**os.environ, **(config or {})})
    configure_logging(settings.log_level)

    app = Flask(import_name, **flask_options)
    app.json = OrjsonProvider(app)
    # One byte over the limit: werkzeug stops reading a chunked body at the
    # limit without an error, so a body that reaches it is too large.
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes + 1
    app.extensions["notify_settings"] = settings
    app.extensions["notify_users"] = load_user_directory(settings.users_file)

    register_error_handlers(app)
    strict_routing(app)
    enable_cors(app, settings)
    instrument_requests(app, service)

    return app, settings


def finish_app(app: Flask, component: Callable[[], Component]) -> Flask:
    """Add the metrics and health routes and the per-worker runtime.

    ``component`` builds the service's publisher or consumer; it must have a
    ``readiness_problem()`` method, which /readyz reports.
    """
    app.register_blueprint(metrics_blueprint())
    app.register_blueprint(
        health_blueprint(
            lambda: app.extensions[EXTENSION_KEY].ensure_started().readiness_problem()
        )
    )
    attach_runtime(app, WorkerRuntime(component))

    return app
