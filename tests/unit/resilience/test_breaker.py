"""The asyncio / sync wrapper, with a fake clock: no sleeps, no timing assertions."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.errors import (
    AuthorizationError,
    CircuitOpenError,
    CodecError,
    ConnectionFailedError,
    RedisTimeoutError,
)
from redis_fintech_sdk.resilience import (
    BreakerCore,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerListener,
    CircuitState,
    StateChange,
)


def state(obj: BreakerCore | CircuitBreaker) -> CircuitState:
    """Read the state through a call, so mypy does not narrow it across transitions."""
    return obj.state


pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder(CircuitBreakerListener):
    def __init__(self) -> None:
        self.events: list[str] = []

    def state_change(self, breaker: CircuitBreaker, change: StateChange) -> None:
        self.events.append(f"{change.old.value}->{change.new.value}")

    def success(self, breaker: CircuitBreaker) -> None:
        self.events.append("success")

    def failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        self.events.append(f"failure:{type(exc).__name__}")

    def not_permitted(self, breaker: CircuitBreaker, retry_after: float) -> None:
        self.events.append(f"refused:{retry_after:.1f}")


CFG = CircuitBreakerConfig(
    window_size=4,
    minimum_calls=2,
    consecutive_failures=None,
    open_interval=10.0,
    half_open_max_calls=1,
    probe_timeout=5.0,
)


def make() -> tuple[CircuitBreaker, FakeClock, Recorder]:
    clock, rec = FakeClock(), Recorder()
    return CircuitBreaker("redis-main", CFG, clock=clock, listeners=[rec]), clock, rec


async def boom() -> None:
    raise ConnectionFailedError("connection refused")


async def ok() -> str:
    return "ok"


async def test_call_trips_refuses_and_recovers() -> None:
    breaker, clock, rec = make()
    for _ in range(2):
        with pytest.raises(ConnectionFailedError):
            await breaker.call(boom)
    assert state(breaker) is CircuitState.OPEN
    clock.now += 4
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(ok)
    assert info.value.retry_after == pytest.approx(6.0)
    assert info.value.name == "redis-main"
    clock.now += 6
    assert await breaker.call(ok) == "ok"
    assert state(breaker) is CircuitState.CLOSED
    assert rec.events == [
        "failure:ConnectionFailedError",
        "failure:ConnectionFailedError",
        "closed->open",
        "refused:6.0",
        "open->half_open",
        "success",
        "half_open->closed",
    ]
    stats = breaker.statistics()
    assert (stats.successes, stats.failures, stats.not_permitted) == (1, 2, 1)
    assert stats.state_changes == 3
    assert stats.last_state_change == clock.now


async def test_async_with_and_ignored_exceptions() -> None:
    breaker, _, _ = make()
    for exc in (AuthorizationError("NOPERM"), CodecError("bad frame"), KeyError("x")):
        with pytest.raises(type(exc)):
            async with breaker:
                raise exc
    assert state(breaker) is CircuitState.CLOSED
    assert breaker.statistics().ignored == 3
    async with breaker:
        pass
    assert breaker.statistics().successes == 1


async def test_cancellation_is_not_a_failure() -> None:
    breaker, _, _ = make()
    with anyio.move_on_after(0):
        async with breaker:
            await anyio.sleep(1)
    assert breaker.statistics().ignored == 1
    assert breaker.statistics().failures == 0


async def test_half_open_probe_timeout_counts_as_failure() -> None:
    # The probe bound is real time (anyio cancel scope); 10 ms keeps the test quick and a
    # hung coroutine never finishes, so there is nothing to flake on.
    clock = FakeClock()
    config = CircuitBreakerConfig(
        window_size=4, minimum_calls=2, open_interval=10.0, probe_timeout=0.01
    )
    breaker = CircuitBreaker("b", config, clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionFailedError):
            await breaker.call(boom)
    clock.now += 10

    async def hang() -> None:
        await anyio.sleep_forever()

    with pytest.raises(RedisTimeoutError, match="half-open probe"):
        await breaker.call(hang)
    assert state(breaker) is CircuitState.OPEN


async def test_concurrent_tasks_keep_their_own_permits() -> None:
    breaker, _, _ = make()
    entered = anyio.Event()
    release = anyio.Event()

    async def holder() -> None:
        async with breaker:
            entered.set()
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await entered.wait()
        async with breaker:
            pass
        release.set()
    assert breaker.statistics().successes == 2


def test_sync_guard_and_call_sync() -> None:
    breaker, clock, _ = make()

    def fail() -> None:
        raise RedisTimeoutError("timed out")

    for _ in range(2):
        with pytest.raises(RedisTimeoutError):
            breaker.call_sync(fail)
    with pytest.raises(CircuitOpenError), breaker.guard():
        pytest.fail("body must not run while open")
    clock.now += 10
    with breaker.guard():
        pass
    assert state(breaker) is CircuitState.CLOSED


def test_operator_states_and_listener_errors_are_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(CircuitBreakerListener):
        def success(self, breaker: CircuitBreaker) -> None:
            raise RuntimeError("listener bug")

    breaker = CircuitBreaker("b", clock=FakeClock())
    breaker.add_listener(Broken())
    assert breaker.call_sync(lambda: 1) == 1
    assert "listener" in caplog.text
    breaker.disable()
    assert state(breaker) is CircuitState.DISABLED
    breaker.metrics_only()
    breaker.force_open()
    with pytest.raises(CircuitOpenError):
        breaker.call_sync(lambda: 1)
    breaker.reset()
    assert state(breaker) is CircuitState.CLOSED
    assert "closed" in repr(breaker)


def test_is_failure_defaults() -> None:
    breaker = CircuitBreaker("b")
    assert breaker.is_failure(ConnectionFailedError("x"))
    assert breaker.is_failure(RedisTimeoutError("x"))
    assert not breaker.is_failure(AuthorizationError("x"))
    assert not breaker.is_failure(CodecError("x"))
    assert not breaker.is_failure(ValueError("x"))
