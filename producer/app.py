"""The producer service's app factory."""

import os
from collections.abc import Mapping

from flask import Flask

from common.auth import api_key_guard, install_auth
from common.cors import enable_cors
from common.health import health_blueprint
from common.http_errors import register_error_handlers
from common.logging_setup import configure_logging
from common.metrics import instrument_requests, metrics_blueprint
from common.routing import strict_routing
from common.runtime import EXTENSION_KEY, WorkerRuntime, attach_runtime
from common.settings import load_settings
from common.users import load_user_directory
from producer import routes
from producer.openapi import openapi_routes
from producer.publisher import Publisher
from producer.request_body import MAX_BODY_BYTES


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Create the producer app.

    ``config`` overrides environment variables by name, for tests. The Kafka
    producer starts in the worker process that serves the app, never in a
    gunicorn master.
    """
    settings = load_settings({**os.environ, **(config or {})})
    configure_logging(settings.log_level)

    app = Flask(__name__)
    # One byte over the limit, so that /send can tell a chunked body that
    # reached it; the route returns the 413 itself.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.extensions["notify_settings"] = settings
    app.extensions["notify_users"] = load_user_directory(settings.users_file)

    register_error_handlers(app)
    strict_routing(app)
    enable_cors(app, settings)
    instrument_requests(app, "producer")
    if settings.api_keys:
        install_auth(app, {routes.blueprint.name: api_key_guard(settings.api_keys)})
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(metrics_blueprint())
    app.register_blueprint(openapi_routes())
    app.register_blueprint(health_blueprint(lambda: _readiness_problem(app)))
    attach_runtime(app, WorkerRuntime(lambda: Publisher(settings)))

    return app


def _readiness_problem(app: Flask) -> str | None:
    publisher = app.extensions[EXTENSION_KEY].ensure_started()
    return publisher.readiness_problem()
