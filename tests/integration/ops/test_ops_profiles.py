"""Every rendered profile boots a real redis-server; `doctor` finds no error on it.

A deliberately weak server gets exactly the findings it deserves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_fintech_sdk.connection import Client
from redis_fintech_sdk.ops import (
    AclUser,
    DoctorReport,
    SentinelConfOptions,
    Severity,
    profile_options,
    render_acl_file,
    render_redis_conf,
    render_sentinel_conf,
    run_doctor,
)
from redis_fintech_sdk.testing import RedisBinary, RedisServer

PASSWORDS = {
    u: f"{u}-pw-0123456789abcdef"
    for u in ("admin", "app", "monitor", "healthcheck", "replica", "sentinel")
}
# Findings a healthy rendered server may still show on this machine: the kernel of a CI
# box is not tuned, and the tests run without TLS.
TOLERATED = {"tls.off"}


def _users(*names: str) -> list[AclUser]:
    return [AclUser(n, PASSWORDS[n]) for n in names]


def _doctor(port: int, user: str | None, password: str) -> DoctorReport:
    from urllib.parse import quote

    url = f"redis://{quote(user or '')}:{quote(password)}@127.0.0.1:{port}"
    with Client.from_url(url) as c:
        return run_doctor(c)


def _assert_clean(report: DoctorReport) -> None:
    errors = [f.as_dict() for f in report.findings if f.severity is Severity.ERROR]
    assert not errors, errors
    warnings = report.codes(Severity.WARNING) - TOLERATED
    assert {c for c in warnings if not c.startswith("kernel.")} == set(), report.as_dict()


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_dev_profile_boots_and_is_clean(
    redis_binary: RedisBinary, tmp_path: Path, boot_rendered: Any, port_factory: Any
) -> None:
    port = port_factory()
    password = "dev-password-0123456789"
    conf = profile_options(
        "dev", bind=("127.0.0.1",), port=port, dir=str(tmp_path), requirepass=password
    )
    with boot_rendered(
        redis_binary, tmp_path, render_redis_conf(conf), port=port, auth=(None, password)
    ):
        report = _doctor(port, None, password)
    _assert_clean(report)
    # The dev profile trades some strictness for convenience, and says so.
    assert "clients.no_idle_timeout" in report.codes(Severity.INFO)


def test_production_profile_boots_and_is_clean(
    redis_binary: RedisBinary, tmp_path: Path, boot_rendered: Any, port_factory: Any
) -> None:
    port = port_factory()
    acl = tmp_path / "users.acl"
    acl.write_text(render_acl_file(_users("admin", "app", "monitor", "healthcheck")))
    conf = profile_options(
        "production", bind=("127.0.0.1",), port=port, dir=str(tmp_path), aclfile=str(acl)
    )
    with boot_rendered(
        redis_binary,
        tmp_path,
        render_redis_conf(conf),
        port=port,
        auth=("healthcheck", PASSWORDS["healthcheck"]),
    ):
        # The doctor runs with the least-privileged `monitor` role.
        report = _doctor(port, "monitor", PASSWORDS["monitor"])
        # The default user is off and the app user cannot reconfigure the server.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        with redis.Redis(port=port, username="app", password=PASSWORDS["app"]) as app:
            app.xadd("orders", {"f": "v"})
            with pytest.raises(redis.exceptions.NoPermissionError):
                app.config_set("appendonly", "no")
        assert list(tmp_path.glob("appendonlydir/*"))  # AOF is really on
    _assert_clean(report)


def test_sentinel_profile_boots_with_three_sentinels(
    redis_binary: RedisBinary, tmp_path: Path, boot_rendered: Any, port_factory: Any
) -> None:
    acl_text = render_acl_file(
        _users("admin", "app", "monitor", "healthcheck", "replica", "sentinel")
    )
    hc = ("healthcheck", PASSWORDS["healthcheck"])
    with ExitStack() as stack:
        ports = [port_factory() for _ in range(5)]
        nodes = []
        for i, role in enumerate(("primary", "replica")):
            d = tmp_path / role
            d.mkdir()
            (d / "users.acl").write_text(acl_text)
            conf = profile_options(
                "sentinel",
                bind=("127.0.0.1",),
                port=ports[i],
                dir=str(d),
                aclfile=str(d / "users.acl"),
                replicaof=("127.0.0.1", ports[0]) if role == "replica" else None,
                masteruser="replica",
                masterauth=PASSWORDS["replica"],
            )
            nodes.append(
                stack.enter_context(
                    boot_rendered(redis_binary, d, render_redis_conf(conf), port=ports[i], auth=hc)
                )
            )
        for i in range(3):
            d = tmp_path / f"sentinel{i}"
            conf_text = render_sentinel_conf(
                SentinelConfOptions(
                    primary=("127.0.0.1", ports[0]),
                    port=ports[2 + i],
                    bind=("127.0.0.1",),
                    dir=str(d),
                    down_after_ms=2000,
                    auth_user="sentinel",
                    auth_pass=PASSWORDS["sentinel"],
                )
            )
            stack.enter_context(
                boot_rendered(
                    redis_binary,
                    d,
                    conf_text,
                    port=ports[2 + i],
                    filename="sentinel.conf",
                    sentinel=True,
                )
            )

        def replica_synced() -> bool:
            with redis.Redis(port=ports[1], username=hc[0], password=hc[1]) as r:
                info = r.execute_command("PING")
            with redis.Redis(port=ports[1], username="admin", password=PASSWORDS["admin"]) as r:
                return bool(info) and r.info("replication").get("master_link_status") == "up"

        _wait(replica_synced, "the replica to sync")
        sentinel_port = ports[2]

        def quorum_ok() -> bool:
            with redis.Redis(port=sentinel_port) as s:
                try:
                    return (
                        str(s.execute_command("SENTINEL", "CKQUORUM", "mymaster")).find("OK") >= 0
                    )
                except redis.ResponseError:
                    return False

        _wait(quorum_ok, "the Sentinels to find each other")
        with redis.Redis(port=sentinel_port) as s:
            addr = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        assert int(addr[1]) == ports[0]
        primary = _doctor(ports[0], "monitor", PASSWORDS["monitor"])
        replica = _doctor(ports[1], "monitor", PASSWORDS["monitor"])
        with Client.from_url(f"redis://127.0.0.1:{sentinel_port}") as c:
            sentinel = run_doctor(c)
    for report in (primary, replica):
        _assert_clean(report)
    assert not sentinel.codes(Severity.ERROR), sentinel.as_dict()
    assert replica.version == primary.version


def test_cluster_profile_boots_and_serves_all_slots(
    redis_binary: RedisBinary, tmp_path: Path, boot_rendered: Any, port_factory: Any
) -> None:
    acl_text = render_acl_file(_users("admin", "app", "monitor", "healthcheck", "replica"))
    admin = ("admin", PASSWORDS["admin"])
    with ExitStack() as stack:
        ports = [port_factory() for _ in range(3)]
        for i, port in enumerate(ports):
            d = tmp_path / f"node{i}"
            d.mkdir()
            (d / "users.acl").write_text(acl_text)
            conf = profile_options(
                "cluster",
                bind=("127.0.0.1",),
                port=port,
                dir=str(d),
                aclfile=str(d / "users.acl"),
                masteruser="replica",
                masterauth=PASSWORDS["replica"],
                cluster_node_timeout_ms=2000,
            )
            stack.enter_context(
                boot_rendered(redis_binary, d, render_redis_conf(conf), port=port, auth=admin)
            )
        clients = [
            stack.enter_context(redis.Redis(port=p, username=admin[0], password=admin[1]))
            for p in ports
        ]
        bounds = [(0, 5460), (5461, 10922), (10923, 16383)]
        for client, (low, high) in zip(clients, bounds, strict=True):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        for port in ports[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)

        def all_ok() -> bool:
            return all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients)

        _wait(all_ok, "cluster_state:ok")
        reports = [_doctor(p, "monitor", PASSWORDS["monitor"]) for p in ports]
    for report in reports:
        _assert_clean(report)


def test_weak_server_gets_the_matching_findings(redis_binary: RedisBinary) -> None:
    # Loopback only, but everything else is wrong: no auth, protected-mode off, no
    # persistence (the launcher's defaults), no maxmemory, unbounded Pub/Sub buffers.
    weak = [
        "protected-mode no",
        "maxmemory 0",
        "client-output-buffer-limit pubsub 0 0 0",
        "tcp-keepalive 0",
        "slowlog-log-slower-than -1",
    ]
    with RedisServer(redis_binary, extra_config=weak) as server, Client.from_url(server.url) as c:
        report = run_doctor(c)
    assert {"auth.none", "protected_mode.off", "persistence.none", "memory.no_limit"} <= (
        report.codes(Severity.ERROR)
    )
    assert {
        "clients.pubsub_buffer_unbounded",
        "clients.no_keepalive",
        "slowlog.disabled",
        "tls.off",
    } <= report.codes(Severity.WARNING)
    assert report.exit_code() == 1
    for finding in report.findings:
        assert finding.fix, finding
