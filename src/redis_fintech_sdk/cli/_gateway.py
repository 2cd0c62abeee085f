"""``rfsdk gateway``: run the HTTP gateway under uvicorn (needs the ``gateway`` extra)."""

from __future__ import annotations

import typer

__all__ = ["register_gateway"]


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
        public_metrics: bool = typer.Option(False, help="serve /v1/metrics without a token"),
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
        from redis_fintech_sdk.gateway import GatewayConfig, create_app
        from redis_fintech_sdk.security import HmacKeySet, TokenVerifier

        try:
            verifier = TokenVerifier(
                hmac_keys=HmacKeySet.from_env(keys_env),
                issuer=issuer or None,
                audience=audience or None,
            )
            client = AsyncClient.from_url(url)
        except SDKError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        asgi = create_app(
            client, tokens=verifier, config=GatewayConfig(public_metrics=public_metrics)
        )
        uvicorn.run(asgi, host=host, port=port, lifespan="on", proxy_headers=True)
