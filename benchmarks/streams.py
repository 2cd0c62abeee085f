"""Streams benchmark: the SDK side by side with a raw redis-py loop, in one run.

Reports produce throughput (single and pipelined), consume+ack throughput with 1 and 2
consumers, and end-to-end latency percentiles, against a private redis-server (or
``--url``). ``--smoke`` runs tiny counts so the test suite keeps this script working.

    python benchmarks/streams.py [--count 20000] [--url redis://...] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

import anyio
import redis.asyncio as aredis

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    RawFrameCodec,
    StreamConsumer,
    StreamMessage,
)
from redis_fintech_sdk.testing import RedisServer

BATCH = 500


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def sdk_produce(client: AsyncClient, count: int, *, pipelined: bool) -> float:
    producer = AsyncStreamProducer(client, f"bench:{uuid.uuid4().hex}")
    frames = [b"x" * 100] * count

    async def run() -> None:
        if pipelined:
            for i in range(0, count, BATCH):
                await producer.add_many(frames[i : i + BATCH])
        else:
            for frame in frames:
                await producer.add(frame)

    return _rate(count, await _timed(run))


async def raw_produce(raw: aredis.Redis, count: int, *, pipelined: bool) -> float:
    key = f"bench:{uuid.uuid4().hex}"

    async def run() -> None:
        if pipelined:
            for i in range(0, count, BATCH):
                async with raw.pipeline(transaction=False) as pipe:
                    for _ in range(min(BATCH, count - i)):
                        pipe.xadd(key, {b"f": b"x" * 100})
                    await pipe.execute()
        else:
            for _ in range(count):
                await raw.xadd(key, {b"f": b"x" * 100})

    return _rate(count, await _timed(run))


async def _fill(raw: aredis.Redis, key: str, count: int) -> None:
    for i in range(0, count, BATCH):
        async with raw.pipeline(transaction=False) as pipe:
            for j in range(i, min(count, i + BATCH)):
                pipe.xadd(key, {b"f": b"%d" % j})
            await pipe.execute()


async def sdk_consume(client: AsyncClient, raw: aredis.Redis, count: int, consumers: int) -> float:
    key = f"bench:{uuid.uuid4().hex}"
    await _fill(raw, key, count)
    done = 0

    async def handler(msg: StreamMessage) -> None:
        nonlocal done
        done += 1

    workers = [
        StreamConsumer(
            client,
            key,
            handler,
            group="g",
            consumer=f"c{i}",
            codec=RawFrameCodec(),
            batch_size=BATCH,
            max_in_flight=BATCH,
            block=0.1,
        )
        for i in range(consumers)
    ]

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            for w in workers:
                tg.start_soon(w.run)
            while done < count:  # noqa: ASYNC110 - a benchmark poll
                await anyio.sleep(0.005)
            for w in workers:
                w.stop()

    return _rate(count, await _timed(run))


async def raw_consume(raw: aredis.Redis, count: int, consumers: int) -> float:
    key = f"bench:{uuid.uuid4().hex}"
    await _fill(raw, key, count)
    await raw.xgroup_create(key, "g", "0")
    done = 0

    async def loop(name: str) -> None:
        nonlocal done
        while done < count:
            reply: Any = await raw.xreadgroup("g", name, {key: ">"}, count=BATCH, block=100)
            for _stream, entries in reply or []:
                ids = [entry_id for entry_id, _ in entries]
                done += len(ids)
                if ids:
                    await raw.xack(key, "g", *ids)

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(consumers):
                tg.start_soon(loop, f"c{i}")

    return _rate(count, await _timed(run))


async def sdk_latency(client: AsyncClient, count: int) -> list[float]:
    key = f"bench:{uuid.uuid4().hex}"
    producer = AsyncStreamProducer(client, key)
    latencies: list[float] = []

    async def handler(msg: StreamMessage) -> None:
        latencies.append((time.perf_counter_ns() - int(msg.frame)) / 1e6)

    consumer = StreamConsumer(
        client, key, handler, group="g", codec=RawFrameCodec(), block=0.1, ack_interval=0.001
    )
    async with consumer:
        for _ in range(count):
            await producer.add(b"%d" % time.perf_counter_ns())
            await anyio.sleep(0.001)
        with anyio.fail_after(30):
            while len(latencies) < count:  # noqa: ASYNC110
                await anyio.sleep(0.01)
    return latencies


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(url: str, count: int) -> dict[str, float]:
    results: dict[str, float] = {}
    raw = aredis.Redis.from_url(url)
    try:
        async with AsyncClient.from_url(url, timeouts=Timeouts(max_block=5.0)) as client:
            single = max(1, count // 10)
            results["produce_single_sdk"] = await sdk_produce(client, single, pipelined=False)
            results["produce_single_raw"] = await raw_produce(raw, single, pipelined=False)
            results["produce_pipelined_sdk"] = await sdk_produce(client, count, pipelined=True)
            results["produce_pipelined_raw"] = await raw_produce(raw, count, pipelined=True)
            for n in (1, 2):
                results[f"consume_{n}_sdk"] = await sdk_consume(client, raw, count, n)
                results[f"consume_{n}_raw"] = await raw_consume(raw, count, n)
            lat = await sdk_latency(client, max(20, count // 50))
            results["latency_p50_ms"] = _pct(lat, 50)
            results["latency_p99_ms"] = _pct(lat, 99)
            results["latency_mean_ms"] = statistics.fmean(lat)
    finally:
        await raw.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--url", default=None, help="use this server instead of a private one")
    parser.add_argument("--smoke", action="store_true", help="tiny run for the test suite")
    args = parser.parse_args(argv)
    count = 200 if args.smoke else args.count
    with ExitStack() as stack:
        url = args.url or stack.enter_context(RedisServer()).url
        results = anyio.run(run, url, count)
    print(f"{'metric':<24}{'sdk':>14}{'raw redis-py':>14}{'ratio':>8}")
    for name in ("produce_single", "produce_pipelined", "consume_1", "consume_2"):
        sdk, raw = results[f"{name}_sdk"], results[f"{name}_raw"]
        print(f"{name + ' (msg/s)':<24}{sdk:>14.0f}{raw:>14.0f}{sdk / raw:>8.2f}")
    for name in ("latency_p50_ms", "latency_p99_ms", "latency_mean_ms"):
        print(f"{'e2e ' + name:<24}{results[name]:>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
