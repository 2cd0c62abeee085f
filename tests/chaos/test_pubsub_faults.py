"""Pub/Sub under faults: kill -9 + restart, SIGSTOP (half-open), CLIENT KILL.

Each test counts what was sent, received, lost and duplicated, and asserts the guarantee:
plain channels are at-most-once with every missed message *reported* (exact gap counts);
replayable topics lose nothing acknowledged and duplicate nothing.
"""

from __future__ import annotations

import time

import anyio
import pytest

from redis_fintech_sdk.codec import Codec, Message, default_registry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import SDKError
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    GapDetected,
    PossibleGap,
    ReplayConfig,
    Resubscribed,
    SubscriberConfig,
    SubscriberEvent,
)
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerConfig
from redis_fintech_sdk.settings import RetryConfig
from redis_fintech_sdk.testing import FaultProxy, RedisBinary, RedisServer

pytestmark = pytest.mark.anyio

if default_registry.get("test.chaos.seq") is None:

    @message("test.chaos.seq", version=1)
    class Seq(Message):
        """A numbered test message."""

        n: int

else:  # pragma: no cover
    Seq = default_registry.get("test.chaos.seq").model  # type: ignore[union-attr,misc]

FAST = SubscriberConfig(ping_interval=0.5, ping_timeout=0.5, connect_timeout=1.0)


class Run:
    """Publishes numbered messages until stopped; records acks and receipts."""

    def __init__(self) -> None:
        self.acked: set[int] = set()
        self.attempted = 0
        self.received: list[int] = []
        self.received_at: list[float] = []
        self.events: list[SubscriberEvent] = []
        self.stop = anyio.Event()

    async def publish(self, pub: AsyncPublisher, channel: str) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.attempted = n
            try:
                await pub.publish(Seq(n=n), channel)
                self.acked.add(n)
            except SDKError:
                pass  # down, or the breaker is open: at-most-once, counted by the checker
            await anyio.sleep(0.004)

    async def consume(self, sub: AsyncSubscriber) -> None:
        async for d in sub:
            self.received.append(d.payload.n)
            self.received_at.append(time.monotonic())

    def received_after(self, t: float) -> float:
        return next(at for at in self.received_at if at >= t) - t

    def gaps(self) -> int:
        return sum(e.gap.missed for e in self.events if isinstance(e, GapDetected))


def _publisher(
    client: AsyncClient, codec: Codec, replay: ReplayConfig | None = None
) -> AsyncPublisher:
    breaker = CircuitBreaker(
        "chaos", CircuitBreakerConfig(consecutive_failures=3, open_interval=0.2)
    )
    return AsyncPublisher(client, codec=codec, breaker=breaker, replay=replay)


async def _scenario(
    server: RedisServer,
    fault: str,
    replay: ReplayConfig | None = None,
    proxy: FaultProxy | None = None,
) -> Run:
    """Publish and consume through ``fault``. With ``proxy`` the subscriber connects through
    it, and after a ``kill`` it stays away for 0.5 s more than the publisher, so messages are
    certainly published (into the replay stream) while it is disconnected."""
    run = Run()
    codec = Codec()
    channel = "test.chaos.feed"
    overrides = {"retry": RetryConfig(attempts=0)}
    sub_url = server.url if proxy is None else proxy.url
    async with (
        AsyncClient.from_url(server.url, **overrides) as pclient,
        AsyncClient.from_url(sub_url, **overrides) as sclient,
    ):
        sub = AsyncSubscriber(sclient, codec=Codec(), config=FAST, replay=replay)
        sub.add_listener(run.events.append)
        async with sub, _publisher(pclient, codec, replay) as pub, anyio.create_task_group() as tg:
            await sub.subscribe(channel)
            tg.start_soon(run.consume, sub)
            tg.start_soon(run.publish, pub, channel)
            await anyio.sleep(0.5)
            if fault == "kill":
                if proxy is not None:
                    proxy.down()
                server.kill()
                await anyio.sleep(1.0)
                await anyio.to_thread.run_sync(server.restart)
                if proxy is not None:
                    await anyio.sleep(0.5)  # the publisher is back, the subscriber not yet
                    proxy.up()
            elif fault == "pause":
                server.pause()
                await anyio.sleep(2.5)
                server.resume()
            else:
                server.command("CLIENT", "KILL", "TYPE", "pubsub")
            back = time.monotonic()
            await anyio.sleep(2.5)
            run.stop.set()
            await anyio.sleep(0.3)
            run.back_after = run.received_after(back)  # type: ignore[attr-defined]
            run.stats = sub.statistics()  # type: ignore[attr-defined]
            tg.cancel_scope.cancel()
    return run


async def test_kill_restart_reports_exact_missed_count(redis_binary: RedisBinary) -> None:
    with RedisServer(redis_binary) as server:
        run = await _scenario(server, "kill")
    got = set(run.received)
    assert len(run.received) == len(got), "Pub/Sub must not duplicate"
    assert len(got - run.acked) <= 1  # nothing phantom (one in-flight publish is ambiguous)
    last = max(got)
    missed = last - len(got)  # sequences 1..last that never arrived
    assert missed > 0, "the outage must have cost messages"
    assert run.gaps() == missed, "every missed message is reported, exactly"
    assert run.back_after < 2.0  # type: ignore[attr-defined]
    assert any(isinstance(e, Resubscribed) for e in run.events)
    assert any(isinstance(e, PossibleGap) for e in run.events)


async def test_replayable_topic_loses_and_duplicates_nothing(redis_binary: RedisBinary) -> None:
    replay = ReplayConfig(channels=("test.chaos.*",), maxlen=100_000)
    with (
        RedisServer(redis_binary, appendonly=True, appendfsync="always") as server,
        FaultProxy(server.address) as proxy,
    ):
        run = await _scenario(server, "kill", replay, proxy)
    got = run.received
    lost = run.acked - set(got)
    duplicated = len(got) - len(set(got))
    assert len(run.acked) > 200
    assert lost == set(), f"lost {len(lost)} acknowledged messages"
    assert duplicated == 0
    assert got == sorted(got), "catch-up then live, in order"
    assert run.stats.replayed > 0  # type: ignore[attr-defined]
    assert run.back_after < 2.0  # type: ignore[attr-defined]


async def test_sigstop_half_open_detected_and_recovered(redis_binary: RedisBinary) -> None:
    with RedisServer(redis_binary) as server:
        run = await _scenario(server, "pause")
    stats = run.stats  # type: ignore[attr-defined]
    assert stats.half_open_detected >= 1
    assert stats.disconnects >= 1
    # Deadline: one failed connect attempt (connect_timeout) + the backoff cap + slack.
    assert run.back_after < FAST.connect_timeout + FAST.reconnect_cap + 1.0  # type: ignore[attr-defined]
    got = set(run.received)
    assert len(got) == len(run.received)
    assert run.gaps() == max(got) - len(got)


async def test_client_kill_pubsub_resubscribes(redis_binary: RedisBinary) -> None:
    with RedisServer(redis_binary) as server:
        run = await _scenario(server, "client-kill")
    assert run.stats.disconnects == 1  # type: ignore[attr-defined]
    assert any(isinstance(e, Resubscribed) for e in run.events)
    assert run.back_after < 2.0  # type: ignore[attr-defined]
    got = set(run.received)
    assert run.gaps() == max(got) - len(got)
