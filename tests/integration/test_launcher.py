"""The embedded redis-server launcher and its topologies, against every available binary."""

from __future__ import annotations

import os
import socket
import ssl
import time
from pathlib import Path

import pytest
import redis
import redis.sentinel
from redis.cluster import RedisCluster

from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.testing import (
    ClusterTopology,
    RedisBinary,
    RedisServer,
    SentinelTopology,
    TLSMaterial,
    live_server_pids,
)
from redis_fintech_sdk.testing.pytest_plugin import RedisServerFactory


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _raw_ping(host: str, port: int, *, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


def test_start_stop_leaves_no_process(redis_binary: RedisBinary) -> None:
    server = RedisServer(redis_binary, password="launcher-secret-1")
    server.start()
    pid, directory, port = server.pid, server.dir, server.port
    assert pid is not None
    assert _alive(pid)
    assert pid in live_server_pids()
    assert server.url == f"redis://127.0.0.1:{port}"
    assert "launcher-secret-1" not in server.url + repr(server)
    assert server.version == redis_binary.version
    with server.client() as client:
        assert client.ping() is True
        assert client.info("server")["redis_version"] == redis_binary.version_string
    server.stop()
    assert not _alive(pid)
    assert pid not in live_server_pids()
    assert not directory.exists()
    assert server.pid is None
    server.stop()  # idempotent


def test_context_manager_and_factory_fixture(
    redis_binary: RedisBinary, redis_server_factory: RedisServerFactory
) -> None:
    with RedisServer(redis_binary) as server:
        pid = server.pid
        assert pid is not None
        assert _alive(pid)
        assert _raw_ping(server.host, server.port, timeout=2) == b"+PONG\r\n"
    assert not _alive(pid)
    made = redis_server_factory(redis_binary, acl_users=["app on >app-pw ~app:* +@all"])
    assert made.users == {"app": "app-pw"}
    assert made.auth == ("app", "app-pw")
    with made.client() as client:
        assert client.set("app:1", "x") is True


def test_fixed_port_in_use_is_a_clear_error(redis_binary: RedisBinary) -> None:
    before = live_server_pids()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server = RedisServer(redis_binary, port=port, startup_timeout=5)
        with pytest.raises(RedisError, match="in use"):
            server.start()
        server.stop()
    assert live_server_pids() == before


def test_startup_failure_shows_log_tail_without_password(redis_binary: RedisBinary) -> None:
    secret = "never-print-me-42"
    # A broken directive that echoes the password back in redis's FATAL CONFIG error.
    server = RedisServer(
        redis_binary, password=secret, extra_config=[f"requirepass {secret} extra-argument"]
    )
    with pytest.raises(RedisError) as excinfo:
        server.start()
    text = str(excinfo.value)
    assert "exited during startup" in text
    assert "requirepass" in text  # the log tail is there ...
    assert secret not in text  # ... scrubbed
    server.stop()


def test_tls_without_redis_tls_support_is_refused_early(redis_binary: RedisBinary) -> None:
    if redis_binary.supports_tls:
        pytest.skip("this binary supports TLS")
    with TLSMaterial() as material, pytest.raises(ConfigurationError, match="TLS"):
        RedisServer(redis_binary, tls=material)


def test_kill_and_restart_with_aof_keeps_acknowledged_writes(
    redis_aof_server: RedisServer,
) -> None:
    server = redis_aof_server
    port, directory = server.port, server.dir
    with server.client() as client:
        for i in range(200):
            client.set(f"launcher:aof:{i}", i)  # each reply = fsynced (appendfsync always)
    old_pid = server.pid
    assert old_pid is not None
    server.kill()
    assert not server.running
    assert not _alive(old_pid)
    server.restart()
    assert (server.port, server.dir) == (port, directory)
    assert server.pid != old_pid
    with server.client() as client:
        values = client.mget([f"launcher:aof:{i}" for i in range(200)])
    assert values == [str(i).encode() for i in range(200)]


def test_pause_and_resume(redis_server: RedisServer) -> None:
    with socket.create_connection((redis_server.host, redis_server.port), timeout=0.5) as sock:
        redis_server.pause()
        try:
            assert redis_server.paused
            sock.sendall(b"PING\r\n")
            with pytest.raises(socket.timeout):
                sock.recv(64)
        finally:
            redis_server.resume()
        sock.settimeout(5)
        assert sock.recv(64) == b"+PONG\r\n"  # the reply held back while stopped
    assert not redis_server.paused


def test_tls_server_requires_client_certificate(redis_tls_server: RedisServer) -> None:
    tls = redis_tls_server.tls
    assert tls is not None
    host, port = redis_tls_server.address
    assert redis_tls_server.url.startswith("rediss://")

    def _ping(ctx: ssl.SSLContext) -> bytes:
        with (
            socket.create_connection((host, port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as conn,
        ):
            conn.sendall(b"PING\r\n")
            return conn.recv(64)

    # Without a certificate the server aborts the handshake (TLS 1.3: on the first read).
    def _ping_without_certificate() -> None:
        if not _ping(tls.client_ssl_context(client_cert=False)):
            raise ConnectionError("closed by the server")

    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _ping_without_certificate()
    # Trusting the wrong CA fails on our side.
    with pytest.raises(ssl.SSLCertVerificationError):
        _ping(tls.client_ssl_context(trust_other_ca=True))
    assert _ping(tls.client_ssl_context()) == b"+PONG\r\n"
    with redis_tls_server.client() as client:
        assert client.ping() is True


def test_sentinel_failover_changes_the_primary(redis_sentinel: SentinelTopology) -> None:
    topo = redis_sentinel
    assert topo.service_name == "mymaster"
    assert len(topo.sentinels) == 3
    assert len(topo.replicas) == 1
    old = topo.primary_address()
    sentinel = redis.sentinel.Sentinel(topo.sentinels, socket_timeout=2)  # type: ignore[no-untyped-call]
    try:
        assert sentinel.discover_master("mymaster") == old  # type: ignore[no-untyped-call]
        started = time.monotonic()
        new_primary = topo.failover()
        assert time.monotonic() - started < 20
        assert new_primary.address != old
        assert topo.primary is new_primary
        discovered = sentinel.discover_master("mymaster")  # type: ignore[no-untyped-call]
        assert discovered == new_primary.address
        with new_primary.client() as client:
            assert client.set("launcher:sentinel", "after-failover") is True
            assert client.wait(1, 5000) == 1  # the old primary now replicates from it
    finally:
        for conn in sentinel.sentinels:
            conn.close()


def test_cluster_covers_all_slots(redis_cluster: ClusterTopology) -> None:
    nodes = redis_cluster.cluster_nodes()
    assert len(nodes) == 6
    primaries = [n for n in nodes if n.role == "master"]
    assert len(primaries) == 3
    covered = sorted(slot for n in primaries for first, last in n.slots for slot in (first, last))
    assert sum(last - first + 1 for n in primaries for first, last in n.slots) == 16384
    assert covered[0] == 0
    assert covered[-1] == 16383
    assert all(n.primary_id in {p.node_id for p in primaries} for n in nodes if n.role == "slave")
    host, port = redis_cluster.startup_nodes[0]
    client = RedisCluster(host=host, port=port, socket_timeout=5)
    try:
        for i in range(50):  # keys spread over every shard
            client.set(f"launcher:cluster:{i}", i)
        assert client.get("launcher:cluster:49") == b"49"
    finally:
        client.close()


def test_every_binary_reports_capabilities(redis_binary: RedisBinary) -> None:
    assert redis_binary.path.is_file()
    assert os.access(redis_binary.path, os.X_OK)
    assert redis_binary.version >= (7, 0, 0)
    assert isinstance(redis_binary.supports_tls, bool)
    assert redis_binary.supports_tls is redis_binary.supports_tls  # cached, no re-probe


def test_embedded_redis_plugin_fixture(embedded_redis: RedisServer) -> None:
    assert embedded_redis.running
    assert embedded_redis.host == "127.0.0.1"
    with embedded_redis.client() as client:
        assert client.incr("launcher:embedded") >= 1
