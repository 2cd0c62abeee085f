# ruff: noqa: SIM117, ASYNC110
"""Sharded Pub/Sub on the 3-primary Cluster; a Sentinel failover moves the subscriber."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.channels import Channel
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber, Resubscribed, SubscriberConfig
from redis_fintech_sdk.settings import ClusterConfig, ConnectionConfig, SentinelConfig
from redis_fintech_sdk.testing import ClusterTopology, SentinelTopology

from ._support import EventLog, Tick, codec

pytestmark = pytest.mark.anyio


async def test_sharded_channels_across_cluster_primaries(redis_cluster: ClusterTopology) -> None:
    c = codec()
    config = ConnectionConfig(
        cluster=ClusterConfig(startup_nodes=tuple(redis_cluster.startup_nodes))
    )
    # Channels whose hash tags land on different primaries.
    channels = [str(Channel.of("test", "shard", "{" + s + "}")) for s in ("a", "b", "c", "d", "e")]
    async with AsyncClient(config) as client:
        async with AsyncSubscriber(client, codec=c) as sub, AsyncPublisher(client, codec=c) as pub:
            await sub.ssubscribe(*channels)
            await sub.subscribe("test.cluster.plain")
            counts = [await pub.publish(Tick(symbol=ch, n=i), ch) for i, ch in enumerate(channels)]
            plain = AsyncPublisher(client, codec=c, sharded=False)
            async with plain:
                # PUBLISH on a Cluster counts only the receiving node's own subscribers.
                await plain.publish(Tick(symbol="p", n=99), "test.cluster.plain")
            got = [await sub.get(timeout=5) for _ in range(len(channels) + 1)]
            links = {s.link.address for s in sub._supervisor.links}
    assert counts == [1] * len(channels)
    assert sorted(d.payload.n for d in got) == [*range(len(channels)), 99]
    assert {d.channel for d in got if d.shard} == set(channels)
    assert len(links) >= 3  # one link per primary owning a channel, plus the plain one


@pytest.mark.slow
async def test_sentinel_failover_moves_subscriber_to_new_primary(
    redis_sentinel: SentinelTopology,
) -> None:
    c = codec()
    events = EventLog()
    config = ConnectionConfig(
        sentinel=SentinelConfig(sentinels=tuple(redis_sentinel.sentinels)),
    )
    cfg = SubscriberConfig(ping_interval=0.5, ping_timeout=0.5, connect_timeout=2.0)
    async with AsyncClient(config) as client, AsyncClient(config) as pclient:
        sub = AsyncSubscriber(client, codec=c, config=cfg)
        sub.add_listener(events.append)
        async with sub, AsyncPublisher(pclient, codec=c) as pub:
            await sub.subscribe("test.sentinel")
            old = sub._supervisor.links[0].link.address
            await anyio.to_thread.run_sync(redis_sentinel.failover)
            host, port = redis_sentinel.primary_address()
            new = f"{host}:{port}"
            with anyio.fail_after(15):
                while not (sub.connected and sub._supervisor.links[0].link.address == new):
                    await anyio.sleep(0.1)
            await sub.wait_subscribed(5)
            with anyio.fail_after(10):
                while True:  # the publisher's pool also has to find the new primary
                    try:
                        if await pub.publish(Tick(symbol="s", n=1), "test.sentinel") == 1:
                            break
                    except Exception:
                        pass
                    await anyio.sleep(0.2)
            got = await sub.get(timeout=5)
    assert old != new
    assert got.payload.n == 1
    assert events.of(Resubscribed)
