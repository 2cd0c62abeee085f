"""Idempotent appends, exactly-once processing, safe trimming, tailing, sync twins."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.errors import ConnectionFailedError
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamAdmin,
    AsyncStreamProducer,
    AsyncStreamTail,
    IdempotencyStore,
    RawFrameCodec,
    Retention,
    StreamAdmin,
    StreamConsumer,
    StreamMessage,
    StreamProducer,
    TrimPolicy,
)
from redis_fintech_sdk.testing import FaultProxy, RedisServer

pytestmark = pytest.mark.anyio


async def wait_for(predicate: Any, limit: float = 20.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


@pytest.mark.parametrize("idempotent", [True, False])
def test_retry_after_commit_gap_creates_no_duplicate(
    redis_server: RedisServer, stream_name: str, idempotent: bool
) -> None:
    command = "EVALSHA" if idempotent else "XADD"
    with (
        FaultProxy(redis_server.address) as proxy,
        Client.from_url(proxy.url, timeouts=Timeouts(command=2.0, max_block=5.0)) as client,
    ):
        producer = StreamProducer(client, stream_name, idempotent=idempotent)
        producer.add(b"warm-up")  # loads the script; the next call is the one we cut
        proxy.cut_after(command, nth=1)
        try:
            producer.add(b"payment-1")
        except ConnectionFailedError:
            assert not idempotent
        assert proxy.cut_fired
        length = client.redis.xlen(stream_name)
    if idempotent:
        assert length == 2
        assert producer.statistics().duplicates_suppressed + producer.statistics().retries >= 1
    else:
        # Without idempotency redis-py's own reconnect-retry repeats the XADD: the control.
        assert length in (2, 3)


async def test_explicit_idempotency_key_dedups(aclient: AsyncClient, stream_name: str) -> None:
    producer = AsyncStreamProducer(aclient, stream_name)
    first = await producer.add(b"x", idempotency_key="outbox-17")
    second = await producer.add(b"x", idempotency_key="outbox-17")
    assert first == second
    assert await aclient.redis.xlen(stream_name) == 1
    assert producer.statistics().duplicates_suppressed == 1


async def test_exactly_once_balance_with_duplicates(aclient: AsyncClient, stream_name: str) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    # The same message id appended twice (a producer without idempotency that retried).
    await producer.add_many([b"10", b"20", b"30"])
    balance = "{" + stream_name + "}:balance"
    calls = 0

    async def handler(msg: StreamMessage) -> None:
        nonlocal calls
        calls += 1
        assert msg.effects is not None
        msg.effects.incrby(balance, int(msg.frame))
        if calls == 2:
            raise RuntimeError("crash before commit")  # effects must not apply

    consumer = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=RawFrameCodec(),
        idempotency=IdempotencyStore(ttl=60),
        visibility_timeout=0.5,
        retry_delay=0.05,
        claim_interval=0.1,
    )
    async with consumer:
        await wait_for(lambda: consumer.statistics().acked == 3)
    assert int(await aclient.redis.get(balance) or 0) == 60
    # Processing the same entries again (e.g. a replay) does not apply them twice.
    await aclient.redis.xgroup_setid(stream_name, "g", "0")
    again = StreamConsumer(
        aclient,
        stream_name,
        handler,
        group="g",
        codec=RawFrameCodec(),
        idempotency=IdempotencyStore(),
    )
    async with again:
        await wait_for(lambda: again.statistics().duplicates_skipped == 3)
    assert int(await aclient.redis.get(balance) or 0) == 60


async def test_trim_never_drops_pending_entries(aclient: AsyncClient, stream_name: str) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    ids = await producer.add_many([b"%d" % i for i in range(100)])
    admin = AsyncStreamAdmin(aclient)
    await admin.ensure_group(stream_name, "g")
    # The group read 30 entries and acked the first 10.
    await aclient.redis.xreadgroup("g", "c", {stream_name: ">"}, count=30)
    await aclient.redis.xack(stream_name, "g", *ids[:10])
    result = await admin.trim(stream_name, max_length=5, policy=TrimPolicy.REFUSE)
    assert result.removed == 10
    rows: Any = await aclient.redis.xrange(stream_name, count=1)
    assert rows[0][0].decode() == ids[10]
    forced = await admin.trim(stream_name, max_length=5, policy=TrimPolicy.FORCE)
    assert forced.removed >= 85 - 5 - 1


async def test_producer_retention_is_safe(aclient: AsyncClient, stream_name: str) -> None:
    admin = AsyncStreamAdmin(aclient)
    await admin.ensure_group(stream_name, "g")
    producer = AsyncStreamProducer(
        aclient, stream_name, idempotent=False, retention=Retention(max_length=10, trim_every=10)
    )
    await producer.add_many([b"%d" % i for i in range(50)])
    # Nothing was acknowledged: nothing may go.
    assert await aclient.redis.xlen(stream_name) == 50
    await aclient.redis.xreadgroup("g", "c", {stream_name: ">"}, count=50)
    rows: Any = await aclient.redis.xrange(stream_name)
    await aclient.redis.xack(stream_name, "g", *[r[0] for r in rows])
    await producer.add_many([b"%d" % i for i in range(10)])
    assert await aclient.redis.xlen(stream_name) <= 20


async def test_tail_resumes_after_connection_reset(
    redis_server: RedisServer, stream_name: str
) -> None:
    with FaultProxy(redis_server.address) as proxy:
        async with AsyncClient.from_url(
            proxy.url, timeouts=Timeouts(command=2.0, max_block=5.0)
        ) as client:
            tail = AsyncStreamTail(client, stream_name, last_id="0", block=0.2)
            producer = AsyncStreamProducer(client, stream_name)  # retries the reset
            await producer.add_many([b"a", b"b"])
            got: list[bytes | None] = []
            async with anyio.create_task_group() as tg:

                async def follow() -> None:
                    async for _entry_id, frame in tail:
                        got.append(frame)
                        if len(got) == 4:
                            tg.cancel_scope.cancel()

                tg.start_soon(follow)
                await wait_for(lambda: len(got) == 2)
                proxy.reset_peers()
                await producer.add_many([b"c", b"d"])
                await wait_for(lambda: len(got) == 4)
            assert got == [b"a", b"b", b"c", b"d"]


def test_sync_admin_reports_health(sclient: Client, stream_name: str) -> None:
    producer = StreamProducer(sclient, stream_name)
    producer.add_many([b"1", b"2", b"3"])
    admin = StreamAdmin(sclient)
    admin.ensure_group(stream_name, "g")
    sclient.redis.xreadgroup("g", "c", {stream_name: ">"}, count=2)
    health = admin.group_health(stream_name, "g", idle_threshold=0)
    assert (health.pending, health.lag, health.dead_letters) == (2, 1, 0)
    assert health.idle_consumers == ("c",)
    assert admin.stream_info(stream_name).length == 3
    assert admin.memory_usage(stream_name) > 0
    features = admin.features(stream_name)
    assert features.trim_acked == features.xackdel
