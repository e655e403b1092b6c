"""A Flask app that serves ``POST /send`` like the producer but without Kafka.

``make bench`` serves it under the same gunicorn configuration as the
producer to measure what the HTTP layer alone reaches on the machine:

    gunicorn --config docker/gunicorn.conf.py --bind 127.0.0.1:PORT bench.bare_app:app
"""

import uuid

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/send")
def send():
    """Parse the form body and return the producer's 200 JSON."""
    # Reading the form keeps body parsing in the measured work, as in /send.
    request.form.get("message")
    return jsonify(
        {"message": "Notification sent successfully!", "id": str(uuid.uuid4())}
    )


@app.get("/readyz")
def readyz():
    """Report ready: there is nothing to wait for."""
    return jsonify({"status": "ready"})
