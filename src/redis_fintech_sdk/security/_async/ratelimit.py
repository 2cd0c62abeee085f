"""A Redis-backed GCRA rate limiter shared by every process that uses the same Redis.

This file is the source of truth; ``security/_sync/ratelimit.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

from typing import Any

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, RateLimitedError

from .._gcra import GCRA_SCRIPT, RateDecision, RateLimit

__all__ = ["RateLimiter"]


class RateLimiter:
    """Limits requests per subject (user, channel, API key) with one atomic Lua call.

    The script runs by ``EVALSHA``; after a ``SCRIPT FLUSH`` or a failover redis-py reloads
    it on ``NOSCRIPT``. Time comes from the server (``TIME``), not from the client.

    Args:
        client: the connection (its user needs ``+evalsha +eval +script|load +get +set`` on
            the limiter's keys).
        limit: the limit applied to every subject.
        prefix: key prefix; a subject's state lives in ``<prefix>:{<subject>}``.

    Example:
        >>> limiter = AsyncRateLimiter(client, RateLimit(rate=100))  # doctest: +SKIP
        >>> await limiter.acquire("user:42")  # doctest: +SKIP
    """

    def __init__(self, client: AsyncClient, limit: RateLimit, *, prefix: str = "rfsdk:rl") -> None:
        if not prefix or any(c in prefix for c in " {}"):
            raise ConfigurationError("prefix", "must be non-empty, without spaces or braces")
        self._client = client
        self._limit = limit
        self._prefix = prefix
        self._script: Any = client.redis.register_script(GCRA_SCRIPT)

    @property
    def limit(self) -> RateLimit:
        """The limit applied."""
        return self._limit

    def key_for(self, subject: str) -> str:
        """The Redis key holding ``subject``'s state (hash-tagged by the subject)."""
        return f"{self._prefix}:{{{subject}}}"

    async def try_acquire(self, subject: str, *, cost: int = 1) -> RateDecision:
        """Take ``cost`` from ``subject``'s allowance if it is there; never raises for a refusal.

        Raises:
            ConfigurationError: ``cost`` outside 1..burst.
            RedisError: the server cannot be reached or refused the script.
        """
        if not 1 <= cost <= self._limit.burst:
            raise ConfigurationError("cost", "must be within 1..burst")
        key = self.key_for(subject)
        args = [self._limit.interval_us, self._limit.burst, cost]
        with self._client.translate_errors("EVALSHA", key=key):
            allowed, retry_us, remaining = await self._script(keys=[key], args=args)
        return RateDecision(bool(allowed), int(retry_us) / 1_000_000, int(remaining))

    async def acquire(self, subject: str, *, cost: int = 1) -> RateDecision:
        """Like :meth:`try_acquire`, but a refusal raises.

        Raises:
            RateLimitedError: over the limit; ``retry_after`` says when to try again.
            ConfigurationError: ``cost`` outside 1..burst.
            RedisError: the server cannot be reached or refused the script.
        """
        decision = await self.try_acquire(subject, cost=cost)
        if not decision.allowed:
            raise RateLimitedError(subject, decision.retry_after)
        return decision

    async def reset(self, subject: str) -> None:
        """Forget ``subject``'s state (its full burst is available again).

        Raises:
            RedisError: the server cannot be reached.
        """
        key = self.key_for(subject)
        with self._client.translate_errors("DEL", key=key):
            await self._client.redis.delete(key)
