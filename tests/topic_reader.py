"""Read a whole Kafka topic back, to check what the producer really published."""

import json
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

# The embedded broker can report a high watermark a few offsets below the
# last record, so a read ends only after a poll of this long returns nothing.
QUIET_SECONDS = 1.0


def read_topic(
    bootstrap_servers: str, topic: str, wanted_ids: set[str], timeout: float = 30.0
) -> list[dict]:
    """Return the JSON value of every record of ``topic``, from the first offset.

    Reads until every id in ``wanted_ids`` has arrived, every partition is
    read up to its high watermark and no record came for ``QUIET_SECONDS``.
    After ``timeout`` seconds it returns what it has read, and the caller
    checks the result.
    A value that is not JSON is returned as ``{"raw": repr(value)}``.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"topic-audit-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [
            TopicPartition(topic, number, OFFSET_BEGINNING)
            for number in metadata.topics[topic].partitions
        ]
        ends = {
            partition.partition: consumer.get_watermark_offsets(partition, 10)[1]
            for partition in partitions
        }
        consumer.assign(partitions)

        positions = {partition.partition: 0 for partition in partitions}
        records: list[dict] = []
        missing = set(wanted_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(QUIET_SECONDS)
            if message is None:
                caught_up = all(positions[p] >= ends[p] for p in ends)
                if caught_up and not missing:
                    break
                continue
            if message.error() is not None:
                raise AssertionError(f"reading {topic} failed: {message.error()}")
            positions[message.partition()] = message.offset() + 1
            try:
                value = json.loads(message.value())
            except ValueError:
                value = {"raw": repr(message.value())}
            if not isinstance(value, dict):
                value = {"raw": repr(message.value())}
            records.append(value)
            missing.discard(value.get("id"))
        return records
    finally:
        consumer.close()
