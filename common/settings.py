"""Settings of both services, read from the environment.

Every variable the services read is declared here, with its default; the
README's configuration table lists the same names. An invalid value raises
``SettingsError`` naming the variable, so a service refuses to start instead
of failing later.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from common.auth import is_valid_key
from common.errors import SettingsError

# Kafka's own rule for topic names: at most 249 of these characters.
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# The schemes of a PostgreSQL store URL; libpq accepts both.
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")
# The password of scheme://user:password@host, and of a password= query
# parameter, which libpq also accepts.
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/]*:)[^@/]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*")


@dataclass(frozen=True)
class Settings:
    """Configuration of one service process."""

    kafka_bootstrap_servers: str
    kafka_port: int
    kafka_session_timeout_ms: int
    max_poll_interval_ms: int
    producer_port: int
    consumer_port: int
    topic: str
    group_id: str
    topic_partitions: int
    delivery_timeout_ms: int
    # A PostgreSQL URL can contain a password, so repr() leaves it out.
    store_url: str = field(repr=False)
    users_file: str | None
    log_level: str
    web_concurrency: int
    threads: int
    cors_origins: tuple[str, ...]
    producer_url: str
    stream_keepalive_seconds: int
    # Credentials stay out of repr(), so a logged Settings object does not
    # show them (tests/unit/test_settings_auth.py checks this).
    api_keys: tuple[str, ...] = field(repr=False)
    feed_secret: str | None = field(repr=False)

    @property
    def delivery_timeout(self) -> float:
        """Delivery timeout in seconds."""
        return self.delivery_timeout_ms / 1000


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from ``environ`` (default ``os.environ``)."""
    env = _Environment(os.environ if environ is None else environ)
    kafka_port = env.integer("KAFKA_PORT", 9092, minimum=1, maximum=65535)
    session_timeout_ms = env.integer(
        "KAFKA_SESSION_TIMEOUT_MS", 6000, minimum=1000, maximum=3_600_000
    )

    return Settings(
        kafka_bootstrap_servers=env.text(
            "KAFKA_BOOTSTRAP_SERVERS", f"localhost:{kafka_port}"
        ),
        kafka_port=kafka_port,
        kafka_session_timeout_ms=session_timeout_ms,
        max_poll_interval_ms=_max_poll_interval_ms(env, session_timeout_ms),
        producer_port=env.integer("PRODUCER_PORT", 8080, minimum=1, maximum=65535),
        consumer_port=env.integer("CONSUMER_PORT", 8081, minimum=1, maximum=65535),
        topic=env.text("NOTIFY_TOPIC", "notifications", check=_check_topic),
        group_id=env.text("NOTIFY_GROUP_ID", "notifications-group"),
        topic_partitions=env.integer(
            "NOTIFY_TOPIC_PARTITIONS", 3, minimum=1, maximum=10_000
        ),
        delivery_timeout_ms=env.integer(
            "NOTIFY_DELIVERY_TIMEOUT_MS", 10_000, minimum=100, maximum=900_000
        ),
        store_url=env.text(
            "NOTIFY_STORE", "sqlite:///var/notifications.db", check=_check_store
        ),
        users_file=env.optional("NOTIFY_USERS_FILE"),
        log_level=env.text("LOG_LEVEL", "INFO", check=_check_log_level).upper(),
        web_concurrency=env.integer("WEB_CONCURRENCY", 2, minimum=1, maximum=256),
        # Each /send keeps its thread while it waits for the broker, so with 8
        # threads per worker the CPU sat idle. `make bench` compares counts.
        threads=env.integer("NOTIFY_THREADS", 32, minimum=1, maximum=1024),
        cors_origins=_split_origins(
            env.text("NOTIFY_CORS_ORIGINS", "*", check=_check_origins)
        ),
        producer_url=env.text(
            "NOTIFY_PRODUCER_URL", "http://localhost:8080", check=_check_http_url
        ).rstrip("/"),
        stream_keepalive_seconds=env.integer(
            "NOTIFY_STREAM_KEEPALIVE_SECONDS", 15, minimum=1, maximum=3600
        ),
        api_keys=_api_keys(env.optional("NOTIFY_API_KEYS")),
        # As with every variable, surrounding whitespace is dropped, and a
        # blank value leaves feed tokens off.
        feed_secret=env.optional("NOTIFY_FEED_SECRET"),
    )


def _max_poll_interval_ms(env: "_Environment", session_timeout_ms: int) -> int:
    # librdkafka refuses to create a consumer whose max.poll.interval.ms is
    # below session.timeout.ms, so the default rises with the session timeout.
    name = "NOTIFY_MAX_POLL_INTERVAL_MS"
    value = env.integer(
        name, max(300_000, session_timeout_ms), minimum=1000, maximum=86_400_000
    )
    if value < session_timeout_ms:
        raise SettingsError(
            name,
            f"invalid value {value}: expected at least KAFKA_SESSION_TIMEOUT_MS "
            f"({session_timeout_ms})",
        )
    return value


class _Environment:
    """Typed, validated access to environment variables."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def text(
        self,
        name: str,
        default: str,
        check: Callable[[str], str | None] | None = None,
    ) -> str:
        value = self.optional(name) or default
        problem = check(value) if check else None
        if problem:
            masked_value = mask_url_password(value)
            raise SettingsError(name, f"invalid value {masked_value!r}: {problem}")

        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default

        if not re.fullmatch(r"[0-9]+", raw):
            raise SettingsError(
                name, f"invalid value {raw!r}: expected a whole number"
            )
        value = int(raw)
        if not minimum <= value <= maximum:
            raise SettingsError(
                name,
                f"invalid value {raw!r}: expected {minimum} to {maximum}",
            )

        return value


def _check_topic(value: str) -> str | None:
    if _TOPIC_NAME.fullmatch(value) and value not in (".", ".."):
        return None
    return "a topic name is 1 to 249 of the characters A-Z a-z 0-9 . _ -"


def _check_store(value: str) -> str | None:
    if value == "memory://" or value.startswith("sqlite:///"):
        if value != "sqlite:///":
            return None
    for prefix in POSTGRES_URL_PREFIXES:
        if value.startswith(prefix) and value != prefix:
            return None
    return (
        "expected memory://, sqlite:///PATH (relative), sqlite:////PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )


def mask_url_password(url: str) -> str:
    """Return ``url`` with the password in its user information or query as ***.

    Values without a password, or that are not URLs, come back unchanged.
    """
    masked = _URL_PASSWORD.sub(r"\1***@", url)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def _check_log_level(value: str) -> str | None:
    if value.upper() in _LOG_LEVELS:
        return None
    return f"expected one of {', '.join(_LOG_LEVELS)}"



def _split_origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in value.split(","))


def _check_origins(value: str) -> str | None:
    for origin in _split_origins(value):
        if origin != "*" and _check_http_url(origin):
            return f"{origin!r} is not * or an origin such as https://app.example"
    return None


def _check_http_url(value: str) -> str | None:
    if re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
        return None
    return "expected an http:// or https:// URL"


def _api_keys(value: str | None) -> tuple[str, ...]:
    """Split ``NOTIFY_API_KEYS`` into its keys, ignoring blank entries.

    Error messages give an entry's position, never its value.
    """
    if value is None:
        return ()
    entries = [entry.strip() for entry in value.split(",")]
    keys = tuple(entry for entry in entries if entry)
    for position, key in enumerate(keys, start=1):
        if not is_valid_key(key):
            raise SettingsError(
                "NOTIFY_API_KEYS",
                f"key {position} is invalid: each key is 1 to 255 visible "
                "ASCII characters, without spaces or commas",
            )
    return keys
