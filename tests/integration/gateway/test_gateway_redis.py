# ruff: noqa: ASYNC110
"""The gateway against a real private redis-server: SSE order, shared subscriptions, drops, WS."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app
from redis_fintech_sdk.gateway._asgi import ASGIApp
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import ChannelGrant, HmacKeySet, TokenIssuer, TokenVerifier
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio


Message = MutableMapping[str, Any]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _scope(
    kind: str, method: str, path: str, query: str, headers: dict[str, str] | None
) -> dict[str, Any]:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


async def request(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """One complete HTTP request/response."""
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(_scope("http", method, path, query, headers), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    hdrs = {k.decode(): v.decode() for k, v in start["headers"]}
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Response(start["status"], hdrs, data)


@dataclass
class Stream:
    """A streaming HTTP exchange (SSE): read chunks, then disconnect."""

    chunks: anyio.abc.ObjectReceiveStream[Message]
    disconnect: anyio.Event
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    buffer: str = ""

    async def events(self, n: int, timeout: float = 5) -> list[dict[str, str]]:  # noqa: ASYNC109
        """The next ``n`` SSE events (comments skipped) as field dicts."""
        out: list[dict[str, str]] = []
        with anyio.fail_after(timeout):
            while len(out) < n:
                while "\n\n" not in self.buffer:
                    message = await self.chunks.receive()
                    self.buffer += message.get("body", b"").decode()
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in block.split("\n") if not line.startswith(":")
                )
                if "data" in fields:
                    out.append(fields)
        return out


@asynccontextmanager
async def stream(
    app: ASGIApp,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    chunk_buffer: float = 1000,
) -> AsyncIterator[Stream]:
    """Open a streaming GET; ``chunk_buffer=0`` makes every send wait for the reader."""
    tx, rx = anyio.create_memory_object_stream[Message](chunk_buffer)
    disconnect = anyio.Event()
    started = anyio.Event()
    st = Stream(rx, disconnect)

    async def receive() -> Message:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            st.status = message["status"]
            st.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            started.set()
            return
        await tx.send(message)

    async def run(tg: TaskGroup) -> None:
        try:
            await app(_scope("http", "GET", path, query, headers), receive, send)
        finally:
            started.set()
            tx.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, tg)
        with anyio.fail_after(5):
            await started.wait()
        try:
            yield st
        finally:
            disconnect.set()
            rx.close()


@dataclass
class WebSocket:
    """A WebSocket session driven in-process."""

    to_app: anyio.abc.ObjectSendStream[Message]
    from_app: anyio.abc.ObjectReceiveStream[Message]

    async def send_json(self, obj: Any) -> None:
        await self.to_app.send({"type": "websocket.receive", "text": json.dumps(obj)})

    async def send_text(self, text: str) -> None:
        await self.to_app.send({"type": "websocket.receive", "text": text})

    async def receive(self, timeout: float = 5) -> Message:  # noqa: ASYNC109
        with anyio.fail_after(timeout):
            return await self.from_app.receive()

    async def receive_json(self, timeout: float = 5) -> Any:  # noqa: ASYNC109
        message = await self.receive(timeout)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])


@asynccontextmanager
async def websocket(
    app: ASGIApp, path: str = "/v1/ws", *, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[WebSocket]:
    """Open an in-process WebSocket session (the first message is the app's answer)."""
    to_app_tx, to_app_rx = anyio.create_memory_object_stream[Message](100)
    from_app_tx, from_app_rx = anyio.create_memory_object_stream[Message](1000)

    async def receive() -> Message:
        try:
            return await to_app_rx.receive()
        except anyio.EndOfStream:
            return {"type": "websocket.disconnect", "code": 1000}

    async def run() -> None:
        async with from_app_tx:
            await app(_scope("websocket", "GET", path, query, headers), receive, from_app_tx.send)

    await to_app_tx.send({"type": "websocket.connect"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            yield WebSocket(to_app_tx, from_app_rx)
        finally:
            await to_app_tx.send({"type": "websocket.disconnect", "code": 1000})
            to_app_tx.close()
    to_app_rx.close()
    from_app_rx.close()


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
