"""``rfsdk config render``, ``rfsdk doctor`` and ``rfsdk capacity``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from redis_fintech_sdk.errors import SDKError

__all__ = ["register_ops"]

_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def register_ops(app: typer.Typer) -> None:
    """Add ``config render``, ``doctor`` and ``capacity`` to ``app``."""
    config_app = typer.Typer(help="Render redis.conf, sentinel.conf, ACL file and compose.")
    app.add_typer(config_app, name="config")

    @config_app.command("render")
    def render(
        profile: str = typer.Argument(..., help="dev, production, sentinel or cluster"),
        out_dir: str = typer.Option(".", "--out", "-o", help="directory to write into"),
        force: bool = typer.Option(False, "--force", help="overwrite existing files"),
    ) -> None:
        """Write a deployable bundle (configs, users.acl, docker-compose.yml, .env secrets)."""
        from redis_fintech_sdk.ops import PROFILES, render_bundle

        console = Console()
        if profile not in PROFILES:
            console.print(f"[red]error:[/red] unknown profile {profile!r}; one of {PROFILES}")
            raise typer.Exit(2)
        bundle = render_bundle(profile)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        existing = [name for name in bundle.files if (out / name).exists()]
        if existing and not force:
            console.print(f"[red]error:[/red] would overwrite {', '.join(existing)} (--force)")
            raise typer.Exit(2)
        for name, text in bundle.files.items():
            path = out / name
            # Secrets are created 0600 from the start, never world-readable for a moment.
            mode = 0o600 if name in bundle.secret_files else 0o644
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(path, mode)
            console.print(f"wrote {path}" + (" (secret, 0600)" if mode == 0o600 else ""))

    @app.command()
    def doctor(
        url: str = typer.Argument(..., help="redis://user:pass@host:port (a `monitor` user)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
        fail_on: str = typer.Option("error", help="exit 1 at this severity: error or warning"),
        kernel: bool | None = typer.Option(
            None, "--kernel/--no-kernel", help="check local kernel settings (default: if local)"
        ),
    ) -> None:
        """Check a live server: persistence, auth, network, memory, buffers, latency, TLS, kernel.

        Exit code: 0 clean, 1 a finding at --fail-on or worse, 2 could not check.
        """
        from redis_fintech_sdk.connection import Client
        from redis_fintech_sdk.ops import Severity, run_doctor

        console = Console()
        try:
            threshold = Severity(fail_on)
        except ValueError:
            console.print("[red]error:[/red] --fail-on must be error, warning or info")
            raise typer.Exit(2) from None
        try:
            with Client.from_url(url) as client:
                report = run_doctor(client, kernel=kernel)
        except SDKError as exc:
            if as_json:
                typer.echo(json.dumps({"error": str(exc)}))
            else:
                console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            table = Table(title=f"doctor {report.address} (Redis {report.version})")
            for col in ("severity", "code", "finding", "fix"):
                table.add_column(col, overflow="fold")
            for f in report.findings:
                style = _SEVERITY_STYLE[f.severity.value]
                table.add_row(
                    f"[{style}]{f.severity.value}[/{style}]",
                    f.code,
                    f"{f.title}\n[dim]{f.detail}[/dim]",
                    f.fix,
                )
            console.print(table)
            summary = ", ".join(f"{report.count(s)} {s.value}" for s in Severity)
            console.print(f"{len(report.findings)} finding(s): {summary}")
        raise typer.Exit(report.exit_code(threshold))

    @app.command()
    def capacity(
        rate: float = typer.Option(..., help="messages per second at peak"),
        size: int = typer.Option(..., help="mean payload bytes before compression"),
        fanout: int = typer.Option(1, help="subscribers per Pub/Sub message"),
        retention: float = typer.Option(0.0, help="seconds stream entries are kept"),
        compression: float = typer.Option(1.0, help="compressed/raw size ratio (0-1]"),
        groups: int = typer.Option(1, help="consumer groups per stream"),
        replicas: int = typer.Option(1, help="replicas per primary"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Estimate memory and bandwidth from rate, size, fan-out, retention and compression."""
        from redis_fintech_sdk.ops import CapacityInput, estimate_capacity

        console = Console()
        try:
            est = estimate_capacity(
                CapacityInput(
                    rate=rate,
                    size=size,
                    fanout=fanout,
                    retention_seconds=retention,
                    compression_ratio=compression,
                    consumer_groups=groups,
                    replicas=replicas,
                )
            )
        except SDKError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(est.as_dict()))
            return
        mib = 2**20
        table = Table(title="capacity estimate", show_header=False)
        table.add_row("bytes per message on the wire", str(est.frame_bytes))
        table.add_row("retained stream entries", f"{est.retained_entries:,}")
        table.add_row("stream memory", f"{est.stream_memory / mib:,.1f} MiB")
        table.add_row("recommended maxmemory", f"{est.recommended_maxmemory / mib:,.0f} MiB")
        table.add_row("ingress", f"{est.ingress_bps * 8 / 1e6:,.2f} Mbit/s")
        table.add_row("egress", f"{est.egress_bps * 8 / 1e6:,.2f} Mbit/s")
        table.add_row(
            "pubsub buffer for a 60 s stall",
            f"{est.pubsub_buffer_per_subscriber / mib:,.1f} MiB per subscriber",
        )
        table.add_row("AOF growth", f"{est.aof_growth_bps / mib:,.2f} MiB/s before rewrite")
        console.print(table)
