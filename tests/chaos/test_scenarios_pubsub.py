"""Issue 8, Pub/Sub layer: F6-pubsub ``CLIENT KILL TYPE pubsub``, F10 blackhole, F13 slow
subscriber past ``client-output-buffer-limit pubsub``.

Plain channels are at-most-once (ARCHITECTURE.md): what a disconnected subscriber misses is
gone, so the guarantee asserted is that the SDK *reports* it — every missed sequence number
is covered by a ``GapDetected`` range and the reported count equals the true count — and
that it never duplicates or invents a message. A publisher keeps publishing through every
fault. Each verdict prints its seed and fault schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    Disconnected,
    Resubscribed,
    SubscriberConfig,
)
from redis_fintech_sdk.settings import RetryConfig
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check
from redis_fintech_sdk.testing.faults import FaultProxy

from ._harness import rng_for, scale
from ._scen_pubsub import PublisherRecorder, SubscriberRecorder

pytestmark = pytest.mark.anyio

NO_RETRY = {"retry": RetryConfig(attempts=0)}


def _assert_reported_exactly(history: History, *subs: SubscriberRecorder) -> None:
    verdict = check(history)
    # lost=None: Pub/Sub is at-most-once; what is missed must be *reported*, not avoided.
    verdict.assert_guarantee(
        lost=None, duplicates=0, phantoms=0, unreported_gaps=0, false_gap_reports=0,
        min_acknowledged=50,
    )  # fmt: skip
    for sub in subs:
        assert sub.duplicate_receipts() == 0, f"{sub.name} got a message twice"
        assert sub.reported_missed() == sub.exact_missed(), (sub.notes(), verdict.report())


async def _wait_until(predicate: Callable[..., bool], limit: float, what: str) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.01)


async def test_f6_pubsub_client_kill_resubscribes_and_reports_exact_gap(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server()
    rng = rng_for(chaos_seed, "f6-pubsub")
    kills = scale(3, 30)
    cfg = SubscriberConfig(ping_interval=1.0, ping_timeout=0.5, connect_timeout=1.0)
    channel = "chaos.f6.ticks"
    pubrec = PublisherRecorder(history, channel)
    s1 = SubscriberRecorder(history, "channel")
    s2 = SubscriberRecorder(history, "pattern")
    recovery: list[float] = []
    async with (
        AsyncClient.from_url(server.url, **NO_RETRY) as pclient,
        AsyncClient.from_url(server.url, **NO_RETRY) as sclient,
    ):
        sub1 = AsyncSubscriber(sclient, config=cfg)
        sub2 = AsyncSubscriber(sclient, config=cfg)
        s1.attach(sub1)
        s2.attach(sub2)
        stop = anyio.Event()
        async with sub1, sub2, AsyncPublisher(pclient) as pub, anyio.create_task_group() as tg:
            await sub1.subscribe(channel)
            await sub2.psubscribe("chaos.f6.*")
            tg.start_soon(s1.consume, sub1)
            tg.start_soon(s2.consume, sub2)
            tg.start_soon(pubrec.run, pub, stop, 300.0)
            await anyio.sleep(0.5)
            for n in range(kills):
                await anyio.sleep(rng.uniform(0.2, 0.8))
                before = (s1.resubscribed(), s2.resubscribed())
                history.fault("CLIENT KILL TYPE pubsub", n=n)
                killed = server.command("CLIENT", "KILL", "TYPE", "pubsub")
                at = time.monotonic()
                assert killed == 2, f"expected both subscriber connections, killed {killed!r}"
                await _wait_until(
                    lambda b=before: (
                        (s1.resubscribed(), s2.resubscribed()) > b
                        and s1.resubscribed() > b[0]
                        and s2.resubscribed() > b[1]
                    ),
                    5.0,
                    "resubscribed",
                )
                await _wait_until(
                    lambda t=at: (
                        max(s1.first_receipt_after(t), s2.first_receipt_after(t)) < float("inf")
                    ),
                    5.0,
                    "first message after the kill",
                )
                recovery.append(max(s1.first_receipt_after(at), s2.first_receipt_after(at)))
            await anyio.sleep(0.5)  # the messages after the last kill reveal its gap
            stop.set()
            await anyio.sleep(0.2)
            stats = (sub1.statistics(), sub2.statistics())
            tg.cancel_scope.cancel()
    history.notes.update(s1.notes() | s2.notes())
    history.notes["recovery_max_s"] = round(max(recovery), 3)
    history.notes["publish_errors"] = pubrec.errors
    _assert_reported_exactly(history, s1, s2)
    assert [s.disconnects for s in stats] == [kills, kills]
    assert s1.resubscribed() == s2.resubscribed() == kills
    assert set(s1.disconnect_reasons()) | set(s2.disconnect_reasons()) <= {"ConnectionFailedError"}
    assert max(recovery) < 2.0, history.notes
    assert pubrec.errors == {}, "CLIENT KILL TYPE pubsub must not touch the publisher"


async def test_f10_blackhole_half_open_detected_within_two_intervals(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server()
    rng = rng_for(chaos_seed, "f10")
    interval = 1.0
    # ping_timeout <= interval / 2 keeps the worst case (1.5 intervals of silence before the
    # PING is sent, then its deadline) inside 2 intervals.
    cfg = SubscriberConfig(
        ping_interval=interval, ping_timeout=0.4, connect_timeout=1.0, reconnect_cap=0.5
    )
    channel = "chaos.f10.ticks"
    pubrec = PublisherRecorder(history, channel)
    rec = SubscriberRecorder(history, "s1")
    detections: list[float] = []
    recoveries: list[float] = []
    with FaultProxy(server.address, seed=chaos_seed) as proxy:
        async with (
            AsyncClient.from_url(server.url, **NO_RETRY) as pclient,
            AsyncClient.from_url(proxy.url, **NO_RETRY) as sclient,
        ):
            sub = AsyncSubscriber(sclient, config=cfg)
            rec.attach(sub)
            stop = anyio.Event()
            async with sub, AsyncPublisher(pclient) as pub, anyio.create_task_group() as tg:
                await sub.subscribe(channel)
                tg.start_soon(rec.consume, sub)
                tg.start_soon(pubrec.run, pub, stop, 200.0)
                await anyio.sleep(0.5)
                for n in range(scale(2, 20)):
                    await anyio.sleep(rng.uniform(0.3, 1.0))
                    hold = rng.uniform(2 * interval + 0.5, 2 * interval + 1.5)
                    lost_before = len(rec.of(Disconnected))
                    history.fault("blackhole", n=n, hold_s=round(hold, 3))
                    started = time.time()
                    proxy.blackhole()
                    await _wait_until(
                        lambda k=lost_before: len(rec.of(Disconnected)) > k,
                        2 * interval + 2.0,
                        "half-open detection",
                    )
                    lost = rec.of(Disconnected)[-1]
                    assert isinstance(lost, Disconnected)
                    assert lost.reason == "half-open", lost
                    detections.append(lost.at - started)
                    await anyio.sleep(max(0.0, hold - (time.time() - started)))
                    resubs = rec.resubscribed()
                    history.fault("clear", n=n)
                    proxy.clear()
                    cleared = time.monotonic()
                    await _wait_until(lambda r=resubs: rec.resubscribed() > r, 5.0, "resubscribe")
                    await _wait_until(
                        lambda t=cleared: rec.first_receipt_after(t) < float("inf"), 5.0, "data"
                    )
                    recoveries.append(rec.first_receipt_after(cleared))
                await anyio.sleep(0.5)
                stop.set()
                await anyio.sleep(0.2)
                stats = sub.statistics()
                tg.cancel_scope.cancel()
    history.notes.update(rec.notes())
    history.notes["detection_s"] = [round(d, 3) for d in detections]
    history.notes["recovery_s"] = [round(r, 3) for r in recoveries]
    _assert_reported_exactly(history, rec)
    assert stats.half_open_detected == len(detections)
    assert max(detections) <= 2 * interval, history.notes
    assert rec.exact_missed() > 0, "a blackhole with a live publisher must cost messages"
    # After the clear: at most one connect attempt stuck on the dead link, then a backoff.
    assert max(recoveries) <= cfg.connect_timeout + cfg.reconnect_cap + 1.0, history.notes
    assert rec.resubscribed() == len(detections)


async def test_f13_slow_subscriber_output_buffer_disconnect_reports_exact_gap(
    chaos_server: Callable[..., RedisServer], history: History, chaos_seed: int
) -> None:
    server = chaos_server(extra_config=["client-output-buffer-limit pubsub 64kb 32kb 1"])
    channel = "chaos.f13.depth"
    cfg = SubscriberConfig(
        buffer_capacity=50, overflow="block", ping_interval=1.0, ping_timeout=0.5,
        connect_timeout=1.0,
    )  # fmt: skip
    pubrec = PublisherRecorder(history, channel, pad=16_000)
    rec = SubscriberRecorder(history, "slow")
    rounds = scale(1, 5)
    async with (
        AsyncClient.from_url(server.url, **NO_RETRY) as pclient,
        AsyncClient.from_url(server.url, **NO_RETRY) as sclient,
    ):
        sub = AsyncSubscriber(sclient, config=cfg)
        rec.attach(sub)
        async with sub, AsyncPublisher(pclient) as pub, anyio.create_task_group() as tg:
            await sub.subscribe(channel)
            tg.start_soon(rec.consume, sub)
            n = 0
            for r in range(rounds):
                # The consumer blocks; the SDK's buffer fills, its reader stops reading
                # (block policy), and the server's output buffer grows past the hard limit.
                gate = rec.gate = anyio.Event()
                history.fault("consumer blocked", round=r)
                burst_start = n
                while server.command("CLIENT", "LIST", "TYPE", "pubsub"):
                    n += 1
                    await pubrec.publish_one(pub, n)
                    assert n - burst_start < 200_000, "the server never disconnected the client"
                history.fault("server closed the slow subscriber", round=r, after=n - burst_start)
                for _ in range(100):  # published while it is gone: missed for sure
                    n += 1
                    await pubrec.publish_one(pub, n)
                resubs = rec.resubscribed()
                history.fault("consumer released", round=r)
                gate.set()
                await _wait_until(lambda r0=resubs: rec.resubscribed() > r0, 20.0, "resubscribe")
                for _ in range(50):  # the next messages reveal the exact gap
                    n += 1
                    await pubrec.publish_one(pub, n)
                    await anyio.sleep(0.002)
                await anyio.sleep(0.3)
            await anyio.sleep(0.3)
            stats = sub.statistics()
            tg.cancel_scope.cancel()
    history.notes.update(rec.notes())
    history.notes["buffer_refused"] = stats.buffer.refused
    history.notes["published"] = n
    _assert_reported_exactly(history, rec)
    assert stats.buffer.refused > 0, "the block policy never applied"
    assert stats.disconnects >= rounds
    assert rec.resubscribed() >= rounds
    assert rec.exact_missed() >= 100 * rounds
    log = server.log_path.read_text(errors="replace")
    assert "output buffer" in log, "the server did not report the buffer-limit disconnect"
    assert not any(isinstance(e, Resubscribed) and e.channels != (channel,) for e in rec.events)
