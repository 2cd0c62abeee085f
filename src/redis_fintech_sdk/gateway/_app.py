"""GatewayApp: the ASGI 3 application (routing, lifespan, admin API, metrics)."""

from __future__ import annotations

import json
import logging
import time
from types import TracebackType
from typing import Any

import anyio

from redis_fintech_sdk.channels import Channel
from redis_fintech_sdk.codec import Codec, Envelope
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError, SDKError, redact
from redis_fintech_sdk.hooks import ChannelPolicy
from redis_fintech_sdk.observability import CheckResult
from redis_fintech_sdk.pubsub import AsyncPublisher, FrameCodec
from redis_fintech_sdk.security import TokenVerifier

from ._asgi import (
    HttpError,
    Receive,
    Scope,
    Send,
    bearer_token,
    read_body,
    send_bytes,
    send_error,
    send_json,
)
from ._auth import Authenticator
from ._client import ClientQueue
from ._config import GatewayConfig
from ._dashboard import DASHBOARD_HTML
from ._hub import FanoutHub, GatewayFullError, HubStatistics
from ._streams import serve_sse, serve_websocket

__all__ = ["GatewayApp", "create_app"]

_log = logging.getLogger("redis_fintech_sdk.gateway")

# path -> allowed methods (405 for the others, 404 for unknown paths)
_ROUTES: dict[str, tuple[str, ...]] = {
    "/healthz": ("GET",),
    "/readyz": ("GET",),
    "/dashboard": ("GET",),
    "/v1/metrics": ("GET",),
    "/v1/stream": ("GET",),
    "/v1/admin/channels": ("GET",),
    "/v1/admin/publish": ("POST",),
}


class GatewayApp:
    """An ASGI 3 application: SSE and WebSocket fan-out, dashboard, metrics and admin API.

    Run it under any ASGI server (its lifespan starts and stops the shared subscription),
    or use it as ``async with app:`` and call it directly (tests, embedding).

    Args:
        client: the Redis connection (the caller owns it).
        tokens: verifies bearer access tokens.
        config: limits, queue policy and admin scope.
        codec: decodes and encodes SDK frames (default: a new :class:`Codec`); give it the
            producers' keyring and registry.
        policy: an extra channel policy run after the token's scope check.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        tokens: TokenVerifier,
        config: GatewayConfig | None = None,
        codec: FrameCodec | None = None,
        policy: ChannelPolicy | None = None,
    ) -> None:
        self.client = client
        self.config = cfg = config or GatewayConfig()
        self.codec: FrameCodec = codec if codec is not None else Codec()
        self.auth = Authenticator(tokens, policy=policy, admin_scope=cfg.admin_scope)
        self.hub = FanoutHub(client, self.codec, cfg)
        self._publisher: AsyncPublisher | None = None
        self._started = time.monotonic()
        self._health: tuple[float, CheckResult] | None = None

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> GatewayApp:
        await self.hub.__aenter__()
        try:
            publisher = AsyncPublisher(self.client, codec=self.codec)
            await publisher.__aenter__()
        except BaseException:
            await self.hub.__aexit__(None, None, None)
            raise
        self._publisher = publisher
        self._started = time.monotonic()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        publisher, self._publisher = self._publisher, None
        try:
            if publisher is not None:
                await publisher.__aexit__(exc_type, exc, tb)
        finally:
            await self.hub.__aexit__(exc_type, exc, tb)

    def attach(self, transport: str, subject: str) -> ClientQueue:
        """Register a client with the hub.

        Raises:
            HttpError: 503 when the gateway is not started.
            GatewayFullError: at ``max_clients``.
        """
        if not self.hub.running:
            raise HttpError(503, "not_started", "the gateway is not running")
        return self.hub.attach(transport, subject)

    # ---------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if scope.get("path") == "/v1/ws":
                await serve_websocket(self, scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008, "reason": "not found"})
        elif kind == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            await self.__aenter__()
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": redact(str(exc))})
            return
        try:
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
        finally:
            await self.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        try:
            allowed = _ROUTES.get(path)
            if allowed is None:
                raise HttpError(404, "not_found", "no such endpoint")
            if method not in allowed:
                raise HttpError(405, "method_not_allowed", method, allow=", ".join(allowed))
            if path == "/v1/stream":
                # serve_sse raises HttpError only before its response starts.
                await serve_sse(self, scope, receive, send)
                return
            await self._endpoint(path, scope, receive, send)
        except HttpError as exc:
            await send_error(send, exc)
        except GatewayFullError as exc:
            await send_error(send, HttpError(503, "gateway_full", str(exc)))

    async def _endpoint(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        if path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            check = await self.redis_health(cached=False)
            ready = check.ok and self.hub.running
            body = {"ready": ready, "redis": {"ok": check.ok, "detail": check.detail}}
            await send_json(send, 200 if ready else 503, body)
        elif path == "/dashboard":
            await send_bytes(send, 200, DASHBOARD_HTML.encode(), b"text/html; charset=utf-8")
        elif path == "/v1/metrics":
            if not self.config.public_metrics:
                self.auth.require_admin(bearer_token(scope))
            await send_json(send, 200, await self.metrics())
        elif path == "/v1/admin/channels":
            self.auth.require_admin(bearer_token(scope))
            await send_json(send, 200, self.channels())
        elif path == "/v1/admin/publish":
            claims = self.auth.require_admin(bearer_token(scope))
            await send_json(send, 200, await self._publish(claims, scope, receive))

    # ---------------------------------------------------------------- admin & metrics

    async def _publish(self, claims: Any, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await read_body(receive, self.config.max_body_bytes)
        try:
            request = json.loads(body)
            channel = str(Channel(request["channel"]))
            payload = request["payload"]
            type_name = request.get("type", "gateway.message")
            if not isinstance(type_name, str):
                raise TypeError("type")
        except (ValueError, KeyError, TypeError, ConfigurationError):
            raise HttpError(
                400, "bad_request", 'expected {"channel": "<a.b>", "payload": ..., "type"?}'
            ) from None
        self.auth.authorize(claims, "publish", [channel])
        if self._publisher is None:
            raise HttpError(503, "not_started", "the gateway is not running")
        try:
            envelope = Envelope(type=type_name, payload=payload, tenant=claims.tenant)
            receivers = await self._publisher.publish(envelope, channel)
        except ConfigurationError as exc:
            raise HttpError(400, "bad_request", str(exc)) from None
        except AuthorizationError:
            raise HttpError(403, "forbidden", f"redis refuses publish on {channel}") from None
        except SDKError as exc:
            raise HttpError(502, "publish_failed", type(exc).__name__) from None
        return {"channel": channel, "receivers": receivers, "message_id": envelope.message_id}

    async def redis_health(self, *, cached: bool = True) -> CheckResult:
        """PING Redis (reusing a result younger than ``health_cache_seconds`` if ``cached``)."""
        now = time.monotonic()
        if cached and self._health and now - self._health[0] < self.config.health_cache_seconds:
            return self._health[1]
        result = CheckResult(False, "timeout")
        with anyio.move_on_after(2.0):
            try:
                result = CheckResult(True, f"ping {await self.client.ping():.1f} ms")
            except SDKError as exc:
                result = CheckResult(False, redact(type(exc).__name__))
        self._health = (now, result)
        return result

    def channels(self) -> dict[str, Any]:
        """Active subscriptions with client counts, and the connected clients."""
        stats = self.hub.statistics()
        return {
            "subscriptions": _subscriptions(stats),
            "clients": [vars(q.statistics()) for q in self.hub.clients()],
        }

    async def metrics(self) -> dict[str, Any]:
        """The ``/v1/metrics`` document (see docs/gateway.md)."""
        stats = self.hub.statistics()
        check = await self.redis_health()
        by_transport: dict[str, int] = {}
        for queue in self.hub.clients():
            by_transport[queue.transport] = by_transport.get(queue.transport, 0) + 1
        return {
            "clients": stats.clients,
            "clients_by_transport": by_transport,
            "subscriptions": _subscriptions(stats),
            "messages": {
                "received": stats.received,
                "fanned_out": stats.fanned_out,
                "dropped": stats.dropped,
                "gaps": stats.gaps,
                "bad_frames": stats.bad_frames,
            },
            "upstream_connected": stats.upstream_connected,
            "redis": {"ok": check.ok, "detail": check.detail},
            "uptime_seconds": round(time.monotonic() - self._started, 1),
        }


def _subscriptions(stats: HubStatistics) -> list[dict[str, Any]]:
    return [
        {"kind": kind.value, "name": name, "clients": n}
        for (kind, name), n in stats.subscriptions.items()
    ]


def create_app(
    client: AsyncClient,
    *,
    tokens: TokenVerifier,
    config: GatewayConfig | None = None,
    codec: FrameCodec | None = None,
    policy: ChannelPolicy | None = None,
) -> GatewayApp:
    """Build the gateway ASGI application (see :class:`GatewayApp` for the arguments)."""
    return GatewayApp(client, tokens=tokens, config=config, codec=codec, policy=policy)
