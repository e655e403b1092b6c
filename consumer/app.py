"""The consumer service's app factory."""

from collections.abc import Mapping

from flask import Flask

from common.app_base import finish_app, new_app
from common.auth import feed_token_guard, install_auth
from consumer import routes, stream
from consumer.openapi import openapi_routes
from consumer.page import page_blueprint
from consumer.page_cache import PageCache
from consumer.routes import MAX_BODY_BYTES, PAGE_CACHE_KEY
from consumer.service import ConsumerService


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Create the consumer app.

    ``config`` overrides environment variables by name, for tests. The store
    and the consumer thread start in the worker process that serves the app,
    never in a gunicorn master.
    """
    # The page blueprint serves its own assets; no app-wide /static route.
    app, settings = new_app(
        __name__, "consumer", config, MAX_BODY_BYTES, static_folder=None
    )
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
    app.extensions[PAGE_CACHE_KEY] = PageCache()
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(stream.blueprint)
    app.register_blueprint(page_blueprint(settings))
    app.register_blueprint(openapi_routes())

    return finish_app(app, lambda: ConsumerService(settings))
