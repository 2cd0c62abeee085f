"""Test helpers for services built on redis_fintech_sdk.

Run real, private ``redis-server`` processes from your tests, in the topologies the SDK
supports, and throw them away afterwards::

    from redis_fintech_sdk.testing import RedisServer

    with RedisServer(password="s3cret", appendonly=True) as server:
        client = server.client()
        ...

* :class:`RedisServer` - one server on a free loopback port (password, ACL users, TLS, AOF,
  replication, cluster mode, Sentinel mode), with ``kill()``, ``pause()``, ``restart()``.
* :class:`SentinelTopology` - a primary, a replica and three Sentinels.
* :class:`ClusterTopology` - three primaries and three replicas.
* :class:`FaultProxy` - a loopback TCP proxy that injects latency, fragmentation, blackholes,
  resets and RESP-aware "commit gap" cuts between a client and a server.
* :class:`History` / :func:`check` - record what a fault test attempted, saw acknowledged
  and received, then compute lost, duplicated, phantom and gap counts (:class:`Verdict`).
* :class:`TLSMaterial` - a throw-away CA with server and client certificates (``trustme``).
* :func:`available_redis_servers` / :func:`find_redis_server` - which binaries exist.

The pytest plugin (``redis_fintech_sdk.testing.pytest_plugin``, loaded automatically when
the package is installed) adds the ``redis_server_factory`` and ``embedded_redis`` fixtures.
Importing this package does not import pytest.
"""

from redis_fintech_sdk.testing._config import AppendFsync, TLSAuthClients
from redis_fintech_sdk.testing._process import kill_all_servers, live_server_pids
from redis_fintech_sdk.testing.binaries import (
    RedisBinary,
    available_redis_servers,
    find_redis_cli,
    find_redis_server,
)
from redis_fintech_sdk.testing.checker import Fault, Gap, History, Verdict, check
from redis_fintech_sdk.testing.cluster import ClusterNode, ClusterTopology
from redis_fintech_sdk.testing.faults import FaultProxy, FaultProxyStatistics
from redis_fintech_sdk.testing.sentinel import SentinelTopology
from redis_fintech_sdk.testing.server import RedisServer
from redis_fintech_sdk.testing.tls import TLSMaterial

__all__ = [
    "AppendFsync",
    "ClusterNode",
    "ClusterTopology",
    "Fault",
    "FaultProxy",
    "FaultProxyStatistics",
    "Gap",
    "History",
    "RedisBinary",
    "RedisServer",
    "SentinelTopology",
    "TLSAuthClients",
    "TLSMaterial",
    "Verdict",
    "available_redis_servers",
    "check",
    "find_redis_cli",
    "find_redis_server",
    "kill_all_servers",
    "live_server_pids",
]
