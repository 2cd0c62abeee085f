# ruff: noqa: SIM117, PT018, ASYNC110
"""Publisher and subscriber against a real redis-server (both Redis versions)."""

from __future__ import annotations

import os
import socket

import anyio
import pytest

from redis_fintech_sdk.channels import RoutingTable
from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.errors import CircuitOpenError, ConnectionFailedError
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    BadFrame,
    Delivery,
    HandlerFailed,
    HeaderFilter,
    OutputBufferReport,
    Publisher,
    Subscriber,
    SubscriberConfig,
    output_buffers,
)
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerConfig
from redis_fintech_sdk.settings import RetryConfig
from redis_fintech_sdk.testing import RedisBinary, RedisServer

from ._support import EventLog, Tick, codec

pytestmark = pytest.mark.anyio


async def test_publish_subscribe_round_trip_and_auto_pipelining(redis_server: RedisServer) -> None:
    c = codec()
    async with AsyncClient.from_url(redis_server.url) as client:
        async with AsyncSubscriber(client, codec=c) as sub, AsyncPublisher(client, codec=c) as pub:
            await sub.subscribe("test.rt.A")
            counts: list[int] = []

            async def one(i: int) -> None:
                counts.append(await pub.publish(Tick(symbol="A", n=i), "test.rt.A"))

            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(one, i)
            got = [await sub.get(timeout=5) for _ in range(200)]
            stats = pub.statistics()
    assert counts == [1] * 200
    assert sorted(d.payload.n for d in got) == list(range(200))
    assert [d.header.sequence for d in got if d.header] == list(range(1, 201))
    # 200 concurrent publishes went out in far fewer round trips.
    assert stats.sender.commands == 200
    assert stats.sender.round_trips < 20
    assert stats.published == 200
    assert stats.receivers == 200


async def test_publish_many_and_routing(redis_server: RedisServer) -> None:
    c = codec()
    table = RoutingTable.from_dict(
        {
            "rules": [
                {
                    "name": "ticks",
                    "match": {"type": "test.pubsub.*"},
                    "channels": ["test.routed.{symbol}"],
                }
            ]
        }
    )
    async with (
        AsyncClient.from_url(redis_server.url) as client,
        AsyncSubscriber(client, codec=c) as sub,
        AsyncPublisher(client, codec=c, routing=table) as pub,
    ):
        await sub.psubscribe("test.routed.*")
        counts = await pub.publish_many(
            [("test.routed.X", Tick(symbol="X", n=i)) for i in range(10)]
        )
        assert counts == [1] * 10
        assert await pub.publish(Tick(symbol="Y", n=1), headers={"symbol": "Y"}) == 1
        got = [await sub.get(timeout=5) for _ in range(11)]
    assert got[-1].channel == "test.routed.Y"
    assert got[-1].pattern == "test.routed.*"
    assert [d.payload.n for d in got[:10]] == list(range(10))


async def test_handler_errors_and_garbage_frames_are_counted_not_fatal(
    redis_server: RedisServer,
) -> None:
    c = codec()
    events = EventLog()
    seen: list[int] = []

    async def handler(d: Delivery) -> None:
        if d.payload.n == 3:
            raise ValueError("boom")
        seen.append(d.payload.n)

    async with AsyncClient.from_url(redis_server.url) as client:
        sub = AsyncSubscriber(client, codec=c)
        sub.add_listener(events.append)
        sub.add_handler(handler, channel="test.bad.*", types=["test.pubsub.*"])
        async with sub, AsyncPublisher(client, codec=c) as pub:
            await sub.subscribe("test.bad.A")
            for i in range(3):
                await pub.publish(Tick(symbol="A", n=i), "test.bad.A")
            await client.redis.publish("test.bad.A", b"\x00garbage")
            await client.redis.publish("test.bad.A", b"\xc1\x46\x01\x00\x00\x05zz")
            for i in range(3, 6):
                await pub.publish(Tick(symbol="A", n=i), "test.bad.A")
            with anyio.fail_after(5):
                while len(seen) < 5:
                    await anyio.sleep(0.01)
            stats = sub.statistics()
    assert seen == [0, 1, 2, 4, 5]
    assert stats.bad_frames == 2
    assert stats.handler_errors == 1
    assert len(events.of(BadFrame)) == 2
    assert len(events.of(HandlerFailed)) == 1
    assert stats.connects == 1 and stats.disconnects == 0


async def test_header_filter_runs_before_decoding(redis_server: RedisServer) -> None:
    c = codec()
    cfg = SubscriberConfig(filter=HeaderFilter(headers={"venue": "XNAS"}))
    async with AsyncClient.from_url(redis_server.url) as client:
        async with (
            AsyncSubscriber(client, codec=c, config=cfg) as sub,
            AsyncPublisher(client, codec=c) as pub,
        ):
            await sub.subscribe("test.flt")
            for i in range(6):
                venue = "XNAS" if i % 2 else "XLON"
                await pub.publish(Tick(symbol="A", n=i), "test.flt", headers={"venue": venue})
            got = [await sub.get(timeout=5) for _ in range(3)]
            stats = sub.statistics()
    assert [d.payload.n for d in got] == [1, 3, 5]
    assert stats.filtered == 3
    assert stats.sequences.gaps == 0  # filtered messages still count for gap detection


async def test_runtime_subscribe_unsubscribe_and_shard_channels(
    redis_server: RedisServer, redis_binary: RedisBinary
) -> None:
    c = codec()
    async with AsyncClient.from_url(redis_server.url) as client:
        async with AsyncSubscriber(client, codec=c) as sub, AsyncPublisher(client, codec=c) as pub:
            await sub.subscribe("test.rs.a")
            assert await pub.publish(Tick(symbol="a", n=1), "test.rs.a") == 1
            await sub.unsubscribe("test.rs.a")
            await sub.subscribe("test.rs.b")
            assert await pub.publish(Tick(symbol="a", n=2), "test.rs.a") == 0
            assert await pub.publish(Tick(symbol="b", n=3), "test.rs.b") == 1
            await sub.ssubscribe("test.rs.{s}")
            spub = AsyncPublisher(client, codec=c, sharded=True)
            async with spub:
                assert await spub.publish(Tick(symbol="s", n=4), "test.rs.{s}") == 1
            got = [await sub.get(timeout=5) for _ in range(3)]
    assert [(d.channel, d.payload.n, d.shard) for d in got] == [
        ("test.rs.a", 1, False),
        ("test.rs.b", 3, False),
        ("test.rs.{s}", 4, True),
    ]


def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        out.append(f"${len(arg.encode())}\r\n{arg}\r\n".encode())
    return b"".join(out)


async def test_output_buffer_metric(redis_server: RedisServer) -> None:
    # A subscriber that stops reading: what the server cannot send piles up in its output
    # buffer (omem). Its tiny receive window keeps the kernel from absorbing the backlog.
    name = f"omem-{os.getpid()}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    try:
        sock.connect(redis_server.address)
        sock.sendall(_resp("CLIENT", "SETNAME", name) + _resp("SUBSCRIBE", "test.omem"))
        got = b""
        while b"subscribe\r\n$9\r\ntest.omem\r\n:1\r\n" not in got:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection"
            got += chunk
        async with AsyncClient.from_url(redis_server.url) as client:

            async def mine() -> OutputBufferReport:
                found = [r for r in await output_buffers(client) if r.name == name]
                assert len(found) == 1, found
                return found[0]

            idle = await mine()
            assert (idle.subscriptions, idle.omem, idle.output_list_length) == (1, 0, 0)
            assert idle.address.startswith("127.0.0.1:")
            frame = b"x" * 65536
            published = 0
            report = idle
            # The server's kernel send buffer (tcp_wmem, up to 4 MiB here) fills first. The
            # cap stays below client-output-buffer-limit pubsub (32mb hard); the loop stops
            # at the first buffered bytes, far below the 8mb soft limit.
            while report.omem == 0 and published < 256:
                assert await client.redis.publish("test.omem", frame) == 1
                published += 1
                if published % 4 == 0:
                    report = await mine()
    finally:
        sock.close()
    assert report.omem > 0, f"nothing buffered after {published} x 64 KiB"
    assert report.output_list_length > 0
    assert report.omem <= published * len(frame) + 65536


async def test_breaker_fails_fast_while_down_and_recovers(redis_binary: RedisBinary) -> None:
    c = codec()
    breaker = CircuitBreaker(
        "test-pub", CircuitBreakerConfig(consecutive_failures=2, open_interval=0.3)
    )
    with RedisServer(redis_binary) as server:
        async with AsyncClient.from_url(server.url, retry=RetryConfig(attempts=0)) as client:
            async with AsyncPublisher(client, codec=c, breaker=breaker) as pub:
                assert await pub.publish(Tick(symbol="A", n=0), "test.cb") == 0
                server.kill()
                for _ in range(2):
                    with pytest.raises(ConnectionFailedError):
                        await pub.publish(Tick(symbol="A", n=1), "test.cb")
                with pytest.raises(CircuitOpenError):
                    await pub.publish(Tick(symbol="A", n=2), "test.cb")
                server.restart()
                await anyio.sleep(0.35)
                assert await pub.publish(Tick(symbol="A", n=3), "test.cb") == 0  # probe
                stats = pub.statistics()
    assert stats.breaker.not_permitted >= 1
    assert stats.breaker.failures == 2
    assert stats.failed == 3


def test_sync_publisher_and_thread_backed_subscriber(redis_server: RedisServer) -> None:
    c = codec()
    with Client(host=redis_server.host, port=redis_server.port) as client:
        seen: list[int] = []
        with Subscriber(client, codec=c) as sub:
            sub.subscribe("test.sync")
            with Publisher(client, codec=c) as pub:
                assert pub.publish(Tick(symbol="A", n=1), "test.sync") == 1
                assert pub.publish_many([("test.sync", Tick(symbol="A", n=2))]) == [1]
            seen = [sub.get(timeout=5).payload.n for _ in range(2)]
            assert sub.statistics().delivered == 2
    assert seen == [1, 2]
