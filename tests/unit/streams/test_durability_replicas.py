"""``Durability(replicas="all")``: validation, the replica count, its cache (no server)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.streams import AsyncStreamProducer, Durability, RawFrameCodec
from redis_fintech_sdk.streams._durability import (
    DOWN_FLAGS,
    ReplicaCountCache,
    connected_replicas,
    demoted_while_waiting,
    healthy_replicas,
    replicas_to_wait_for,
)

# ---------------------------------------------------------------- configuration


def test_all_replicas_is_accepted() -> None:
    durability = Durability(replicas="all")
    assert durability.all_replicas
    assert durability.floor == 1
    assert Durability(replicas="all", min_replicas=0).floor == 0
    assert Durability(replicas="all", min_replicas=2).floor == 2


def test_fixed_count_keeps_its_meaning() -> None:
    assert not Durability(replicas=2).all_replicas
    assert Durability(replicas=2).floor == 2
    assert Durability().floor == 0


@pytest.mark.parametrize("bad", ["ALL", "any", "1", -1, 1.5, True, None])
def test_bad_replicas_names_the_field(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Durability(replicas=bad)
    assert raised.value.field == "durability.replicas"
    assert '"all"' in str(raised.value)


@pytest.mark.parametrize("bad", [-1, True, 1.0, "1"])
def test_bad_min_replicas_names_the_field(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Durability(replicas="all", min_replicas=bad)
    assert raised.value.field == "durability.min_replicas"


def test_min_replicas_only_with_all() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Durability(replicas=1, min_replicas=1)
    assert raised.value.field == "durability.min_replicas"


# ---------------------------------------------------------------- Sentinel replies


def _replica(port: int, flags: str = "slave", *, raw: bool = False) -> dict[Any, Any]:
    fields = {"name": f"127.0.0.1:{port}", "ip": "127.0.0.1", "port": str(port), "flags": flags}
    if raw:  # as the server sends it (RESP3 map or RESP2 pairs, values as bytes)
        return {k.encode(): v.encode() for k, v in fields.items()}
    return fields


def test_healthy_replicas_drops_down_and_disconnected() -> None:
    view = [
        _replica(1),
        _replica(2, "s_down,slave"),
        _replica(3, "slave,o_down"),
        _replica(4, "slave,disconnected"),
        _replica(5, "slave,promoted"),  # being promoted: still counted (see docs)
        _replica(6, "slave,reconf_sent"),
    ]
    assert healthy_replicas(view) == {("127.0.0.1", p) for p in (1, 5, 6)}


def test_healthy_replicas_reads_bytes_and_skips_what_it_cannot_name() -> None:
    view = [_replica(1, raw=True), {b"flags": b"slave"}, {"ip": "x", "port": "?", "flags": ""}]
    assert healthy_replicas(view) == {("127.0.0.1", 1)}


@given(st.lists(st.sampled_from(["slave", "s_down", "o_down", "disconnected", "promoted"])))
def test_a_down_flag_always_excludes(flags: list[str]) -> None:
    counted = bool(healthy_replicas([_replica(1, ",".join(flags))]))
    assert counted == (not set(flags) & DOWN_FLAGS)


def test_connected_replicas() -> None:
    assert connected_replicas({"role": "master", "connected_slaves": 2}) == 2
    assert connected_replicas({"role": "master", "connected_slaves": "3"}) == 3
    assert connected_replicas({"role": "slave", "connected_slaves": 1}) == 0
    assert connected_replicas({"role": "master"}) == 0
    assert connected_replicas({"role": "master", "connected_slaves": "x"}) == 0


def test_count_is_the_largest_view_and_at_least_the_floor() -> None:
    two = [_replica(1), _replica(2)]
    one_down = [_replica(1), _replica(2, "s_down,slave")]
    # Before any Sentinel marked the dead node down, it still counts: waiting for one too
    # many fails the append (and it is retried); one too few can confirm a lost write.
    assert replicas_to_wait_for([one_down, two], 1, 1) == 2
    assert replicas_to_wait_for([one_down, one_down], 1, 1) == 1
    # The primary knows a replica the Sentinels have not discovered yet.
    assert replicas_to_wait_for([two], 3, 1) == 3
    # No Sentinel: the primary's own count.
    assert replicas_to_wait_for([], 2, 1) == 2
    # Nothing known: the floor.
    assert replicas_to_wait_for([[]], 0, 1) == 1
    assert replicas_to_wait_for([], None, 0) == 0


def test_count_during_sentinel_failover_window() -> None:
    """The F11 window: R1 promoted, the old primary P still writable with R2 attached."""
    # Every Sentinel still lists R1 and R2 under P (the leader flags R1 "promoted"), or,
    # once switched, R2 and P under R1. Either way two, while P has one replica left.
    before_switch = [_replica(1, "slave,promoted"), _replica(2)]
    after_switch = [_replica(2), _replica(0)]
    p_connected = 1
    assert replicas_to_wait_for([before_switch, after_switch], p_connected, 1) == 2


# ---------------------------------------------------------------- the cache


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cache_expires_and_invalidates() -> None:
    clock = _Clock()
    cache = ReplicaCountCache(ttl=1.0, clock=clock)
    assert cache.get() is None
    cache.put(2)
    clock.now += 0.5
    assert cache.get() == 2
    clock.now += 0.5
    assert cache.get() is None
    cache.put(1)
    cache.invalidate()
    assert cache.get() is None


def test_demotion_errors() -> None:
    unblocked = "UNBLOCKED force unblock from blocking operation, instance state changed"
    assert demoted_while_waiting(RedisError(unblocked))
    assert demoted_while_waiting(
        RedisError("WAIT cannot be used with replica instances. Please also note ...")
    )
    assert not demoted_while_waiting(RedisError("NOPERM this user has no permissions"))
    assert not demoted_while_waiting(RedisError("ERR unknown command"))


# ---------------------------------------------------------------- the producer's use of it


class _FakeSentinelClient:
    """Just what the producer asks for the count; counts the questions."""

    def __init__(self, views: list[list[dict[str, Any]]], connected: int) -> None:
        self.views = views
        self.connected = connected
        self.asked = 0
        self.refreshed = 0
        self.address = "sentinel:fake"
        self.config = type("Config", (), {"sentinel": object(), "cluster": None})()
        self.redis = type("Redis", (), {"register_script": staticmethod(lambda _s: None)})()

    async def sentinel_replicas(self) -> list[list[dict[str, Any]]]:
        self.asked += 1
        return self.views

    async def replication_info(self, key: str | None = None) -> dict[str, Any]:
        return {"role": "master", "connected_slaves": self.connected}

    async def refresh_primary(self) -> tuple[str, int]:
        self.refreshed += 1
        return ("127.0.0.1", 1)


@pytest.mark.anyio
async def test_producer_caches_the_count_and_rereads_after_a_failure() -> None:
    client = _FakeSentinelClient([[_replica(1), _replica(2)]], connected=2)
    producer = AsyncStreamProducer(
        client,  # type: ignore[arg-type]
        "s",
        codec=RawFrameCodec(),
        durability=Durability(replicas="all"),
    )
    assert await producer._wait_count() == 2
    assert await producer._wait_count() == 2
    assert client.asked == 1  # reused within the TTL
    # A failover: the dead primary is flagged down, the new one has one replica.
    client.views = [[_replica(2), _replica(0, "s_down,slave")]]
    client.connected = 1
    assert await producer._wait_count() == 2  # still cached
    await producer._after_failure()
    assert client.refreshed == 1  # the primary was re-checked
    assert await producer._wait_count() == 1
    assert client.asked == 2


@pytest.mark.anyio
async def test_producer_with_a_fixed_count_asks_nobody() -> None:
    client = _FakeSentinelClient([], connected=5)
    producer = AsyncStreamProducer(
        client,  # type: ignore[arg-type]
        "s",
        codec=RawFrameCodec(),
        durability=Durability(replicas=1),
    )
    assert await producer._wait_count() == 1
    assert client.asked == 0
