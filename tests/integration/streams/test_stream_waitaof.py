"""``Durability(local_fsync=True)``: ``WAITAOF 1 0`` after each append (Redis 7.2+)."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.streams import AsyncStreamProducer, Durability
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio


async def _waitaof_calls(client: AsyncClient) -> int:
    stats = await client.redis.info("commandstats")
    return int(stats.get("cmdstat_waitaof", {}).get("calls", 0))


async def test_local_fsync_waits_for_the_aof(redis_aof_server: RedisServer) -> None:
    async with AsyncClient.from_url(redis_aof_server.url) as client:
        producer = AsyncStreamProducer(
            client, "t:waitaof", durability=Durability(local_fsync=True, timeout=2.0)
        )
        await producer.append(b"warm-up")  # the feature probe runs on the first append
        before = await _waitaof_calls(client)
        results = await producer.append_many([b"a", b"b"])
        await producer.append(b"c")
        assert [r.duplicate for r in results] == [False, False]
        assert await client.redis.xlen("t:waitaof") >= 4
        stats = producer.statistics()
        if redis_aof_server.binary.version >= (7, 2, 0):
            assert await _waitaof_calls(client) - before == 2  # one per round trip
            assert stats.durability_skipped == 0
        else:  # 7.0 has no WAITAOF: the wait is skipped and counted, never faked
            assert await _waitaof_calls(client) == 0
            assert stats.durability_skipped == 3


async def test_local_fsync_without_aof_is_an_error_not_a_confirmation(
    redis_server: RedisServer,
) -> None:
    if redis_server.binary.version < (7, 2, 0):
        pytest.skip("WAITAOF needs Redis 7.2+ (7.0 skips the wait, tested above)")
    async with AsyncClient.from_url(redis_server.url) as client:
        producer = AsyncStreamProducer(
            client, "t:waitaof-off", durability=Durability(local_fsync=True, timeout=1.0)
        )
        with pytest.raises(RedisError, match=r"(?i)appendonly|WAITAOF"):
            await producer.append(b"x")
