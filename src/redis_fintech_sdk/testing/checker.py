"""A Jepsen-style history checker for delivery guarantees (lost, duplicated, phantom, gaps).

A scenario records what happened to every message in a :class:`History` while faults run,
then :func:`check` turns it into a :class:`Verdict`::

    history = History("F1 kill -9 + restart", seed=seed)
    history.attempt(mid, producer="p1", seq=n)     # before the first send
    history.ack(mid)          # the server confirmed it            (Jepsen "ok")
    history.fail(mid)         # the server refused it: not applied (Jepsen "fail")
    history.ambiguous(mid)    # no reply (timeout, reset): unknown (Jepsen "info")
    history.receive(mid, subscriber="s1")   # a consumer got it
    history.effect(mid)       # a side effect happened (an entry exists, a row was written)
    history.fault("SIGKILL", pid=1234)      # the fault schedule, printed with the verdict
    verdict = check(history)
    verdict.assert_guarantee(lost=0, duplicates=0)

Definitions (after Kingsbury's Jepsen histories and the Redis cluster tutorial's
``consistency-test.rb``):

* **processed** = messages received by any subscriber or with at least one side effect.
* **lost** = acknowledged - processed. Ambiguous messages that never show up are *not* lost
  (the client was told the outcome is unknown): they are counted as ``ambiguous_missing``.
* **duplicates** = messages with more than one side effect (``duplicate_deliveries`` counts
  repeated receipts by one subscriber, which at-least-once allows).
* **phantoms** = messages received or applied that were never attempted.
* **false_failures** = messages whose every attempt failed definitely, yet were applied.
* **gaps**: for every subscriber and producer, the runs of acknowledged sequence numbers it
  did not receive (between the first and last number it did receive, plus a missing tail).
  A gap is *reported* when a :meth:`History.gap` range overlaps it, or a
  :meth:`History.possible_gap` notice came after its first missing message was attempted;
  ranges reported for numbers that were in fact received are ``false_gap_reports``.

Appends are guarded by a lock, so producers in threads and asyncio tasks may share one
history. Every verdict prints the scenario, its seed and its fault schedule, so a failure can
be replayed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "Gap", "History", "Verdict", "check"]

EventKind = Literal[
    "attempt", "ack", "fail", "ambiguous", "receive", "effect", "gap", "possible_gap"
]


@dataclass(frozen=True, slots=True)
class Fault:
    """One entry of a fault schedule.

    Attributes:
        at: seconds since the history started.
        name: what was done (``"SIGKILL"``, ``"cut_after XADD"``).
        params: its parameters, for replay.
    """

    at: float
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"t+{self.at:8.3f}s {self.name}({args})"


@dataclass(frozen=True, slots=True, order=True)
class Gap:
    """A run of sequence numbers one subscriber did not get from one producer.

    Attributes:
        subscriber: who missed them.
        producer: whose messages they were.
        first: first missing sequence number.
        last: last missing sequence number (inclusive).
    """

    subscriber: str
    producer: str
    first: int
    last: int

    def overlaps(self, other: Gap) -> bool:
        """Whether both gaps share a subscriber, a producer and at least one number."""
        return (
            self.subscriber == other.subscriber
            and self.producer == other.producer
            and self.first <= other.last
            and other.first <= self.last
        )


@dataclass(frozen=True, slots=True)
class _Event:
    kind: EventKind
    msg_id: str
    at: float
    subscriber: str = ""
    producer: str = ""
    seq: int | None = None
    last: int | None = None
    detail: str = ""


def _replace_range(event: _Event, first: int, last: int) -> _Event:
    return _Event(event.kind, event.msg_id, event.at, event.subscriber, event.producer, first, last)


class History:
    """A thread- and task-safe record of what happened to each message during a scenario.

    Args:
        scenario: a short name, printed with the verdict.
        seed: the seed the scenario's randomness came from.
        clock: seconds, monotonic (injectable for tests).
    """

    def __init__(
        self,
        scenario: str = "scenario",
        *,
        seed: int | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self._clock = clock
        self._start: float = clock()
        self._lock = threading.Lock()
        self._events: list[_Event] = []
        self._faults: list[Fault] = []
        self.notes: dict[str, Any] = {}

    def _now(self) -> float:
        return float(self._clock() - self._start)

    def _add(self, event: _Event) -> None:
        with self._lock:
            self._events.append(event)

    def attempt(self, msg_id: str, *, producer: str = "", seq: int | None = None) -> None:
        """Record that ``msg_id`` is about to be sent (once per message, before any retry).

        Args:
            msg_id: the message's stable id (reused by every retry).
            producer: the producer id, for gap analysis.
            seq: its per-producer sequence number, for gap analysis.
        """
        self._add(_Event("attempt", msg_id, self._now(), producer=producer, seq=seq))

    def ack(self, msg_id: str) -> None:
        """Record that the server confirmed ``msg_id`` (it must not be lost now)."""
        self._add(_Event("ack", msg_id, self._now()))

    def fail(self, msg_id: str, reason: str = "") -> None:
        """Record a definite failure of one attempt: the server refused it, nothing applied."""
        self._add(_Event("fail", msg_id, self._now(), detail=reason))

    def ambiguous(self, msg_id: str, reason: str = "") -> None:
        """Record an attempt whose outcome is unknown (timeout, reset before the reply)."""
        self._add(_Event("ambiguous", msg_id, self._now(), detail=reason))

    def receive(self, msg_id: str, *, subscriber: str = "default") -> None:
        """Record that ``subscriber`` got ``msg_id`` (call once per delivery)."""
        self._add(_Event("receive", msg_id, self._now(), subscriber=subscriber))

    def effect(self, msg_id: str, count: int = 1) -> None:
        """Record ``count`` side effects of ``msg_id`` (e.g. stream entries carrying it)."""
        now = self._now()
        for _ in range(count):
            self._add(_Event("effect", msg_id, now))

    def gap(self, *, subscriber: str = "default", producer: str, first: int, last: int) -> None:
        """Record that the system under test reported sequence numbers first..last missing."""
        event = _Event("gap", "", self._now(), subscriber=subscriber, producer=producer)
        self._add(_replace_range(event, first, last))

    def possible_gap(self, *, subscriber: str = "default") -> None:
        """Record a "messages may have been missed" notice (e.g. after a reconnect)."""
        self._add(_Event("possible_gap", "", self._now(), subscriber=subscriber))

    def fault(self, name: str, **params: Any) -> Fault:
        """Append a fault to the schedule (printed with the verdict) and return it."""
        entry = Fault(self._now(), name, dict(params))
        with self._lock:
            self._faults.append(entry)
        return entry

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The fault schedule so far."""
        with self._lock:
            return tuple(self._faults)

    def events(self) -> tuple[_Event, ...]:
        """A snapshot of every recorded event, in order."""
        with self._lock:
            return tuple(self._events)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What :func:`check` found. Sets hold message ids; print it for the full report.

    Attributes:
        scenario: the scenario's name.
        seed: its seed.
        faults: the fault schedule.
        attempted: messages attempted.
        acknowledged: messages confirmed by the server (at least one attempt acked).
        failed: messages whose every attempt failed definitely.
        ambiguous: messages with an ambiguous attempt and no acknowledgement.
        processed: messages received or applied at least once.
        lost: acknowledged but never processed.
        ambiguous_applied: ambiguous messages that were processed.
        ambiguous_missing: ambiguous messages that were not (not a loss).
        duplicates: message id -> number of side effects, for those with more than one.
        duplicate_deliveries: message id -> receipts, where one subscriber got it twice.
        phantoms: processed but never attempted.
        false_failures: definitely failed, yet applied.
        gaps_actual: runs of sequence numbers subscribers missed.
        gaps_reported: the ranges the system reported.
        gaps_unreported: actual gaps no report covered.
        false_gap_reports: reported ranges that include a number that was received.
        possible_gap_notices: number of possible-gap notices.
        notes: free figures a scenario attached to the history (latencies, counters).
    """

    scenario: str
    seed: int | None
    faults: tuple[Fault, ...]
    attempted: frozenset[str]
    acknowledged: frozenset[str]
    failed: frozenset[str]
    ambiguous: frozenset[str]
    processed: frozenset[str]
    lost: frozenset[str]
    ambiguous_applied: frozenset[str]
    ambiguous_missing: frozenset[str]
    duplicates: Mapping[str, int]
    duplicate_deliveries: Mapping[str, int]
    phantoms: frozenset[str]
    false_failures: frozenset[str]
    gaps_actual: tuple[Gap, ...]
    gaps_reported: tuple[Gap, ...]
    gaps_unreported: tuple[Gap, ...]
    false_gap_reports: tuple[Gap, ...]
    possible_gap_notices: int
    notes: Mapping[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Every tally as a number."""
        return {
            "attempted": len(self.attempted),
            "acknowledged": len(self.acknowledged),
            "failed": len(self.failed),
            "ambiguous": len(self.ambiguous),
            "processed": len(self.processed),
            "lost": len(self.lost),
            "ambiguous_applied": len(self.ambiguous_applied),
            "ambiguous_missing": len(self.ambiguous_missing),
            "duplicates": len(self.duplicates),
            "duplicate_deliveries": len(self.duplicate_deliveries),
            "phantoms": len(self.phantoms),
            "false_failures": len(self.false_failures),
            "gaps_actual": len(self.gaps_actual),
            "gaps_reported": len(self.gaps_reported),
            "gaps_unreported": len(self.gaps_unreported),
            "false_gap_reports": len(self.false_gap_reports),
            "possible_gap_notices": self.possible_gap_notices,
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary: counts, seed, schedule, notes and a few example ids."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "counts": self.counts(),
            "faults": [{"at": f.at, "name": f.name, "params": dict(f.params)} for f in self.faults],
            "examples": {
                "lost": sorted(self.lost)[:10],
                "duplicates": sorted(self.duplicates)[:10],
                "phantoms": sorted(self.phantoms)[:10],
                "false_failures": sorted(self.false_failures)[:10],
                "gaps_unreported": [str(g) for g in self.gaps_unreported[:10]],
            },
            "notes": dict(self.notes),
        }

    def violations(
        self,
        *,
        lost: int | None = 0,
        duplicates: int | None = 0,
        phantoms: int | None = 0,
        false_failures: int | None = 0,
        unreported_gaps: int | None = 0,
        false_gap_reports: int | None = 0,
    ) -> list[str]:
        """The bounds this verdict exceeds (``None`` = not checked)."""
        found = [
            (name, len(value), bound)
            for name, value, bound in (
                ("lost", self.lost, lost),
                ("duplicates", self.duplicates, duplicates),
                ("phantoms", self.phantoms, phantoms),
                ("false_failures", self.false_failures, false_failures),
                ("gaps_unreported", self.gaps_unreported, unreported_gaps),
                ("false_gap_reports", self.false_gap_reports, false_gap_reports),
            )
            if bound is not None and len(value) > bound
        ]
        return [f"{name}={n} > {bound}" for name, n, bound in found]

    def assert_guarantee(
        self,
        *,
        lost: int | None = 0,
        duplicates: int | None = 0,
        phantoms: int | None = 0,
        false_failures: int | None = 0,
        unreported_gaps: int | None = 0,
        false_gap_reports: int | None = 0,
        min_acknowledged: int = 1,
    ) -> None:
        """Fail with the full report (seed and fault schedule included) if a bound is broken.

        Args:
            lost: most acknowledged messages allowed to be lost (``None``: not checked).
            duplicates: most messages allowed more than one side effect.
            phantoms: most messages allowed to appear without an attempt.
            false_failures: most definitely-failed messages allowed to be applied.
            unreported_gaps: most actual gaps allowed to go unreported.
            false_gap_reports: most gap reports allowed to name received numbers.
            min_acknowledged: the run is hollow unless at least this many were acked.

        Raises:
            AssertionError: a bound is exceeded; the message is :meth:`report`.
        """
        problems = self.violations(
            lost=lost,
            duplicates=duplicates,
            phantoms=phantoms,
            false_failures=false_failures,
            unreported_gaps=unreported_gaps,
            false_gap_reports=false_gap_reports,
        )
        if len(self.acknowledged) < min_acknowledged:
            problems.append(f"acknowledged={len(self.acknowledged)} < {min_acknowledged}")
        if problems:
            raise AssertionError("guarantee broken: " + "; ".join(problems) + "\n" + self.report())

    def report(self) -> str:
        """A multi-line human report: scenario, seed, fault schedule, tallies, examples."""
        lines = [f"scenario: {self.scenario}", f"seed: {self.seed}", "fault schedule:"]
        shown = self.faults if len(self.faults) <= 60 else self.faults[:50]
        lines += [f"  {f}" for f in shown] or ["  (none)"]
        if len(shown) < len(self.faults):
            lines.append(f"  ... {len(self.faults) - len(shown)} more (see as_dict())")
        lines.append("tallies:")
        lines += [f"  {k:22} {v}" for k, v in self.counts().items()]
        examples = self.as_dict()["examples"]
        for name, ids in examples.items():
            if ids:
                lines.append(f"{name} (first {len(ids)}): {', '.join(map(str, ids))}")
        if self.notes:
            lines.append("notes: " + json.dumps(dict(self.notes), default=str, sort_keys=True))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def check(history: History) -> Verdict:
    """Compute the :class:`Verdict` of a history (see the module docstring for definitions)."""
    events = history.events()
    attempts: dict[str, _Event] = {}
    outcomes: dict[str, set[str]] = defaultdict(set)
    effects: Counter[str] = Counter()
    receipts: dict[str, Counter[str]] = defaultdict(Counter)  # subscriber -> id -> count
    receipt_at: dict[tuple[str, str], float] = {}  # (subscriber, id) -> first receipt
    reported: list[Gap] = []
    notices: dict[str, list[float]] = defaultdict(list)
    for ev in events:
        if ev.kind == "attempt":
            attempts.setdefault(ev.msg_id, ev)
        elif ev.kind in ("ack", "fail", "ambiguous"):
            outcomes[ev.msg_id].add(ev.kind)
        elif ev.kind == "effect":
            effects[ev.msg_id] += 1
        elif ev.kind == "receive":
            receipts[ev.subscriber][ev.msg_id] += 1
            receipt_at.setdefault((ev.subscriber, ev.msg_id), ev.at)
        elif ev.kind == "gap":
            assert ev.seq is not None
            assert ev.last is not None
            reported.append(Gap(ev.subscriber, ev.producer, ev.seq, ev.last))
        elif ev.kind == "possible_gap":
            notices[ev.subscriber].append(ev.at)

    attempted = frozenset(attempts)
    acked = frozenset(m for m, o in outcomes.items() if "ack" in o)
    ambiguous = frozenset(m for m, o in outcomes.items() if "ambiguous" in o) - acked
    failed = frozenset(m for m, o in outcomes.items() if o == {"fail"})
    received = frozenset(m for counts in receipts.values() for m in counts)
    processed = received | frozenset(effects)
    dup_deliveries: Counter[str] = Counter()
    for counts in receipts.values():
        for m, n in counts.items():
            if n > 1:
                dup_deliveries[m] = max(dup_deliveries[m], n)
    actual = _actual_gaps(attempts, acked, receipts)
    unreported = tuple(
        g for g in actual if not _covered(g, reported, notices, attempts, receipt_at)
    )
    false_reports = tuple(
        r for r in reported if _names_received(r, attempts, receipts.get(r.subscriber, Counter()))
    )
    return Verdict(
        scenario=history.scenario,
        seed=history.seed,
        faults=history.faults,
        attempted=attempted,
        acknowledged=acked,
        failed=failed,
        ambiguous=ambiguous,
        processed=processed,
        lost=acked - processed,
        ambiguous_applied=ambiguous & processed,
        ambiguous_missing=ambiguous - processed,
        duplicates={m: n for m, n in effects.items() if n > 1},
        duplicate_deliveries=dict(dup_deliveries),
        phantoms=processed - attempted,
        false_failures=failed & processed,
        gaps_actual=actual,
        gaps_reported=tuple(reported),
        gaps_unreported=unreported,
        false_gap_reports=false_reports,
        possible_gap_notices=sum(len(v) for v in notices.values()),
        notes=dict(history.notes),
    )


def _by_producer(attempts: Mapping[str, _Event], only: Iterable[str]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for m in only:
        ev = attempts.get(m)
        if ev is not None and ev.seq is not None:
            out[ev.producer][ev.seq] = m
    return out


def _actual_gaps(
    attempts: Mapping[str, _Event],
    acked: frozenset[str],
    receipts: Mapping[str, Counter[str]],
) -> tuple[Gap, ...]:
    """Runs of acknowledged seqs each subscriber missed, from its first receipt onwards.

    Numbers before a subscriber's first receipt of a producer are not gaps: it had not
    subscribed yet (Pub/Sub delivers nothing retroactively).
    """
    sent = _by_producer(attempts, acked)
    gaps: list[Gap] = []
    for sub, counts in receipts.items():
        got = _by_producer(attempts, counts)
        for producer, seqs in got.items():
            start = min(seqs)
            missing = sorted(s for s in sent.get(producer, {}) if s > start and s not in seqs)
            run: list[int] = []
            for s in missing:
                if run and s != run[-1] + 1 and not _none_acked_between(sent[producer], run[-1], s):
                    gaps.append(Gap(sub, producer, run[0], run[-1]))
                    run = []
                run.append(s)
            if run:
                gaps.append(Gap(sub, producer, run[0], run[-1]))
    return tuple(sorted(gaps))


def _none_acked_between(sent: Mapping[int, str], a: int, b: int) -> bool:
    # Numbers never acknowledged (failed sends) between two missing ones do not split a gap.
    return not any(a < s < b for s in sent)


def _covered(
    gap: Gap,
    reported: list[Gap],
    notices: Mapping[str, list[float]],
    attempts: Mapping[str, _Event],
    receipt_at: Mapping[tuple[str, str], float],
) -> bool:
    """A range report overlapping the gap, or a timely possible-gap notice, covers it.

    A notice is timely when it comes after the first missing message was attempted and
    no later than the subscriber's next receipt from that producer (a subscriber must
    announce a possible gap before it delivers what follows it).
    """
    if any(gap.overlaps(r) for r in reported):
        return True
    first_at: float | None = None
    next_at: float | None = None
    for m, ev in attempts.items():
        if ev.producer != gap.producer or ev.seq is None:
            continue
        if ev.seq == gap.first:
            first_at = ev.at
        elif ev.seq > gap.last:
            got = receipt_at.get((gap.subscriber, m))
            if got is not None and (next_at is None or got < next_at):
                next_at = got
    if first_at is None:
        return False
    return any(
        first_at <= t and (next_at is None or t <= next_at) for t in notices.get(gap.subscriber, ())
    )


def _names_received(report: Gap, attempts: Mapping[str, _Event], received: Counter[str]) -> bool:
    for m in received:
        ev = attempts.get(m)
        if (
            ev is not None
            and ev.producer == report.producer
            and ev.seq is not None
            and report.first <= ev.seq <= report.last
        ):
            return True
    return False
