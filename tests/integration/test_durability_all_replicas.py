"""``Durability(replicas="all")`` and ``WAIT`` after a retried append, on real servers.

The failover itself is tested in tests/chaos/test_scenarios_topologies.py (F11); here:
the count without Sentinel (the primary's connected replicas), the count with Sentinel
(what every Sentinel lists), and that a retried append's ``WAIT`` covers the original
append even on another connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.errors import DurabilityError
from redis_fintech_sdk.resilience import RetryPolicy
from redis_fintech_sdk.settings import ConnectionConfig, SentinelConfig, Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    Durability,
    RawFrameCodec,
    StreamProducer,
)
from redis_fintech_sdk.streams._durability import healthy_replicas
from redis_fintech_sdk.testing import RedisBinary, RedisServer, SentinelTopology
from redis_fintech_sdk.testing._wait import wait_until

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(attempts=1)
TIMEOUTS = Timeouts(connect=1.0, command=2.0, max_block=5.0)


@dataclass
class Replicated:
    primary: RedisServer
    replicas: list[RedisServer]


@pytest.fixture(scope="module")
def replicated(redis_binary: RedisBinary) -> Iterator[Replicated]:
    """A primary with two replicas, no Sentinel."""
    with RedisServer(redis_binary) as primary:
        replicas = [RedisServer(redis_binary, replica_of=primary) for _ in range(2)]
        try:
            for replica in replicas:
                replica.start()
            wait_until(
                lambda: (
                    primary.info("replication").get("connected_slaves") == "2"
                    and all(
                        r.info("replication").get("master_link_status") == "up" for r in replicas
                    )
                ),
                timeout=20,
                what="two replicas in sync",
            )
            with primary.client() as raw:  # both acknowledge writes (not only linked)
                raw.set("{durability}:ready", 1)
                assert raw.wait(2, 20_000) == 2
            yield Replicated(primary, replicas)
        finally:
            for replica in replicas:
                if replica.paused:
                    replica.resume()
                replica.stop()


async def _confirmed(append: Callable[[], Awaitable[str]], limit: float = 10.0) -> None:
    """Retry ``append`` (idempotent) until a resumed replica has caught up and acknowledged."""
    with anyio.fail_after(limit):
        while True:
            try:
                await append()
                return
            except DurabilityError:
                await anyio.sleep(0.1)


async def test_all_waits_for_every_connected_replica_without_sentinel(
    replicated: Replicated,
) -> None:
    primary = replicated.primary
    async with AsyncClient.from_url(primary.url, timeouts=TIMEOUTS) as client:
        producer = AsyncStreamProducer(
            client,
            "{durability}:all",
            codec=RawFrameCodec(),
            durability=Durability(replicas="all", timeout=1.0),
            retry=NO_RETRY,
        )
        await producer.add(b"both replicas answer")
        assert await producer._wait_count() == 2
        lagging = replicated.replicas[0]
        lagging.pause()  # connected, but acknowledges nothing
        try:
            with pytest.raises(DurabilityError, match="reached 1 of 2 replicas"):
                await producer.add(b"one replica frozen")
        finally:
            lagging.resume()
        await _confirmed(lambda: producer.add(b"both again", idempotency_key="again"))


def test_sync_twin_waits_for_every_replica(replicated: Replicated) -> None:
    with Client.from_url(replicated.primary.url, timeouts=TIMEOUTS) as client:
        producer = StreamProducer(
            client,
            "{durability}:sync",
            codec=RawFrameCodec(),
            durability=Durability(replicas="all", timeout=1.0),
            retry=NO_RETRY,
        )
        producer.add(b"sync")
        assert producer._wait_count() == 2


async def test_wait_after_a_duplicate_covers_the_original_append(
    replicated: Replicated,
) -> None:
    """A retry on another connection must not confirm what no replica has received.

    ``WAIT`` counts acknowledgements of the caller's last write on *its* connection. The
    first attempt's connection wrote the entry; a retry elsewhere only finds the
    idempotency id. Without a write on that path, its ``WAIT`` would count a replica that
    never received the entry.
    """
    primary = replicated.primary
    stream = "{durability}:dup"
    durability = Durability(replicas=2, timeout=1.0)
    frozen = replicated.replicas[1]
    async with (
        AsyncClient.from_url(primary.url, timeouts=TIMEOUTS) as first,
        AsyncClient.from_url(primary.url, timeouts=TIMEOUTS) as second,
    ):
        kwargs = {"codec": RawFrameCodec(), "durability": durability, "retry": NO_RETRY}
        original = AsyncStreamProducer(first, stream, producer_id="p1", **kwargs)  # type: ignore[arg-type]
        retry = AsyncStreamProducer(second, stream, producer_id="p1", **kwargs)  # type: ignore[arg-type]
        await original.add(b"warm-up", idempotency_key="warm")
        await retry.features()  # its connection is open and has written nothing
        frozen.pause()
        try:
            with pytest.raises(DurabilityError):
                await original.add(b"payment", idempotency_key="pay-1")
            # The same append retried on the other connection: a duplicate, still unconfirmed.
            with pytest.raises(DurabilityError, match="reached 1 of 2"):
                await retry.add(b"payment", idempotency_key="pay-1")
            assert retry.statistics().duplicates_suppressed == 1
        finally:
            frozen.resume()
        # Once the replica catches up the retry is confirmed, still without a second entry.
        await _confirmed(lambda: retry.add(b"payment", idempotency_key="pay-1"))
        assert await first.execute("XLEN", stream) == 2


async def test_all_counts_what_the_sentinels_hold_healthy(
    redis_sentinel: SentinelTopology,
) -> None:
    config = ConnectionConfig(
        sentinel=SentinelConfig(sentinels=tuple(redis_sentinel.sentinels)), timeouts=TIMEOUTS
    )
    async with AsyncClient(config) as client:
        views = await client.sentinel_replicas()
        assert len(views) == len(redis_sentinel.sentinel_servers)
        live = {r.address for r in redis_sentinel.replicas if r.running}
        for view in views:
            assert set(healthy_replicas(view)) >= live
        producer = AsyncStreamProducer(
            client,
            "{durability}:sentinel",
            codec=RawFrameCodec(),
            durability=Durability(replicas="all", timeout=1.0),
        )
        await producer.add(b"confirmed by every replica")
        assert await producer._wait_count() == max(len(live), 1)
