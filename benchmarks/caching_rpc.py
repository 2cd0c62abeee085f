"""Near cache and request/reply, next to raw redis-py doing the same work in the same run.

    python benchmarks/caching_rpc.py            # full run on a private redis-server
    python benchmarks/caching_rpc.py --smoke    # seconds; exercised by the test suite

* **Reads of reference data**: ``N`` ``GET``s of 100 hot keys (zipf-like: a few keys most of
  the time), raw ``redis.asyncio`` against :class:`AsyncNearCache`, with one write to a hot
  key every 1,000 reads by another client (so invalidations happen during the run).
  Reported: µs per read, the cache's hit ratio and invalidations, and the speed-up.
* **Request/reply**: sequential round trips (request published, reply received) through
  :class:`AsyncRequester`/:class:`AsyncResponder` (encrypted frames, correlation, typed
  errors) against a minimal raw redis-py exchange (``PUBLISH`` + a Pub/Sub inbox, no
  envelope, no encryption). Reported: p50/p99 µs and the ratio.

Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import redis.asyncio as aredis

from redis_fintech_sdk.cache import AsyncNearCache
from redis_fintech_sdk.codec import Codec, Keyring, Message, MessageRegistry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncRequester, AsyncResponder, Delivery
from redis_fintech_sdk.testing import RedisServer

REGISTRY = MessageRegistry()
HOT = 100


@message("bench.rpc.ping", registry=REGISTRY)
class Ping(Message):
    """A request."""

    n: int


@message("bench.rpc.pong", registry=REGISTRY)
class Pong(Message):
    """Its reply."""

    n: int


def _keys(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"ref:{min(int(rng.paretovariate(1.2)), HOT) - 1}" for _ in range(n)]


async def reads(url: str, n: int) -> dict[str, Any]:
    """Raw GETs against near-cache reads of the same key sequence."""
    keys = _keys(n)
    raw = aredis.Redis.from_url(url)
    try:
        await raw.mset({f"ref:{i}": f"{i}.{i:04d}" for i in range(HOT)})
        started = time.perf_counter()
        for i, key in enumerate(keys):
            await raw.get(key)
            if i % 1000 == 999:
                await raw.set("ref:0", str(i))
        raw_us = (time.perf_counter() - started) / n * 1e6
        async with (
            AsyncClient.from_url(url) as client,
            AsyncNearCache(client, prefixes=["ref:"]) as cache,
        ):
            await cache.wait_live()
            started = time.perf_counter()
            for i, key in enumerate(keys):
                await cache.get(key)
                if i % 1000 == 999:
                    await raw.set("ref:0", str(i))  # another client writes: invalidation
            sdk_us = (time.perf_counter() - started) / n * 1e6
            stats = cache.statistics()
    finally:
        await raw.aclose()
    return {
        "reads": n,
        "raw_get_us": round(raw_us, 2),
        "near_cache_us": round(sdk_us, 2),
        "speedup": round(raw_us / sdk_us, 1),
        "hit_ratio": round(stats.hits / max(1, stats.hits + stats.misses), 4),
        "invalidations": stats.invalidations,
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered) * 1e6,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
    )


async def raw_round_trips(url: str, n: int) -> list[float]:
    """A minimal request/reply in raw redis-py: PUBLISH + an inbox, no envelope."""
    inbox = f"_inbox.{uuid.uuid4().hex}"
    requester = aredis.Redis.from_url(url)
    responder = aredis.Redis.from_url(url)
    req_ps, resp_ps = requester.pubsub(), responder.pubsub()
    await req_ps.subscribe(inbox)
    await resp_ps.subscribe("raw.rpc")
    await req_ps.get_message(timeout=1.0)
    await resp_ps.get_message(timeout=1.0)
    samples: list[float] = []

    async def serve() -> None:
        while True:
            msg = await resp_ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                await responder.publish(inbox, msg["data"])

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            for i in range(n):
                started = time.perf_counter()
                await requester.publish("raw.rpc", str(i))
                while (
                    await req_ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                ) is None:
                    pass
                samples.append(time.perf_counter() - started)
            tg.cancel_scope.cancel()
    finally:
        await req_ps.aclose()  # type: ignore[no-untyped-call]
        await resp_ps.aclose()  # type: ignore[no-untyped-call]
        await requester.aclose()
        await responder.aclose()
    return samples


async def sdk_round_trips(url: str, n: int) -> list[float]:
    """The same through AsyncRequester/AsyncResponder (sealed frames)."""
    ring = Keyring.generate()
    samples: list[float] = []

    def pong(delivery: Delivery) -> Pong:
        return Pong(n=delivery.payload.n)

    async with (
        AsyncClient.from_url(url) as client,
        AsyncResponder(client, ["bench.rpc"], pong, codec=Codec(registry=REGISTRY, keyring=ring)),
        AsyncRequester(client, codec=Codec(registry=REGISTRY, keyring=ring)) as rpc,
    ):
        for i in range(n):
            started = time.perf_counter()
            reply = await rpc.request(Ping(n=i), "bench.rpc")
            samples.append(time.perf_counter() - started)
            assert reply.payload.n == i
    return samples


async def round_trips(url: str, n: int) -> dict[str, Any]:
    """Raw and SDK request/reply latency, same process, same server."""
    raw_p50, raw_p99 = _percentiles(await raw_round_trips(url, n))
    sdk_p50, sdk_p99 = _percentiles(await sdk_round_trips(url, n))
    return {
        "round_trips": n,
        "raw_p50_us": round(raw_p50, 1),
        "raw_p99_us": round(raw_p99, 1),
        "sdk_p50_us": round(sdk_p50, 1),
        "sdk_p99_us": round(sdk_p99, 1),
        "p50_ratio": round(sdk_p50 / raw_p50, 2),
    }


async def run(url: str, smoke: bool) -> dict[str, Any]:
    """Every measurement; smaller counts with ``smoke``."""
    n_reads, n_rpc = (2_000, 50) if smoke else (100_000, 5_000)
    return {"reads": await reads(url, n_reads), "request_reply": await round_trips(url, n_rpc)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run on a private redis-server (or ``--url``) and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
