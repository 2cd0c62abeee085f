# ruff: noqa: PT018
"""Gap detection and the dedup window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.pubsub import DedupWindow, SequenceStatus, SequenceTracker


@given(st.sets(st.integers(1, 300), min_size=1))
def test_missed_count_is_exact(delivered: set[int]) -> None:
    t = SequenceTracker()
    first = min(delivered)
    reported = 0
    for seq in sorted(delivered):
        _, gap = t.observe("p", "c", seq)
        reported += gap.missed if gap else 0
    assert reported == max(delivered) - first + 1 - len(delivered)
    assert t.statistics().missed == reported


def test_late_duplicate_and_restart() -> None:
    t = SequenceTracker()
    assert t.observe("p", "c", 1)[0] is SequenceStatus.FIRST
    status, gap = t.observe("p", "c", 5)
    assert status is SequenceStatus.GAP and gap is not None and gap.missed == 3
    assert t.observe("p", "c", 3)[0] is SequenceStatus.LATE
    assert t.observe("p", "c", 3)[0] is SequenceStatus.DUPLICATE
    assert t.observe("p", "c", 5)[0] is SequenceStatus.DUPLICATE
    assert t.observe("p", "c", 1)[0] is SequenceStatus.RESTART
    assert t.observe("q", "c", 9)[0] is SequenceStatus.FIRST  # per producer
    s = t.statistics()
    assert (s.gaps, s.missed, s.late, s.duplicates, s.restarts) == (1, 2, 1, 2, 1)


def test_tracker_is_bounded() -> None:
    t = SequenceTracker(max_streams=10)
    for i in range(100):
        t.observe(f"p{i}", "c", 1)
    assert t.statistics().streams == 10
    assert t.statistics().evicted == 90


def test_dedup_window() -> None:
    w = DedupWindow(3)
    assert [w.seen(x) for x in "abcab"] == [False, False, False, True, True]
    assert not w.seen("d")  # evicts the least recently seen ("c")
    assert not w.seen("c")
    assert w.duplicates == 2
