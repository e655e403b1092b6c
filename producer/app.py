"""The producer service's app factory."""

from collections.abc import Mapping

from flask import Flask

from common.app_base import finish_app, new_app
from common.auth import api_key_guard, install_auth
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
    app, settings = new_app(__name__, "producer", config, MAX_BODY_BYTES)
    if settings.api_keys:
        install_auth(app, {routes.blueprint.name: api_key_guard(settings.api_keys)})
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(openapi_routes())

    return finish_app(app, lambda: Publisher(settings))
