"""Reference data from process memory, kept fresh by the server: AsyncNearCache.

    python examples/near_cache.py

A pricing service reads an FX fixing thousands of times; a treasury process updates it
once. The near cache serves the reads from memory and the update reaches it as a
server-side invalidation, so the next read already sees the new fixing.
"""

from __future__ import annotations

import anyio

from redis_fintech_sdk.cache import AsyncNearCache
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.testing import RedisServer


async def main(url: str) -> tuple[bytes | None, bytes | None]:
    async with AsyncClient.from_url(url) as pricing, AsyncClient.from_url(url) as treasury:
        await treasury.redis.set("ref:fx:EURUSD", "1.0841")
        async with AsyncNearCache(pricing, prefixes=["ref:fx:"]) as cache:
            await cache.wait_live()
            for _ in range(5_000):
                before = await cache.get("ref:fx:EURUSD")
            await treasury.redis.set("ref:fx:EURUSD", "1.0850")  # the fixing changes
            with anyio.fail_after(5):
                while cache.statistics().invalidations == 0:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            after = await cache.get("ref:fx:EURUSD")
            stats = cache.statistics()
            print(f"before={before!r} after={after!r}")
            print(f"hits={stats.hits} misses={stats.misses} invalidations={stats.invalidations}")
    assert (before, after) == (b"1.0841", b"1.0850")
    assert stats.hits == 4_999
    return before, after


if __name__ == "__main__":
    with RedisServer() as server:
        anyio.run(main, server.url)
