from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    BackpressureError,
    CircuitOpenError,
    ClusterError,
    CodecError,
    ConfigurationError,
    ConnectionFailedError,
    RateLimitedError,
    ReadOnlyError,
    RedisTimeoutError,
    TLSError,
)
from redis_fintech_sdk.resilience import Backoff, RetryPolicy, apply_jitter, is_retryable


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_delays_without_jitter() -> None:
    policy = RetryPolicy(attempts=6, base=0.1, cap=1.0, jitter=0)
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])


def test_jitter_strategies() -> None:
    assert apply_jitter(2.0, "full", FixedRandom(0.25)) == 0.5
    assert apply_jitter(2.0, "equal", FixedRandom(0.5)) == 1.5
    assert apply_jitter(2.0, 0.5, FixedRandom(1.0)) == 1.0
    assert apply_jitter(2.0, 0, FixedRandom(0.9)) == 2.0


@given(
    attempts=st.integers(1, 30),
    base=st.floats(0.001, 1.0),
    factor=st.floats(1.0, 100.0),
    multiplier=st.floats(1.0, 10.0),
    jitter=st.one_of(st.sampled_from(["full", "equal"]), st.floats(0, 1)),
    seed=st.integers(0, 2**32),
)
def test_delays_are_bounded_and_counted(
    attempts: int, base: float, factor: float, multiplier: float, jitter: str | float, seed: int
) -> None:
    policy = RetryPolicy(
        attempts=attempts,
        base=base,
        cap=base * factor,
        multiplier=multiplier,
        jitter=jitter,  # type: ignore[arg-type]
    )
    delays = list(policy.delays(random.Random(seed)))
    assert len(delays) == attempts - 1
    assert all(0 <= d <= policy.cap for d in delays)
    assert delays == list(policy.delays(random.Random(seed)))  # deterministic with a seed


def test_huge_retry_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(attempts=2, base=1.0, cap=30.0, multiplier=10.0)
    assert policy.backoff(10_000) == 30.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attempts": 0}, "attempts"),
        ({"base": 0}, "base"),
        ({"base": 2.0, "cap": 1.0}, "cap"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": "half"}, "jitter"),
    ],
)
def test_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.attempts = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionFailedError("x"), True),
        (RedisTimeoutError("x"), True),
        (BackpressureError("x"), True),
        (ReadOnlyError("x"), True),
        (ClusterError("x"), True),
        (TLSError("x"), False),
        (AuthenticationError("x"), False),
        (AuthorizationError("x"), False),
        (CodecError("x"), False),
        (ConfigurationError("f", "x"), False),
        (CircuitOpenError("b", 1.0), False),
        (RateLimitedError("s", 1.0), False),
        (ValueError("x"), False),
    ],
)
def test_classification(exc: BaseException, expected: bool) -> None:
    assert is_retryable(exc) is expected


def test_sync_retrying_retries_transient_then_succeeds() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}
    policy = RetryPolicy(attempts=4, base=0.1, cap=1.0, jitter=0)

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionFailedError("reset")
        return "done"

    assert policy.retrying(sleep=sleeps.append)(flaky) == "done"
    assert sleeps == pytest.approx([0.1, 0.2])


def test_sync_retrying_does_not_retry_permanent_errors_and_reraises() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=5, jitter=0)

    def denied() -> None:
        raise AuthorizationError("NOPERM")

    with pytest.raises(AuthorizationError):
        policy.retrying(sleep=sleeps.append)(denied)
    assert sleeps == []


def test_retry_on_classes_and_exhaustion() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, jitter=0)

    def broken() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        policy.retrying(retry_on=(KeyError,), sleep=sleeps.append)(broken)
    assert len(sleeps) == 2


@pytest.mark.anyio
async def test_async_retrying() -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    policy = RetryPolicy(attempts=3, base=0.5, cap=0.5, jitter=0)
    attempts = 0
    async for attempt in policy.async_retrying(sleep=fake_sleep):
        with attempt:
            attempts += 1
            if attempts < 3:
                raise BackpressureError("OOM")
    assert attempts == 3
    assert sleeps == [0.5, 0.5]


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=5.0, jitter=0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0
    equal = Backoff(base=1.0, cap=8.0, rng=FixedRandom(0.0))
    assert [equal.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    for _ in range(5000):
        equal.next_delay()
    assert equal.next_delay() == 4.0
    with pytest.raises(ConfigurationError):
        Backoff(base=2.0, cap=1.0)
