"""KeyspaceWatcher: cache invalidation and change notifications from a real server."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import KeyspaceWatcher
from redis_fintech_sdk.testing import RedisBinary, RedisServer

pytestmark = pytest.mark.anyio


async def test_keyspace_and_keyevent_notifications(redis_binary: RedisBinary) -> None:
    # A private server: notify-keyspace-events is server-wide state.
    with RedisServer(redis_binary) as server:
        async with (
            AsyncClient.from_url(server.url) as client,
            KeyspaceWatcher(client) as watcher,
        ):
            await watcher.enable("KEA")
            await watcher.watch_keys("price:*")
            await watcher.watch_events("del")
            await watcher.subscriber.wait_subscribed()
            await client.execute("SET", "price:AAPL", "187.25")
            await client.execute("SET", "other:x", "1")  # not watched by key
            await client.execute("DEL", "price:AAPL")
            seen: list[tuple[str, str]] = []
            with anyio.fail_after(5):
                while len(seen) < 3:
                    note = await watcher.get()
                    seen.append((str(note.key), str(note.event_type)))
    # keyspace channel for price:AAPL: set, del; keyevent channel for del: price:AAPL
    assert sorted(seen) == [("price:AAPL", "del"), ("price:AAPL", "del"), ("price:AAPL", "set")]
