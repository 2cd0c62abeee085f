"""``rfsdk demo``: the main job on an embedded redis-server, with real timings.

1. connect + health + permission preflight;
2. a market-data feed: typed, signed-off ticks on ``market.price.<SYM>`` through the
   auto-pipelining publisher, a full-rate pattern subscriber (latency) and a slow dashboard
   that conflates to the latest price per symbol;
3. user notifications on personal channels, with priority;
4. trade confirmations, AES-256-GCM encrypted, through a stream consumer group with two
   workers, one poison message dead-lettered after exactly 3 attempts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from redis_fintech_sdk.channels import market_price, user_notifications
from redis_fintech_sdk.codec import Codec, Keyring, Message, Money, message
from redis_fintech_sdk.connection import AsyncClient, Requirement
from redis_fintech_sdk.errors import SDKError
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber, Delivery, SubscriberConfig
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncDeadLetterQueue,
    AsyncStreamProducer,
    StreamConsumer,
    StreamMessage,
)

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG")


@message("demo.tick", version=1)
class Tick(Message):
    """One price tick."""

    symbol: str
    bid: Decimal
    ask: Decimal


@message("demo.notification", version=1)
class Notification(Message):
    """A message for one user."""

    user_id: int
    priority: str
    text: str


@message("demo.trade_confirmation", version=1, classification="confidential")
class TradeConfirmation(Message):
    """An executed trade to settle (confidential: always encrypted)."""

    trade_id: str
    account: str
    notional: Money


@contextlib.contextmanager
def _server(console: Console, url: str | None) -> Iterator[tuple[str, bool]]:
    if url:
        console.print(f"using the server at [bold]{url}[/bold]")
        yield url, False
        return
    from redis_fintech_sdk.errors import ConfigurationError
    from redis_fintech_sdk.testing import RedisServer, find_redis_server

    try:
        binary = find_redis_server()
    except ConfigurationError:
        binary = None
    if binary is not None:
        # The durable configuration the SDK recommends: AOF with fsync on every write.
        with RedisServer(binary=binary, appendonly=True, appendfsync="always") as server:
            console.print(
                f"started an embedded redis-server {'.'.join(map(str, server.version))} "
                f"on [bold]{server.url}[/bold] (pid {server.pid})"
            )
            yield server.url, False
        console.print("embedded redis-server stopped")
        return
    yield from _fake_server(console)


def _fake_server(console: Console) -> Iterator[tuple[str, bool]]:
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
        yield f"redis://{host!s}:{port}/0", True
    finally:
        fake.shutdown()
        fake.server_close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _until(predicate: Any, limit: float) -> bool:
    with anyio.move_on_after(limit):
        while not predicate():  # noqa: ASYNC110 - polling counters of running loops
            await anyio.sleep(0.01)
        return True
    return False


async def _market_data(client: AsyncClient, codec: Codec, n: int) -> dict[str, Any]:
    latencies: list[float] = []
    received = 0

    async def risk(delivery: Delivery) -> None:
        nonlocal received
        received += 1
        if delivery.envelope.headers.get("probe") == "1":
            latencies.append((time.time_ns() - delivery.envelope.produced_at_ns) / 1000.0)

    risk_sub = AsyncSubscriber(client, codec=codec)
    risk_sub.add_handler(risk, channel="market.price.*", types=["demo.tick"])
    dashboard = AsyncSubscriber(
        client,
        codec=codec,
        config=SubscriberConfig(overflow="conflate", buffer_capacity=len(SYMBOLS)),
    )
    async with risk_sub, dashboard, AsyncPublisher(client, codec=codec) as publisher:
        await risk_sub.psubscribe("market.price.*")
        await dashboard.psubscribe("market.price.*")
        last: dict[str, Decimal] = {}

        def tick(i: int) -> Tick:
            sym = SYMBOLS[i % len(SYMBOLS)]
            bid = Decimal(100 + i % 50) + Decimal("0.25")
            last[sym] = bid
            return Tick(symbol=sym, bid=bid, ask=bid + Decimal("0.02"))

        # Throughput: concurrent publishes coalesce into pipelines (auto-pipelining).
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(n):
                t = tick(i)
                tg.start_soon(publisher.publish, t, str(market_price(t.symbol)))
        publish_s = time.perf_counter() - start
        # Latency: one tick at a time, end to end (encode, publish, receive, decode).
        probes = max(100, n // 10)
        for i in range(probes):
            t = tick(n + i)
            await publisher.publish(t, str(market_price(t.symbol)), headers={"probe": "1"})
            await _until(lambda seen=i: len(latencies) > seen, 2)
        await _until(lambda: received >= n + probes, 20)
        latest: dict[str, Decimal] = {}
        while True:
            try:
                d = dashboard.get_nowait()
            except anyio.WouldBlock:
                break
            latest[d.payload.symbol] = d.payload.bid
    return {
        "published": n + probes,
        "publish_rate": n / publish_s,
        "received": received,
        "p50_us": _pct(latencies, 0.5),
        "p99_us": _pct(latencies, 0.99),
        "dashboard_latest_ok": latest == last,
    }


async def _notifications(client: AsyncClient, codec: Codec) -> dict[str, Any]:
    got: list[Notification] = []
    sub = AsyncSubscriber(client, codec=codec)

    async def inbox(delivery: Delivery) -> None:
        got.append(delivery.payload)

    sub.add_handler(inbox, channel="notify.user.*")
    async with sub, AsyncPublisher(client, codec=codec) as publisher:
        await sub.subscribe(str(user_notifications(42)))
        receivers = 0
        for prio, text in (("high", "margin call on ACC-7"), ("normal", "statement ready")):
            receivers += await publisher.publish(
                Notification(user_id=42, priority=prio, text=text),
                str(user_notifications(42)),
                headers={"priority": prio},
            )
        # nobody listens to user 43: fan-out reports 0 receivers
        none = await publisher.publish(
            Notification(user_id=43, priority="normal", text="hello"),
            str(user_notifications(43)),
        )
        await _until(lambda: len(got) >= 2, 5)
    return {"delivered": len(got), "receivers": receivers, "unheard": none}


async def _trades(client: AsyncClient, n: int) -> dict[str, Any]:
    codec = Codec(keyring=Keyring.generate(key_id=1))
    stream = "demo:trade-confirmations"
    await client.redis.delete(stream, f"{{{stream}}}:dlq")
    producer = AsyncStreamProducer(client, stream, codec=codec)
    start = time.perf_counter()
    await producer.add_many(
        TradeConfirmation(
            trade_id=f"T{i}",
            account=f"ACC-{i % 7}",
            notional=Money(amount=Decimal("1250.50"), currency="USD"),
        )
        for i in range(n)
    )
    produce_s = time.perf_counter() - start
    settled: set[str] = set()
    duplicates = 0

    async def settle(msg: StreamMessage) -> None:
        nonlocal duplicates
        trade = msg.envelope.payload
        if trade.trade_id == "T13":
            raise ValueError("unknown counterparty")  # poison: dead-lettered after 3 tries
        if trade.trade_id in settled:
            duplicates += 1
        settled.add(trade.trade_id)

    workers = [
        StreamConsumer(
            client,
            stream,
            settle,
            group="settlement",
            consumer=f"worker-{w}",
            codec=codec,
            max_attempts=3,
            visibility_timeout=1.0,
            retry_delay=0.05,
            claim_interval=0.2,
            block=0.2,
        )
        for w in range(2)
    ]
    start = time.perf_counter()
    async with workers[0], workers[1]:
        await _until(lambda: len(settled) >= n - 1, 30)
        consume_s = time.perf_counter() - start
        await _until(lambda: sum(w.statistics().dead_lettered for w in workers) >= 1, 30)
    letters = await AsyncDeadLetterQueue(client, stream).entries()
    raw: Any = await client.redis.xrange(stream, count=1)
    return {
        "produced": n,
        "produce_rate": n / produce_s,
        "settled": len(settled),
        "consume_rate": len(settled) / consume_s,
        "duplicates": duplicates,
        "dead_letters": [(d.attempts, d.error_type) for d in letters],
        "encrypted_on_disk": b"ACC-" not in b"".join(v for _, f in raw for v in f.values()),
    }


async def _run(console: Console, url: str, n: int, fake: bool) -> int:
    timeouts = Timeouts(connect=2.0, command=5.0, max_block=5.0)
    async with AsyncClient.from_url(url, timeouts=timeouts) as client:
        report = await client.health()
        table = Table(title="1. connect + health", show_header=False)
        for key in ("reachable", "version", "role", "latency_ms", "used_memory"):
            table.add_row(key, str(getattr(report, key)))
        console.print(table)
        if not report.reachable:
            return 1
        try:
            pre = await client.preflight(
                [Requirement.psubscribe("market.price.*"), Requirement.produce("demo:x")],
                raise_on_missing=False,
            )
            console.print(f"   preflight ({pre.method}): ok={pre.ok}, granted={len(pre.granted)}")
        except SDKError as exc:  # the fake fallback server has no ACL commands
            console.print(f"   preflight skipped: {exc}")

        codec = Codec()
        md = await _market_data(client, codec, n)
        console.print(
            f"2. market data: {md['published']} typed ticks, {md['publish_rate']:,.0f}/s when "
            f"published concurrently (auto-pipelined); the pattern subscriber got "
            f"{md['received']}; end-to-end latency p50 {md['p50_us']:.0f} µs / p99 "
            f"{md['p99_us']:.0f} µs; the conflating dashboard holds the latest price of "
            f"every symbol: {md['dashboard_latest_ok']}"
        )
        nt = await _notifications(client, codec)
        console.print(
            f"3. notifications: {nt['delivered']} delivered to notify.user.42 "
            f"({nt['receivers']} receivers); notify.user.43 had {nt['unheard']} listeners"
        )
        try:
            tr = await _trades(client, max(50, n // 4))
        except SDKError as exc:
            if not fake:
                raise
            console.print(f"4. trade confirmations: not supported by the FAKE server ({exc})")
            console.print("[yellow]demo finished on the FAKE fallback server[/yellow]")
            return 0 if md["received"] == md["published"] and nt["delivered"] == 2 else 1
        console.print(
            f"4. trade confirmations (AES-256-GCM, encrypted at rest: "
            f"{tr['encrypted_on_disk']}): {tr['produced']} appended at "
            f"{tr['produce_rate']:,.0f}/s, {tr['settled']} settled by 2 workers at "
            f"{tr['consume_rate']:,.0f}/s, duplicates {tr['duplicates']}, "
            f"dead letters {tr['dead_letters']}"
        )
        ok = (
            md["received"] == md["published"]
            and md["dashboard_latest_ok"]
            and nt["delivered"] == 2
            and tr["settled"] == tr["produced"] - 1
            and tr["duplicates"] == 0
            and [a for a, _ in tr["dead_letters"]] == [3]
            and tr["encrypted_on_disk"]
        )
        console.print("[green]demo OK[/green]" if ok else "[red]demo FAILED[/red]")
        return 0 if ok else 1


def run_demo(console: Console, *, url: str | None, messages: int) -> int:
    """Run the demo; return the process exit code."""
    start = time.perf_counter()
    with _server(console, url) as (server_url, fake):
        code = anyio.run(_run, console, server_url, messages, fake)
    console.print(f"total {time.perf_counter() - start:.2f} s")
    return code
