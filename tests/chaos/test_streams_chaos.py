"""Streams under faults: a consumer SIGKILLed mid-batch; an AOF server killed 5 times.

Each test counts what was sent, acknowledged, processed and duplicated and asserts the
guarantee of ARCHITECTURE.md. They run on the newest redis-server only (kill/restart is
not version-specific) and start their own servers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.resilience import RetryPolicy
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    IdempotencyStore,
    RawFrameCodec,
    StreamConsumer,
    StreamMessage,
)
from redis_fintech_sdk.testing import RedisServer, available_redis_servers

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.anyio]

NEWEST = available_redis_servers()[-1]

VICTIM = textwrap.dedent(
    """
    import sys, anyio
    from redis_fintech_sdk.connection import AsyncClient
    from redis_fintech_sdk.streams import StreamConsumer, RawFrameCodec
    from redis_fintech_sdk.settings import Timeouts

    async def handler(msg):
        await anyio.sleep(3600)  # stuck mid-batch until SIGKILL

    async def main():
        async with AsyncClient.from_url(sys.argv[1], timeouts=Timeouts(max_block=5.0)) as c:
            await StreamConsumer(c, sys.argv[2], handler, group="g", consumer="victim",
                                 codec=RawFrameCodec(), max_in_flight=50, batch_size=50).run()

    anyio.run(main)
    """
)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer(NEWEST, appendonly=True, appendfsync="always") as srv:
        yield srv


async def wait_for(predicate: Any, limit: float = 30.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters, no event to wait on
            await anyio.sleep(0.02)


async def test_sigkilled_consumer_entries_reclaimed_in_time(server: RedisServer) -> None:
    visibility = 2.0
    async with AsyncClient.from_url(server.url, timeouts=Timeouts(max_block=5.0)) as client:
        producer = AsyncStreamProducer(client, "orders", idempotent=False)
        await producer.add_many([b"%d" % i for i in range(200)])
        await client.redis.xgroup_create("orders", "g", "0")
        victim = subprocess.Popen(  # noqa: ASYNC220 - started once, reaped after SIGKILL
            [sys.executable, "-c", VICTIM, server.url, "orders"]
        )
        try:
            with anyio.fail_after(30):
                while True:
                    summary = await client.redis.xpending("orders", "g")
                    if summary["pending"] >= 50:
                        break
                    await anyio.sleep(0.05)
        finally:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
        killed_at = time.monotonic()
        seen: Counter[bytes] = Counter()
        done_at: dict[bytes, float] = {}

        async def handler(msg: StreamMessage) -> None:
            seen[msg.frame] += 1
            done_at[msg.frame] = time.monotonic()

        live = StreamConsumer(
            client,
            "orders",
            handler,
            group="g",
            consumer="live",
            codec=RawFrameCodec(),
            visibility_timeout=visibility,
            claim_interval=0.25,
        )
        async with live:
            await wait_for(lambda: len(seen) == 200)
        assert max(seen.values()) == 1  # none processed twice
        assert live.statistics().claimed == 50
        assert max(done_at.values()) - killed_at <= visibility + 2.0


async def test_aof_server_killed_five_times_exactly_once_balance(server: RedisServer) -> None:
    total = 1500
    acked: list[int] = []
    processed: Counter[bytes] = Counter()
    balance = "{ledger}:balance"
    timeouts = Timeouts(connect=1.0, command=1.0, max_block=2.0)
    async with AsyncClient.from_url(server.url, timeouts=timeouts) as client:

        async def handler(msg: StreamMessage) -> None:
            assert msg.effects is not None
            processed[msg.frame] += 1
            msg.effects.incrby(balance, int(msg.frame))

        def consumer(name: str) -> StreamConsumer:
            return StreamConsumer(
                client,
                "ledger",
                handler,
                group="g",
                consumer=name,
                codec=RawFrameCodec(),
                idempotency=IdempotencyStore(ttl=600),
                visibility_timeout=1.0,
                claim_interval=0.2,
                block=0.5,
                reconnect_cap=0.5,
            )

        producer = AsyncStreamProducer(
            client, "ledger", retry=RetryPolicy(attempts=200, base=0.05, cap=0.25)
        )
        c1, c2 = consumer("a"), consumer("b")
        async with c1, c2:

            async def produce() -> None:
                for i in range(1, total + 1):
                    await producer.add(b"%d" % i)
                    acked.append(i)

            async def chaos() -> None:
                for _ in range(5):
                    await anyio.sleep(0.4)
                    await anyio.to_thread.run_sync(server.kill)
                    await anyio.sleep(0.2)
                    await anyio.to_thread.run_sync(server.restart)

            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                tg.start_soon(chaos)
            expected = sum(acked)

            async def settled() -> bool:
                raw = await client.redis.get(balance)
                return raw is not None and int(raw) >= expected

            with anyio.fail_after(60):
                while not await settled():  # noqa: ASYNC110
                    await anyio.sleep(0.1)
            await anyio.sleep(1.5)  # let any stray redelivery show up
            final = int(await client.redis.get(balance) or 0)
        assert len(acked) == total
        assert final == expected  # every acknowledged append applied, none twice
        restarts = c1.statistics().reconnects + c2.statistics().reconnects
        assert restarts > 0
        redelivered = sum(1 for n in processed.values() if n > 1)
        skipped = c1.statistics().duplicates_skipped + c2.statistics().duplicates_skipped
        print(f"acked={len(acked)} redelivered={redelivered} dedup_skipped={skipped}")
