# ruff: noqa: ASYNC110
"""The gateway against a real private redis-server: SSE order, shared subscriptions, drops, WS."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app
from redis_fintech_sdk.gateway.testclient import request, stream
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import ChannelGrant, HmacKeySet, TokenIssuer, TokenVerifier
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio

KEYS = HmacKeySet.generate()
ISSUER = TokenIssuer(hmac_keys=KEYS)
READER = ISSUER.issue("reader", [ChannelGrant.of("gw.*", "subscribe")])
ADMIN = ISSUER.issue(
    "ops",
    [ChannelGrant.of("rfsdk.gateway.admin", "read"), ChannelGrant.of("gw.*", "publish")],
)
AUTH = {"Authorization": f"Bearer {READER}"}


@pytest.fixture
async def gateway(redis_server: RedisServer) -> AsyncIterator[tuple[GatewayApp, AsyncClient]]:
    async with AsyncClient.from_url(redis_server.url) as client:
        app = create_app(
            client,
            tokens=TokenVerifier(hmac_keys=KEYS),
            config=GatewayConfig(heartbeat_interval=0.2, client_queue=50),
        )
        async with app:
            yield app, client


async def _numsub(client: AsyncClient, channel: str) -> int:
    reply = await client.redis.pubsub_numsub(channel)
    return int(reply[0][1])


async def _wait_numsub(client: AsyncClient, channel: str, want: int) -> None:
    with anyio.fail_after(5):
        while await _numsub(client, channel) != want:
            await anyio.sleep(0.02)


async def test_sse_receives_exactly_n_in_order(
    gateway: tuple[GatewayApp, AsyncClient],
) -> None:
    app, client = gateway
    codec = Codec()
    async with (
        stream(app, "/v1/stream", query="channels=gw.order.A", headers=AUTH) as sse,
        AsyncPublisher(client, codec=codec) as pub,
    ):
        assert sse.status == 200
        assert sse.headers["content-type"].startswith("text/event-stream")
        from redis_fintech_sdk.codec import Envelope

        for i in range(100):
            await pub.publish(Envelope(type="gw.tick", payload={"n": i}), "gw.order.A")
        events = await sse.events(100)
    assert [e["event"] for e in events] == ["message"] * 100
    data = [json.loads(e["data"]) for e in events]
    assert [d["payload"]["n"] for d in data] == list(range(100))
    assert [d["sequence"] for d in data] == list(range(1, 101))
    assert [e["id"] for e in events] == [
        f"{d['producer_id']}:{d['sequence']}:{d['message_id']}" for d in data
    ]
    assert {d["channel"] for d in data} == {"gw.order.A"}


async def test_two_clients_share_one_subscription_and_release_it(
    gateway: tuple[GatewayApp, AsyncClient],
) -> None:
    app, client = gateway
    async with stream(app, "/v1/stream", query="channels=gw.shared.X", headers=AUTH) as one:
        async with stream(app, "/v1/stream", query="channels=gw.shared.X", headers=AUTH) as two:
            await _wait_numsub(client, "gw.shared.X", 1)
            assert app.hub.statistics().clients == 2
            await client.redis.publish("gw.shared.X", b"plain text")  # not an SDK frame
            for s in (one, two):
                (event,) = await s.events(1)
                assert json.loads(event["data"])["payload"] == "plain text"
                assert "id" not in event
            r = await request(
                app, "GET", "/v1/admin/channels", headers={"Authorization": f"Bearer {ADMIN}"}
            )
            assert r.json()["subscriptions"] == [
                {"kind": "channel", "name": "gw.shared.X", "clients": 2}
            ]
            assert await _numsub(client, "gw.shared.X") == 1
        await _wait_numsub(client, "gw.shared.X", 1)
    await _wait_numsub(client, "gw.shared.X", 0)
    with anyio.fail_after(5):
        while app.hub.statistics().clients:
            await anyio.sleep(0.02)
    assert app.hub.statistics().subscriptions == {}


async def test_slow_client_drops_while_fast_client_gets_everything(
    gateway: tuple[GatewayApp, AsyncClient],
) -> None:
    app, client = gateway
    codec = Codec()
    n = 300
    query = "channels=gw.fast.*"
    async with (
        stream(app, "/v1/stream", query=query, headers=AUTH) as fast,
        stream(app, "/v1/stream", query=query, headers=AUTH, chunk_buffer=0) as slow,
        AsyncPublisher(client, codec=codec) as pub,
    ):
        from redis_fintech_sdk.codec import Envelope

        for i in range(n):
            await pub.publish(Envelope(type="gw.tick", payload={"n": i}), "gw.fast.Q")
        got = await fast.events(n)
        assert [json.loads(e["data"])["payload"]["n"] for e in got] == list(range(n))
        # The slow one never read: its queue (50) overflowed, and the drops are counted.
        stats = {q.transport + str(q.id): q.statistics() for q in app.hub.clients()}
        dropped = sorted(s.dropped for s in stats.values())
        assert dropped[0] == 0
        assert dropped[1] >= n - 50 - 5
        # When it reads again it is told how many it lost, then gets the newest messages.
        events = await slow.events(3)
        kinds = [e["event"] for e in events]
        assert "dropped" in kinds
        assert app.hub.statistics().dropped == dropped[1]
        metrics = await app.metrics()
        assert metrics["messages"]["dropped"] == dropped[1]
        assert metrics["redis"]["ok"] is True
        assert metrics["subscriptions"] == [{"kind": "pattern", "name": "gw.fast.*", "clients": 2}]


async def test_heartbeat_and_admin_publish_and_readyz(
    gateway: tuple[GatewayApp, AsyncClient],
) -> None:
    app, _ = gateway
    r = await request(app, "GET", "/readyz")
    assert (r.status, r.json()["ready"]) == (200, True)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with stream(app, "/v1/stream", query="channels=gw.admin.P", headers=AUTH) as sse:
        with anyio.fail_after(3):
            while ": hb" not in sse.buffer:
                message = await sse.chunks.receive()
                sse.buffer += message.get("body", b"").decode()
        body = json.dumps({"channel": "gw.admin.P", "payload": {"px": 1.5}}).encode()
        r = await request(app, "POST", "/v1/admin/publish", headers=admin, body=body)
        assert r.status == 200, r.body
        assert r.json()["receivers"] == 1
        (event,) = await sse.events(1)
        data = json.loads(event["data"])
        assert (data["type"], data["payload"]) == ("gateway.message", {"px": 1.5})
        assert data["message_id"] == r.json()["message_id"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_websocket_round_trip_over_uvicorn(redis_server: RedisServer) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    websockets_client = pytest.importorskip("websockets.asyncio.client")
    port = _free_port()
    async with AsyncClient.from_url(redis_server.url) as client:
        app = create_app(client, tokens=TokenVerifier(hmac_keys=KEYS))
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        server = uvicorn.Server(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            with anyio.fail_after(5):
                while not server.started:
                    await anyio.sleep(0.02)
            url = f"ws://127.0.0.1:{port}/v1/ws?token={READER}"
            try:
                await _ws_session(app, client, websockets_client.connect(url))
            finally:
                server.should_exit = True


async def _ws_session(app: GatewayApp, client: AsyncClient, connect: Any) -> None:
    async with connect as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["orders.new"]}))
        error = json.loads(await ws.recv())
        assert (error["op"], error["code"]) == ("error", 403)
        await ws.send(json.dumps({"op": "subscribe", "channels": ["gw.ws.*"]}))
        assert json.loads(await ws.recv()) == {"op": "subscribed", "channels": ["gw.ws.*"]}
        codec = Codec()
        async with AsyncPublisher(client, codec=codec) as pub:
            from redis_fintech_sdk.codec import Envelope

            for i in range(5):
                await pub.publish(Envelope(type="gw.tick", payload={"n": i}), "gw.ws.Z")
        got = [json.loads(await ws.recv()) for _ in range(5)]
        assert [g["sequence"] for g in got] == [1, 2, 3, 4, 5]
        assert [g["payload"]["n"] for g in got] == list(range(5))
        assert {g["pattern"] for g in got} == {"gw.ws.*"}
        assert READER not in json.dumps(got)
        await ws.send(json.dumps({"op": "unsubscribe", "channels": ["gw.ws.*"]}))
        assert json.loads(await ws.recv())["op"] == "unsubscribed"
    with anyio.fail_after(5):
        while app.hub.statistics().clients:
            await anyio.sleep(0.02)
