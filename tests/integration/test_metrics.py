"""GET /metrics: Prometheus text, aggregated over every gunicorn worker."""

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import send, wait_for_feed, wait_until


def scrape(url: str) -> dict[str, float]:
    """Return every sample of GET /metrics as {"name{labels}": value}."""
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def test_metrics_count_across_workers(start_service, service_env, raw_producer):
    options = {"workers": 2, "shipped_config": True}
    producer = start_service("producer:create_app()", service_env, **options)
    consumer = start_service("consumer:create_app()", service_env, **options)
    for number in range(6):
        assert send(producer.url, 3, 2, f"counted {number}").status_code == 200
    raw_producer.produce(service_env["NOTIFY_TOPIC"], key=b"2", value=b"not json")
    assert raw_producer.flush(10) == 0
    wait_for_feed(consumer.url, 2, 6)

    # Several scrapes, each served by whichever worker accepts it, must all
    # show the totals of both workers.
    for _ in range(5):
        produced = scrape(producer.url)
        assert produced["notify_notifications_published_total{}"] == 6
        sends = (
            "notify_http_requests_total"
            "{method=POST,route=/send,service=producer,status=200}"
        )
        assert produced[sends] == 6
        assert produced["notify_delivery_latency_seconds_count{}"] == 6

    wait_until(
        lambda: scrape(consumer.url)["notify_records_skipped_total{}"] == 1,
        10,
        "the invalid record counted as skipped",
    )
    consumed = scrape(consumer.url)
    assert consumed["notify_notifications_stored_total{}"] == 6
    assert consumed["notify_records_consumed_total{}"] == 7
    assert consumed["notify_consumer_last_commit_timestamp_seconds{}"] > 0
    assert "notify_consumer_seconds_since_last_commit{}" in consumed
    for name in consumed:
        if not name.startswith(("python_", "process_")):
            assert name.startswith("notify_")


def test_metrics_without_shipped_config(shared_services):
    for service in shared_services:
        samples = scrape(service.url)

        assert any(name.startswith("notify_http_requests_total") for name in samples)
