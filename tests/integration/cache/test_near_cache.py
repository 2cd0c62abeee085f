"""AsyncNearCache against a real redis-server: hits, server-side invalidation, races, loss."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.cache import AsyncNearCache
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.testing import FaultProxy, RedisBinary, RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def cache_server(redis_binary: RedisBinary) -> Iterator[RedisServer]:
    """A server of these tests' own: they FLUSHDB and kill Pub/Sub clients."""
    with RedisServer(redis_binary) as server:
        yield server


@pytest.fixture
async def writer(cache_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(cache_server.url) as client:
        await client.redis.flushdb()
        yield client


@pytest.fixture
async def reader(cache_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(cache_server.url) as client:
        yield client


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters
            await anyio.sleep(0.01)


async def test_hits_then_a_write_elsewhere_invalidates(
    reader: AsyncClient, writer: AsyncClient
) -> None:
    await writer.redis.set("ref:fx:EURUSD", "1.0841")
    async with AsyncNearCache(reader, prefixes=["ref:"]) as cache:
        await cache.wait_live()
        for _ in range(5):
            assert await cache.get("ref:fx:EURUSD") == b"1.0841"
        stats = cache.statistics()
        assert (stats.misses, stats.hits, stats.size) == (1, 4, 1)
        await writer.redis.set("ref:fx:EURUSD", "1.0850")  # another client writes
        await until(lambda: cache.statistics().invalidations >= 1)
        assert await cache.get("ref:fx:EURUSD") == b"1.0850"
        assert cache.statistics().misses == 2


async def test_hashes_and_keys_outside_the_prefixes(
    reader: AsyncClient, writer: AsyncClient
) -> None:
    await writer.redis.hset("ref:instr:AAPL", mapping={"tick": "0.01", "ccy": "USD"})
    await writer.redis.set("orders:1", "open")
    async with AsyncNearCache(reader, prefixes=["ref:"]) as cache:
        await cache.wait_live()
        first = await cache.hgetall("ref:instr:AAPL")
        first[b"tick"] = b"mutated by the caller"  # a copy: the cache is not touched
        assert await cache.hgetall("ref:instr:AAPL") == {b"tick": b"0.01", b"ccy": b"USD"}
        assert cache.statistics().hits == 1
        for _ in range(3):
            assert await cache.get("orders:1") == b"open"
        assert cache.statistics().hits == 1  # never cached: outside the prefixes
        await writer.redis.hset("ref:instr:AAPL", "tick", "0.05")
        await until(lambda: cache.statistics().invalidations >= 1)
        assert (await cache.hgetall("ref:instr:AAPL"))[b"tick"] == b"0.05"


async def test_a_write_racing_a_read_is_not_cached(
    reader: AsyncClient, writer: AsyncClient
) -> None:
    await writer.redis.set("ref:limit:desk1", "100")
    async with AsyncNearCache(reader, prefixes=["ref:"]) as cache:
        await cache.wait_live()
        real_fetch = cache._fetch

        async def racing_fetch(key: str, command: str) -> Any:
            value = await real_fetch(key, command)  # reads "100"
            await writer.redis.set(key, "50")  # ... then someone lowers the limit
            await until(lambda: cache.statistics().invalidations >= 1)
            return value

        cache._fetch = racing_fetch  # type: ignore[method-assign]
        assert await cache.get("ref:limit:desk1") == b"100"  # what the read saw
        cache._fetch = real_fetch  # type: ignore[method-assign]
        assert cache.statistics().not_stored == 1
        assert cache.statistics().size == 0
        assert await cache.get("ref:limit:desk1") == b"50"  # never the stale 100


async def test_flushdb_empties_the_cache(reader: AsyncClient, writer: AsyncClient) -> None:
    await writer.redis.set("ref:a", "1")
    async with AsyncNearCache(reader, prefixes=["ref:"]) as cache:
        await cache.wait_live()
        await cache.get("ref:a")
        flushes = cache.statistics().flushes
        await writer.redis.flushdb()
        await until(lambda: cache.statistics().flushes > flushes)
        assert await cache.get("ref:a") is None


async def test_a_killed_connection_goes_dark_then_recovers(
    reader: AsyncClient, writer: AsyncClient
) -> None:
    await writer.redis.set("ref:a", "1")
    async with AsyncNearCache(reader, prefixes=["ref:"], ping_interval=0.1) as cache:
        await cache.wait_live()
        await cache.get("ref:a")
        assert cache.statistics().size == 1
        killed = await writer.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        await until(lambda: cache.statistics().reconnects == 1)
        await cache.wait_live()
        await writer.redis.set("ref:a", "2")  # tracking was set up again on the new link
        await until(lambda: cache.statistics().invalidations >= 1)
        assert await cache.get("ref:a") == b"2"


async def test_a_silent_link_stops_serving_cached_values(cache_server: RedisServer) -> None:
    with FaultProxy(cache_server.address) as proxy:
        async with AsyncClient.from_url(
            proxy.url, timeouts=Timeouts(connect=1.0, command=1.0, max_block=2.0)
        ) as client:
            await client.redis.set("ref:a", "1")
            async with AsyncNearCache(client, prefixes=["ref:"], ping_interval=0.1) as cache:
                await cache.wait_live()
                await cache.get("ref:a")
                proxy.blackhole(True)  # half-open: no error, no data
                await until(lambda: not cache.statistics().live)
                assert cache.statistics().size == 0  # nothing stale is kept
                proxy.blackhole(False)
                await cache.wait_live(timeout=20.0)
                assert await cache.get("ref:a") == b"1"


async def test_size_bound_and_ttl(reader: AsyncClient, writer: AsyncClient) -> None:
    for i in range(5):
        await writer.redis.set(f"ref:{i}", str(i))
    async with AsyncNearCache(reader, prefixes=["ref:"], max_entries=3, ttl=0.3) as cache:
        await cache.wait_live()
        for i in range(5):
            await cache.get(f"ref:{i}")
        stats = cache.statistics()
        assert (stats.size, stats.evictions) == (3, 2)
        await cache.get("ref:4")
        assert cache.statistics().hits == 1
        await anyio.sleep(0.4)
        await cache.get("ref:4")  # expired: read again
        assert cache.statistics().hits == 1


async def test_bad_settings_name_the_field(reader: AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="prefixes"):
        AsyncNearCache(reader, prefixes=[])
    with pytest.raises(ConfigurationError, match="prefixes"):
        AsyncNearCache(reader, prefixes=["ref:", "ref:fx:"])
    with pytest.raises(ConfigurationError, match="max_entries"):
        AsyncNearCache(reader, prefixes=["ref:"], max_entries=0)
    with pytest.raises(ConfigurationError, match="ttl"):
        AsyncNearCache(reader, prefixes=["ref:"], ttl=0)
    with pytest.raises(ConfigurationError, match="ping_interval"):
        AsyncNearCache(reader, prefixes=["ref:"], ping_interval=0)


async def test_going_dark_twice_keeps_one_event_for_waiters(reader: AsyncClient) -> None:
    # A lost link is seen twice (the PING watchdog, then the listener loop): a waiter that
    # started between the two must be woken by the next live session, not left on a
    # replaced event.
    cache = AsyncNearCache(reader, prefixes=["ref:"])
    cache._up.set()
    cache._go_dark()
    waiting_on = cache._up
    cache._go_dark()
    assert cache._up is waiting_on
    assert not waiting_on.is_set()
