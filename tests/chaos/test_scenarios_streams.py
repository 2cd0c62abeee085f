"""Issue 8, Streams layer: F15 consumer SIGKILL (side-effect duplicates), F16 poison message,
F19 trimming with pending entries through the SDK, F2's startup durability warning.

``test_streams_chaos.py`` already shows a SIGKILLed consumer's entries are reclaimed in
time when its handler never got to a side effect; F15 here kills the victim *after* side
effects and counts their duplicates: at-least-once allows them (and the count must be
exactly the entries killed between effect and ack), the IdempotencyStore allows none.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncDeadLetterQueue,
    AsyncStreamAdmin,
    AsyncStreamProducer,
    DeadLetterReason,
    IdempotencyStore,
    RawFrameCodec,
    Retention,
    StreamConsumer,
    StreamMessage,
)
from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History, check

from ._harness import scale
from ._scen_streams import VICTIM, effects_by_frame, record_effects, stream_frames

pytestmark = pytest.mark.anyio

TIMEOUTS = Timeouts(connect=2.0, command=2.0, max_block=5.0)


def _r(client: AsyncClient) -> Any:
    """The redis-py client (untyped replies are fine in a test)."""
    return client.redis


def _mid(frame: bytes) -> str:
    return "m" + frame.decode()


async def _produce(client: AsyncClient, stream: str, history: History, frames: list[bytes]) -> None:
    producer = AsyncStreamProducer(client, stream, codec=RawFrameCodec(), idempotent=False)
    for i in range(0, len(frames), 500):
        chunk = frames[i : i + 500]
        for f in chunk:
            history.attempt(_mid(f))  # no seq: a group has no gap analysis
        await producer.add_many(chunk)
        for f in chunk:
            history.ack(_mid(f))


async def _poll(predicate: Callable[[], Any], limit: float) -> None:
    with anyio.fail_after(limit):
        while not await predicate():  # noqa: ASYNC110 - polling server state
            await anyio.sleep(0.05)


# ------------------------------------------------------------------------------------- F15


@pytest.mark.parametrize("mode", ["at_least_once", "idempotency_store"])
async def test_f15_consumer_sigkill_after_side_effects_counts_duplicates(
    chaos_server: Callable[..., RedisServer], history: History, mode: str
) -> None:
    server = chaos_server(appendonly=True, appendfsync="always")
    stream, effects_key = "{orders}", "{orders}:effects"
    total = scale(200, 5000)
    visibility = 2.0
    frames = [b"%d" % i for i in range(1, total + 1)]
    async with AsyncClient.from_url(server.url, timeouts=TIMEOUTS) as client:
        for f in frames:
            history.attempt(_mid(f))
        await AsyncStreamProducer(client, stream, codec=RawFrameCodec(), idempotent=False).add_many(
            frames
        )
        for f in frames:
            history.ack(_mid(f))
        await _r(client).xgroup_create(stream, "g", "0")
        short = "eo" if mode == "idempotency_store" else "alo"
        victim = subprocess.Popen(  # noqa: ASYNC220 - started once, reaped after SIGKILL
            [sys.executable, "-c", VICTIM, server.url, stream, short, effects_key]
        )
        try:
            with anyio.fail_after(60):
                while True:  # 50 odd entries hang after their effect: every slot is stuck
                    rows = await _r(client).xpending_range(
                        stream, "g", "-", "+", 1000, consumername="victim"
                    )
                    if len(rows) >= 50 and await _r(client).llen(effects_key) >= 25:
                        break
                    await anyio.sleep(0.05)
        finally:
            history.fault("SIGKILL consumer", pid=victim.pid, mode=mode)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
        killed_at = time.monotonic()
        rows = await _r(client).xpending_range(stream, "g", "-", "+", 10_000, "victim")
        pending_ids = {r["message_id"].decode() for r in rows}
        by_id = stream_frames(server, stream)
        pending_frames = {by_id[i] for i in pending_ids}
        before = effects_by_frame(server, effects_key)
        handled_at: dict[bytes, float] = {}

        async def handler(msg: StreamMessage) -> None:
            tag = b"live:" + msg.frame
            if msg.effects is not None:
                msg.effects.call("RPUSH", effects_key, tag)
            else:
                await _r(client).rpush(effects_key, tag)
            handled_at[msg.frame] = time.monotonic()

        live = StreamConsumer(
            client,
            stream,
            handler,
            group="g",
            consumer="live",
            codec=RawFrameCodec(),
            visibility_timeout=visibility,
            claim_interval=0.25,
            idempotency=IdempotencyStore(ttl=600) if mode == "idempotency_store" else None,
        )

        async with live:
            await _poll(lambda: _settled(client, stream), 60)
            await anyio.sleep(0.5)  # a stray redelivery would show up here
        stats = live.statistics()
    after = effects_by_frame(server, effects_key)
    record_effects(history, after, _mid)
    victim_effect_pending = {f for f in pending_frames if "victim" in before.get(f, [])}
    reclaim_s = max(handled_at[f] for f in pending_frames if f in handled_at) - killed_at
    verdict = check(history)
    history.notes.update(
        {
            "mode": mode,
            "victim_pending_at_kill": len(pending_frames),
            "victim_effects_before_kill": sum(len(v) for v in before.values()),
            "effects_then_killed": len(victim_effect_pending),
            "duplicate_effects": len(verdict.duplicates),
            "claimed": stats.claimed,
            "reclaim_s": round(reclaim_s, 3),
        }
    )
    assert stats.claimed >= len(pending_frames)
    assert reclaim_s <= visibility + 2.0, history.notes
    if mode == "at_least_once":
        # Redelivery repeats the effect of every entry killed between its effect and its
        # ack — exactly those, no more (and none lost).
        assert victim_effect_pending, "the kill must land between side effect and ack"
        verdict.assert_guarantee(lost=0, duplicates=len(victim_effect_pending), phantoms=0)
        assert set(verdict.duplicates) == {_mid(f) for f in victim_effect_pending}
    else:
        # The victim's uncommitted effects never happened; the live consumer's are
        # committed with the ack: each message's effect exactly once.
        assert not any("victim" in before.get(f, []) for f in pending_frames)
        verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=total)
        assert all(len(v) == 1 for v in after.values())
        assert len(after) == total


async def _settled(client: AsyncClient, stream: str) -> bool:
    """Every entry delivered to the group and acknowledged."""
    summary = await _r(client).xpending(stream, "g")
    last = await _r(client).xrevrange(stream, count=1)
    groups = await _r(client).xinfo_groups(stream)
    return bool(summary["pending"] == 0 and groups[0]["last-delivered-id"] == last[0][0])


# ------------------------------------------------------------------------------------- F16


async def test_f16_poison_dead_lettered_after_exactly_n_attempts_good_not_stalled(
    chaos_server: Callable[..., RedisServer], history: History
) -> None:
    server = chaos_server()
    stream = "{payments}"
    goods, poisons, attempts = scale(300, 5000), scale(1, 10), 3
    behind = 50  # good messages right behind a poison that must not wait for its retries
    retry_delay = 1.0
    every = goods // poisons
    frames: list[bytes] = []
    poison_frames: list[bytes] = []
    for i in range(goods):
        if i % every == every // 4 and len(poison_frames) < poisons:
            poison_frames.append(b"poison-%d" % len(frames))
            frames.append(poison_frames[-1])
        frames.append(b"good-%d" % len(frames))
    calls: dict[bytes, list[float]] = {p: [] for p in poison_frames}
    done: Counter[bytes] = Counter()
    done_at: dict[bytes, float] = {}
    async with AsyncClient.from_url(server.url, timeouts=TIMEOUTS) as client:
        await _produce(client, stream, history, frames)

        async def handler(msg: StreamMessage) -> None:
            if msg.frame.startswith(b"poison"):
                calls[msg.frame].append(time.monotonic())
                raise ValueError("cannot settle this payment")
            done[msg.frame] += 1
            done_at[msg.frame] = time.monotonic()

        consumer = StreamConsumer(
            client,
            stream,
            handler,
            group="g",
            consumer="c1",
            codec=RawFrameCodec(),
            max_attempts=attempts,
            retry_delay=retry_delay,
            visibility_timeout=retry_delay + 1.0,
            claim_interval=0.1,
            batch_size=50,
        )
        dlq = AsyncDeadLetterQueue(client, stream)
        async with consumer:

            async def finished() -> bool:
                return bool(len(done) == len(frames) - poisons and await dlq.depth() == poisons)

            await _poll(finished, 60)
            await anyio.sleep(retry_delay + 0.5)  # no further attempt may follow
        letters = await dlq.entries(count=1000)
        stats = consumer.statistics()
        pending = (await _r(client).xpending(stream, "g"))["pending"]
    for f in done:
        history.receive(_mid(f), subscriber="g")
    for letter in letters:
        assert letter.frame is not None
        history.effect(_mid(letter.frame))
    verdict = check(history)
    index = {f: i for i, f in enumerate(frames)}
    stalled = 0
    for p in poison_frames:
        second = calls[p][1]
        follow = [f for f in frames[index[p] + 1 : index[p] + 1 + behind] if f in done_at]
        stalled += sum(1 for f in follow if done_at[f] >= second)
    history.notes.update(
        {
            "poison_attempts": {p.decode(): len(c) for p, c in calls.items()},
            "dead_letters": len(letters),
            "good_processed": len(done),
            "good_behind_poison_stalled": stalled,
            "dead_lettered_stat": stats.dead_lettered,
        }
    )
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=len(frames))
    assert all(len(c) == attempts for c in calls.values()), history.notes
    assert len(letters) == poisons
    assert {bytes(x.frame or b"") for x in letters} == set(poison_frames)
    assert all(x.attempts == attempts for x in letters), letters
    assert all(x.reason == DeadLetterReason.HANDLER_ERROR for x in letters), letters
    assert all(x.error_type == "ValueError" for x in letters)
    assert max(done.values()) == 1
    assert len(done) == len(frames) - poisons
    assert stalled == 0, history.notes
    assert pending == 0


# ------------------------------------------------------------------------------------- F19


async def test_f19_sdk_trimming_never_drops_pending_entries(
    chaos_server: Callable[..., RedisServer], history: History
) -> None:
    server = chaos_server()
    stream = "chaos:f19"
    n, pending, acked = scale(300, 30_000), scale(50, 5000), scale(100, 10_000)
    more = scale(200, 5000)
    frames = [b"e-%d" % i for i in range(1, n + 1)]
    async with AsyncClient.from_url(server.url, timeouts=TIMEOUTS) as client:
        admin = AsyncStreamAdmin(client)
        await admin.ensure_group(stream, "g")
        await _produce(client, stream, history, frames)
        got = await _r(client).xreadgroup("g", "c1", {stream: ">"}, count=pending + acked)
        entries = got[0][1]
        for entry_id, fields in entries[:acked]:
            await _r(client).xack(stream, "g", entry_id)
            history.receive(_mid(fields[b"f"]), subscriber="g")
        features = await admin.features(stream)
        history.fault("StreamAdmin.trim", max_length=0, policy="refuse")
        result = await admin.trim(stream, max_length=0)
        # Then the producer's own retention, far below what the group still needs.
        retention = Retention(max_length=10, trim_every=scale(50, 500))
        producer = AsyncStreamProducer(
            client, stream, codec=RawFrameCodec(), idempotent=False, retention=retention
        )
        history.fault("producer Retention", max_length=10, trim_every=retention.trim_every)
        extra = [b"e-%d" % i for i in range(n + 1, n + more + 1)]
        for f in extra:
            history.attempt(_mid(f))
            await producer.add(f)
            history.ack(_mid(f))
        pstats = producer.statistics()
        health = await admin.group_health(stream, "g")
    kept = stream_frames(server, stream)
    for frame in kept.values():
        history.effect(_mid(frame))
    verdict = check(history)
    history.notes.update(
        {
            "trim_acked_server_side": result.server_side_acked,
            "removed": result.removed,
            "clamped": result.plan.clamped if result.plan else None,
            "producer_trims": pstats.trims,
            "kept": len(kept),
            "pending_after": health.pending,
        }
    )
    # Every pending or unread entry is still there; only what the group acked was removed.
    verdict.assert_guarantee(lost=0, duplicates=0, phantoms=0, min_acknowledged=n)
    assert result.removed == acked, history.notes
    assert len(kept) == n - acked + more
    if features.trim_acked:  # Redis 8.2+: XTRIM ... ACKED
        assert result.server_side_acked
    else:  # 7.x: the SDK clamps the cut to the oldest pending entry
        assert result.plan is not None
        assert result.plan.clamped
        assert pstats.trims >= more // retention.trim_every
        assert pstats.trimmed_entries == 0


# ------------------------------------------------------------------------------------- F2


@pytest.mark.parametrize("persistence", ["none", "everysec", "always"])
async def test_f2_startup_warns_about_weak_persistence_and_the_warning_holds(
    chaos_server: Callable[..., RedisServer],
    history: History,
    persistence: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if persistence == "none":
        server = chaos_server(appendonly=False, save="")
    else:
        server = chaos_server(appendonly=True, appendfsync=persistence)
    stream = "chaos:f2w"
    frames = [b"w-%d" % i for i in range(1, scale(200, 5000) + 1)]
    caplog.set_level(logging.WARNING, logger="redis_fintech_sdk.streams")
    async with AsyncClient.from_url(server.url, timeouts=TIMEOUTS) as client:
        warnings = await client.durability_warnings()
        await _produce(client, stream, history, frames)
    logged = [r.getMessage() for r in caplog.records if r.name == "redis_fintech_sdk.streams"]
    history.notes["warnings"] = warnings
    if persistence == "none":
        assert any("appendonly is off" in w for w in warnings), warnings
    elif persistence == "everysec":
        assert any("appendfsync everysec" in w for w in warnings), warnings
    else:
        assert warnings == [], warnings
    # The producer repeats the check once, as a log warning, at its first append.
    assert sum(1 for w in warnings for m in logged if w in m) == len(warnings), logged
    # The warning is true: kill -9 and count what survives.
    history.fault("SIGKILL+restart", pid=server.pid, persistence=persistence)
    await anyio.to_thread.run_sync(server.kill)
    await anyio.to_thread.run_sync(server.restart)
    for frame in stream_frames(server, stream).values():
        history.effect(_mid(frame))
    verdict = check(history)
    history.notes["lost"] = len(verdict.lost)
    if persistence == "none":
        assert verdict.lost == verdict.acknowledged, verdict.report()
    elif persistence == "always":
        verdict.assert_guarantee(lost=0, duplicates=0, min_acknowledged=len(frames))
    else:  # everysec: a process crash keeps the page cache; loss is measured, not promised
        verdict.assert_guarantee(lost=None, duplicates=0, min_acknowledged=len(frames))
