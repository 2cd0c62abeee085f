"""`SentinelTopology`: a primary, its replicas and three Sentinels on loopback ports."""

from __future__ import annotations

import os
from types import TracebackType

from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.testing._config import quote
from redis_fintech_sdk.testing._resp import as_text
from redis_fintech_sdk.testing._wait import wait_until
from redis_fintech_sdk.testing.binaries import RedisBinary, find_redis_server
from redis_fintech_sdk.testing.server import RedisServer

__all__ = ["SentinelTopology"]


class SentinelTopology:
    """A Sentinel-managed primary with replicas, tuned so that failovers take seconds.

    ``start()`` (or ``with``) returns once every Sentinel knows the primary, every replica
    and the other Sentinels, and every replica is in sync, so a ``SENTINEL FAILOVER`` or a
    killed primary is handled at once.

    Args:
        binary: the redis-server to run every process with (Sentinels use ``--sentinel``).
        service_name: the monitored service (``mymaster``).
        replicas: number of replicas.
        sentinels: number of Sentinels.
        quorum: Sentinels that must agree the primary is down.
        down_after_ms: ``down-after-milliseconds``.
        failover_timeout_ms: ``failover-timeout``.
        password: ``requirepass`` of the data nodes (Sentinels get ``auth-pass``).
        startup_timeout: seconds allowed for the whole topology to become ready.

    Attributes:
        service_name: the monitored service name.
        primary: the data node that is primary now (updated by :meth:`failover`).
        replicas: the other data nodes.
        sentinel_servers: the Sentinel processes.
    """

    def __init__(
        self,
        binary: RedisBinary | str | os.PathLike[str] | None = None,
        *,
        service_name: str = "mymaster",
        replicas: int = 1,
        sentinels: int = 3,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        password: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if binary is None:
            binary = find_redis_server()
        self.binary = binary if isinstance(binary, RedisBinary) else RedisBinary.from_path(binary)
        self.service_name = service_name
        self.password = password
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.startup_timeout = startup_timeout
        self._n_replicas = replicas
        self._n_sentinels = sentinels
        # Every data node may become a replica of any other after a failover.
        self._data_config = [f"masterauth {quote(password)}"] if password else []
        self.primary: RedisServer = RedisServer(
            self.binary, password=password, extra_config=self._data_config
        )
        self.replicas: list[RedisServer] = []
        self.sentinel_servers: list[RedisServer] = []

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``[(host, port)]`` of the Sentinels, as ``redis.sentinel.Sentinel`` takes them."""
        return [s.address for s in self.sentinel_servers]

    @property
    def data_nodes(self) -> list[RedisServer]:
        """The primary followed by the replicas."""
        return [self.primary, *self.replicas]

    def start(self) -> SentinelTopology:
        """Start primary, replicas and Sentinels and wait until all agree.

        Raises:
            RedisError: a process failed to start.
            RedisTimeoutError: the topology was not ready within ``startup_timeout``.
        """
        try:
            self.primary.start()
            for _ in range(self._n_replicas):
                replica = RedisServer(
                    self.binary,
                    password=self.password,
                    replica_of=self.primary,
                    extra_config=self._data_config,
                )
                self.replicas.append(replica)
                replica.start()
            self._wait_replication()
            name = self.service_name
            lines = [
                f"sentinel monitor {name} {self.primary.host} {self.primary.port} {self.quorum}",
                f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
                f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {name} 1",
            ]
            if self.password:
                lines.append(f"sentinel auth-pass {name} {quote(self.password)}")
            for _ in range(self._n_sentinels):
                sentinel = RedisServer(self.binary, sentinel=True, extra_config=lines)
                self.sentinel_servers.append(sentinel)
                sentinel.start()
            wait_until(self._sentinels_agree, timeout=self.startup_timeout, what="sentinels")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process (Sentinels first, so they do not react to the others)."""
        for server in [*self.sentinel_servers, *self.replicas, self.primary]:
            server.stop()

    def __enter__(self) -> SentinelTopology:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def primary_address(self, sentinel: int = 0) -> tuple[str, int]:
        """Ask one Sentinel for the current primary's ``(host, port)``."""
        reply = self.sentinel_servers[sentinel].command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name
        )
        if not isinstance(reply, list) or len(reply) != 2:
            raise RedisError(f"sentinel does not know {self.service_name!r}")
        return (as_text(reply[0]), int(as_text(reply[1])))

    def failover(self, *, timeout: float = 30.0) -> RedisServer:
        """Force a failover (``SENTINEL FAILOVER``) and wait until it is complete.

        Returns once every Sentinel reports the new primary, the new primary has the role
        ``master``, and every other data node (the old primary included, reconfigured here
        rather than after Sentinel's ~8 s grace) replicates from it. ``primary`` and
        ``replicas`` are updated.

        Returns:
            the new primary.

        Raises:
            RedisError: the failover was refused (e.g. no good replica).
            RedisTimeoutError: it did not complete within ``timeout`` seconds.
        """
        old = self.primary
        self.sentinel_servers[0].command("SENTINEL", "FAILOVER", self.service_name)

        def _switched() -> bool:
            addrs = {self.primary_address(i) for i in range(len(self.sentinel_servers))}
            return len(addrs) == 1 and old.address not in addrs

        wait_until(_switched, timeout=timeout, what="sentinels to report a new primary")
        new_addr = self.primary_address()
        new = next(s for s in self.replicas if s.address == new_addr)
        self.primary = new
        self.replicas = [s for s in self.replicas if s is not new] + [old]
        wait_until(
            lambda: new.info("replication").get("role") == "master",
            timeout=timeout,
            what="the promoted replica to become primary",
        )
        if old.running and not old.paused:
            old.command("REPLICAOF", new.host, new.port)
        self._wait_replication(timeout=timeout)
        wait_until(self._sentinels_agree, timeout=timeout, what="sentinels after failover")
        return new

    # -- readiness -------------------------------------------------------------------------

    def _wait_replication(self, timeout: float | None = None) -> None:
        primary_port = str(self.primary.port)

        def _synced() -> bool:
            for replica in self.replicas:
                if not replica.running or replica.paused:
                    continue
                info = replica.info("replication")
                if info.get("master_link_status") != "up" or info.get("master_port") != (
                    primary_port
                ):
                    return False
            return True

        wait_until(_synced, timeout=timeout or self.startup_timeout, what="replicas to be in sync")

    def _sentinels_agree(self) -> bool:
        live = [r.address for r in self.replicas if r.running and not r.paused]
        for i, sentinel in enumerate(self.sentinel_servers):
            if self.primary_address(i) != self.primary.address:
                return False
            master = _pairs(sentinel.command("SENTINEL", "MASTER", self.service_name))
            if "failover_in_progress" in master.get("flags", ""):
                return False
            if int(master.get("num-other-sentinels", "0")) < len(self.sentinel_servers) - 1:
                return False
            known = set()
            for entry in _as_list(sentinel.command("SENTINEL", "REPLICAS", self.service_name)):
                fields = _pairs(entry)
                flags = fields.get("flags", "")
                # master-link-status is left out on purpose: Sentinel refreshes a replica's
                # INFO only every 10 s, and the replicas' sync was checked on the replicas.
                if "s_down" in flags or "disconnected" in flags:
                    continue
                known.add((fields.get("ip", ""), int(fields.get("port", "0"))))
            if not set(live) <= known:
                return False
        return True


def _as_list(reply: object) -> list[object]:
    return list(reply) if isinstance(reply, list) else []


def _pairs(reply: object) -> dict[str, str]:
    items = _as_list(reply)
    return {
        as_text(items[i]): as_text(items[i + 1])  # type: ignore[arg-type]
        for i in range(0, len(items) - 1, 2)
    }
