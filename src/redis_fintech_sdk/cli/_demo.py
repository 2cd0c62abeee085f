"""``rfsdk demo``: the main job on an embedded redis-server, with real timings."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgpack
from rich.console import Console
from rich.table import Table

from redis_fintech_sdk.connection import AsyncClient, Requirement


@contextlib.contextmanager
def _server(console: Console, url: str | None) -> Iterator[str]:
    if url:
        console.print(f"using the server at [bold]{url}[/bold]")
        yield url
        return
    from redis_fintech_sdk.errors import ConfigurationError
    from redis_fintech_sdk.testing import RedisServer, find_redis_server

    try:
        binary = find_redis_server()
    except ConfigurationError:
        binary = None
    if binary is not None:
        with RedisServer(binary=binary) as server:
            console.print(
                f"started an embedded redis-server {'.'.join(map(str, server.version))} "
                f"on [bold]{server.url}[/bold] (pid {server.pid})"
            )
            yield server.url
        console.print("embedded redis-server stopped")
        return
    yield from _fake_server(console)


def _fake_server(console: Console) -> Iterator[str]:
    try:
        import threading

        from fakeredis import TcpFakeServer
    except ImportError:
        raise SystemExit(
            "no redis-server found and fakeredis is not installed: install Redis >= 7, "
            "set RFSDK_REDIS_SERVER, or pip install 'redis-fintech-sdk[cli]'"
        ) from None
    fake = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    host, port = fake.server_address[:2]
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    console.print(
        "[yellow]FALLBACK: no redis-server binary found; using an in-process FAKE server "
        "(fakeredis). Timings are not representative.[/yellow]"
    )
    try:
        yield f"redis://{host!s}:{port}/0"
    finally:
        fake.shutdown()
        fake.server_close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _pubsub_round_trip(client: AsyncClient, n: int) -> dict[str, Any]:
    symbols = ["AAPL", "MSFT", "GOOG", "TSLA"]
    pubsub = client.pubsub()
    latencies: list[float] = []
    received = 0
    try:
        await pubsub.psubscribe("market.price.*")
        await pubsub.get_message(timeout=1.0)  # psubscribe confirmation

        async def consume() -> None:
            nonlocal received
            while received < n:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is None:
                    continue
                tick = msgpack.unpackb(msg["data"])
                latencies.append((time.perf_counter_ns() - tick["t"]) / 1000.0)
                received += 1

        task = asyncio.create_task(consume())
        start = time.perf_counter()
        for i in range(n):
            sym = symbols[i % len(symbols)]
            tick = {"s": sym, "p": str(Decimal("100.00") + i % 100), "t": time.perf_counter_ns()}
            await client.redis.publish(f"market.price.{sym}", msgpack.packb(tick))
        await asyncio.wait_for(task, timeout=30)
        elapsed = time.perf_counter() - start
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    return {
        "messages": received,
        "rate": received / elapsed,
        "p50_us": _pct(latencies, 0.5),
        "p99_us": _pct(latencies, 0.99),
    }


async def _stream_round_trip(client: AsyncClient, n: int) -> dict[str, Any]:
    stream, group = "demo:trade-confirmations", "settlement"
    r = client.redis
    await r.delete(stream)
    start = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        body = {"trade_id": f"T{i}", "qty": 100, "px": "187.25", "ccy": "USD"}
        pipe.xadd(stream, {"f": msgpack.packb(body)}, maxlen=100_000, approximate=True)
    await pipe.execute()
    produced = time.perf_counter() - start
    await r.xgroup_create(stream, group, id="0", mkstream=True)
    consumed = 0
    start = time.perf_counter()
    while consumed < n:
        reply: Any = await client.blocking.xreadgroup(
            group, "worker-1", {stream: ">"}, count=500, block=1000
        )
        if not reply:
            break
        ids = [entry_id for entry_id, _ in reply[0][1]]
        await r.xack(stream, group, *ids)
        consumed += len(ids)
    elapsed = time.perf_counter() - start
    pending = await r.xpending(stream, group)
    await r.delete(stream)
    return {
        "produced": n,
        "produce_rate": n / produced,
        "consumed": consumed,
        "consume_rate": consumed / elapsed if elapsed else float("nan"),
        "pending_after": pending["pending"],
    }


async def _run(console: Console, url: str, n: int) -> int:
    async with AsyncClient.from_url(url) as client:
        report = await client.health()
        table = Table(title="1. connect + health", show_header=False)
        for key in ("reachable", "version", "role", "latency_ms", "used_memory"):
            table.add_row(key, str(getattr(report, key)))
        console.print(table)
        if not report.reachable:
            return 1
        pre = await client.preflight(
            [Requirement.psubscribe("market.price.*"), Requirement.produce("demo:x")],
            raise_on_missing=False,
        )
        console.print(f"2. preflight ({pre.method}): ok={pre.ok}, granted={len(pre.granted)}")
        ps = await _pubsub_round_trip(client, n)
        console.print(
            f"3. pub/sub: {ps['messages']} ticks on market.price.* — "
            f"{ps['rate']:,.0f} msg/s, latency p50 {ps['p50_us']:.0f} µs, p99 {ps['p99_us']:.0f} µs"
        )
        st = await _stream_round_trip(client, n)
        console.print(
            f"4. streams: {st['produced']} trade confirmations appended at "
            f"{st['produce_rate']:,.0f}/s (pipelined), consumed+acked {st['consumed']} at "
            f"{st['consume_rate']:,.0f}/s, pending after: {st['pending_after']}"
        )
        ok = ps["messages"] == n and st["consumed"] == n and st["pending_after"] == 0
        latencies = [report.latency_ms or 0.0]
        console.print(
            ("[green]demo OK[/green]" if ok else "[red]demo FAILED[/red]")
            + f" (health latency {statistics.fmean(latencies):.2f} ms)"
        )
        return 0 if ok else 1


def run_demo(console: Console, *, url: str | None, messages: int) -> int:
    """Run the demo; return the process exit code."""
    start = time.perf_counter()
    with _server(console, url) as server_url:
        code = asyncio.run(_run(console, server_url, messages))
    console.print(f"total {time.perf_counter() - start:.2f} s")
    return code
