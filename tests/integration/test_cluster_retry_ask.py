"""F17: commands on a half-migrated slot (``MIGRATING``/``IMPORTING``) through ``AsyncClient``.

redis-py 8.1's asyncio ``RedisCluster`` sends ``ASKING`` and the redirected command as two
pooled commands; once the importing node's pool holds two idle connections the command
goes out without ``ASKING``, the node answers ``MOVED``, and the client ping-pongs until
``ClusterError("TTL exhausted.")``. These tests pin that upstream behaviour with a plain
redis-py client, then show the SDK's client following the redirect itself (``ASKING`` and
the command on one connection) without ever applying a command twice.

The slot is put back (``SETSLOT STABLE`` on both nodes, keys written to the importing node
deleted) so the shared cluster stays as it was.
"""

from __future__ import annotations

import collections
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import anyio
import pytest
import redis.exceptions as rexc
from redis.asyncio.cluster import ClusterNode as PyClusterNode
from redis.asyncio.cluster import RedisCluster

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.connection._cluster_asking import _follow_redirects
from redis_fintech_sdk.errors import RedisError, ResponseError
from redis_fintech_sdk.settings import ClusterConfig, ConnectionConfig, Timeouts
from redis_fintech_sdk.testing import ClusterTopology, RedisServer

pytestmark = pytest.mark.anyio

TAG = "{f17-ask-pairing}"


@dataclass
class HalfMigrated:
    slot: int
    src: RedisServer
    dst: RedisServer
    written: list[str]  # keys the test wrote while the slot was importing (live on dst)


def _owner_and_other(topo: ClusterTopology, slot: int) -> tuple[str, str, dict[str, Any]]:
    view = {n.node_id: n for n in topo.cluster_nodes()}
    src_id = next(
        i for i, n in view.items() if n.role == "master" and any(a <= slot <= b for a, b in n.slots)
    )
    dst_id = next(i for i, n in view.items() if n.role == "master" and n.slots and i != src_id)
    return src_id, dst_id, view


@pytest.fixture
def half_migrated(redis_cluster: ClusterTopology) -> Iterator[HalfMigrated]:
    topo = redis_cluster
    reply = topo.nodes[0].command("CLUSTER", "KEYSLOT", TAG)
    assert isinstance(reply, int)
    slot = reply
    src_id, dst_id, view = _owner_and_other(topo, slot)
    src = topo.node_for_port(view[src_id].port)
    dst = topo.node_for_port(view[dst_id].port)
    dst.command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    state = HalfMigrated(slot, src, dst, [])
    try:
        yield state
    finally:
        raw = dst.client()
        try:
            pipe: Any = raw.pipeline(transaction=False)
            for key in state.written:
                pipe.execute_command("ASKING")
                pipe.delete(key)
            pipe.execute()
        finally:
            raw.close()
        for node in (dst, src):
            node.command("CLUSTER", "SETSLOT", slot, "STABLE")


def _config(topo: ClusterTopology) -> ConnectionConfig:
    return ConnectionConfig(
        cluster=ClusterConfig(startup_nodes=tuple(topo.startup_nodes)),
        timeouts=Timeouts(connect=1.0, command=2.0, max_block=5.0),
    )


async def _warm(cluster: RedisCluster, dst: RedisServer) -> None:
    """Leave several idle connections in ``cluster``'s pool for ``dst`` (the trigger)."""
    node = cluster.get_node(host=dst.host, port=dst.port)
    assert node is not None
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(node.execute_command, "PING")
    assert len(node._free) >= 2, "the importing node's pool should hold idle connections"


@pytest.fixture
async def sdk(redis_cluster: ClusterTopology) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(_config(redis_cluster)) as client:
        await client.execute("PING")
        yield client


def _on_dst(state: HalfMigrated, *args: Any) -> Any:
    raw = state.dst.client()
    try:
        pipe: Any = raw.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command(*args)
        return pipe.execute()[1]
    finally:
        raw.close()


def _on_src(state: HalfMigrated, key: str) -> bool:
    """Whether ``key`` is on the migrating node (it answers ASK for keys it does not hold)."""
    try:
        return state.src.command("EXISTS", key) == 1
    except RedisError as exc:
        if "ASK" in str(exc):
            return False
        raise


# redis-py's ping-pong rebuilds the slot cache every 5 MOVEDs and drops connections it
# opened in between without closing them: collected here, not in a later test.
_LEAKS = (
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


@pytest.mark.filterwarnings(*_LEAKS)
async def test_plain_redis_py_ping_pongs_on_ask(
    redis_cluster: ClusterTopology, half_migrated: HalfMigrated
) -> None:
    """The upstream bug the SDK works around. When this fails, redis-py fixed it."""
    host, port = redis_cluster.startup_nodes[0]
    cluster = RedisCluster(startup_nodes=[PyClusterNode(host, port)])
    key = f"{TAG}:plain"
    try:
        await cluster.initialize()
        await _warm(cluster, half_migrated.dst)
        with pytest.raises(rexc.ClusterError, match="TTL exhausted"):
            await cluster.execute_command("SET", key, "v")
    finally:
        await cluster.aclose()
        del cluster
        gc.collect()
    # Every attempt was refused with a redirect: the command was never applied anywhere.
    assert _on_dst(half_migrated, "EXISTS", key) == 0
    assert not _on_src(half_migrated, key)


async def test_sdk_client_lands_writes_on_the_importing_node_once(
    half_migrated: HalfMigrated, sdk: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "redis_fintech_sdk.connection")
    cluster = sdk.redis
    assert isinstance(cluster, RedisCluster)
    await _warm(cluster, half_migrated.dst)
    key, counter = f"{TAG}:k", f"{TAG}:n"
    half_migrated.written += [key, counter]
    assert await sdk.execute("SET", key, "v1") is True
    assert await sdk.execute("GET", key) == b"v1"
    # Not idempotent: applied exactly once per call even though redis-py's own loop ran out.
    for expected in (1, 2, 3):
        assert await sdk.execute("INCR", counter) == expected
    assert _on_dst(half_migrated, "GET", counter) == b"3"
    assert not _on_src(half_migrated, key)
    assert not _on_src(half_migrated, counter)
    # ASKING and the command went out on one connection the first time: no ping-pong, so
    # the recovery path was not needed.
    assert "following redirects" not in caplog.text


async def test_sdk_client_with_concurrent_writers(
    half_migrated: HalfMigrated, sdk: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "redis_fintech_sdk.connection")
    cluster = sdk.redis
    assert isinstance(cluster, RedisCluster)
    await _warm(cluster, half_migrated.dst)
    keys = [f"{TAG}:c{i}" for i in range(40)]
    half_migrated.written += keys
    results: dict[str, Any] = {}

    async def put(key: str) -> None:
        results[key] = await sdk.execute("SET", key, key)

    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(put, key)
    assert all(results[k] is True for k in keys)
    for key in keys:
        assert _on_dst(half_migrated, "GET", key) == key.encode()
    assert "following redirects" not in caplog.text


async def test_sdk_client_recovers_when_the_pairing_is_missed(
    half_migrated: HalfMigrated, sdk: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The second line: redis-py's loop ran out anyway; the command is applied once."""
    caplog.set_level(logging.INFO, "redis_fintech_sdk.connection")
    cluster = sdk.redis
    assert isinstance(cluster, RedisCluster)
    await _warm(cluster, half_migrated.dst)
    node = cluster.get_node(host=half_migrated.dst.host, port=half_migrated.dst.port)
    assert node is not None
    node._free = collections.deque(node._free, maxlen=node._free.maxlen)  # undo the pairing
    counter = f"{TAG}:recovered"
    half_migrated.written.append(counter)
    assert await sdk.execute("INCR", counter) == 1
    assert "following redirects" in caplog.text
    assert _on_dst(half_migrated, "GET", counter) == b"1"
    assert not _on_src(half_migrated, counter)


async def test_error_after_asking_propagates_and_is_not_resent(
    half_migrated: HalfMigrated, sdk: AsyncClient
) -> None:
    cluster = sdk.redis
    assert isinstance(cluster, RedisCluster)
    await _warm(cluster, half_migrated.dst)
    key = f"{TAG}:list"
    half_migrated.written.append(key)
    assert _on_dst(half_migrated, "RPUSH", key, "a") == 1
    # The key lives on the importing node: the source answers ASK, the SDK sends ASKING +
    # INCR on one connection, the server answers WRONGTYPE, which must reach the caller.
    with pytest.raises(ResponseError):
        await sdk.execute("INCR", key)
    assert _on_dst(half_migrated, "LRANGE", key, 0, -1) == [b"a"]
    # The connection is clean afterwards: the next command reads its own reply.
    other = f"{TAG}:after"
    half_migrated.written.append(other)
    assert await sdk.execute("SET", other, "x") is True
    assert await sdk.execute("GET", other) == b"x"


# ---------------------------------------------------------------- without a server


class _FakeNode:
    """Answers from a script; records what was sent, and on which "connection"."""

    def __init__(self, name: str, replies: list[Any]) -> None:
        self.name = name
        self.replies = replies
        self.sent: list[tuple[Any, ...]] = []

    def acquire_connection(self) -> Any:
        raise AssertionError("no ASK hop expected")

    async def execute_command(self, *args: Any, **_: Any) -> Any:
        self.sent.append(args)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply


class _FakeCluster:
    result_callbacks: ClassVar[dict[str, Any]] = {}
    RedisClusterRequestTTL = 16

    def __init__(self, nodes: dict[str, _FakeNode]) -> None:
        self.nodes = nodes

    def get_node(self, host: str, port: int) -> _FakeNode | None:
        return self.nodes.get(f"{host}:{port}")


def _ttl_error(node: _FakeNode) -> rexc.ClusterError:
    exc = rexc.ClusterError("TTL exhausted.")
    exc.connection = node  # type: ignore[attr-defined]
    return exc


async def test_timeout_on_a_hop_is_never_resent() -> None:
    a = _FakeNode("a:1", [rexc.MovedError("7 b:2")])
    b = _FakeNode("b:2", [rexc.TimeoutError("Timeout reading from b:2")])
    fake = _FakeCluster({"a:1": a, "b:2": b})
    with pytest.raises(rexc.TimeoutError):
        await _follow_redirects(fake, _ttl_error(a), ("INCR", "k"), {})
    assert a.sent == [("INCR", "k")]
    assert b.sent == [("INCR", "k")]  # once: it may have run


async def test_gives_up_after_the_redirect_ttl() -> None:
    a = _FakeNode("a:1", [rexc.MovedError("7 b:2")] * 8)
    b = _FakeNode("b:2", [rexc.MovedError("7 a:1")] * 8)
    fake = _FakeCluster({"a:1": a, "b:2": b})
    original = _ttl_error(a)
    with pytest.raises(rexc.ClusterError) as raised:
        await _follow_redirects(fake, original, ("SET", "k", "v"), {})
    assert raised.value is original
    assert len(a.sent) + len(b.sent) == 16
