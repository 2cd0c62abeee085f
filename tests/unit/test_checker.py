"""The history checker on hand-made histories, including the tricky ambiguous cases."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from redis_fintech_sdk.testing.checker import Gap, History, check


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def _sent(h: History, mid: str, outcome: str = "ack", **kw: object) -> None:
    h.attempt(mid, **kw)  # type: ignore[arg-type]
    getattr(h, outcome)(mid)


def test_clean_history_passes() -> None:
    h = History("clean", seed=7)
    for i in range(5):
        _sent(h, f"m{i}")
        h.effect(f"m{i}")
        h.receive(f"m{i}")
    v = check(h)
    assert v.counts()["acknowledged"] == 5
    assert not v.lost
    assert not v.duplicates
    assert not v.phantoms
    v.assert_guarantee()


def test_acknowledged_but_missing_is_lost() -> None:
    h = History("loss", seed=1)
    _sent(h, "a")
    _sent(h, "b")
    h.effect("a")
    v = check(h)
    assert v.lost == {"b"}
    with pytest.raises(AssertionError, match="lost=1 > 0"):
        v.assert_guarantee()
    v.assert_guarantee(lost=1)


def test_ambiguous_missing_is_not_lost() -> None:
    h = History()
    _sent(h, "x", "ambiguous")
    v = check(h)
    assert v.ambiguous == {"x"}
    assert v.ambiguous_missing == {"x"}
    assert not v.lost
    v.assert_guarantee(min_acknowledged=0)


def test_ambiguous_applied_is_neither_lost_nor_phantom() -> None:
    h = History()
    _sent(h, "x", "ambiguous")
    h.effect("x")
    v = check(h)
    assert v.ambiguous_applied == {"x"}
    assert not v.phantoms
    assert not v.lost


def test_ambiguous_then_retried_and_acked_counts_as_acknowledged() -> None:
    h = History()
    h.attempt("x")
    h.ambiguous("x", "reset before reply")
    h.ack("x")  # retry with the same id
    v = check(h)
    assert v.acknowledged == {"x"}
    assert not v.ambiguous
    assert v.lost == {"x"}  # acked, yet never applied


def test_ambiguous_retry_that_applied_twice_is_a_duplicate() -> None:
    h = History()
    h.attempt("x")
    h.ambiguous("x")
    h.ack("x")
    h.effect("x", count=2)  # the first attempt applied, the blind retry applied again
    v = check(h)
    assert v.duplicates == {"x": 2}
    with pytest.raises(AssertionError, match="duplicates=1 > 0"):
        v.assert_guarantee()


def test_ambiguous_then_definite_failure_stays_ambiguous() -> None:
    # The first attempt may have applied; a later refusal (e.g. -OOM) does not undo it.
    h = History()
    h.attempt("x")
    h.ambiguous("x")
    h.fail("x", "OOM")
    h.effect("x")
    v = check(h)
    assert v.ambiguous_applied == {"x"}
    assert not v.failed
    assert not v.false_failures


def test_definite_failure_that_applied_is_a_false_failure() -> None:
    h = History()
    _sent(h, "x", "fail")
    h.effect("x")
    v = check(h)
    assert v.false_failures == {"x"}
    assert v.violations() == ["false_failures=1 > 0"]


def test_attempt_without_outcome_is_unresolved_not_lost() -> None:
    h = History()
    h.attempt("x")
    v = check(h)
    assert not v.lost
    assert not v.acknowledged
    assert not v.ambiguous
    assert v.attempted == {"x"}


def test_received_but_never_attempted_is_a_phantom() -> None:
    h = History()
    _sent(h, "a")
    h.receive("a")
    h.receive("ghost")
    v = check(h)
    assert v.phantoms == {"ghost"}


def test_redelivery_is_a_duplicate_delivery_not_a_duplicate_effect() -> None:
    h = History()
    _sent(h, "a")
    h.receive("a", subscriber="c1")
    h.receive("a", subscriber="c1")
    h.effect("a")
    v = check(h)
    assert v.duplicate_deliveries == {"a": 2}
    assert not v.duplicates
    v.assert_guarantee()


def test_fan_out_to_two_subscribers_is_not_a_duplicate_delivery() -> None:
    h = History()
    _sent(h, "a")
    h.receive("a", subscriber="s1")
    h.receive("a", subscriber="s2")
    assert not check(h).duplicate_deliveries


def test_min_acknowledged_rejects_hollow_runs() -> None:
    h = History()
    with pytest.raises(AssertionError, match="acknowledged=0 < 1"):
        check(h).assert_guarantee()


def _publish(h: History, n: int, *, producer: str = "p", start: int = 1) -> list[str]:
    ids = []
    for seq in range(start, start + n):
        mid = f"{producer}-{seq}"
        h.attempt(mid, producer=producer, seq=seq)
        h.ack(mid)
        ids.append(mid)
    return ids


def test_gap_reported_with_exact_range() -> None:
    h = History()
    ids = _publish(h, 10)
    for mid in ids[:3] + ids[6:]:
        h.receive(mid)
    h.gap(producer="p", first=4, last=6)
    v = check(h)
    assert v.gaps_actual == (Gap("default", "p", 4, 6),)
    assert not v.gaps_unreported
    assert not v.false_gap_reports
    assert v.lost == {"p-4", "p-5", "p-6"}  # at-most-once: missing is allowed, silence is not
    v.assert_guarantee(lost=None)


def test_unreported_gap_fails() -> None:
    h = History()
    ids = _publish(h, 6)
    for mid in ids[:2] + ids[3:]:
        h.receive(mid)
    v = check(h)
    assert v.gaps_unreported == (Gap("default", "p", 3, 3),)
    with pytest.raises(AssertionError, match="gaps_unreported=1"):
        v.assert_guarantee()


def test_gap_before_first_receipt_is_not_a_gap() -> None:
    h = History()
    ids = _publish(h, 5)
    for mid in ids[2:]:  # subscribed late
        h.receive(mid)
    assert not check(h).gaps_actual


def test_missing_tail_is_a_gap_and_a_timely_notice_covers_it() -> None:
    clock = FakeClock()
    h = History(clock=clock)
    ids = _publish(h, 3)
    h.receive(ids[0])
    clock.tick()
    h.possible_gap()
    v = check(h)
    assert v.gaps_actual == (Gap("default", "p", 2, 3),)
    assert not v.gaps_unreported


def test_notice_after_the_next_receipt_is_too_late() -> None:
    clock = FakeClock()
    h = History(clock=clock)
    ids = _publish(h, 4)
    clock.tick()
    h.receive(ids[0])
    h.receive(ids[2])  # 2 missed and silently skipped
    clock.tick()
    h.possible_gap()
    h.receive(ids[3])
    v = check(h)
    assert v.gaps_unreported == (Gap("default", "p", 2, 2),)


def test_notice_before_the_missing_message_was_sent_does_not_cover_it() -> None:
    clock = FakeClock()
    h = History(clock=clock)
    h.possible_gap()
    clock.tick()
    ids = _publish(h, 3)
    h.receive(ids[0])
    h.receive(ids[2])
    assert check(h).gaps_unreported == (Gap("default", "p", 2, 2),)


def test_failed_sends_do_not_split_or_create_gaps() -> None:
    h = History()
    for seq in range(1, 7):
        mid = f"p-{seq}"
        h.attempt(mid, producer="p", seq=seq)
        if seq == 4:
            h.fail(mid, "NOPERM")
        else:
            h.ack(mid)
    for seq in (1, 2, 6):
        h.receive(f"p-{seq}")
    v = check(h)
    assert v.gaps_actual == (Gap("default", "p", 3, 5),)


def test_false_gap_report_is_detected() -> None:
    h = History()
    ids = _publish(h, 4)
    for mid in ids:
        h.receive(mid)
    h.gap(producer="p", first=2, last=2)
    v = check(h)
    assert v.false_gap_reports == (Gap("default", "p", 2, 2),)
    assert "false_gap_reports=1 > 0" in v.violations()


def test_gaps_are_per_subscriber_and_producer() -> None:
    h = History()
    a = _publish(h, 3, producer="a")
    b = _publish(h, 3, producer="b")
    for mid in a + b:
        h.receive(mid, subscriber="s1")
    h.receive(a[0], subscriber="s2")
    h.receive(a[2], subscriber="s2")
    h.gap(subscriber="s2", producer="a", first=2, last=2)
    v = check(h)
    assert v.gaps_actual == (Gap("s2", "a", 2, 2),)
    assert not v.gaps_unreported


def test_report_prints_seed_schedule_and_examples() -> None:
    clock = FakeClock()
    h = History("F1 kill -9", seed=424242, clock=clock)
    clock.tick(1.5)
    h.fault("SIGKILL", pid=99)
    _sent(h, "lost-one")
    h.notes["p99_ms"] = 12.5
    v = check(h)
    text = v.report()
    assert "seed: 424242" in text
    assert "SIGKILL(pid=99)" in text
    assert "t+   1.500s" in text
    assert "lost (first 1): lost-one" in text
    assert "p99_ms" in text
    with pytest.raises(AssertionError) as info:
        v.assert_guarantee()
    assert "seed: 424242" in str(info.value)
    as_dict = v.as_dict()
    assert as_dict["counts"]["lost"] == 1
    assert as_dict["faults"][0]["params"] == {"pid": 99}


def test_threads_and_tasks_can_append_concurrently() -> None:
    h = History()
    counter = itertools.count()

    def worker() -> None:
        for _ in range(2000):
            mid = f"t{next(counter)}"
            h.attempt(mid)
            h.ack(mid)
            h.effect(mid)

    async def task(prefix: str) -> None:
        for i in range(500):
            mid = f"{prefix}{i}"
            h.attempt(mid)
            h.ack(mid)
            h.receive(mid)
            if i % 50 == 0:
                await asyncio.sleep(0)

    async def tasks() -> None:
        await asyncio.gather(*(task(f"a{n}-") for n in range(4)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    asyncio.run(tasks())
    for t in threads:
        t.join()
    v = check(h)
    assert len(v.acknowledged) == 4 * 2000 + 4 * 500
    assert len(h) == 4 * 2000 * 3 + 4 * 500 * 3
    v.assert_guarantee()
