"""Send-to-visible latency: from the 200 of /send to the feed and the stream."""

import json
import math
import threading
import time
from dataclasses import dataclass

import requests

# How long one notification may take to show up before it counts as missed.
VISIBLE_TIMEOUT = 5.0
POLL_INTERVAL = 0.002


@dataclass(frozen=True)
class LatencyResult:
    """Delays in milliseconds of the notifications that arrived in time."""

    delays_ms: list[float]
    missed: int

    def percentile(self, p: float) -> float:
        return percentile(self.delays_ms, p)


def percentile(values: list[float], p: float) -> float:
    """Return the nearest-rank ``p``-th percentile of ``values``, or NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _session() -> requests.Session:
    session = requests.Session()
    # Proxy variables from the environment must not apply to 127.0.0.1.
    session.trust_env = False
    return session


def _send(http: requests.Session, producer_url: str, sender: int, recipient: int,
          text: str) -> str:
    """POST one notification and return its id; raise unless the status is 200."""
    response = http.post(
        f"{producer_url}/send",
        data={"fromID": sender, "toID": recipient, "message": text},
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(
            f"POST /send returned {response.status_code}: {response.text[:200]}"
        )
    return response.json()["id"]


def measure_feed_latency(
    producer_url: str, consumer_url: str, sender: int, recipient: int, count: int
) -> LatencyResult:
    """Send ``count`` notifications one by one and time each until the feed has it.

    After each 200, ``GET /notifications/<recipient>?order=newest&limit=1``
    is polled every ``POLL_INTERVAL`` seconds until it returns the new id, so
    a delay is accurate to about one poll: the interval plus one GET.
    """
    delays: list[float] = []
    missed = 0
    feed_url = f"{consumer_url}/notifications/{recipient}"
    with _session() as send_http, _session() as poll_http:
        for number in range(count):
            notification_id = _send(
                send_http, producer_url, sender, recipient, f"visible {number}"
            )
            accepted = time.perf_counter()
            deadline = accepted + VISIBLE_TIMEOUT
            while True:
                response = poll_http.get(
                    feed_url, params={"order": "newest", "limit": 1}, timeout=5
                )
                now = time.perf_counter()
                newest = response.json().get("notifications") or [{}]
                if newest[0].get("id") == notification_id:
                    delays.append((now - accepted) * 1000)
                    break
                if now > deadline:
                    missed += 1
                    break
                time.sleep(POLL_INTERVAL)
    return LatencyResult(delays, missed)


class _StreamReader:
    """Record when each notification event of an open SSE stream arrives."""

    def __init__(self, url: str) -> None:
        self.arrivals: dict[str, float] = {}
        self.arrived = threading.Condition()
        self._http = _session()
        self._response = self._http.get(url, stream=True, timeout=30)
        self._response.raise_for_status()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if not line.startswith("data:"):
                    continue
                notification_id = json.loads(line[5:])["id"]
                with self.arrived:
                    self.arrivals[notification_id] = time.perf_counter()
                    self.arrived.notify_all()
        except (requests.RequestException, AttributeError, OSError, ValueError):
            # close() from the main thread ends the read with one of these.
            return

    def wait_for(self, notification_id: str, timeout: float) -> float | None:
        """Return the arrival time of ``notification_id``, or None on timeout."""
        with self.arrived:
            if self.arrived.wait_for(
                lambda: notification_id in self.arrivals, timeout
            ):
                return self.arrivals[notification_id]
        return None

    def close(self) -> None:
        self._response.close()
        self._http.close()
        self._thread.join(5)


def measure_stream_latency(
    producer_url: str, consumer_url: str, sender: int, recipient: int, count: int
) -> LatencyResult:
    """Send ``count`` notifications one by one and time each until its SSE event."""
    delays: list[float] = []
    missed = 0
    reader = _StreamReader(f"{consumer_url}/notifications/{recipient}/stream")
    try:
        with _session() as send_http:
            for number in range(count):
                notification_id = _send(
                    send_http, producer_url, sender, recipient, f"stream {number}"
                )
                accepted = time.perf_counter()
                arrival = reader.wait_for(notification_id, VISIBLE_TIMEOUT)
                if arrival is None:
                    missed += 1
                else:
                    # The event can be read before the POST's response is.
                    delays.append(max(arrival - accepted, 0.0) * 1000)
    finally:
        reader.close()
    return LatencyResult(delays, missed)
