"""The consumer service's app factory."""

import os
from collections.abc import Mapping

from flask import Flask

from common.auth import feed_token_guard, install_auth
from common.cors import enable_cors
from common.health import health_blueprint
from common.http_errors import register_error_handlers
from common.logging_setup import configure_logging
from common.metrics import instrument_requests, metrics_blueprint
from common.routing import strict_routing
from common.runtime import EXTENSION_KEY, WorkerRuntime, attach_runtime
from common.settings import load_settings
from common.users import load_user_directory
from consumer import routes, stream
from consumer.openapi import openapi_routes
from consumer.page import page_blueprint
from consumer.routes import MAX_BODY_BYTES
from consumer.service import ConsumerService


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Create the consumer app.

    ``config`` overrides environment variables by name, for tests. The store
    and the consumer thread start in the worker process that serves the app,
    never in a gunicorn master.
    """
    settings = load_settings({**os.environ, **(config or {})})
    configure_logging(settings.log_level)

    # The page blueprint serves its own assets; no app-wide /static route.
    app = Flask(__name__, static_folder=None)
    # One byte over the limit, so that the routes can tell a chunked body
    # that reached it (werkzeug stops reading there without an error).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.extensions["notify_settings"] = settings
    app.extensions["notify_users"] = load_user_directory(settings.users_file)

    register_error_handlers(app)
    strict_routing(app)
    enable_cors(app, settings)
    instrument_requests(app, "consumer")
    if settings.feed_secret:
        install_auth(
            app,
            {
                routes.blueprint.name: feed_token_guard(settings.feed_secret),
                stream.blueprint.name: feed_token_guard(
                    settings.feed_secret, allow_query=True
                ),
            },
        )
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(stream.blueprint)
    app.register_blueprint(page_blueprint(settings))
    app.register_blueprint(metrics_blueprint())
    app.register_blueprint(openapi_routes())
    app.register_blueprint(health_blueprint(lambda: _readiness_problem(app)))
    attach_runtime(app, WorkerRuntime(lambda: ConsumerService(settings)))

    return app


def _readiness_problem(app: Flask) -> str | None:
    return app.extensions[EXTENSION_KEY].ensure_started().readiness_problem()
