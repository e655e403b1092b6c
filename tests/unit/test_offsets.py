"""OffsetTracker: consecutive offsets, repeats and gaps."""

from consumer.offsets import OffsetTracker, Verdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_offsets_first_record_is_new():
    tracker = OffsetTracker()

    assert tracker.classify("t", 0, 41) is Verdict.NEW
    assert tracker.expected("t", 0) == 42


def test_offsets_consecutive_are_new():
    tracker = OffsetTracker()
    verdicts = [tracker.classify("t", 0, offset) for offset in range(5)]

    assert verdicts == [Verdict.NEW] * 5


def test_offsets_earlier_is_repeat():
    tracker = OffsetTracker()
    tracker.start_at("t", 0, 10)

    assert tracker.classify("t", 0, 3) is Verdict.REPEAT
    assert tracker.expected("t", 0) == 10


def test_offsets_later_is_gap_until_grace():
    clock = FakeClock()
    tracker = OffsetTracker(grace=5.0, clock=clock)
    tracker.start_at("t", 0, 10)

    assert tracker.classify("t", 0, 12) is Verdict.GAP
    clock.now = 4.9
    assert tracker.classify("t", 0, 12) is Verdict.GAP
    clock.now = 5.0
    assert tracker.classify("t", 0, 12) is Verdict.NEW
    assert tracker.expected("t", 0) == 13


def test_offsets_gap_filled_is_new():
    clock = FakeClock()
    tracker = OffsetTracker(clock=clock)
    tracker.start_at("t", 0, 10)
    assert tracker.classify("t", 0, 11) is Verdict.GAP

    assert tracker.classify("t", 0, 10) is Verdict.NEW
    assert tracker.classify("t", 0, 11) is Verdict.NEW


def test_offsets_partitions_are_separate():
    tracker = OffsetTracker()
    tracker.start_at("t", 0, 5)

    assert tracker.classify("t", 1, 100) is Verdict.NEW
    assert tracker.classify("t", 0, 5) is Verdict.NEW


def test_offsets_forget_clears_partition():
    tracker = OffsetTracker()
    tracker.start_at("t", 0, 5)
    tracker.classify("t", 0, 9)

    tracker.forget("t", 0)

    assert tracker.expected("t", 0) is None
    assert tracker.classify("t", 0, 9) is Verdict.NEW
