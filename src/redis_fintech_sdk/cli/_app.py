"""Typer application behind ``rfsdk``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from redis_fintech_sdk._version import __version__
from redis_fintech_sdk.errors import SDKError

console = Console()


def build_app() -> typer.Typer:
    """Assemble the command tree."""
    app = typer.Typer(
        name="rfsdk",
        help="redis_fintech_sdk: typed, encrypted, resilient messaging over Redis.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.command()
    def version() -> None:
        """Print the SDK version."""
        console.print(f"redis-fintech-sdk {__version__}")

    @app.command()
    def health(
        url: str = typer.Argument(
            "redis://127.0.0.1:6379/0", help="redis://, rediss:// or unix://"
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Check a server: reachability, latency, role, version, memory, clients."""
        from redis_fintech_sdk.connection import Client

        try:
            with Client.from_url(url) as client:
                report = client.health()
        except SDKError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report.as_dict()))
        else:
            table = Table(title=f"health of {report.address}", show_header=False)
            for key, value in report.as_dict().items():
                table.add_row(key, "" if value is None else str(value))
            console.print(table)
        raise typer.Exit(0 if report.reachable else 1)

    @app.command()
    def demo(
        redis_url: str = typer.Option(
            "", "--url", help="use this server instead of starting an embedded one"
        ),
        messages: int = typer.Option(2000, help="messages per step"),
    ) -> None:
        """Run the showcase on an embedded private redis-server (or --url)."""
        from redis_fintech_sdk.cli._demo import run_demo

        raise typer.Exit(run_demo(console, url=redis_url or None, messages=messages))

    from redis_fintech_sdk.cli._monitor import register_monitor
    from redis_fintech_sdk.cli._ops import register_ops

    register_ops(app)
    register_monitor(app)
    from redis_fintech_sdk.cli._security import register_security

    register_security(app)
    from redis_fintech_sdk.cli._gateway import register_gateway

    register_gateway(app)
    return app
