"""``rfsdk monitor``: a live terminal view of a server's Pub/Sub, streams, memory and slow log."""

from __future__ import annotations

import time

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from redis_fintech_sdk.errors import SDKError
from redis_fintech_sdk.observability import ServerSnapshot, analyze_slowlog

__all__ = ["register_monitor", "render_snapshot"]

_RATE_COMMANDS = ("publish", "spublish", "xadd", "xreadgroup", "xack")


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _rates(now: ServerSnapshot, before: ServerSnapshot | None) -> dict[str, float | None]:
    stats_now = now.info.command_stats
    out: dict[str, float | None] = {}
    for cmd in _RATE_COMMANDS:
        if before is None:
            out[cmd] = None
            continue
        elapsed = max(now.taken_at - before.taken_at, 1e-6)
        old = before.info.command_stats.get(cmd)
        new = stats_now.get(cmd)
        delta = (new.calls if new else 0) - (old.calls if old else 0)
        out[cmd] = max(delta, 0) / elapsed
    return out


def render_snapshot(
    snap: ServerSnapshot, previous: ServerSnapshot | None = None, *, title: str = ""
) -> Group:
    """Build the monitor screen for one snapshot (rates need the ``previous`` one)."""
    info = snap.info
    server = Table(title=title or "server", show_header=False, expand=False)
    usage = (
        f" ({info.memory_usage_ratio:.0%} of {_bytes(info.maxmemory)})" if info.maxmemory else ""
    )
    for key, value in (
        ("version / role", f"{info.version} {info.role} ({info.mode})"),
        ("uptime", f"{info.uptime_seconds} s"),
        ("clients / blocked / pubsub", f"{info.connected_clients} / {info.blocked_clients} / "
         f"{len(snap.pubsub_clients)}"),
        ("ops/s", str(info.instantaneous_ops_per_sec)),
        ("memory used", _bytes(info.used_memory) + usage),
        ("policy / fragmentation", f"{info.maxmemory_policy} / {info.fragmentation_ratio:.2f}"),
        ("evicted / expired keys", f"{info.evicted_keys} / {info.expired_keys}"),
        ("pubsub output buffers", _bytes(snap.pubsub_output_buffer_bytes)),
    ):  # fmt: skip
        server.add_row(key, value)

    rates = Table(title="message rates (per second)")
    for cmd in _RATE_COMMANDS:
        rates.add_column(cmd.upper(), justify="right")
    values = _rates(snap, previous)
    rates.add_row(*("…" if v is None else f"{v:.1f}" for v in values.values()))

    channels = Table(title=f"Pub/Sub channels ({len(snap.pubsub.channels)}), "
                     f"patterns {snap.pubsub.patterns}")  # fmt: skip
    channels.add_column("channel")
    channels.add_column("subscribers", justify="right")
    channels.add_column("kind")
    ranked = sorted(snap.pubsub.channels.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    for name, subs in ranked:
        channels.add_row(name, str(subs), "channel")
    for name, subs in sorted(snap.pubsub.shard_channels.items())[:10]:
        channels.add_row(name, str(subs), "shard")

    subscribers = Table(title="subscribers (by output buffer)")
    for col in ("addr", "name", "user", "subs", "omem", "idle s"):
        subscribers.add_column(col)
    for c in sorted(snap.pubsub_clients, key=lambda c: -c.omem)[:10]:
        subscribers.add_row(
            c.addr, c.name, c.user, str(c.subscriptions), _bytes(c.omem), str(c.idle)
        )

    streams = Table(title=f"streams ({len(snap.streams)})")
    for col in ("stream", "length", "group", "consumers", "pending", "lag"):
        streams.add_column(col)
    groups_by_stream: dict[str, list[str]] = {}
    for g in snap.groups:
        groups_by_stream.setdefault(g.stream, []).append(g.group)
        streams.add_row(g.stream, str(snap.streams.get(g.stream, "")), g.group, str(g.consumers),
                        str(g.pending), "?" if g.lag is None else str(g.lag))  # fmt: skip
    for name, length in sorted(snap.streams.items()):
        if name not in groups_by_stream:
            streams.add_row(name, str(length), "-", "", "", "")

    report = analyze_slowlog(snap.slowlog, top=8)
    slow = Table(title=f"slow log ({snap.slowlog_len} entries)")
    for col in ("command", "count", "total ms", "worst ms"):
        slow.add_column(col)
    for cmd, count, total, worst in report.top_commands:
        slow.add_row(cmd, str(count), f"{total / 1000:.1f}", f"{worst / 1000:.1f}")
    parts: list[Table] = [server, rates, channels, subscribers, streams, slow]
    if snap.latency:
        latency = Table(title="latency events")
        for col in ("event", "latest ms", "max ms"):
            latency.add_column(col)
        for e in snap.latency:
            latency.add_row(e.event, str(e.latest_ms), str(e.max_ms))
        parts.append(latency)
    return Group(*parts)


def register_monitor(app: typer.Typer) -> None:
    """Add ``rfsdk monitor`` to ``app``."""

    @app.command()
    def monitor(
        url: str = typer.Argument("redis://127.0.0.1:6379/0", help="redis://, rediss://, unix://"),
        once: bool = typer.Option(False, "--once", help="print one screen and exit"),
        interval: float = typer.Option(2.0, help="seconds between refreshes"),
        streams: str = typer.Option("", help="comma-separated streams (default: discover)"),
    ) -> None:
        """Live view of Pub/Sub channels and subscribers, rates, streams, memory, slow log."""
        from redis_fintech_sdk.connection import Client
        from redis_fintech_sdk.observability import collect_snapshot_sync

        console = Console()
        keys = [s for s in streams.split(",") if s] or None
        try:
            with Client.from_url(url) as client:
                title = f"rfsdk monitor {client.address}"
                first = collect_snapshot_sync(client, streams=keys)
                if once:
                    # Two samples a short moment apart so the rates mean something.
                    time.sleep(min(interval, 1.0))
                    second = collect_snapshot_sync(client, streams=keys)
                    console.print(render_snapshot(second, first, title=title))
                    return
                previous = first
                with Live(render_snapshot(first, title=title), console=console) as live:
                    while True:
                        time.sleep(interval)
                        snap = collect_snapshot_sync(client, streams=keys)
                        live.update(render_snapshot(snap, previous, title=title))
                        previous = snap
        except KeyboardInterrupt:
            return
        except SDKError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
