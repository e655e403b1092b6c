"""Consumer faults: invalid records, a locked store, a stalled poll loop, kill -9."""

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.integration.conftest import record_value
from tests.integration.test_metrics import scrape
from tests.support import send, wait_for_feed, wait_until

USERS = (1, 2, 3, 4)


def send_ok(producer_url: str, from_id: int, to_id: int, message: str) -> str:
    response = send(producer_url, from_id, to_id, message)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def store_path(env: dict[str, str]) -> Path:
    """Return the SQLite file that ``NOTIFY_STORE`` names."""
    return Path(env["NOTIFY_STORE"].removeprefix("sqlite:///").partition("?")[0])


def readiness(url: str) -> tuple[int, str]:
    """Return the status and the message of GET /readyz."""
    response = requests.get(f"{url}/readyz", timeout=5)
    return response.status_code, response.json().get("message", "")


def read_feed(url: str, user_id: int) -> list[str]:
    """Return the ids of every notification of a user, following next_cursor."""
    ids: list[str] = []
    params = {"limit": 1000}
    while True:
        response = requests.get(
            f"{url}/notifications/{user_id}", params=params, timeout=10
        )
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(n["id"] for n in body["notifications"])
        if body["next_cursor"] is None:
            return ids
        params = {"limit": 1000, "cursor": body["next_cursor"]}


def stored_count(path: Path) -> int:
    """Return the number of rows in the store, read straight from the file."""
    connection = sqlite3.connect(path, timeout=5)
    try:
        return connection.execute("SELECT count(*) FROM notifications").fetchone()[0]
    finally:
        connection.close()


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int):
    """Return the group's committed offset of each partition (negative if none)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        requested = [TopicPartition(topic, p) for p in range(partitions)]
        return [tp.offset for tp in reader.committed(requested, timeout=10)]
    finally:
        reader.close()


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 15.0):
    """Read a topic from the start until ``count`` records, then until idle.

    The broker's high watermark cannot be trusted, so the end of the topic is
    where one second passes without a record.
    """
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "dead-letter-reader",
            "enable.auto.commit": False,
            "allow.auto.create.topics": False,
        }
    )
    try:
        metadata = reader.list_topics(timeout=10).topics[topic]
        reader.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        )
        records = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = reader.poll(1.0)
            if message is None:
                if len(records) >= count:
                    break
                continue
            assert message.error() is None, message.error()
            records.append(message)
        return records
    finally:
        reader.close()


def test_poison_records_dead_lettered(
    start_service, service_env, raw_producer, broker
):
    consumer = start_service("consumer:create_app()", service_env)
    topic = service_env["NOTIFY_TOPIC"]
    dead_letter_topic = f"{topic}.dlq"
    # (key, value, a fragment of the x-error header)
    poison = [
        (b"1", b"not json at all", "not UTF-8 JSON"),
        (b"1", b"\xff\xfe", "not UTF-8 JSON"),
        (b"1", b'["a", "list"]', "not a JSON object"),
        (b"1", record_value(1, "bad id", id="not-a-uuid"), "does not match"),
        (None, record_value(1, "no key"), "no key"),
        (b"2", record_value(1, "key is another user"), "not the recipient"),
        (b"1", None, "no value"),
        (None, None, "no value"),
    ]
    offsets: dict[int, int] = {}
    for index, (key, value, _) in enumerate(poison):
        raw_producer.produce(
            topic,
            key=key,
            value=value,
            partition=0,
            on_delivery=lambda err, msg, i=index: offsets.__setitem__(i, msg.offset()),
        )
    raw_producer.produce(
        topic, key=b"1", value=record_value(1, "the valid one"), partition=0
    )
    assert raw_producer.flush(10) == 0
    assert sorted(offsets) == list(range(len(poison)))

    emma = wait_for_feed(consumer.url, 1, 1)
    assert [n["message"] for n in emma] == ["the valid one"]

    letters = read_topic(broker.bootstrap_servers, dead_letter_topic, len(poison))
    assert len(letters) == len(poison)
    by_offset = {
        int(dict(letter.headers())["x-source-offset"]): letter for letter in letters
    }
    assert sorted(by_offset) == sorted(offsets.values())
    for index, (key, value, error) in enumerate(poison):
        letter = by_offset[offsets[index]]
        headers = dict(letter.headers())
        assert letter.key() == key, index
        assert letter.value() == value, index
        assert error in headers["x-error"].decode("utf-8"), index
        assert headers["x-source-topic"] == topic.encode()
        assert headers["x-source-partition"] == b"0"
        assert len(letter.headers()) == 4

    # The committed offset of partition 0 is past the valid record.
    group = service_env["NOTIFY_GROUP_ID"]
    wait_until(
        lambda: committed_offsets(broker.bootstrap_servers, group, topic, 3)[0]
        == len(poison) + 1,
        10,
        "offsets of partition 0 committed past every record",
    )
    samples = scrape(consumer.url)
    assert samples["notify_records_dead_lettered_total{}"] == len(poison)
    assert samples["notify_records_skipped_total{}"] == len(poison)
    assert readiness(consumer.url)[0] == 200

    # Restarted in the same group, the consumer resumes after the poison
    # records, so it publishes none of them again.
    assert consumer.stop() == 0
    consumer = start_service("consumer:create_app()", service_env)
    raw_producer.produce(
        topic, key=b"1", value=record_value(1, "after restart"), partition=0
    )
    assert raw_producer.flush(10) == 0
    emma = wait_for_feed(consumer.url, 1, 2)

    assert [n["message"] for n in emma] == ["the valid one", "after restart"]
    assert scrape(consumer.url)["notify_records_dead_lettered_total{}"] == 0
    letters = read_topic(broker.bootstrap_servers, dead_letter_topic, len(poison))
    assert len(letters) == len(poison)


def test_locked_store_recovers(start_service, service_env, broker):
    path = store_path(service_env)
    env = {
        **service_env,
        "NOTIFY_STORE": f"sqlite:///{path}?busy_timeout_ms=200",
    }
    producer = start_service("producer:create_app()", env)
    consumer = start_service("consumer:create_app()", env)

    lock = sqlite3.connect(path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        sent = [send_ok(producer.url, 2, 1, f"while locked {i}") for i in range(10)]
        status, message = wait_until(
            lambda: (r := readiness(consumer.url))[0] == 503 and r,
            15,
            "/readyz returns 503 while the store is locked",
        )
        assert "store write failing" in message
        assert "locked" in message
        # Reads still work in WAL mode and show that nothing was stored, and
        # no offset was committed past the records.
        assert read_feed(consumer.url, 1) == []
        committed = committed_offsets(
            broker.bootstrap_servers, env["NOTIFY_GROUP_ID"], env["NOTIFY_TOPIC"], 3
        )
        assert all(offset < 0 for offset in committed), committed
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    wait_until(
        lambda: readiness(consumer.url)[0] == 200,
        15,
        "/readyz returns 200 after the lock is released",
    )
    wait_for_feed(consumer.url, 1, len(sent))
    assert read_feed(consumer.url, 1) == sent
    assert stored_count(path) == len(sent)


def test_stalled_poll_rejoins(start_service, service_env):
    path = store_path(service_env)
    max_poll_ms = 3000
    env = {
        **service_env,
        "NOTIFY_STORE": f"sqlite:///{path}?busy_timeout_ms=200",
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "NOTIFY_MAX_POLL_INTERVAL_MS": str(max_poll_ms),
    }
    producer = start_service("producer:create_app()", env)
    consumer = start_service("consumer:create_app()", env)
    sent = [send_ok(producer.url, 3, 2, "before the lock")]
    wait_for_feed(consumer.url, 2, 1)

    lock = sqlite3.connect(path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        sent += [send_ok(producer.url, 3, 2, f"while locked {i}") for i in range(5)]
        wait_until(
            lambda: readiness(consumer.url)[0] == 503,
            15,
            "/readyz returns 503 while the store is locked",
        )
        # Keep the lock for twice max.poll.interval.ms, checking readiness
        # all along.
        release_at = time.monotonic() + 2 * max_poll_ms / 1000
        while time.monotonic() < release_at:
            status, message = readiness(consumer.url)
            assert status == 503
            assert "store write failing" in message
            time.sleep(0.2)
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    wait_until(
        lambda: "Left consumer group" in consumer.log_path.read_text(),
        15,
        "the consumer reports that it left the group after the stall",
    )
    wait_until(
        lambda: readiness(consumer.url)[0] == 200,
        20,
        "/readyz returns 200 after the consumer rejoins",
    )
    sent += [send_ok(producer.url, 3, 2, f"after rejoining {i}") for i in range(5)]
    wait_for_feed(consumer.url, 2, len(sent))

    assert read_feed(consumer.url, 2) == sent
    assert stored_count(path) == len(sent)


def test_kill_under_load_stores_once(start_service, service_env):
    total = 5000
    path = store_path(service_env)
    producer = start_service(
        "producer:create_app()", service_env, workers=2, threads=8
    )
    consumer = start_service("consumer:create_app()", service_env)

    sessions = threading.local()
    answered = []  # list.append is atomic, so senders share it without a lock

    def send_one(number: int) -> tuple[int, str | None]:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        recipient = USERS[number % len(USERS)]
        sender = USERS[(number + 1) % len(USERS)]
        response = sessions.session.post(
            f"{producer.url}/send",
            data={"fromID": sender, "toID": recipient, "message": f"load {number}"},
            timeout=30,
        )
        answered.append(number)
        if response.status_code != 200:
            return recipient, None
        return recipient, response.json()["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(send_one, range(total))
        wait_until(
            lambda: stored_count(path) >= total // 5,
            30,
            f"{total // 5} notifications stored before the kill",
        )
        consumer.kill()
        answered_at_kill = len(answered)
        results = list(results)
    # NOTE: the restart waits for the load to end, because under that load a
    # new worker can take over 2 s to import the app, and GunicornService.start
    # then fails on the read timeout of its /readyz probe.
    consumer = start_service("consumer:create_app()", service_env)

    accepted = {user: set() for user in USERS}
    for recipient, notification_id in results:
        if notification_id is not None:
            accepted[recipient].add(notification_id)
    accepted_count = sum(len(ids) for ids in accepted.values())
    rejected = total - accepted_count
    assert answered_at_kill < total, "the kill came after the load"
    wait_until(
        lambda: stored_count(path) >= accepted_count,
        30,
        f"{accepted_count} notifications stored after the restart",
    )

    for user in USERS:
        feed = read_feed(consumer.url, user)
        assert len(feed) == len(set(feed)), f"user {user} has duplicates"
        missing = accepted[user] - set(feed)
        assert not missing, f"user {user} lacks {len(missing)} notifications"
        # A request that failed may still have been written, so its
        # notification may be stored without an id to compare.
        assert len(set(feed) - accepted[user]) <= rejected


def test_oversized_record_blocks_partition(
    start_service, service_env, broker
):
    consumer = start_service("consumer:create_app()", service_env)
    topic = service_env["NOTIFY_TOPIC"]
    group = service_env["NOTIFY_GROUP_ID"]
    large = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "message.max.bytes": 3_000_000}
    )
    large.produce(topic, key=b"1", value=b"x" * 1_500_000, partition=0)
    large.produce(
        topic, key=b"1", value=record_value(1, "after the large one"), partition=0
    )
    assert large.flush(10) == 0

    status, message = wait_until(
        lambda: (r := readiness(consumer.url))[0] == 503 and r,
        20,
        "/readyz returns 503 while the large record cannot be dead-lettered",
    )
    assert f"{topic}.dlq" in message
    assert read_feed(consumer.url, 1) == []
    assert committed_offsets(broker.bootstrap_servers, group, topic, 3)[0] < 0
    assert consumer.stop() == 0

    # An operator skips the record by committing the next offset for the
    # group while no member runs.
    operator = Consumer(
        {"bootstrap.servers": broker.bootstrap_servers, "group.id": group}
    )
    operator.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    operator.close()
    consumer = start_service("consumer:create_app()", service_env)
    emma = wait_for_feed(consumer.url, 1, 1)

    assert [n["message"] for n in emma] == ["after the large one"]
    assert readiness(consumer.url)[0] == 200
