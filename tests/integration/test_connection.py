"""Connection layer against real redis-server processes (standalone, ACL, TLS)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
import redis.exceptions

from redis_fintech_sdk.connection import AsyncClient, Client, Requirement
from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    ConnectionFailedError,
    PreflightError,
)
from redis_fintech_sdk.settings import (
    ConnectionConfig,
    Credentials,
    PoolLimits,
    Secret,
    Timeouts,
    TLSConfig,
)
from redis_fintech_sdk.testing import RedisServer

pytestmark = pytest.mark.anyio


async def test_async_health_report(redis_server: RedisServer) -> None:
    async with AsyncClient.from_url(redis_server.url) as client:
        report = await client.health()
    assert report.reachable
    assert report.role == "master"
    assert report.version_tuple[:2] == redis_server.version[:2]
    assert report.latency_ms is not None
    assert report.latency_ms > 0
    assert report.used_memory is not None
    assert report.used_memory > 0
    assert report.connected_clients is not None
    assert report.connected_clients >= 1


def test_sync_client_round_trip(redis_server: RedisServer) -> None:
    with Client(host=redis_server.host, port=redis_server.port) as client:
        client.execute("SET", "conn:sync", "1")
        assert client.execute("GET", "conn:sync") == b"1"
        report = client.health()
        assert report.reachable
        pubsub = client.pubsub()
        try:
            pubsub.subscribe("conn.sync.test")
            confirm = pubsub.get_message(timeout=2.0)
            assert confirm is not None
            assert confirm["type"] == "subscribe"
            assert client.redis.publish("conn.sync.test", b"hi") == 1
            msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
            assert msg is not None
            assert msg["data"] == b"hi"
        finally:
            pubsub.close()


async def test_refused_connection_names_address_without_secret() -> None:
    url = "redis://svc:s3cr3t-pw@127.0.0.1:1/0"
    async with AsyncClient.from_url(url) as client:
        with pytest.raises(ConnectionFailedError) as excinfo:
            await client.ping()
        report = await client.health()
    assert "127.0.0.1:1" in str(excinfo.value)
    assert "s3cr3t-pw" not in str(excinfo.value)
    assert not report.reachable
    assert report.error is not None
    assert "s3cr3t-pw" not in report.error


async def test_blocking_read_of_10s_is_not_cut_by_socket_timeout(redis_server: RedisServer) -> None:
    # A 1 s command timeout would cut a plain redis-py XREAD BLOCK 10000 (redis-py#4098).
    config = ConnectionConfig(
        host=redis_server.host,
        port=redis_server.port,
        timeouts=Timeouts(command=1.0, max_block=12.0),
    )
    async with AsyncClient(config) as client:
        config.timeouts.check_block(10.0)
        start = time.monotonic()
        reply = await client.blocking.xread({"conn:never-written": "$"}, block=10_000)
        elapsed = time.monotonic() - start
        assert reply in ([], {}, None)
        assert elapsed >= 9.5
        # The ordinary pool still times out fast: the 1 s limit is real.
        with pytest.raises(redis.exceptions.TimeoutError):
            await client.redis.xread({"conn:never-written": "$"}, block=3_000)


async def test_pubsub_connection_waits_past_command_timeout(redis_server: RedisServer) -> None:
    config = ConnectionConfig(
        host=redis_server.host, port=redis_server.port, timeouts=Timeouts(command=0.5)
    )
    async with AsyncClient(config) as client:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe("conn.quiet")
            await pubsub.get_message(timeout=1.0)
            got: list[Any] = []

            async def publish_later() -> None:
                await anyio.sleep(2.0)
                await client.redis.publish("conn.quiet", b"late")

            async with anyio.create_task_group() as tg:
                tg.start_soon(publish_later)
                # Waits 2 s with no traffic: four command timeouts long.
                got.append(await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0))
            assert got[0] is not None
            assert got[0]["data"] == b"late"
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------ ACL


def _acl(server: Any, user: str, password: str | None = None) -> ConnectionConfig:
    return ConnectionConfig(
        host=server.host,
        port=server.port,
        credentials=Credentials(username=user, password=Secret(password or server.users[user])),
    )


async def test_wrong_acl_password_is_an_authentication_error(redis_acl_server: Any) -> None:
    async with AsyncClient(_acl(redis_acl_server, "reader", "not-the-password")) as client:
        with pytest.raises(AuthenticationError) as excinfo:
            await client.ping()
    assert "not-the-password" not in str(excinfo.value)


async def test_restricted_user_gets_authorization_error(redis_acl_server: Any) -> None:
    async with AsyncClient(_acl(redis_acl_server, "reader")) as client:
        await client.ping()
        with pytest.raises(AuthorizationError):
            await client.execute("SET", "orders:1", "x")


async def test_preflight_with_dryrun_names_missing_permission(redis_acl_server: Any) -> None:
    reqs = [
        Requirement.subscribe("market.price.AAPL"),
        Requirement.read_key("md:AAPL"),
        Requirement.publish("orders.new"),
        Requirement.write_key("orders:1"),
    ]
    async with (
        AsyncClient(_acl(redis_acl_server, "reader")) as reader,
        AsyncClient(_acl(redis_acl_server, "admin")) as admin,
    ):
        with pytest.raises(PreflightError) as excinfo:
            await reader.preflight(reqs, admin=admin)
        report = await reader.preflight(reqs, admin=admin, raise_on_missing=False)
    text = str(excinfo.value)
    assert "PUBLISH on channel orders.new" in text
    assert "write access to key orders:1" in text
    assert "market.price.AAPL" not in text
    assert report.method == "dryrun"
    assert report.user == "reader"
    assert {r.target for r in report.granted} == {"market.price.AAPL", "md:AAPL"}
    assert {r.target for r, _ in report.missing} == {"orders.new", "orders:1"}


async def test_preflight_by_probe_without_dryrun_rights(redis_acl_server: Any) -> None:
    reqs = [
        Requirement.subscribe("market.price.AAPL"),
        Requirement.subscribe("orders.new"),
        Requirement.psubscribe("market.*"),
        Requirement.publish("market.price.AAPL"),
    ]
    async with AsyncClient(_acl(redis_acl_server, "reader")) as reader:
        report = await reader.preflight(reqs, raise_on_missing=False)
    assert report.method == "probe"
    assert [r.target for r, _ in report.missing] == ["orders.new"]
    assert {r.target for r in report.granted} == {"market.price.AAPL", "market.*"}
    assert [r.action for r in report.unverified] == ["publish"]


async def test_rotated_password_is_picked_up_by_live_client(redis_acl_server: Any) -> None:
    secret = {"password": "rotating-1"}
    admin_cfg = _acl(redis_acl_server, "admin")
    async with AsyncClient(admin_cfg) as admin:
        await admin.execute(
            "ACL", "SETUSER", "rotor", "on", "resetpass", ">rotating-1", "+@all", "~*"
        )
        config = ConnectionConfig(
            host=redis_acl_server.host,
            port=redis_acl_server.port,
            credentials=Credentials(source=lambda: ("rotor", secret["password"])),
        )
        async with AsyncClient(config) as client:
            await client.execute("SET", "rotor:k", "1")
            # Rotate: the secret store changes first, then the server, then old sessions die.
            secret["password"] = "rotating-2"
            await admin.execute("ACL", "SETUSER", "rotor", "resetpass", ">rotating-2")
            killed = await admin.execute("CLIENT", "KILL", "USER", "rotor")
            assert killed >= 1
            # The same live client reconnects with the new password (retry on the dead socket).
            assert await client.execute("GET", "rotor:k") == b"1"
            assert await client.whoami() == "rotor"


# ------------------------------------------------------------------ TLS


def _tls_config(server: Any, *, client_cert: bool) -> ConnectionConfig:
    tls = server.tls
    return ConnectionConfig(
        host="localhost",
        port=server.port,
        tls=TLSConfig(
            enabled=True,
            ca_file=str(tls.ca_file),
            cert_file=str(tls.client_cert_file) if client_cert else None,
            key_file=str(tls.client_key_file) if client_cert else None,
            min_version="TLSv1.2",
        ),
    )


async def test_mtls_with_client_certificate_works(redis_tls_server: Any) -> None:
    async with AsyncClient(_tls_config(redis_tls_server, client_cert=True)) as client:
        assert await client.ping() > 0
        await client.execute("SET", "tls:k", "v")
        assert await client.execute("GET", "tls:k") == b"v"


async def test_tls_without_client_certificate_is_refused(redis_tls_server: Any) -> None:
    async with AsyncClient(_tls_config(redis_tls_server, client_cert=False)) as client:
        with pytest.raises(ConnectionFailedError) as excinfo:
            await client.ping()
    assert f":{redis_tls_server.port}" in str(excinfo.value)


async def test_tls_with_wrong_ca_is_refused(redis_tls_server: Any) -> None:
    tls = redis_tls_server.tls
    config = ConnectionConfig(
        host="localhost",
        port=redis_tls_server.port,
        tls=TLSConfig(
            ca_file=str(tls.other_ca_file),
            cert_file=str(tls.client_cert_file),
            key_file=str(tls.client_key_file),
        ),
    )
    async with AsyncClient(config) as client:
        with pytest.raises(ConnectionFailedError):
            await client.ping()


def test_sync_mtls(redis_tls_server: Any) -> None:
    with Client(_tls_config(redis_tls_server, client_cert=True)) as client:
        assert client.health().reachable


async def test_durability_warnings(
    redis_server: RedisServer, redis_aof_server: RedisServer, redis_acl_server: Any
) -> None:
    async with AsyncClient.from_url(redis_server.url) as plain:
        warnings = await plain.durability_warnings()
    assert len(warnings) == 1
    assert "appendonly is off" in warnings[0]
    async with AsyncClient.from_url(redis_aof_server.url) as durable:
        assert await durable.durability_warnings() == []
    async with AsyncClient(_acl(redis_acl_server, "reader")) as reader:
        assert await reader.durability_warnings() == [
            "durability settings unknown: this user may not run CONFIG GET"
        ]


def test_unix_socket_url(redis_binary: Any, tmp_path: Any) -> None:
    sock = tmp_path / "redis.sock"
    with RedisServer(redis_binary, extra_config=[f"unixsocket {sock}", "unixsocketperm 700"]):
        with Client.from_url(f"unix://{sock}?db=2") as client:
            client.execute("SET", "unix:k", "v")
            assert client.execute("GET", "unix:k") == b"v"
            report = client.health()
        assert report.reachable
        assert report.address == str(sock)


async def test_subscribers_are_not_capped_by_the_command_pool(redis_server: RedisServer) -> None:
    config = ConnectionConfig(
        host=redis_server.host, port=redis_server.port, pool=PoolLimits(max_connections=2)
    )
    async with AsyncClient(config) as client:
        subs = [client.pubsub() for _ in range(5)]
        try:
            for i, sub in enumerate(subs):
                await sub.subscribe(f"conn.many.{i}")
                confirm = await sub.get_message(timeout=2.0)
                assert confirm is not None
            assert await client.redis.publish("conn.many.4", b"x") == 1
        finally:
            for sub in subs:
                await sub.aclose()  # type: ignore[no-untyped-call]
