"""Pub/Sub benchmark: the SDK side by side with raw redis-py in one run (same payload, batching).

Reports publish throughput (sequential and concurrent), end-to-end latency percentiles at
fixed rates, fan-out to 1/10/100 subscribers, and plain vs pattern subscriptions. Ratios
are what matter; absolute numbers depend on the machine.

    python benchmarks/pubsub.py            # full run on a private redis-server
    python benchmarks/pubsub.py --smoke    # seconds; exercised by the test suite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import anyio
import redis.asyncio as aredis

from redis_fintech_sdk.codec import Codec, Message, default_registry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber, SubscriberConfig
from redis_fintech_sdk.testing import RedisServer

if default_registry.get("bench.tick") is None:

    @message("bench.tick", version=1)
    class BenchTick(Message):
        """Benchmark payload."""

        symbol: str
        price: str
        sent_ns: int

else:  # pragma: no cover
    BenchTick = default_registry.get("bench.tick").model  # type: ignore[union-attr,misc]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def throughput(url: str, n: int, concurrency: int) -> dict[str, float]:
    """Messages/s: SDK (encode + auto-pipeline) vs raw redis-py (same frame, same batching)."""
    codec = Codec()
    frame = codec.encode(BenchTick(symbol="AAPL", price="189.12", sent_ns=0), channel="bench.t")
    out: dict[str, float] = {}
    async with AsyncClient.from_url(url) as client, AsyncPublisher(client, codec=codec) as pub:

        async def sdk_worker(k: int) -> None:
            for i in range(k):
                await pub.publish(BenchTick(symbol="AAPL", price="189.12", sent_ns=i), "bench.t")

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(sdk_worker, n // concurrency)
        out["sdk_msgs_per_s"] = n / (time.perf_counter() - t0)
    raw = aredis.Redis.from_url(url)
    try:

        async def raw_worker(k: int) -> None:
            for _ in range(k):
                await raw.publish("bench.t", frame)

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(raw_worker, n // concurrency)
        out["raw_msgs_per_s"] = n / (time.perf_counter() - t0)
    finally:
        await raw.aclose()
    out["ratio"] = out["sdk_msgs_per_s"] / out["raw_msgs_per_s"]
    return out


async def latency(
    url: str, rate: int, seconds: float, subscribers: int, pattern: bool
) -> dict[str, Any]:
    """End-to-end latency (publish -> decoded at every subscriber) at a fixed rate."""
    codec = Codec()
    lat: list[float] = []
    n = int(rate * seconds)
    async with AsyncClient.from_url(url) as client, AsyncPublisher(client, codec=codec) as pub:
        subs = [
            AsyncSubscriber(client, codec=codec, config=SubscriberConfig())
            for _ in range(subscribers)
        ]
        async with contextlib.AsyncExitStack() as stack:
            for s in subs:
                await stack.enter_async_context(s)
                if pattern:
                    await s.psubscribe("bench.l.*")
                else:
                    await s.subscribe("bench.l.x")

            async def drain(s: AsyncSubscriber) -> None:
                for _ in range(n):
                    d = await s.get(timeout=10)
                    lat.append((time.time_ns() - d.payload.sent_ns) / 1e6)

            async with anyio.create_task_group() as tg:
                for s in subs:
                    tg.start_soon(drain, s)
                for _ in range(n):
                    tick = BenchTick(symbol="X", price="1", sent_ns=time.time_ns())
                    await pub.publish(tick, "bench.l.x")
                    await anyio.sleep(1 / rate)
    return {
        "rate": rate,
        "subscribers": subscribers,
        "pattern": pattern,
        "messages": len(lat),
        "p50_ms": round(_pct(lat, 0.5), 3),
        "p99_ms": round(_pct(lat, 0.99), 3),
        "max_ms": round(max(lat), 3) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 3) if lat else None,
    }


async def raw_latency(url: str, rate: int, seconds: float, pattern: bool) -> dict[str, Any]:
    """The same measurement with raw redis-py (one subscriber, no codec)."""
    n = int(rate * seconds)
    lat: list[float] = []
    pubc, subc = aredis.Redis.from_url(url), aredis.Redis.from_url(url)
    ps = subc.pubsub()
    try:
        await (ps.psubscribe("bench.l.*") if pattern else ps.subscribe("bench.l.x"))
        await ps.get_message(timeout=1)

        async def drain() -> None:
            while len(lat) < n:
                m = await ps.get_message(ignore_subscribe_messages=True, timeout=1)
                if m is not None:
                    lat.append((time.time_ns() - int(m["data"])) / 1e6)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain)
            for _ in range(n):
                await pubc.publish("bench.l.x", str(time.time_ns()))
                await anyio.sleep(1 / rate)
    finally:
        await ps.aclose()  # type: ignore[no-untyped-call]
        await pubc.aclose()
        await subc.aclose()
    return {
        "rate": rate,
        "pattern": pattern,
        "p50_ms": round(_pct(lat, 0.5), 3),
        "p99_ms": round(_pct(lat, 0.99), 3),
    }


async def run(url: str, smoke: bool) -> dict[str, Any]:
    """Every measurement; smaller counts with ``smoke``."""
    n, secs = (400, 0.2) if smoke else (50_000, 3.0)
    report: dict[str, Any] = {
        "throughput_sequential": await throughput(url, n, 1),
        "throughput_concurrent_64": await throughput(url, n, 64 if not smoke else 8),
        "latency": [],
        "raw_latency": [],
    }
    fanouts = (1, 10) if smoke else (1, 10, 100)
    rates = (200,) if smoke else (1_000, 5_000)
    for rate in rates:
        for subs in fanouts:
            for pattern in (False, True):
                report["latency"].append(await latency(url, rate, secs, subs, pattern))
        for pattern in (False, True):
            report["raw_latency"].append(await raw_latency(url, rate, secs, pattern))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark on a private redis-server (or ``--url``) and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts, for CI")
    parser.add_argument("--url", help="use this server instead of starting one")
    args = parser.parse_args(argv)
    if args.url:
        report = anyio.run(run, args.url, args.smoke)
    else:
        with RedisServer() as server:
            report = anyio.run(run, server.url, args.smoke)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
