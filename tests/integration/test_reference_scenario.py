"""The reference scenario over HTTP, against gunicorn and a real broker."""

from tests.support import send, wait_for_feed

SCENARIO = [
    ("2", "1", "Bruno started following you."),
    (
        "1",
        "2",
        "Emma mentioned you in a comment: 'Great seeing you yesterday, @Bruno!'",
    ),
    ("4", "1", "Lena liked your post: 'My weekend getaway!'"),
]


def test_reference_scenario_returns_emmas_two(producer_service, consumer_service):
    for from_id, to_id, message in SCENARIO:
        response = send(producer_service.url, from_id, to_id, message)
        assert response.status_code == 200
        assert response.json()["message"] == "Notification sent successfully!"

    emma = wait_for_feed(consumer_service.url, 1, 2)

    assert len(emma) == 2
    assert [n["from"] for n in emma] == [
        {"id": 2, "name": "Bruno"},
        {"id": 4, "name": "Lena"},
    ]
    assert [n["to"] for n in emma] == [{"id": 1, "name": "Emma"}] * 2
    assert [n["message"] for n in emma] == [SCENARIO[0][2], SCENARIO[2][2]]
    for notification in emma:
        assert set(notification) >= {"id", "from", "to", "message", "created_at"}

    bruno = wait_for_feed(consumer_service.url, 2, 1)
    assert [n["message"] for n in bruno] == [SCENARIO[1][2]]
