"""StreamConsumer resilience against a real server: handler timeout, lease renewal,
circuit-breaker pause and lag/pending gauges. Every test counts calls, acks and dead letters.
"""

from __future__ import annotations

import collections
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.hooks import channel_family
from redis_fintech_sdk.observability import InMemoryMetrics
from redis_fintech_sdk.resilience import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerListener,
    CircuitState,
    StateChange,
)
from redis_fintech_sdk.streams import (
    AsyncDeadLetterQueue,
    AsyncStreamAdmin,
    DeadLetterReason,
    RawFrameCodec,
    StreamConsumer,
    StreamMessage,
)

pytestmark = pytest.mark.anyio


async def wait_for(predicate: Any, limit: float = 20.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


async def add(client: AsyncClient, stream: str, *frames: bytes) -> list[str]:
    ids = []
    for frame in frames:
        entry_id = await client.redis.xadd(stream, {b"f": frame})
        ids.append(entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id))
    return ids


async def pending(client: AsyncClient, stream: str) -> int:
    return (await AsyncStreamAdmin(client).groups(stream))[0].pending


# ---------------------------------------------------------------- handler timeout


async def test_handler_timeout_cancels_the_call_retries_then_dead_letters(
    aclient: AsyncClient, stream_name: str
) -> None:
    slow_id, _ = await add(aclient, stream_name, b"card 4111-1111 slow", b"fast")
    calls: collections.Counter[bytes] = collections.Counter()
    cancelled = 0

    async def handler(msg: StreamMessage) -> None:
        nonlocal cancelled
        calls[msg.frame] += 1
        if msg.frame == b"fast":
            return
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled += 1
            raise

    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=RawFrameCodec(),
        handler_timeout=0.2,
        block=0.1,
        max_attempts=2,
        visibility_timeout=2.0,
        retry_delay=0.05,
        claim_interval=0.05,
    )
    async with consumer:
        await wait_for(lambda: consumer.statistics().dead_lettered == 1)
    stats = consumer.statistics()
    assert calls == {b"card 4111-1111 slow": 2, b"fast": 1}
    assert cancelled == 2  # really cancelled, not abandoned
    assert (stats.handler_timeouts, stats.failed, stats.handled) == (2, 2, 1)
    assert (stats.nacked, stats.dead_lettered, stats.acked) == (1, 1, 1)
    [letter] = await AsyncDeadLetterQueue(aclient, stream_name).entries()
    assert (letter.original_id, letter.attempts) == (slow_id, 2)
    assert letter.reason is DeadLetterReason.HANDLER_ERROR
    assert letter.error_type == "TimeoutError"
    assert letter.error == "handler timed out after 0.2 s"
    assert "4111" not in letter.error
    assert await pending(aclient, stream_name) == 0


# ---------------------------------------------------------------- lease renewal


@pytest.mark.parametrize(
    ("renew", "max_lease"),
    [(True, 3600.0), (False, 3600.0), (True, 0.3)],
    ids=["renewed", "control-unrenewed", "past-max-lease"],
)
async def test_lease_renewal_keeps_a_slow_entry_from_a_second_concurrent_run(
    aclient: AsyncClient, stream_name: str, renew: bool, max_lease: float
) -> None:
    # A handles for 3x the visibility timeout while B scans for idle entries every 20 ms.
    # Renewed, B never gets the entry; the control run without renewal shows the double,
    # concurrent handling the renewal exists to prevent (so this test can fail). Past
    # max_lease renewal stops, so a hung handler's entry goes back to the normal reclaim.
    renewed = renew and max_lease > 10
    visibility = 0.6
    await add(aclient, stream_name, b"settle T-1")
    calls: list[str] = []
    active = peak = 0
    first, second = anyio.Event(), anyio.Event()

    async def handler(msg: StreamMessage) -> None:
        nonlocal active, peak
        calls.append(msg.consumer)
        active += 1
        peak = max(peak, active)
        (second if first.is_set() else first).set()
        try:
            # The slow work; the control run finishes as soon as the duplicate started.
            with anyio.move_on_after(3 * visibility if renewed else 20):
                await second.wait()
        finally:
            active -= 1

    def consumer(name: str, claim_interval: float) -> StreamConsumer:
        return StreamConsumer(
            aclient,
            stream_name,
            handler,
            group="g",
            consumer=name,
            codec=RawFrameCodec(),
            visibility_timeout=visibility,
            claim_interval=claim_interval,
            renew_leases=renew,
            max_lease=max_lease,
            block=0.1,
        )

    a, b = consumer("a", 0.05), consumer("b", 0.02)
    async with a:
        with anyio.fail_after(10):
            await first.wait()
        async with b:
            await wait_for(lambda: a.statistics().acked == 1)
            if not renewed:
                await wait_for(lambda: b.statistics().acked == 1)
    sa, sb = a.statistics(), b.statistics()
    if renewed:
        assert calls == ["a"]
        assert peak == 1
        assert sb.claimed == sb.delivered == 0
        assert sa.leases_renewed >= 3  # about every 0.2 s for 1.8 s
    else:
        assert calls == ["a", "b"]
        assert peak == 2
        assert sb.claimed >= 1
        assert sa.leases_renewed <= (0 if not renew else 2)  # at most until max_lease
    assert await pending(aclient, stream_name) == 0


# ---------------------------------------------------------------- breaker pause


class DownstreamDown(Exception):
    pass


async def test_breaker_pauses_reads_during_an_outage_and_nothing_is_dead_lettered(
    aclient: AsyncClient, stream_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 20
    frames = [b"payment %d" % i for i in range(total)]
    await add(aclient, stream_name, *frames)
    down = True
    opened = 0

    class RecoverAfterTwoFailedProbes(CircuitBreakerListener):
        def state_change(self, breaker: CircuitBreaker, change: StateChange) -> None:
            nonlocal down, opened
            if change.new is CircuitState.OPEN:
                opened += 1
                if opened == 3:  # the trip, then two failed half-open probes
                    down = False

    breaker = CircuitBreaker(
        "payments-api",
        CircuitBreakerConfig(consecutive_failures=3, open_interval=0.3, half_open_max_calls=2),
        failure_exceptions=(DownstreamDown,),
        listeners=[RecoverAfterTwoFailedProbes()],
    )
    handled: collections.Counter[bytes] = collections.Counter()
    failures = 0
    states_at_call: list[CircuitState] = []
    attempts_seen: list[int] = []

    async def handler(msg: StreamMessage) -> None:
        nonlocal failures
        states_at_call.append(breaker.state)
        attempts_seen.append(msg.attempt)
        if down:
            failures += 1
            raise DownstreamDown("payments API unavailable")
        handled[msg.frame] += 1

    # Count the reads that start while the breaker is open: a consumer that kept reading
    # would issue one every `block` (0.1 s) through the 3 x 0.3 s open periods.
    reads = {"all": 0, "open": 0}

    def counting(name: str, original: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            reads["all"] += 1
            if breaker.state is CircuitState.OPEN:
                reads["open"] += 1
                reads[f"{name}_open"] = reads.get(f"{name}_open", 0) + 1
            return await original(*args, **kwargs)

        return wrapper

    blocking, redis = aclient.blocking, aclient.redis
    monkeypatch.setattr(blocking, "xreadgroup", counting("xreadgroup", blocking.xreadgroup))
    monkeypatch.setattr(redis, "xautoclaim", counting("xautoclaim", redis.xautoclaim))
    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=RawFrameCodec(),
        breaker=breaker,
        max_attempts=2,
        visibility_timeout=2.0,
        retry_delay=0.05,
        claim_interval=0.05,
        block=0.1,
    )
    async with consumer:
        await wait_for(lambda: sum(handled.values()) == total)
    stats = consumer.statistics()
    assert opened == 3
    assert handled == dict.fromkeys(frames, 1)
    assert reads["open"] == 0, reads
    assert reads["all"] > 0
    assert CircuitState.OPEN not in states_at_call
    assert stats.pauses >= 1
    # Only the two failures before the trip used up an attempt; the rest were deferred.
    assert stats.nacked == 2
    assert stats.deferred >= total - 2
    assert max(attempts_seen) == 2  # max_attempts=2 and still nothing dead-lettered
    assert stats.dead_lettered == 0
    assert await AsyncDeadLetterQueue(aclient, stream_name).depth() == 0
    assert failures == stats.failed
    assert breaker.state is CircuitState.CLOSED
    assert await pending(aclient, stream_name) == 0


# ---------------------------------------------------------------- lag metrics


async def test_consumer_lag_and_pending_gauges_follow_the_group(
    aclient: AsyncClient, stream_name: str
) -> None:
    await add(aclient, stream_name, *(b"%d" % i for i in range(10)))
    metrics = InMemoryMetrics()
    release = anyio.Event()
    handled = 0

    async def handler(msg: StreamMessage) -> None:
        nonlocal handled
        await release.wait()
        handled += 1

    labels = {"stream": channel_family(stream_name), "group": "g"}

    def gauges() -> tuple[float, float]:
        return metrics.value("consumer_lag", **labels), metrics.value("consumer_pending", **labels)

    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=RawFrameCodec(),
        max_in_flight=3,
        block=0.1,
        lag_interval=0.05,
        metrics=metrics,
    )
    async with consumer:
        # Three entries held by the handlers, seven not yet delivered to the group.
        await wait_for(lambda: gauges() == (7.0, 3.0))
        release.set()
        await wait_for(lambda: handled == 10 and gauges() == (0.0, 0.0))
    assert consumer.statistics().acked == 10
