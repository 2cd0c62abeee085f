"""The fault proxy against a real redis-server: each fault does what it says."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.faults import FaultProxy, command_name, frame_end


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[FaultProxy]:
    with FaultProxy(redis_server.address, seed=1) as p:
        yield p


def _client(proxy: FaultProxy, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis(
        host=proxy.host,
        port=proxy.port,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )


def test_frame_parser_units() -> None:
    cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert frame_end(cmd) == len(cmd)
    assert frame_end(cmd[:-1]) is None
    assert command_name(cmd) == b"SET"
    assert command_name(b"ping\r\n") == b"PING"
    nested = b"*2\r\n*1\r\n:1\r\n$-1\r\n+OK\r\n"
    assert frame_end(nested) == len(nested) - 5
    assert frame_end(b"%1\r\n+a\r\n:1\r\n") == 12


def test_passthrough_counts_commands(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        r.set("fp:k", "v")
        assert r.get("fp:k") == b"v"
    finally:
        r.close()
    stats = proxy.statistics()
    assert stats.commands.get("SET", 0) == 1
    assert stats.commands.get("GET", 0) == 1
    assert stats.bytes_up > 0
    assert stats.bytes_down > 0


def test_latency_is_added(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        r.ping()
        proxy.set_latency(200, jitter_ms=50)
        start = time.monotonic()
        r.ping()
        elapsed = time.monotonic() - start
    finally:
        r.close()
    assert 0.14 <= elapsed < 1.5


def test_cut_after_nth_command_is_a_commit_gap(
    proxy: FaultProxy, redis_server: RedisServer
) -> None:
    r = _client(proxy)
    direct = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        direct.delete("fp:stream")
        proxy.cut_after("XADD", nth=2)
        r.xadd("fp:stream", {"n": "1"})
        with pytest.raises(redis.ConnectionError):
            r.xadd("fp:stream", {"n": "2"})
        assert proxy.cut_fired
        # The server applied the second XADD although the client saw a failure.
        assert direct.xlen("fp:stream") == 2
        assert proxy.statistics().cuts == 1
        # Fires once: the next connection works.
        assert r.xadd("fp:stream", {"n": "3"})
        assert direct.xlen("fp:stream") == 3
    finally:
        r.close()
        direct.close()


def test_cut_inside_a_pipeline_delivers_earlier_replies(
    proxy: FaultProxy, redis_server: RedisServer
) -> None:
    r = _client(proxy)
    direct = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        direct.delete("fp:pipe")
        proxy.cut_after("INCRBY", nth=3)  # redis-py sends INCR as INCRBY
        pipe = r.pipeline(transaction=False)
        for _ in range(5):
            pipe.incr("fp:pipe")
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
        assert direct.get("fp:pipe") == b"5"  # all five reached the server
    finally:
        r.close()
        direct.close()


def test_delay_replies_to_one_command(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        proxy.delay_replies("GET", 0.3)
        start = time.monotonic()
        r.set("fp:d", "1")
        fast = time.monotonic() - start
        start = time.monotonic()
        assert r.get("fp:d") == b"1"
        slow = time.monotonic() - start
    finally:
        r.close()
    assert fast < 0.25
    assert slow >= 0.28


def test_blackhole_is_silent_then_clears(proxy: FaultProxy) -> None:
    r = _client(proxy, timeout=0.5)
    try:
        r.ping()
        proxy.blackhole()
        with pytest.raises(redis.TimeoutError):
            r.ping()
        assert proxy.statistics().dropped_bytes > 0
        proxy.blackhole(False)
    finally:
        r.close()
    r2 = _client(proxy)
    try:
        assert r2.ping()
    finally:
        r2.close()


def test_reset_peers_and_down_up(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        r.ping()
        before = proxy.statistics()
        proxy.reset_peers()
        # redis-py notices the dead socket at checkout and dials again: a new connection.
        assert r.ping()
        after = proxy.statistics()
        assert after.resets == before.resets + 1
        assert after.connections == before.connections + 1
        proxy.down()
        with pytest.raises(redis.ConnectionError):
            r.ping()
        proxy.up()
        assert r.ping()
    finally:
        r.close()
    assert proxy.statistics().resets >= 1


def test_slicer_and_limit_data(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        proxy.set_slicer(3, direction="both")
        r.set("fp:big", "x" * 2000)
        assert r.get("fp:big") == b"x" * 2000
        proxy.set_slicer(0, direction="both")
        proxy.limit_data(1000, direction="down")
        with pytest.raises(redis.ConnectionError):
            r.get("fp:big")
    finally:
        r.close()


def test_stop_closes_listener(redis_server: RedisServer) -> None:
    p = FaultProxy(redis_server.address).start()
    port = p.port
    p.stop()
    with socket.socket() as s:
        s.settimeout(1)
        with pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))


def test_latency_does_not_add_up_across_a_pipelined_burst(proxy: FaultProxy) -> None:
    r = _client(proxy)
    try:
        r.ping()
        proxy.set_latency(100)
        pipe = r.pipeline(transaction=False)
        for _ in range(20):
            pipe.ping()
        start = time.monotonic()
        assert pipe.execute() == [True] * 20
        elapsed = time.monotonic() - start
    finally:
        r.close()
    assert 0.09 <= elapsed < 1.0  # one latency for the burst, not 20 x 100 ms


def test_restart_after_stop(redis_server: RedisServer) -> None:
    p = FaultProxy(redis_server.address)
    p.start()
    p.stop()
    p.start()
    try:
        r = _client(p)
        try:
            assert r.ping()
        finally:
            r.close()
    finally:
        p.stop()
