"""The services under gunicorn: --preload, several workers, the shipped config."""

from pathlib import Path

import pytest
import requests

from tests.support import fetch_feed, send, wait_for_feed, wait_until


def kafka_threads(pid: int) -> list[str]:
    """Return the names of librdkafka's threads (``rdk:...``) in process ``pid``."""
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        if name.startswith("rdk:"):
            names.append(name)
    return names


@pytest.mark.parametrize("shipped_config", [False, True], ids=["plain", "config"])
def test_preload_keeps_kafka_out_of_master(
    start_service, service_env, shipped_config
):
    options = {"workers": 2, "extra_args": ("--preload",)}
    producer = start_service(
        "producer:create_app()", service_env, shipped_config=shipped_config, **options
    )
    consumer = start_service(
        "consumer:create_app()", service_env, shipped_config=shipped_config, **options
    )

    for number in range(10):
        assert send(producer.url, 2, 1, f"preloaded {number}").status_code == 200
    emma = wait_for_feed(consumer.url, 1, 10)

    assert [n["message"] for n in emma] == [f"preloaded {i}" for i in range(10)]
    for service in (producer, consumer):
        assert kafka_threads(service.process.pid) == []
        workers = service.worker_pids
        assert len(workers) == 2
        # Each worker builds its own client, so the check above can fail.
        wait_until(
            lambda pids=workers: all(kafka_threads(pid) for pid in pids),
            10,
            f"librdkafka threads in every {service.target} worker",
        )


@pytest.mark.parametrize("partitions", [1, 6])
def test_consumer_workers_answer_every_user(
    start_service, service_env, partitions
):
    env = {**service_env, "NOTIFY_TOPIC_PARTITIONS": str(partitions)}
    producer = start_service("producer:create_app()", env, shipped_config=True)
    consumer = start_service(
        "consumer:create_app()", env, workers=3, shipped_config=True
    )

    sent: dict[int, list[str]] = {user: [] for user in (1, 2, 3, 4)}
    for number in range(200):
        recipient = number % 4 + 1
        sender = (number + 1) % 4 + 1
        response = send(producer.url, sender, recipient, f"note {number}")
        assert response.status_code == 200
        sent[recipient].append(response.json()["id"])

    for user, ids in sent.items():
        wait_for_feed(consumer.url, user, len(ids))
    for user, ids in sent.items():
        for _ in range(20):
            # A new connection each time, so the responses come from any worker.
            feed = fetch_feed(consumer.url, user)
            assert [n["id"] for n in feed] == ids


def test_shipped_config_logs_to_stdout_and_stderr(start_service, service_env):
    consumer = start_service(
        "consumer:create_app()", service_env, shipped_config=True
    )

    requests.get(f"{consumer.url}/healthz", timeout=5)
    wait_until(
        lambda: "/healthz" in consumer.log_path.read_text(),
        5,
        "access log line for /healthz",
    )
    log = consumer.log_path.read_text()

    assert "Using worker: gthread" in log
    assert "Joined group" in log
