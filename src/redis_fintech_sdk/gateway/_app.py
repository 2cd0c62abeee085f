"""GatewayApp: the ASGI 3 application (routing, lifespan, admin API, metrics)."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

import anyio

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import SDKError, redact
from redis_fintech_sdk.hooks import AuditSink, ChannelPolicy, Limiter
from redis_fintech_sdk.observability import CheckResult
from redis_fintech_sdk.pubsub import AsyncPublisher, FrameCodec, ReplayConfig
from redis_fintech_sdk.security import TokenClaims, TokenVerifier

from ._access import AccessGuard
from ._admin import admin_publish
from ._asgi import (
    HttpError,
    Receive,
    Scope,
    Send,
    bearer_token,
    client_host,
    send_bytes,
    send_error,
    send_json,
)
from ._auth import Authenticator
from ._client import ClientQueue
from ._config import GatewayConfig
from ._dashboard import DASHBOARD_HTML
from ._hub import FanoutHub, GatewayFullError, HubStatistics
from ._prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from ._prometheus import gateway_families, render
from ._resume import Resumer
from ._streams import serve_sse, serve_websocket

__all__ = ["GatewayApp", "create_app"]

_log = logging.getLogger("redis_fintech_sdk.gateway")

# path -> allowed methods (405 for the others, 404 for unknown paths)
_ROUTES: dict[str, tuple[str, ...]] = {
    "/healthz": ("GET",),
    "/readyz": ("GET",),
    "/dashboard": ("GET",),
    "/v1/metrics": ("GET",),
    "/metrics": ("GET",),
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
        audit: records ``access`` (accepted connections), ``published`` (admin publishes),
            ``token_refused`` (401), ``permission_denied`` (403) and ``rate_limited`` (429)
            events — identifiers only, never a token or payload. A failing sink is logged
            and counted; it never fails a request. E.g. an
            :class:`~redis_fintech_sdk.security.AsyncAuditLog`.
        connect_limiter: limits SSE and WebSocket connections per principal (``429`` with
            ``Retry-After``), e.g. an :class:`~redis_fintech_sdk.security.AsyncRateLimiter`.
        publish_limiter: limits admin publishes per principal, likewise.
        replay: the replayable topics (as given to the producers' publishers): SSE clients
            resume from ``Last-Event-ID`` on them, and admin publishes to them are written
            to their streams. Without it a ``Last-Event-ID`` gets a ``gap`` event.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        tokens: TokenVerifier,
        config: GatewayConfig | None = None,
        codec: FrameCodec | None = None,
        policy: ChannelPolicy | None = None,
        audit: AuditSink | None = None,
        connect_limiter: Limiter | None = None,
        publish_limiter: Limiter | None = None,
        replay: ReplayConfig | None = None,
    ) -> None:
        self.client = client
        self.config = cfg = config or GatewayConfig()
        self.codec: FrameCodec = codec if codec is not None else Codec()
        self.auth = Authenticator(tokens, policy=policy, admin_scope=cfg.admin_scope)
        self.guard = AccessGuard(
            self.auth,
            audit=audit,
            connect_limiter=connect_limiter,
            publish_limiter=publish_limiter,
        )
        self.hub = FanoutHub(client, self.codec, cfg)
        self.replay = replay
        self.resumer = Resumer(client, self.hub, replay, limit=cfg.client_queue)
        self._publisher: AsyncPublisher | None = None
        self._started = time.monotonic()
        self._health: tuple[float, CheckResult] | None = None
        self._draining = False

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> GatewayApp:
        await self.hub.__aenter__()
        try:
            publisher = AsyncPublisher(self.client, codec=self.codec, replay=self.replay)
            await publisher.__aenter__()
        except BaseException:
            await self.hub.__aexit__(None, None, None)
            raise
        self._publisher = publisher
        self._started = time.monotonic()
        self._draining = False
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

    def drain(self) -> None:
        """Begin a graceful stop: end every SSE and WebSocket stream now, refuse new ones.

        SSE responses end, WebSockets close with 1001 and ``/readyz`` answers 503. Call it
        from the ASGI server's shutdown hook *before* it waits for open connections
        (``rfsdk gateway`` does): servers only send the lifespan shutdown after every
        connection is gone, so without it they wait for streaming clients to leave.
        """
        self._draining = True
        for queue in self.hub.clients():
            queue.close()

    @property
    def draining(self) -> bool:
        """Whether :meth:`drain` was called (until the app is entered again)."""
        return self._draining

    @property
    def publisher(self) -> AsyncPublisher | None:
        """The publisher of the admin API (``None`` until the app is entered)."""
        return self._publisher

    def attach(self, transport: str, subject: str) -> ClientQueue:
        """Register a client with the hub.

        Raises:
            HttpError: 503 when the gateway is not started or is draining.
            GatewayFullError: at ``max_clients``.
        """
        if not self.hub.running:
            raise HttpError(503, "not_started", "the gateway is not running")
        if self._draining:
            raise HttpError(503, "shutting_down", "the gateway is shutting down")
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
            ready = check.ok and self.hub.running and not self._draining
            body = {"ready": ready, "redis": {"ok": check.ok, "detail": check.detail}}
            await send_json(send, 200 if ready else 503, body)
        elif path == "/dashboard":
            await send_bytes(send, 200, DASHBOARD_HTML.encode(), b"text/html; charset=utf-8")
        elif path == "/v1/metrics":
            if not self.config.public_metrics:
                await self._admin(scope, path)
            await send_json(send, 200, await self.metrics())
        elif path == "/metrics":
            if not self.config.public_metrics:
                await self._admin(scope, path)
            await send_bytes(send, 200, (await self.prometheus()).encode(), PROMETHEUS_CONTENT_TYPE)
        elif path == "/v1/admin/channels":
            await self._admin(scope, path)
            await send_json(send, 200, self.channels())
        elif path == "/v1/admin/publish":
            claims = await self._admin(scope, path)
            await send_json(send, 200, await admin_publish(self, claims, receive))

    async def _admin(self, scope: Scope, path: str) -> TokenClaims:
        where = f"{scope.get('method', 'GET')} {path}"
        return await self.guard.require_admin(
            bearer_token(scope), where=where, origin=client_host(scope)
        )

    # ---------------------------------------------------------------- admin & metrics

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
        access = self.guard.statistics()
        check = await self.redis_health()
        return {
            "clients": stats.clients,
            "clients_by_transport": self._by_transport(),
            "subscriptions": _subscriptions(stats),
            "messages": {
                "received": stats.received,
                "fanned_out": stats.fanned_out,
                "dropped": stats.dropped,
                "gaps": stats.gaps,
                "bad_frames": stats.bad_frames,
            },
            "access": {
                "connections": dict(access.connections),
                "unauthorized": access.unauthorized,
                "forbidden": access.forbidden,
                "rate_limited": dict(access.rate_limited),
                "admin_publishes": access.admin_publishes,
                "audit_errors": access.audit_errors,
            },
            "resume": vars(self.resumer.statistics()),
            "upstream_connected": stats.upstream_connected,
            "redis": {"ok": check.ok, "detail": check.detail},
            "uptime_seconds": round(time.monotonic() - self._started, 1),
        }

    async def prometheus(self) -> str:
        """The ``GET /metrics`` text: every ``rfsdk_gateway_*`` family (Prometheus 0.0.4)."""
        check = await self.redis_health()
        families = gateway_families(
            self.hub.statistics(),
            self.guard.statistics(),
            self.resumer.statistics(),
            clients_by_transport=self._by_transport(),
            redis_ok=check.ok,
            uptime_seconds=round(time.monotonic() - self._started, 3),
        )
        return render(families)

    def _by_transport(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for queue in self.hub.clients():
            counts[queue.transport] = counts.get(queue.transport, 0) + 1
        return counts


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
    audit: AuditSink | None = None,
    connect_limiter: Limiter | None = None,
    publish_limiter: Limiter | None = None,
    replay: ReplayConfig | None = None,
) -> GatewayApp:
    """Build the gateway ASGI application (see :class:`GatewayApp` for the arguments)."""
    return GatewayApp(
        client,
        tokens=tokens,
        config=config,
        codec=codec,
        policy=policy,
        audit=audit,
        connect_limiter=connect_limiter,
        publish_limiter=publish_limiter,
        replay=replay,
    )
