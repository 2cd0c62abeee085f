"""Producer + consumer group against real servers: delivery, dead letters, reclaim, NOGROUP."""

from __future__ import annotations

import collections
from decimal import Decimal
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.codec import Codec, Message, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.streams import (
    AckPolicy,
    AsyncDeadLetterQueue,
    AsyncStreamAdmin,
    AsyncStreamProducer,
    DeadLetterReason,
    StreamConsumer,
    StreamMessage,
)

pytestmark = pytest.mark.anyio


@message("rfsdk.test.streams.confirmation")
class Confirmation(Message):
    trade_id: str
    account: str
    amount: Decimal


async def wait_for(predicate: Any, limit: float = 20.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


async def test_two_consumers_100k_no_loss_no_duplicates(
    aclient: AsyncClient, stream_name: str
) -> None:
    total = 100_000
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    frames = [b"%d" % i for i in range(total)]
    for start in range(0, total, 5000):
        await producer.add_many(frames[start : start + 5000])
    seen: collections.Counter[bytes] = collections.Counter()

    async def handler(msg: StreamMessage) -> None:
        seen[msg.frame] += 1

    opts: dict[str, Any] = {"group": "g", "batch_size": 500, "max_in_flight": 500}
    from redis_fintech_sdk.streams import RawFrameCodec

    c1 = StreamConsumer(aclient, stream_name, handler, consumer="c1", codec=RawFrameCodec(), **opts)
    c2 = StreamConsumer(aclient, stream_name, handler, consumer="c2", codec=RawFrameCodec(), **opts)
    async with c1, c2:
        await wait_for(lambda: len(seen) >= total, limit=120)
    assert len(seen) == total
    assert max(seen.values()) == 1
    s1, s2 = c1.statistics(), c2.statistics()
    assert s1.acked + s2.acked == total
    assert s1.delivered > 0
    assert s2.delivered > 0
    groups = await AsyncStreamAdmin(aclient).groups(stream_name)
    assert groups[0].pending == 0


async def test_codec_messages_round_trip(
    aclient: AsyncClient, stream_name: str, codec: Codec
) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, codec=codec)
    await producer.add_many(
        [Confirmation(trade_id=f"T{i}", account="A", amount=Decimal("1.5")) for i in range(50)]
    )
    got: list[Any] = []

    async def handler(msg: StreamMessage) -> None:
        got.append(msg.envelope.payload)

    async with StreamConsumer(aclient, stream_name, handler, group="g", codec=codec):
        await wait_for(lambda: len(got) == 50)
    assert {p.trade_id for p in got} == {f"T{i}" for i in range(50)}


async def test_failing_handler_dead_lettered_after_exactly_n_attempts(
    aclient: AsyncClient, stream_name: str, codec: Codec
) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, codec=codec)
    entry = await producer.add(Confirmation(trade_id="BAD", account="A", amount=Decimal(1)))
    await producer.add(b"\x00garbage frame")
    calls: list[int] = []

    async def handler(msg: StreamMessage) -> None:
        calls.append(msg.attempt)
        raise ValueError("settlement rejected")

    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=codec,
        max_attempts=3,
        visibility_timeout=1.0,
        retry_delay=0.05,
        claim_interval=0.1,
    )
    dlq = AsyncDeadLetterQueue(aclient, stream_name)
    async with consumer:
        await wait_for(lambda: consumer.statistics().dead_lettered == 2)
    assert calls == [1, 2, 3]
    letters = {d.reason: d for d in await dlq.entries()}
    bad = letters[DeadLetterReason.HANDLER_ERROR]
    assert (bad.original_id, bad.attempts, bad.group) == (entry, 3, "g")
    assert (bad.error_type, bad.error, bad.stream) == (
        "ValueError",
        "settlement rejected",
        stream_name,
    )
    garbage = letters[DeadLetterReason.UNDECODABLE]
    assert garbage.attempts == 1
    assert garbage.frame == b"\x00garbage frame"
    assert consumer.statistics().undecodable == 1
    assert (await AsyncStreamAdmin(aclient).groups(stream_name))[0].pending == 0

    # Replay the handler failure once the handler is fixed.
    ok: list[str] = []

    async def fixed(msg: StreamMessage) -> None:
        ok.append(msg.envelope.payload.trade_id)

    new_ids = await dlq.replay([bad.id])
    assert len(new_ids) == 1
    async with StreamConsumer(aclient, stream_name, fixed, group="g", codec=codec):
        await wait_for(lambda: ok == ["BAD"])
    assert await dlq.depth() == 1
    assert await dlq.purge() == 1
    assert await dlq.depth() == 0


async def test_pending_entries_of_a_dead_consumer_are_reclaimed(
    aclient: AsyncClient, stream_name: str
) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    await producer.add_many([b"%d" % i for i in range(20)])
    admin = AsyncStreamAdmin(aclient)
    await admin.ensure_group(stream_name, "g")
    # A consumer that reads and dies: its entries sit in its pending list.
    await aclient.redis.xreadgroup("g", "dead", {stream_name: ">"}, count=20)
    got: list[tuple[bytes, int]] = []

    async def handler(msg: StreamMessage) -> None:
        got.append((msg.frame, msg.attempt))

    from redis_fintech_sdk.streams import RawFrameCodec

    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        consumer="live",
        codec=RawFrameCodec(),
        visibility_timeout=0.5,
        claim_interval=0.1,
    )
    async with consumer:
        await wait_for(lambda: len(got) == 20)
    assert sorted(f for f, _ in got) == sorted(b"%d" % i for i in range(20))
    assert {a for _, a in got} == {2}
    assert consumer.statistics().claimed == 20
    removed = await admin.remove_dead_consumers(stream_name, "g", idle_for=0, claim_to="live")
    assert removed == ["dead"]


async def test_dead_consumer_with_pending_entries_is_moved_before_removal(
    aclient: AsyncClient, stream_name: str
) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    await producer.add_many([b"a", b"b"])
    admin = AsyncStreamAdmin(aclient)
    await admin.ensure_group(stream_name, "g")
    await aclient.redis.xreadgroup("g", "ghost", {stream_name: ">"}, count=2)
    removed = await admin.remove_dead_consumers(stream_name, "g", idle_for=0, claim_to="heir")
    assert removed == ["ghost"]
    consumers = {c.name: c.pending for c in await admin.consumers(stream_name, "g")}
    assert consumers == {"heir": 2}


async def test_group_recreated_after_flushall(aclient: AsyncClient, stream_name: str) -> None:
    from redis_fintech_sdk.streams import RawFrameCodec

    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    got: list[bytes] = []

    async def handler(msg: StreamMessage) -> None:
        got.append(msg.frame)

    consumer = StreamConsumer(
        aclient, stream_name, handler, group="g", codec=RawFrameCodec(), block=0.2
    )
    async with consumer:
        await producer.add(b"before")
        await wait_for(lambda: got == [b"before"])
        await aclient.redis.delete(stream_name)  # like FLUSHALL, for this stream only
        await wait_for(lambda: consumer.statistics().group_recreated >= 1)
        await producer.add(b"after")
        await wait_for(lambda: got == [b"before", b"after"])
    assert consumer.statistics().group_recreated >= 1


async def test_manual_ack_policy(aclient: AsyncClient, stream_name: str) -> None:
    from redis_fintech_sdk.streams import RawFrameCodec

    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    await producer.add_many([b"keep", b"drop"])
    done: list[bytes] = []

    async def handler(msg: StreamMessage) -> None:
        if msg.frame == b"keep":
            await msg.ack()
        else:
            await msg.dead_letter(RuntimeError("manual"))
        done.append(msg.frame)

    consumer = StreamConsumer(
        aclient, stream_name, handler, group="g", codec=RawFrameCodec(), ack_policy=AckPolicy.MANUAL
    )
    async with consumer:
        await wait_for(lambda: len(done) == 2)
    assert consumer.statistics().dead_lettered == 1
    assert (await AsyncStreamAdmin(aclient).groups(stream_name))[0].pending == 0
