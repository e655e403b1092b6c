"""Logging set-up for the entry points: the app factories and the launcher."""

import logging

_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send log records at ``level`` and above to stderr.

    Handlers are added only when the root logger has none, so a host that
    configured logging itself (a test runner, an embedding program) keeps its
    own set-up.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
