"""``rfsdk gateway``: run the HTTP gateway under uvicorn (needs the ``gateway`` extra)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import typer

__all__ = ["register_gateway"]

_LIMIT_PREFIX = "rfsdk:gw:rl"


def register_gateway(app: typer.Typer) -> None:
    """Add the ``gateway`` command."""

    @app.command()
    def gateway(
        url: str = typer.Option("redis://127.0.0.1:6379/0", "--url", help="the Redis server"),
        host: str = typer.Option("127.0.0.1", help="bind address (put TLS in front of it)"),
        port: int = typer.Option(8080, help="TCP port"),
        keys_env: str = typer.Option(
            "RFSDK_GATEWAY_TOKEN_KEYS",
            help="environment variable holding the HMAC token key set (JSON)",
        ),
        issuer: str = typer.Option("", help="required token issuer (empty: not checked)"),
        audience: str = typer.Option("", help="required token audience (empty: not checked)"),
        public_metrics: bool = typer.Option(
            False, help="serve /v1/metrics and /metrics without a token"
        ),
        audit: bool = typer.Option(
            False, help="record access, refusals and admin publishes in the audit trail"
        ),
        audit_keys_env: str = typer.Option(
            "RFSDK_AUDIT_KEYS",
            help="environment variable holding the audit HMAC key set (unset: SHA-256 chain)",
        ),
        connect_per_minute: int = typer.Option(
            0, min=0, help="SSE/WebSocket connections per principal per minute (0: no limit)"
        ),
        publish_per_minute: int = typer.Option(
            0, min=0, help="admin publishes per principal per minute (0: no limit)"
        ),
        replay: list[str] = typer.Option(  # noqa: B008
            [],
            "--replay",
            help="replayable channel glob (repeatable; default stream prefix and length): "
            "SSE clients resume from Last-Event-ID on these",
        ),
        shutdown_timeout: int = typer.Option(
            5, min=0, help="seconds open streams get on shutdown before they are cut"
        ),
    ) -> None:
        """Serve SSE/WebSocket fan-out, the dashboard and the admin API over HTTP."""
        try:
            import uvicorn
        except ImportError:
            typer.echo(
                "rfsdk gateway needs uvicorn: pip install 'redis-fintech-sdk[gateway]'", err=True
            )
            raise typer.Exit(1) from None
        from redis_fintech_sdk.connection import AsyncClient
        from redis_fintech_sdk.errors import SDKError
        from redis_fintech_sdk.gateway import GatewayConfig, create_app, protect_server_logs
        from redis_fintech_sdk.pubsub import ReplayConfig
        from redis_fintech_sdk.security import (
            AsyncAuditLog,
            AsyncRateLimiter,
            HmacKeySet,
            RateLimit,
            TokenVerifier,
        )

        try:
            verifier = TokenVerifier(
                hmac_keys=HmacKeySet.from_env(keys_env),
                issuer=issuer or None,
                audience=audience or None,
            )
            client = AsyncClient.from_url(url)
            audit_log = None
            if audit:
                keys = (
                    HmacKeySet.from_env(audit_keys_env) if os.environ.get(audit_keys_env) else None
                )
                audit_log = AsyncAuditLog(client, keys=keys)
            replay_config = ReplayConfig(channels=tuple(replay)) if replay else None
            limiters = {
                action: AsyncRateLimiter(
                    client, RateLimit(rate=n, period=60.0, burst=n), prefix=_LIMIT_PREFIX
                )
                if n
                else None
                for action, n in (("connect", connect_per_minute), ("publish", publish_per_minute))
            }
        except SDKError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        asgi = create_app(
            client,
            tokens=verifier,
            config=GatewayConfig(public_metrics=public_metrics),
            audit=audit_log,
            connect_limiter=limiters["connect"],
            publish_limiter=limiters["publish"],
            replay=replay_config,
        )
        config = uvicorn.Config(
            asgi,
            host=host,
            port=port,
            lifespan="on",
            proxy_headers=True,
            timeout_graceful_shutdown=shutdown_timeout,
        )
        protect_server_logs()  # /v1/ws?token=... is in the paths uvicorn logs

        class GatewayServer(uvicorn.Server):
            async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
                # End the open streams first: uvicorn waits for every connection to close
                # (up to --shutdown-timeout, then cancels) before the lifespan shutdown.
                asgi.drain()
                await super().shutdown(sockets)

        server = GatewayServer(config)
        _run(config, _serve(server, client), server.handle_exit)
        if not server.started:
            raise typer.Exit(3)  # startup failed (uvicorn logged why)


async def _serve(server: Any, client: Any) -> None:
    # The command owns the client: close it once the server (and its lifespan) has stopped.
    try:
        await server.serve()
    finally:
        await client.aclose()


def _run(config: Any, main: Coroutine[Any, Any, None], on_signal: Any) -> None:
    """Run ``main`` on uvicorn's preferred event loop, stopping on SIGINT / SIGTERM.

    uvicorn handles the signals while it serves and re-raises a caught one once it has
    shut down; with ``on_signal`` installed around it, that re-raise (and a signal before
    serving starts) just asks the server to stop, so a requested stop exits 0.
    """
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        factory = config.get_loop_factory() if hasattr(config, "get_loop_factory") else None
        if factory is not None and sys.version_info >= (3, 11):
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(main)
        else:
            asyncio.run(main)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
