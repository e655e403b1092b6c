"""Tests of load_settings: defaults, blank values and invalid values."""

import pytest

from common.errors import SettingsError
from common.settings import load_settings, mask_url_password

# Every variable of the README's configuration table: (variable, attribute, default).
DEFAULTS = [
    ("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers", "localhost:9092"),
    ("KAFKA_PORT", "kafka_port", 9092),
    ("KAFKA_SESSION_TIMEOUT_MS", "kafka_session_timeout_ms", 6000),
    ("PRODUCER_PORT", "producer_port", 8080),
    ("CONSUMER_PORT", "consumer_port", 8081),
    ("NOTIFY_TOPIC", "topic", "notifications"),
    ("NOTIFY_GROUP_ID", "group_id", "notifications-group"),
    ("NOTIFY_TOPIC_PARTITIONS", "topic_partitions", 3),
    ("NOTIFY_DELIVERY_TIMEOUT_MS", "delivery_timeout_ms", 10_000),
    ("NOTIFY_STORE", "store_url", "sqlite:///var/notifications.db"),
    ("NOTIFY_USERS_FILE", "users_file", None),
    ("LOG_LEVEL", "log_level", "INFO"),
    ("WEB_CONCURRENCY", "web_concurrency", 2),
    ("NOTIFY_THREADS", "threads", 32),
]

# Valid non-default values: (variable, value, attribute, expected).
VALID = [
    (
        "KAFKA_BOOTSTRAP_SERVERS",
        "broker:29092",
        "kafka_bootstrap_servers",
        "broker:29092",
    ),
    ("KAFKA_PORT", "1", "kafka_port", 1),
    ("KAFKA_PORT", "65535", "kafka_port", 65535),
    ("KAFKA_SESSION_TIMEOUT_MS", "1000", "kafka_session_timeout_ms", 1000),
    ("PRODUCER_PORT", "18080", "producer_port", 18080),
    ("CONSUMER_PORT", "18081", "consumer_port", 18081),
    ("NOTIFY_TOPIC", "team.notify_v2-test", "topic", "team.notify_v2-test"),
    ("NOTIFY_TOPIC", "t" * 249, "topic", "t" * 249),
    ("NOTIFY_GROUP_ID", "group-7", "group_id", "group-7"),
    ("NOTIFY_TOPIC_PARTITIONS", "1", "topic_partitions", 1),
    ("NOTIFY_DELIVERY_TIMEOUT_MS", "100", "delivery_timeout_ms", 100),
    ("NOTIFY_STORE", "memory://", "store_url", "memory://"),
    ("NOTIFY_STORE", "sqlite:////tmp/n.db", "store_url", "sqlite:////tmp/n.db"),
    ("NOTIFY_STORE", "postgres://db/notify", "store_url", "postgres://db/notify"),
    (
        "NOTIFY_STORE",
        "postgresql://notify:pw@db:5432/notify",
        "store_url",
        "postgresql://notify:pw@db:5432/notify",
    ),
    ("NOTIFY_USERS_FILE", "/etc/users.json", "users_file", "/etc/users.json"),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("LOG_LEVEL", "Warning", "log_level", "WARNING"),
    ("WEB_CONCURRENCY", "1", "web_concurrency", 1),
    ("NOTIFY_THREADS", "1", "threads", 1),
    ("KAFKA_PORT", " 9093 ", "kafka_port", 9093),
]

INTEGER_VARIABLES = [
    "KAFKA_PORT",
    "KAFKA_SESSION_TIMEOUT_MS",
    "PRODUCER_PORT",
    "CONSUMER_PORT",
    "NOTIFY_TOPIC_PARTITIONS",
    "NOTIFY_DELIVERY_TIMEOUT_MS",
    "WEB_CONCURRENCY",
    "NOTIFY_THREADS",
]
NOT_NUMBERS = ["abc", "1.5", "1e3", "0x10", "+5", "1_000", "10 ms", "１２"]

# Values outside the accepted range or grammar: (variable, value).
OUT_OF_RANGE = [
    ("KAFKA_PORT", "0"),
    ("KAFKA_PORT", "65536"),
    ("PRODUCER_PORT", "0"),
    ("PRODUCER_PORT", "65536"),
    ("CONSUMER_PORT", "0"),
    ("CONSUMER_PORT", "70000"),
    ("KAFKA_SESSION_TIMEOUT_MS", "999"),
    ("NOTIFY_TOPIC_PARTITIONS", "0"),
    ("NOTIFY_DELIVERY_TIMEOUT_MS", "99"),
    ("WEB_CONCURRENCY", "0"),
    ("NOTIFY_THREADS", "0"),
]
NEGATIVES = [(variable, "-1") for variable in INTEGER_VARIABLES]
BAD_TEXT = [
    ("NOTIFY_TOPIC", "my topic"),
    ("NOTIFY_TOPIC", "a/b"),
    ("NOTIFY_TOPIC", "."),
    ("NOTIFY_TOPIC", ".."),
    ("NOTIFY_TOPIC", "t" * 250),
    ("NOTIFY_TOPIC", "notificações"),
    ("NOTIFY_STORE", "sqlite:///"),
    ("NOTIFY_STORE", "sqlite://relative.db"),
    ("NOTIFY_STORE", "postgresql://"),
    ("NOTIFY_STORE", "postgres://"),
    ("NOTIFY_STORE", "postgresql:/db/notify"),
    ("NOTIFY_STORE", "memory://extra"),
    ("NOTIFY_STORE", "notifications.db"),
    ("LOG_LEVEL", "verbose"),
    ("LOG_LEVEL", "TRACE"),
    ("LOG_LEVEL", "10"),
]
INVALID = (
    [(variable, value) for variable in INTEGER_VARIABLES for value in NOT_NUMBERS]
    + NEGATIVES
    + OUT_OF_RANGE
    + BAD_TEXT
)


def case_id(variable: str, value: str) -> str:
    return f"{variable}={value[:20]!r}"


@pytest.mark.parametrize(
    ("variable", "attribute", "default"),
    DEFAULTS,
    ids=[row[0] for row in DEFAULTS],
)
def test_settings_default(variable, attribute, default):
    settings = load_settings({})

    assert getattr(settings, attribute) == default


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab"])
@pytest.mark.parametrize(
    ("variable", "attribute", "default"),
    DEFAULTS,
    ids=[row[0] for row in DEFAULTS],
)
def test_settings_blank_uses_default(variable, attribute, default, blank):
    settings = load_settings({variable: blank})

    assert getattr(settings, attribute) == default


def test_settings_bootstrap_follows_kafka_port():
    settings = load_settings({"KAFKA_PORT": "19092"})

    assert settings.kafka_bootstrap_servers == "localhost:19092"


def test_settings_bootstrap_overrides_kafka_port():
    settings = load_settings(
        {"KAFKA_PORT": "19092", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
    )

    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_port == 19092


def test_settings_delivery_timeout_seconds():
    settings = load_settings({"NOTIFY_DELIVERY_TIMEOUT_MS": "2500"})

    assert settings.delivery_timeout == 2.5


def test_settings_reads_os_environ(monkeypatch):
    monkeypatch.setenv("NOTIFY_TOPIC", "from-os-environ")

    assert load_settings().topic == "from-os-environ"


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    VALID,
    ids=[case_id(row[0], row[1]) for row in VALID],
)
def test_settings_valid_value(variable, value, attribute, expected):
    settings = load_settings({variable: value})

    assert getattr(settings, attribute) == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    INVALID,
    ids=[case_id(variable, value) for variable, value in INVALID],
)
def test_settings_invalid_value(variable, value):
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})

    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert repr(value) in str(caught.value)


def test_invalid_store_url_hides_password():
    with pytest.raises(SettingsError) as caught:
        load_settings({"NOTIFY_STORE": "postgresq://notify:s3cret-pw@db/notify"})

    assert "s3cret-pw" not in str(caught.value)
    assert "'postgresq://notify:***@db/notify'" in str(caught.value)


def test_settings_repr_omits_store_url():
    settings = load_settings(
        {"NOTIFY_STORE": "postgresql://notify:s3cret-pw@db/notify"}
    )

    assert "s3cret-pw" not in repr(settings)
    assert settings.store_url == "postgresql://notify:s3cret-pw@db/notify"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@db:5432/n", "postgresql://u:***@db:5432/n"),
        (
            "postgres://u:p%40ss@h1:5432,h2:5432/n",
            "postgres://u:***@h1:5432,h2:5432/n",
        ),
        ("postgresql://u:@db/n", "postgresql://u:***@db/n"),
        ("postgresql://u@db/n", "postgresql://u@db/n"),
        (
            "postgresql://db/n?password=pw&sslmode=require",
            "postgresql://db/n?password=***&sslmode=require",
        ),
        (
            "postgresql://db/n?sslmode=require&password=pw",
            "postgresql://db/n?sslmode=require&password=***",
        ),
        ("sqlite:////var/n.db", "sqlite:////var/n.db"),
        ("memory://", "memory://"),
        ("user:pw@host", "user:pw@host"),
    ],
)
def test_mask_url_password(url, masked):
    assert mask_url_password(url) == masked
