"""Sentinel and Cluster through the SDK client."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.settings import ClusterConfig, ConnectionConfig, SentinelConfig, Timeouts

pytestmark = pytest.mark.anyio


def _sentinel_config(topo: Any, **kw: Any) -> ConnectionConfig:
    return ConnectionConfig(
        sentinel=SentinelConfig(
            sentinels=tuple(topo.sentinels), service_name=topo.service_name, **kw
        ),
        timeouts=Timeouts(connect=2.0, command=2.0),
    )


@pytest.mark.sentinel
def test_sentinel_discovers_primary_and_survives_failover(redis_sentinel: Any) -> None:
    with Client(_sentinel_config(redis_sentinel)) as client:
        report = client.health()
        assert report.reachable
        assert report.role == "master"
        client.execute("SET", "sentinel:before", "1")
        old = redis_sentinel.primary_address()
        redis_sentinel.failover()
        new = redis_sentinel.primary_address()
        assert new != old
        # The same client object keeps working against the new primary.
        deadline = time.monotonic() + 20
        while True:
            try:
                client.execute("SET", "sentinel:after", "2")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        info = client.redis.info("server")
        assert int(info["tcp_port"]) == new[1]
        assert client.execute("GET", "sentinel:before") == b"1"
        assert client.health().role == "master"


@pytest.mark.sentinel
async def test_sentinel_replica_reads(redis_sentinel: Any) -> None:
    async with AsyncClient(_sentinel_config(redis_sentinel, read_from_replicas=True)) as client:
        await client.execute("SET", "sentinel:replicated", "yes")
        await client.redis.execute_command("WAIT", 1, 2000)
        role = await client.replica.execute_command("ROLE")
        assert role[0] in (b"slave", "slave")
        assert await client.replica.get("sentinel:replicated") == b"yes"


def _one_key_per_slot() -> dict[int, str]:
    rng = random.Random(7)
    keys: dict[int, str] = {}
    while len(keys) < 16384:
        k = f"k:{rng.getrandbits(48):x}"
        keys.setdefault(key_slot(k.encode()), k)
    return keys


@pytest.mark.cluster
async def test_cluster_reads_and_writes_every_slot(redis_cluster: Any) -> None:
    config = ConnectionConfig(
        cluster=ClusterConfig(startup_nodes=tuple(redis_cluster.startup_nodes[:1]))
    )
    keys = _one_key_per_slot()
    async with AsyncClient(config) as client:
        report = await client.health()
        assert report.reachable
        assert report.topology == "cluster"
        assert report.nodes == 3
        pipe = client.redis.pipeline()
        for slot, key in keys.items():
            pipe.set(key, str(slot))
        await pipe.execute()
        pipe = client.redis.pipeline()
        for key in keys.values():
            pipe.get(key)
        values = await pipe.execute()
    assert [int(v) for v in values] == list(keys)


@pytest.mark.cluster
def test_cluster_replica_reads_sync(redis_cluster: Any) -> None:
    config = ConnectionConfig(
        cluster=ClusterConfig(
            startup_nodes=tuple(redis_cluster.startup_nodes), read_from_replicas=True
        )
    )
    with Client(config) as client:
        client.execute("SET", "cluster:r", "1")
        cluster = client.redis
        assert isinstance(cluster, RedisCluster)
        cluster.execute_command(  # type: ignore[no-untyped-call]
            "WAIT",
            1,
            2000,
            target_nodes=cluster.get_node_from_key("cluster:r"),  # type: ignore[no-untyped-call]
        )
        assert client.replica.get("cluster:r") == b"1"
