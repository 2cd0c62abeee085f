"""An in-process client for testing a gateway app (any ASGI 3 app): no network, no server.

Like Starlette's ``testclient``, for your own tests of an app built with
:func:`~redis_fintech_sdk.gateway.create_app`::

    response = await request(app, "GET", "/healthz")
    async with stream(app, "/v1/stream", query="channels=market.price.AAPL",
                      headers={"authorization": f"Bearer {token}"}) as sse:
        events = await sse.events(3)
    async with websocket(app, headers=...) as ws:
        await ws.send_json({"op": "subscribe", "channels": ["market.price.AAPL"]})

Every call is bounded in time (5 s by default) so a hung app fails the test instead of
hanging it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ._asgi import ASGIApp

__all__ = [
    "ClientDisconnectedError",
    "Response",
    "Stream",
    "WebSocket",
    "request",
    "stream",
    "websocket",
]

Message = MutableMapping[str, Any]
"""One ASGI event."""


class ClientDisconnectedError(OSError):
    """Raised into the app when it sends on a stream the test client already left."""


@dataclass
class Response:
    """A complete HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
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
        try:
            await tx.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # As ASGI servers do: sending on a closed connection raises an OSError.
            raise ClientDisconnectedError("the client disconnected") from None

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
        """Send ``obj`` as a JSON text frame."""
        await self.to_app.send({"type": "websocket.receive", "text": json.dumps(obj)})

    async def send_text(self, text: str) -> None:
        """Send a text frame."""
        await self.to_app.send({"type": "websocket.receive", "text": text})

    async def receive(self, timeout: float = 5) -> Message:  # noqa: ASYNC109
        """The app's next ASGI event (``websocket.accept``, ``websocket.send``, ``.close``)."""
        with anyio.fail_after(timeout):
            return await self.from_app.receive()

    async def receive_json(self, timeout: float = 5) -> Any:  # noqa: ASYNC109
        """The app's next text frame, parsed as JSON.

        Raises:
            AssertionError: the app sent something else (a close, for instance).
        """
        message = await self.receive(timeout)
        if message["type"] != "websocket.send":
            raise AssertionError(f"expected a websocket.send event, got {message['type']}")
        return json.loads(message["text"])


@asynccontextmanager
async def websocket(
    app: ASGIApp,
    path: str = "/v1/ws",
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    denial_response: bool = False,
) -> AsyncIterator[WebSocket]:
    """Open an in-process WebSocket session (the first message is the app's answer).

    Args:
        app: the ASGI app.
        path: the WebSocket path.
        query: the query string.
        headers: request headers.
        denial_response: advertise the ASGI ``websocket.http.response`` extension (as
            uvicorn does), so the app may refuse with a real HTTP response.
    """
    scope = _scope("websocket", "GET", path, query, headers)
    if denial_response:
        scope["extensions"] = {"websocket.http.response": {}}
    to_app_tx, to_app_rx = anyio.create_memory_object_stream[Message](100)
    from_app_tx, from_app_rx = anyio.create_memory_object_stream[Message](1000)

    async def receive() -> Message:
        try:
            return await to_app_rx.receive()
        except anyio.EndOfStream:
            return {"type": "websocket.disconnect", "code": 1000}

    async def run() -> None:
        async with from_app_tx:
            await app(scope, receive, from_app_tx.send)

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
