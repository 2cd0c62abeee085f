"""A consumer group survives FLUSHALL and a restart without persistence (FastStream #2611)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.settings import RetryConfig, Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    RawFrameCodec,
    StreamConsumer,
    StreamMessage,
)
from redis_fintech_sdk.testing import RedisBinary, RedisServer

pytestmark = pytest.mark.anyio


async def _until(predicate: Any, limit: float = 20.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters
            await anyio.sleep(0.02)


async def test_group_recreated_after_flushall_and_restart(redis_binary: RedisBinary) -> None:
    with RedisServer(redis_binary) as server:  # save "" and no AOF: a restart loses all
        config_kw: dict[str, Any] = {
            "timeouts": Timeouts(connect=1.0, command=1.0, max_block=2.0),
            "retry": RetryConfig(attempts=2, backoff_base=0.05, backoff_cap=0.2),
        }
        async with AsyncClient.from_url(server.url, **config_kw) as client:
            producer = AsyncStreamProducer(client, "recover:s", idempotent=False)
            got: list[bytes] = []

            async def handler(msg: StreamMessage) -> None:
                got.append(msg.frame)

            consumer = StreamConsumer(
                client, "recover:s", handler, group="g", codec=RawFrameCodec(), block=0.2
            )
            async with consumer:
                await producer.add(b"1")
                await _until(lambda: got == [b"1"])

                await client.execute("FLUSHALL")
                await _until(lambda: consumer.statistics().group_recreated >= 1)
                await producer.add(b"2")
                await _until(lambda: got == [b"1", b"2"])

                recreated = consumer.statistics().group_recreated
                server.kill()
                server.restart()  # empty dataset: the group is gone again
                await _until(lambda: consumer.statistics().group_recreated > recreated, 30)
                for _ in range(50):
                    try:
                        await producer.add(b"3")
                        break
                    except RedisError:  # the first append may hit the dead socket
                        await anyio.sleep(0.1)
                await _until(lambda: got[-1:] == [b"3"], 30)
            assert got == [b"1", b"2", b"3"]
