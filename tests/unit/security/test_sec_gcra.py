"""GCRA math: never more than burst + window/T in any window; retry-after is exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.security import RateLimit, api_key_subject, gcra_step


def run(limit: RateLimit, times: list[int]) -> list[int]:
    tat: int | None = None
    allowed = []
    for now in times:
        decision, new_tat = gcra_step(tat, now, limit)
        if decision.allowed:
            allowed.append(now)
            tat = new_tat
        else:
            assert new_tat is None
            assert decision.retry_after > 0
    return allowed


@given(
    st.floats(1, 1000),
    st.integers(1, 20),
    st.lists(st.integers(0, 5_000_000), min_size=1, max_size=300),
)
def test_no_window_admits_more_than_burst_plus_rate(
    rate: float, burst: int, raw: list[int]
) -> None:
    limit = RateLimit(rate=rate, burst=burst)
    times = sorted(raw)
    allowed = run(limit, times)
    t = limit.interval_us
    for i, start in enumerate(allowed):
        for window in (t, 10 * t, 1_000_000):
            inside = sum(1 for a in allowed[i:] if a < start + window)
            assert inside <= burst + window // t + 1


@settings(max_examples=15)
@given(st.integers(1, 50), st.integers(1, 10))
def test_steady_clients_get_exactly_the_rate(rate: int, burst: int) -> None:
    limit = RateLimit(rate=rate, burst=burst)
    # Hammer every 200 us for 10 s. With burst 1 each grant can lag its slot by up to one
    # polling step (GCRA does not bank lost time), so allow 1 %.
    allowed = run(limit, list(range(0, 10_000_000, 200)))
    expected = rate * 10 + burst
    assert abs(len(allowed) - expected) <= 1 + expected // 100


def test_retry_after_is_when_the_request_would_pass() -> None:
    limit = RateLimit(rate=10, burst=2)
    d1, tat = gcra_step(None, 0, limit)
    d2, tat = gcra_step(tat, 0, limit)
    assert d1.allowed
    assert d2.allowed
    assert d2.remaining == 0
    d3, unchanged = gcra_step(tat, 0, limit)
    assert not d3.allowed
    assert unchanged is None
    assert d3.retry_after == pytest.approx(0.1)
    d4, _ = gcra_step(tat, 100_000, limit)
    assert d4.allowed


def test_config_errors_and_api_key_subjects() -> None:
    for kwargs in ({"rate": 0}, {"rate": 1, "burst": 0}, {"rate": 10**7}):
        with pytest.raises(ConfigurationError):
            RateLimit(**kwargs)
    with pytest.raises(ConfigurationError):
        gcra_step(None, 0, RateLimit(rate=1, burst=2), cost=3)
    subject = api_key_subject("sk_live_abcdef123456")
    assert subject.startswith("apikey:")
    assert "abcdef" not in subject
