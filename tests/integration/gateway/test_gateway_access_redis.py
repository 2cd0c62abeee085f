# ruff: noqa: ASYNC110
"""Audit trail, Redis GCRA limits, Prometheus counters and drain, against a real redis-server."""

from __future__ import annotations

import datetime as _dt
import json
import secrets
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.codec import Envelope
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app
from redis_fintech_sdk.gateway.testclient import request, stream, websocket
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import (
    AsyncAuditLog,
    AsyncRateLimiter,
    ChannelGrant,
    HmacKeySet,
    RateLimit,
    TokenIssuer,
    TokenVerifier,
)
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio

KEYS = HmacKeySet.generate()
ISSUER = TokenIssuer(hmac_keys=KEYS)
READER = ISSUER.issue("acc-reader", [ChannelGrant.of("gw.acc.*", "subscribe")])
OTHER = ISSUER.issue("acc-other", [ChannelGrant.of("gw.acc.*", "subscribe")])
ADMIN = ISSUER.issue(
    "acc-ops",
    [ChannelGrant.of("rfsdk.gateway.admin", "read"), ChannelGrant.of("gw.acc.*", "publish")],
)


def _auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(redis_server.url) as c:
        yield c


def _prefix(kind: str) -> str:
    return f"gwtest{kind}{secrets.token_hex(4)}"  # fresh keys per test on the shared server


async def _samples(app: GatewayApp) -> dict[str, float]:
    r = await request(app, "GET", "/metrics", headers=_auth(ADMIN))
    assert r.status == 200
    out: dict[str, float] = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_access_refusals_and_admin_publish_land_in_a_verifiable_audit_trail(
    client: AsyncClient,
) -> None:
    log = AsyncAuditLog(client, keys=HmacKeySet.generate("audit"), prefix=_prefix("audit"))
    app = create_app(
        client, tokens=TokenVerifier(hmac_keys=KEYS), audit=log, config=GatewayConfig()
    )
    async with app:
        async with stream(app, "/v1/stream", query="channels=gw.acc.A", headers=_auth(READER)):
            body = json.dumps({"channel": "gw.acc.A", "payload": {"px": 2}}).encode()
            r = await request(app, "POST", "/v1/admin/publish", headers=_auth(ADMIN), body=body)
            assert r.status == 200, r.body
            message_id = r.json()["message_id"]
        async with websocket(app, headers=_auth(READER)) as ws:
            assert (await ws.receive())["type"] == "websocket.accept"
            await ws.send_json({"op": "subscribe", "channels": ["orders.new"]})
            assert (await ws.receive_json())["code"] == 403
        r = await request(app, "GET", "/v1/stream", query="channels=gw.acc.A")
        assert r.status == 401
        samples = await _samples(app)

    day = _dt.datetime.now(_dt.timezone.utc).date()
    entries = [f for _, f in await log.entries(day)]
    got = [(f["kind"], f["actor"], f["outcome"], f["channel"]) for f in entries]
    assert got == [
        ("access", "acc-reader", "success", "gw.acc.A"),
        ("published", "acc-ops", "success", "gw.acc.A"),
        ("access", "acc-reader", "success", ""),
        ("permission_denied", "acc-reader", "denied", "orders.new"),
        ("token_refused", "anonymous", "denied", "gw.acc.A"),
    ]
    assert entries[1]["msg"] == message_id
    assert entries[0]["reason"] == "sse connected from 127.0.0.1"
    assert entries[2]["reason"] == "ws connected from 127.0.0.1"
    text = json.dumps(entries)
    assert all(tok not in text for tok in (READER, ADMIN))
    assert '"px"' not in text  # identifiers only, never the payload
    assert (await log.verify(day)).ok
    assert samples['rfsdk_gateway_connections_total{transport="sse"}'] == 1
    assert samples['rfsdk_gateway_connections_total{transport="ws"}'] == 1
    assert samples["rfsdk_gateway_admin_publishes_total"] == 1
    assert samples['rfsdk_gateway_auth_refusals_total{code="forbidden"}'] == 1
    assert samples['rfsdk_gateway_auth_refusals_total{code="unauthorized"}'] == 1
    assert samples["rfsdk_gateway_redis_up"] == 1
    assert samples["rfsdk_gateway_audit_errors_total"] == 0


async def test_redis_gcra_connect_limit_per_principal(client: AsyncClient) -> None:
    prefix = _prefix("rl")
    limiter = AsyncRateLimiter(client, RateLimit(rate=1, period=60, burst=2), prefix=prefix)
    app = create_app(client, tokens=TokenVerifier(hmac_keys=KEYS), connect_limiter=limiter)
    query = "channels=gw.acc.L"
    async with app:
        async with (
            stream(app, "/v1/stream", query=query, headers=_auth(READER)) as one,
            stream(app, "/v1/stream", query=query, headers=_auth(READER)) as two,
        ):
            assert (one.status, two.status) == (200, 200)
            r = await request(app, "GET", "/v1/stream", query=query, headers=_auth(READER))
            assert (r.status, r.json()["error"]) == (429, "rate_limited")
            assert 1 <= int(r.headers["retry-after"]) <= 60
            async with stream(app, "/v1/stream", query=query, headers=_auth(OTHER)) as other:
                assert other.status == 200  # another principal, another allowance
        # Closing connections gives nothing back: the limit counts connection attempts.
        r = await request(app, "GET", "/v1/stream", query=query, headers=_auth(READER))
        assert r.status == 429
        samples = await _samples(app)
    assert samples['rfsdk_gateway_rate_limited_total{action="connect"}'] == 2
    assert samples['rfsdk_gateway_connections_total{transport="sse"}'] == 3
    assert await client.redis.exists(f"{prefix}:{{connect:acc-reader}}") == 1


async def test_prometheus_counts_fan_out_and_drops(client: AsyncClient) -> None:
    config = GatewayConfig(client_queue=10, heartbeat_interval=5)
    app = create_app(client, tokens=TokenVerifier(hmac_keys=KEYS), config=config)
    query = "channels=gw.acc.F"
    async with (
        app,
        stream(app, "/v1/stream", query=query, headers=_auth(READER)) as fast,
        stream(app, "/v1/stream", query=query, headers=_auth(READER), chunk_buffer=0),
        AsyncPublisher(client) as pub,
    ):
        for i in range(50):
            await pub.publish(Envelope(type="gw.tick", payload={"n": i}), "gw.acc.F")
        await fast.events(50)
        with anyio.fail_after(5):
            while app.hub.statistics().fanned_out < 100:
                await anyio.sleep(0.02)
        samples = await _samples(app)
        stats = app.hub.statistics()
    assert samples["rfsdk_gateway_messages_received_total"] == 50
    assert samples["rfsdk_gateway_messages_fanned_out_total"] == 100
    assert samples["rfsdk_gateway_messages_dropped_total"] == stats.dropped >= 50 - 10 - 2
    assert samples['rfsdk_gateway_clients{transport="sse"}'] == 2
    assert samples["rfsdk_gateway_subscriptions"] == 1
    assert samples["rfsdk_gateway_upstream_connected"] == 1


async def test_drain_ends_streams_and_refuses_new_ones(client: AsyncClient) -> None:
    app = create_app(client, tokens=TokenVerifier(hmac_keys=KEYS))
    query = "channels=gw.acc.D"
    async with app:
        async with (
            stream(app, "/v1/stream", query=query, headers=_auth(READER)) as sse,
            websocket(app, headers=_auth(READER)) as ws,
        ):
            assert (await ws.receive())["type"] == "websocket.accept"
            app.drain()
            with anyio.fail_after(5):
                last: MutableMapping[str, Any] = {}
                async for last in sse.chunks:
                    if not last.get("more_body", False):
                        break
            assert last == {"type": "http.response.body", "body": b"", "more_body": False}
            closed = await ws.receive()
            assert (closed["type"], closed["code"]) == ("websocket.close", 1001)
            r = await request(app, "GET", "/v1/stream", query=query, headers=_auth(READER))
            assert (r.status, r.json()["error"]) == (503, "shutting_down")
            assert (await request(app, "GET", "/readyz")).status == 503
        with anyio.fail_after(5):
            while app.hub.statistics().clients:
                await anyio.sleep(0.02)
