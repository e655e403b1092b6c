"""Every row of the GET /notifications/<userID> response table."""

import pytest
import requests

from tests.support import send, wait_for_feed


@pytest.fixture(scope="module")
def urls(shared_services):
    producer, consumer = shared_services
    return producer.url, consumer.url


def get(url: str, path: str) -> requests.Response:
    return requests.get(f"{url}{path}", timeout=5)


def test_feed_lists_notifications_oldest_first(urls):
    producer_url, consumer_url = urls
    sent = []
    for number in range(5):
        response = send(producer_url, 4, 3, f"Lena's note {number}")
        assert response.status_code == 200
        sent.append(response.json()["id"])

    rick = wait_for_feed(consumer_url, 3, 5)

    assert [n["id"] for n in rick] == sent
    assert [n["message"] for n in rick] == [f"Lena's note {i}" for i in range(5)]


def test_feed_leading_zeros_name_same_user(urls):
    producer_url, consumer_url = urls
    assert send(producer_url, 1, 2, "For Bruno").status_code == 200
    wait_for_feed(consumer_url, 2, 1)

    canonical = get(consumer_url, "/notifications/2").json()
    padded = get(consumer_url, "/notifications/0002").json()

    assert padded == canonical


def test_feed_empty_for_known_user(urls):
    _, consumer_url = urls
    response = get(consumer_url, "/notifications/1")

    body = response.json()
    assert response.status_code == 200
    assert body["message"] == "No notifications found for user"
    assert body["notifications"] == []
    assert body["next_cursor"] is None
    assert body["unread_count"] == 0


@pytest.mark.parametrize(
    "user_id", ["abc", "-1", "1.0", "%D9%A1", "1" * 19, "1%20", "%20"]
)
def test_feed_invalid_id_is_400(urls, user_id):
    _, consumer_url = urls
    response = get(consumer_url, f"/notifications/{user_id}")

    assert response.status_code == 400
    assert "Invalid user id" in response.json()["message"]


@pytest.mark.parametrize("user_id", ["99", "0", "999999999999999999"])
def test_feed_unknown_user_is_404(urls, user_id):
    _, consumer_url = urls
    response = get(consumer_url, f"/notifications/{user_id}")

    assert response.status_code == 404
    assert response.json() == {"message": "User not found"}


def test_feed_ignores_unknown_query_parameters(urls):
    _, consumer_url = urls
    response = get(consumer_url, "/notifications/1?foo=bar&page=2")

    assert response.status_code == 200


def test_feed_wrong_method_is_json_405(urls):
    _, consumer_url = urls
    response = requests.post(f"{consumer_url}/notifications/1", timeout=5)

    assert response.status_code == 405
    assert "not allowed" in response.json()["message"]


@pytest.mark.parametrize("path", ["/nowhere", "/notifications", "/notifications/1/x"])
def test_consumer_unknown_path_is_json_404(urls, path):
    _, consumer_url = urls
    response = get(consumer_url, path)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("service", [0, 1], ids=["producer", "consumer"])
def test_health_routes_return_200(shared_services, service):
    url = shared_services[service].url

    assert get(url, "/healthz").status_code == 200
    assert get(url, "/readyz").json() == {"status": "ready"}
