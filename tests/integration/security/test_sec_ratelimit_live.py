"""The Redis GCRA limiter: 100 req/s within 5 % under 4 clients for 10 s; NOSCRIPT fallback."""

from __future__ import annotations

import time

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.errors import RateLimitedError
from redis_fintech_sdk.security import AsyncRateLimiter, RateLimit, RateLimiter
from redis_fintech_sdk.testing import RedisBinary, RedisServer, available_redis_servers

pytestmark = pytest.mark.anyio


async def test_limit_holds_within_5_percent_under_4_clients_for_10s(
    redis_server: RedisServer, redis_binary: RedisBinary
) -> None:
    if redis_binary != available_redis_servers()[0]:
        pytest.skip("the 10 s run is made on one redis-server binary only")
    limit = RateLimit(rate=100, burst=5)
    subject = f"user:{time.time_ns()}"
    allowed = [0] * 4
    refused = [0] * 4
    duration = 10.0

    async def client_loop(n: int) -> None:
        async with AsyncClient(host=redis_server.host, port=redis_server.port) as client:
            limiter = AsyncRateLimiter(client, limit)
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                decision = await limiter.try_acquire(subject)
                if decision.allowed:
                    allowed[n] += 1
                else:
                    refused[n] += 1
                    await anyio.sleep(min(decision.retry_after, 0.02))

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(client_loop, n)
    total = sum(allowed)
    assert abs(total - 100 * duration) <= 0.05 * 100 * duration, (allowed, refused)
    assert all(a > 0 for a in allowed)  # every client got a share
    assert sum(refused) > 0


async def test_acquire_raises_with_retry_after_and_survives_script_flush(
    redis_server: RedisServer,
) -> None:
    async with AsyncClient(host=redis_server.host, port=redis_server.port) as client:
        limiter = AsyncRateLimiter(client, RateLimit(rate=2, burst=3), prefix="rl-test")
        subject = f"apikey:{time.time_ns()}"
        for _ in range(3):
            await limiter.acquire(subject)
        with pytest.raises(RateLimitedError) as excinfo:
            await limiter.acquire(subject)
        assert 0.3 < excinfo.value.retry_after <= 0.5
        assert excinfo.value.subject == subject
        await client.execute("SCRIPT", "FLUSH")
        await limiter.reset(subject)
        assert (await limiter.acquire(subject)).remaining == 2
        ttl = await client.execute("PTTL", limiter.key_for(subject))
        assert 0 < ttl <= 600  # state expires once the subject is idle


def test_sync_limiter_shares_state_with_async_one(redis_server: RedisServer) -> None:
    with Client(host=redis_server.host, port=redis_server.port) as client:
        limiter = RateLimiter(client, RateLimit(rate=1, period=60, burst=1), prefix="rl-sync")
        subject = f"channel:{time.time_ns()}"
        assert limiter.try_acquire(subject).allowed
        second = limiter.try_acquire(subject)
        assert not second.allowed
        assert 59 < second.retry_after <= 60
