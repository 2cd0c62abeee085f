"""The two push transports: Server-Sent Events and a small JSON protocol over WebSocket."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio

from redis_fintech_sdk.errors import ConfigurationError, SDKError
from redis_fintech_sdk.security import TokenClaims

from ._asgi import (
    HttpError,
    Receive,
    Scope,
    Send,
    bearer_token,
    client_host,
    error_body,
    header,
    query,
)
from ._client import ClientQueue, Item, SubKey
from ._hub import GatewayFullError, check_names
from ._messages import GatewayMessage, dumps

if TYPE_CHECKING:
    from ._app import GatewayApp

__all__ = ["serve_sse", "serve_websocket", "sse_frame"]

_BATCH = 64


def sse_frame(item: Item) -> str:
    """One SSE event: ``id:`` (messages with a position), ``event:`` and one ``data:`` line."""
    if isinstance(item, GatewayMessage):
        event_id = item.event_id
        head = f"id: {event_id}\n" if event_id is not None else ""
        return f"{head}event: message\ndata: {item.json}\n\n"
    return f"event: {item.event}\ndata: {item.json}\n\n"


def _requested(scope: Scope) -> list[str]:
    names: list[str] = []
    for value in query(scope).get("channels", []):
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return names


def _validate(names: list[str]) -> list[SubKey]:
    try:
        return check_names(names)
    except ConfigurationError as exc:
        raise HttpError(400, "bad_channel", str(exc)) from None


async def _subscribe(app: GatewayApp, queue: ClientQueue, names: list[str]) -> None:
    """Validate and subscribe (raises HttpError); authorize first."""
    keys = _validate(names)
    try:
        await app.hub.subscribe(queue, keys)
    except GatewayFullError as exc:
        raise HttpError(429, "too_many_channels", str(exc)) from None
    except SDKError as exc:
        raise HttpError(503, "redis_unavailable", type(exc).__name__) from None


async def serve_sse(app: GatewayApp, scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /v1/stream?channels=a.b,c.*``: authenticate, subscribe, stream until disconnect.

    Raises:
        HttpError: 400 / 401 / 403 / 429 / 503 before the stream starts.
    """
    origin = client_host(scope)
    names = _requested(scope)
    guard = app.guard
    claims = await guard.authenticate(
        bearer_token(scope), where="sse", origin=origin, channels=names
    )
    # Every authenticated attempt counts against the principal's connect allowance.
    await guard.admit("connect", claims, where="sse")
    if not names:
        raise HttpError(400, "bad_request", "give ?channels=<channel or pattern>[,...]")
    keys = _validate(names)
    await guard.authorize(claims, "subscribe", names, where="sse subscribe")
    last_event_id = header(scope, b"last-event-id")
    queue = app.attach("sse", claims.subject)
    try:
        await _subscribe(app, queue, names)
        if last_event_id is not None:
            await app.resumer.resume(queue, keys, last_event_id)
        await guard.connected(claims, "sse", origin=origin, channels=names)
        try:
            await _sse_start(app, send, len(names))
        except OSError:  # the client is already gone
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
            await _sse_writer(app, queue, send)
            tg.cancel_scope.cancel()
    finally:
        await app.hub.detach(queue)


async def _sse_start(app: GatewayApp, send: Send, subscribed: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
            ],
        }
    )
    hello = f"retry: {app.config.sse_retry_ms}\n: subscribed {subscribed}\n\n"
    await send({"type": "http.response.body", "body": hello.encode(), "more_body": True})


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] in ("http.disconnect", "websocket.disconnect"):
            scope.cancel()
            return


async def _sse_writer(app: GatewayApp, queue: ClientQueue, send: Send) -> None:
    interval = app.config.heartbeat_interval
    try:
        while not queue.closed:
            item = await queue.get(interval)
            if item is None:
                if not queue.closed:
                    await send(
                        {"type": "http.response.body", "body": b": hb\n\n", "more_body": True}
                    )
                continue
            parts: list[str] = []
            notice = queue.drop_notice()
            if notice is not None:
                parts.append(sse_frame(notice))
            parts.append(sse_frame(item))
            while len(parts) < _BATCH and (more := queue.get_nowait()) is not None:
                parts.append(sse_frame(more))
            body = "".join(parts).encode()
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:  # the client went away mid-write (server-specific disconnect errors)
        return


# ---------------------------------------------------------------- WebSocket


async def serve_websocket(app: GatewayApp, scope: Scope, receive: Receive, send: Send) -> None:
    """``/v1/ws``: token in ``Authorization`` or ``?token=``; JSON ops; see docs/gateway.md."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    origin = client_host(scope)
    try:
        claims = await app.guard.authenticate(
            bearer_token(scope, allow_query=True), where="ws", origin=origin
        )
    except HttpError:
        # Refused before the handshake completes: the server answers HTTP 403.
        await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
        return
    try:
        await app.guard.admit("connect", claims, where="ws")
        queue = app.attach("ws", claims.subject)
    except HttpError as exc:
        await _deny(scope, send, exc)
        return
    except GatewayFullError:
        await send({"type": "websocket.close", "code": 1013, "reason": "gateway full"})
        return
    lock = anyio.Lock()

    async def push(text: str) -> None:
        async with lock:
            await send({"type": "websocket.send", "text": text})

    try:
        await send({"type": "websocket.accept"})
        await app.guard.connected(claims, "ws", origin=origin)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_ws_writer, app, queue, push, tg.cancel_scope)
            await _ws_reader(app, claims, queue, receive, push)
            tg.cancel_scope.cancel()
    except OSError:
        pass
    finally:
        await app.hub.detach(queue)
    if queue.closed:
        with anyio.move_on_after(1), anyio.CancelScope(shield=True):
            await send({"type": "websocket.close", "code": 1001, "reason": "shutting down"})


async def _deny(scope: Scope, send: Send, exc: HttpError) -> None:
    """Refuse a WebSocket before the handshake.

    A real HTTP answer (429 with ``Retry-After``) where the server supports the ASGI
    denial-response extension, else close 1013 (try again later) or 1008.
    """
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = dumps(error_body(exc)).encode()
        headers = [(b"content-type", b"application/json"), *exc.headers()]
        await send(
            {"type": "websocket.http.response.start", "status": exc.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    code = 1013 if exc.status in (429, 503) else 1008  # 1013: try again later
    await send({"type": "websocket.close", "code": code, "reason": exc.code})


async def _ws_writer(
    app: GatewayApp, queue: ClientQueue, push: Any, session: anyio.CancelScope
) -> None:
    interval = app.config.heartbeat_interval
    while not queue.closed:
        item = await queue.get(interval)
        if item is None:
            if not queue.closed:
                await push('{"op":"heartbeat"}')
            continue
        notice = queue.drop_notice()
        if notice is not None:
            await push(notice.json)
        await push(item.json)
    session.cancel()  # closed (drain / shutdown): stop the reader too, then close 1001


def _error(code: int, detail: str, **extra: Any) -> str:
    return dumps({"op": "error", "code": code, "detail": detail, **extra})


async def _ws_reader(
    app: GatewayApp, claims: TokenClaims, queue: ClientQueue, receive: Receive, push: Any
) -> None:
    limit = app.config.max_body_bytes
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if queue.closed:
            return
        text = message.get("text")
        if text is None:
            await push(_error(400, "send JSON text frames"))
            continue
        if len(text) > limit:
            await push(_error(413, f"frame over {limit} bytes"))
            continue
        try:
            request = json.loads(text)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            await push(_error(400, 'expected {"op": ...}'))
            continue
        if op == "ping":
            await push('{"op":"pong"}')
            continue
        if op not in ("subscribe", "unsubscribe"):
            await push(_error(400, f"unknown op {str(op)[:32]!r}"))
            continue
        names = request.get("channels")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            await push(_error(400, "channels must be a non-empty list of strings", request=op))
            continue
        try:
            if op == "subscribe":
                _validate(names)
                await app.guard.authorize(claims, "subscribe", names, where="ws subscribe")
                await _subscribe(app, queue, names)
            else:
                await app.hub.unsubscribe(queue, check_names(names))
        except HttpError as exc:
            await push(_error(exc.status, exc.detail, request=op, channels=names))
            continue
        except ConfigurationError as exc:
            await push(_error(400, str(exc), request=op, channels=names))
            continue
        done = "subscribed" if op == "subscribe" else "unsubscribed"
        await push(dumps({"op": done, "channels": names}))
