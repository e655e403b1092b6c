"""Fixtures for tests against a real broker and real gunicorn processes."""

import json
import uuid

import pytest
from confluent_kafka import Producer

from common.broker import EmbeddedBroker
from tests.support import GunicornService, free_port


@pytest.fixture(scope="session")
def broker():
    """One embedded broker on a free port for the whole session."""
    embedded = EmbeddedBroker(free_port())
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


def make_env(broker: EmbeddedBroker, store_dir) -> dict[str, str]:
    """Build the environment of services with their own topic, group and store."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "NOTIFY_TOPIC": f"notifications-{suffix}",
        "NOTIFY_GROUP_ID": f"group-{suffix}",
        "NOTIFY_STORE": f"sqlite:///{store_dir}/notifications.db",
        "NOTIFY_DELIVERY_TIMEOUT_MS": "5000",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def service_env(broker, tmp_path):
    """Environment of one test's services."""
    return make_env(broker, tmp_path)


@pytest.fixture(scope="module")
def shared_services(broker, tmp_path_factory):
    """A producer and a consumer shared by the tests of one module."""
    tmp_path = tmp_path_factory.mktemp("services")
    env = make_env(broker, tmp_path)
    producer = GunicornService("producer:create_app()", env, tmp_path / "p.log")
    consumer = GunicornService("consumer:create_app()", env, tmp_path / "c.log")
    try:
        yield producer.start(), consumer.start()
    finally:
        producer.kill()
        consumer.kill()


@pytest.fixture
def start_service(tmp_path):
    """Start gunicorn services; every one started is stopped at teardown."""
    started: list[GunicornService] = []

    def start(target: str, env: dict, **options) -> GunicornService:
        name = target.split(":")[0]
        log_path = tmp_path / f"{name}-{len(started)}.log"
        service = GunicornService(target, env, log_path, **options)
        started.append(service)
        return service.start()

    try:
        yield start
    finally:
        for service in started:
            service.kill()


@pytest.fixture
def producer_service(start_service, service_env):
    return start_service("producer:create_app()", service_env)


@pytest.fixture
def consumer_service(start_service, service_env):
    return start_service("consumer:create_app()", service_env)


@pytest.fixture
def raw_producer(broker):
    """A plain Kafka producer for writing records the service would not."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    yield producer
    producer.flush(10)


def record_value(to_id: int, message: str, **overrides) -> bytes:
    """Build the JSON value of a valid notification record."""
    names = {1: "Emma", 2: "Bruno", 3: "Rick", 4: "Lena"}
    value = {
        "id": str(uuid.uuid4()),
        "from": {"id": 2, "name": names[2]},
        "to": {"id": to_id, "name": names[to_id]},
        "message": message,
        "created_at": "2026-12-04T15:20:00.123456Z",
        **overrides,
    }
    return json.dumps(value).encode()
