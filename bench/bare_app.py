"""A Flask app that responds like the services but without Kafka or a store.

``POST /send`` returns the producer's 200, and ``GET /notifications/<id>``
a page of 50 notifications built once at start-up, as large as the
consumer's page. ``make bench`` serves it under the same gunicorn
configuration as the services to measure what the HTTP layer alone reaches
on the machine:

    gunicorn --config docker/gunicorn.conf.py --bind 127.0.0.1:PORT bench.bare_app:app
"""

import uuid

from flask import Flask, jsonify, request

from bench.records import make_notification
from common.json_provider import OrjsonProvider
from consumer.cursors import encode_cursor

PAGE_SIZE = 50

app = Flask(__name__)
# The services' JSON encoder, so that only the work of the routes differs.
app.json = OrjsonProvider(app)
_page = {
    "notifications": [
        {
            **make_notification(2, 7, number).to_dict(),
            "read": False,
            "cursor": encode_cursor(number),
        }
        for number in range(1, PAGE_SIZE + 1)
    ],
    "next_cursor": encode_cursor(PAGE_SIZE),
    "unread_count": 100_000,
}


@app.post("/send")
def send():
    """Parse the form body and return the producer's 200 JSON."""
    # Reading the form keeps body parsing in the measured work, as in /send.
    request.form.get("message")
    return jsonify(
        {"message": "Notification sent successfully!", "id": str(uuid.uuid4())}
    )


@app.get("/notifications/<int:user_id>")
def page(user_id: int):
    """Return the prebuilt page for any user id."""
    return jsonify(_page)


@app.get("/readyz")
def readyz():
    """Report ready: there is nothing to wait for."""
    return jsonify({"status": "ready"})
