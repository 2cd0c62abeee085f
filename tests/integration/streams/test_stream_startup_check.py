"""F2's startup check: a producer says plainly when the server can lose acknowledged writes."""

from __future__ import annotations

import logging

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.streams import AsyncStreamProducer
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio


async def test_producer_warns_once_about_non_durable_server(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="redis_fintech_sdk.streams")
    async with AsyncClient.from_url(redis_server.url) as client:
        producer = AsyncStreamProducer(client, "startup:check")
        await producer.add(b"1")
        await producer.add(b"2")
        await client.redis.delete("startup:check")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "appendonly is off" in warnings[0]


async def test_producer_is_quiet_on_a_durable_server(
    redis_aof_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="redis_fintech_sdk.streams")
    async with AsyncClient.from_url(redis_aof_server.url) as client:
        await AsyncStreamProducer(client, "startup:quiet").add(b"1")
        await client.redis.delete("startup:quiet")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
