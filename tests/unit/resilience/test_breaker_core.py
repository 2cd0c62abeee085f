"""The pure state machine, driven with explicit clock values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.resilience import (
    BreakerCore,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
)


def state(obj: BreakerCore | CircuitBreaker) -> CircuitState:
    """Read the state through a call, so mypy does not narrow it across transitions."""
    return obj.state


CFG = CircuitBreakerConfig(
    window_size=10,
    minimum_calls=4,
    failure_rate_threshold=0.5,
    consecutive_failures=None,
    open_interval=5.0,
    half_open_max_calls=2,
    probe_timeout=1.0,
)


def run(core: BreakerCore, outcome: Outcome, now: float = 0.0) -> None:
    permit = core.acquire(now)
    assert permit is not None
    core.release(permit, outcome, now)


def test_failure_rate_needs_minimum_calls() -> None:
    core = BreakerCore(CFG, now=0.0)
    for _ in range(3):
        run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.CLOSED
    assert core.failure_rate is None
    run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.OPEN
    assert core.changes[-1].reason.startswith("failure rate 100%")


def test_rate_threshold_over_window() -> None:
    core = BreakerCore(CFG, now=0.0)
    for outcome in [Outcome.SUCCESS] * 3 + [Outcome.FAILURE] * 2:
        run(core, outcome)
    assert state(core) is CircuitState.CLOSED  # 2/5 = 40%
    run(core, Outcome.FAILURE)  # 3/6 = 50%
    assert state(core) is CircuitState.OPEN


def test_consecutive_failures_trip_before_rate() -> None:
    cfg = CircuitBreakerConfig(window_size=100, minimum_calls=100, consecutive_failures=3)
    core = BreakerCore(cfg, now=0.0)
    run(core, Outcome.FAILURE)
    run(core, Outcome.SUCCESS)  # resets the run
    run(core, Outcome.FAILURE)
    run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.CLOSED
    run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.OPEN


def trip(core: BreakerCore, now: float = 0.0) -> None:
    while state(core) is CircuitState.CLOSED:
        run(core, Outcome.FAILURE, now)


def test_open_refuses_then_half_open_after_interval() -> None:
    core = BreakerCore(CFG, now=0.0)
    trip(core)
    assert core.acquire(4.9) is None
    assert core.retry_after(4.0) == pytest.approx(1.0)
    probe = core.acquire(5.0)
    assert probe is not None
    assert probe.deadline == 6.0
    assert state(core) is CircuitState.HALF_OPEN


def test_half_open_bounded_probes_close_on_success() -> None:
    core = BreakerCore(CFG, now=0.0)
    trip(core)
    a, b = core.acquire(5.0), core.acquire(5.0)
    assert a is not None
    assert b is not None
    assert core.acquire(5.0) is None  # only two probes
    core.release(a, Outcome.SUCCESS, 5.1)
    assert state(core) is CircuitState.HALF_OPEN
    core.release(b, Outcome.SUCCESS, 5.2)
    assert state(core) is CircuitState.CLOSED
    assert core.window_calls == 0


def test_half_open_failure_reopens() -> None:
    core = BreakerCore(CFG, now=0.0)
    trip(core)
    a = core.acquire(5.0)
    assert a is not None
    core.release(a, Outcome.FAILURE, 5.5)
    assert state(core) is CircuitState.OPEN
    assert core.acquire(10.4) is None
    assert core.acquire(10.5) is not None


def test_stuck_probe_expires_so_half_open_never_hangs() -> None:
    core = BreakerCore(CFG, now=0.0)
    trip(core)
    a = core.acquire(5.0)
    b = core.acquire(5.0)
    assert a is not None
    assert b is not None
    assert core.acquire(5.9) is None
    # Neither probe ever reports (the caller hung or forgot). At the deadline the first
    # expiry counts as a failure: back to OPEN, and the late outcome is ignored.
    assert core.acquire(6.0) is None
    assert state(core) is CircuitState.OPEN
    core.release(b, Outcome.SUCCESS, 6.1)
    assert state(core) is CircuitState.OPEN


def test_ignored_outcome_gives_probe_slot_back() -> None:
    core = BreakerCore(CFG, now=0.0)
    trip(core)
    a, b = core.acquire(5.0), core.acquire(5.0)
    assert a is not None
    assert b is not None
    core.release(a, Outcome.IGNORED, 5.1)
    c = core.acquire(5.1)
    assert c is not None
    core.release(b, Outcome.SUCCESS, 5.2)
    core.release(c, Outcome.SUCCESS, 5.3)
    assert state(core) is CircuitState.CLOSED


def test_stale_permit_from_before_transition_is_ignored() -> None:
    core = BreakerCore(CFG, now=0.0)
    old = core.acquire(0.0)
    assert old is not None
    trip(core)
    core.release(old, Outcome.SUCCESS, 1.0)
    assert state(core) is CircuitState.OPEN


def test_forced_open_disabled_metrics_only() -> None:
    core = BreakerCore(CFG, now=0.0)
    core.force(CircuitState.FORCED_OPEN, 1.0)
    assert core.acquire(1000.0) is None
    core.force(CircuitState.DISABLED, 2.0)
    for _ in range(20):
        run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.DISABLED
    assert core.window_calls == 0
    core.force(CircuitState.METRICS_ONLY, 3.0)
    for _ in range(20):
        run(core, Outcome.FAILURE)
    assert state(core) is CircuitState.METRICS_ONLY
    assert core.failure_rate == 1.0
    core.force(CircuitState.CLOSED, 4.0)
    assert core.window_calls == 0
    assert [c.new for c in core.changes] == [
        CircuitState.FORCED_OPEN,
        CircuitState.DISABLED,
        CircuitState.METRICS_ONLY,
        CircuitState.CLOSED,
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"failure_rate_threshold": 1.5}, "failure_rate_threshold"),
        ({"window_size": 0}, "window_size"),
        ({"minimum_calls": 30}, "minimum_calls"),
        ({"consecutive_failures": 0}, "consecutive_failures"),
        ({"open_interval": 0}, "open_interval"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"probe_timeout": -1}, "probe_timeout"),
    ],
)
def test_config_validation(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CircuitBreakerConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Outcome)), st.floats(min_value=0, max_value=3)),
        max_size=200,
    )
)
def test_invariants_under_random_traffic(events: list[tuple[Outcome, float]]) -> None:
    core = BreakerCore(CFG, now=0.0)
    now = 0.0
    for outcome, step in events:
        now += step
        permit = core.acquire(now)
        if state(core) is CircuitState.HALF_OPEN:
            assert core.probes_in_flight <= CFG.half_open_max_calls
        if permit is None:
            assert state(core) in (CircuitState.OPEN, CircuitState.HALF_OPEN)
            assert core.retry_after(now) >= 0
            continue
        core.release(permit, outcome, now)
        assert core.probes_in_flight == 0
        rate = core.failure_rate
        if state(core) is CircuitState.CLOSED and rate is not None:
            assert rate < CFG.failure_rate_threshold
    # Time heals: after the open interval a probe is always allowed.
    if state(core) is CircuitState.OPEN:
        assert core.acquire(now + CFG.open_interval) is not None
