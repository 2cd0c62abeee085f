"""Server snapshot and readiness against a real redis-server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.observability import (
    HealthServer,
    collect_snapshot,
    collect_snapshot_sync,
    lag_check,
    redis_check,
)
from redis_fintech_sdk.testing import RedisBinary, RedisServer


def test_snapshot_sees_subscribers_streams_slowlog(redis_server: RedisServer) -> None:
    with Client.from_url(redis_server.url) as client:
        r = client.redis
        r.config_set("slowlog-log-slower-than", 0)
        r.config_set("latency-monitor-threshold", 1)
        try:
            for i in range(5):
                r.xadd("obs:orders", {"i": i})
            r.xgroup_create("obs:orders", "obs-settle", id="0")
            r.xreadgroup("obs-settle", "c1", {"obs:orders": ">"}, count=2)
            r.execute_command("DEBUG", "SLEEP", "0.02")  # type: ignore[no-untyped-call]
            pubsub = client.pubsub()
            try:
                pubsub.subscribe("obs.market.price.AAPL", "obs.market.price.MSFT")
                pubsub.psubscribe("obs.alerts.*")
                for _ in range(3):
                    pubsub.get_message(timeout=1.0)
                snap = collect_snapshot_sync(client, streams=["obs:orders"])
            finally:
                pubsub.close()
        finally:
            r.config_set("slowlog-log-slower-than", 10000)
            r.config_set("latency-monitor-threshold", 0)
            r.delete("obs:orders")
    assert not snap.errors, snap.errors
    assert snap.pubsub.channels["obs.market.price.AAPL"] == 1
    assert snap.pubsub.patterns >= 1
    assert any(c.sub == 2 and c.psub == 1 for c in snap.pubsub_clients)
    assert snap.streams == {"obs:orders": 5}
    (group,) = snap.groups
    assert (group.group, group.pending, group.lag, group.consumers) == ("obs-settle", 2, 3, 1)
    assert any(e.command == "XREADGROUP" for e in snap.slowlog)
    assert any(e.event == "command" for e in snap.latency)
    assert snap.info.command_stats["xadd"].calls >= 5
    assert snap.memory["peak.allocated"] > 0


@pytest.mark.anyio
async def test_async_snapshot_discovers_streams(redis_server: RedisServer) -> None:
    async with AsyncClient.from_url(redis_server.url) as client:
        await client.redis.xadd("obs:discover", {"a": 1})
        try:
            snap = await collect_snapshot(client)
        finally:
            await client.redis.delete("obs:discover")
    assert snap.streams.get("obs:discover") == 1
    assert snap.info.role == "master"


def _ready(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_readiness_follows_redis_reachability(redis_binary: RedisBinary) -> None:
    with RedisServer(redis_binary) as server:
        url = f"redis://127.0.0.1:{server.port}/0?protocol=2"
        with Client.from_url(url) as client:

            def group_lag() -> int:
                snap = collect_snapshot_sync(client, streams=["obs:lag"])
                return snap.max_group_lag()

            client.redis.xadd("obs:lag", {"a": 1})
            client.redis.xgroup_create("obs:lag", "g", id="0")
            checks = {"redis": redis_check(client), "lag": lag_check(group_lag, threshold=2)}
            with HealthServer(checks=checks) as health:
                status, body = _ready(health.url)
                assert status == 200, body
                for _ in range(3):
                    client.redis.xadd("obs:lag", {"a": 1})
                status, body = _ready(health.url)
                assert status == 503
                checks_seen: dict[str, object] = body["checks"]  # type: ignore[assignment]
                assert checks_seen["lag"] == {"ok": False, "detail": "lag 4 (threshold 2)"}
                client.redis.xtrim("obs:lag", maxlen=0)
                client.redis.xgroup_setid("obs:lag", "g", id="$")
                assert _ready(health.url)[0] == 200
                server.kill()
                start = time.monotonic()
                status, body = _ready(health.url)
                assert status == 503
                assert body["checks"]["redis"]["ok"] is False  # type: ignore[index]
                assert time.monotonic() - start < 30
