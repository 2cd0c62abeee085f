"""Streams on a Redis Cluster: hash-tagged stream keys, produce and consume through the SDK.

Regressions: the producer's first append ran its durability startup check with a
``CONFIG GET`` redis-py could not route, the feature probes died on commands redis-py's
cluster client does not know (``XACKDEL`` on 7.0), and the idempotent append pipelined
``EVALSHA``, which redis-py refuses in cluster pipelines.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import ClusterConfig, ConnectionConfig, Timeouts
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    Durability,
    RawFrameCodec,
    StreamConsumer,
)

pytestmark = [pytest.mark.anyio, pytest.mark.cluster]


async def test_produce_and_consume_on_a_cluster(redis_cluster: Any) -> None:
    config = ConnectionConfig(
        cluster=ClusterConfig(startup_nodes=tuple(redis_cluster.startup_nodes)),
        timeouts=Timeouts(connect=2.0, command=2.0, max_block=5.0),
    )
    stream = "{acct-42}:balances"
    async with AsyncClient(config) as client:
        producer = AsyncStreamProducer(client, stream, codec=RawFrameCodec())
        ids = [await producer.add(f"m{i}".encode(), idempotency_key=f"k{i}") for i in range(20)]
        again = await producer.add(b"m3", idempotency_key="k3")  # a retry: same entry
        assert again == ids[3]
        assert len(set(ids)) == 20
        got: list[bytes] = []

        async def handle(message: Any) -> None:
            got.append(message.envelope)

        consumer = StreamConsumer(
            client, stream, handle, group="g", consumer="c1", codec=RawFrameCodec()
        )
        async with consumer:
            with anyio.fail_after(20):
                while len(got) < 20:  # noqa: ASYNC110 - counting deliveries
                    await anyio.sleep(0.05)
        assert consumer.statistics().acked == 20
    assert sorted(got) == sorted(f"m{i}".encode() for i in range(20))


async def test_wait_durability_is_refused_on_a_cluster(redis_cluster: Any) -> None:
    """WAIT cannot be tied to the writing connection there: refused, not silently weak."""
    config = ConnectionConfig(
        cluster=ClusterConfig(startup_nodes=tuple(redis_cluster.startup_nodes[:1]))
    )
    async with AsyncClient(config) as client:
        with pytest.raises(ConfigurationError, match="durability"):
            AsyncStreamProducer(client, "{x}:s", durability=Durability(replicas=1))
        # Without durability the same producer is fine.
        assert AsyncStreamProducer(client, "{x}:s").stream == "{x}:s"
