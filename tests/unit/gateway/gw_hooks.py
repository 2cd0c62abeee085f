"""Test doubles for the gateway's hooks: a recording audit sink and an in-memory GCRA limiter."""

from __future__ import annotations

from typing import Any

from redis_fintech_sdk.errors import RateLimitedError, RedisError
from redis_fintech_sdk.security import RateDecision, RateLimit, gcra_step


class RecordingAudit:
    """An AuditSink that keeps every event (or fails every call when ``fail``)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[dict[str, str]] = []
        self.fail = fail

    async def record(self, **fields: Any) -> None:
        if self.fail:
            raise RedisError("audit stream unavailable", command="EVALSHA")
        self.events.append({k: str(v) for k, v in fields.items()})

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]


class MemoryLimiter:
    """The SDK's GCRA step (``gcra_step``) kept in memory, on a clock the test moves."""

    def __init__(self, limit: RateLimit, *, broken: bool = False) -> None:
        self.limit = limit
        self.now_us = 1_000_000
        self.tats: dict[str, int] = {}
        self.subjects: list[str] = []
        self.broken = broken

    async def acquire(self, subject: str) -> RateDecision:
        self.subjects.append(subject)
        if self.broken:
            raise RedisError("connection refused", command="EVALSHA")
        decision, tat = gcra_step(self.tats.get(subject), self.now_us, self.limit)
        if tat is not None:
            self.tats[subject] = tat
        if not decision.allowed:
            raise RateLimitedError(subject, decision.retry_after)
        return decision
