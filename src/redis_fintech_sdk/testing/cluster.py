"""`ClusterTopology`: a Redis Cluster of primaries and replicas on loopback ports."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.testing._config import quote
from redis_fintech_sdk.testing._process import tail
from redis_fintech_sdk.testing._resp import as_text
from redis_fintech_sdk.testing._wait import wait_until
from redis_fintech_sdk.testing.binaries import RedisBinary, find_redis_cli, find_redis_server
from redis_fintech_sdk.testing.server import RedisServer

__all__ = ["ClusterNode", "ClusterTopology"]

_SLOTS = 16384


@dataclass(frozen=True)
class ClusterNode:
    """One line of ``CLUSTER NODES``.

    Attributes:
        node_id: the 40-character node id.
        host: announced IP.
        port: client port.
        role: ``"master"`` or ``"slave"``.
        primary_id: for a replica, the node id of its primary; else ``None``.
        slots: slot ranges served, as ``(first, last)`` inclusive pairs.
        flags: the raw flags (``myself``, ``fail?``, ``fail`` ...).
    """

    node_id: str
    host: str
    port: int
    role: str
    primary_id: str | None
    slots: tuple[tuple[int, int], ...]
    flags: frozenset[str]


class ClusterTopology:
    """A Redis Cluster (3 primaries + 3 replicas by default) made by ``redis-cli --cluster``.

    ``start()`` (or ``with``) returns once every node reports ``cluster_state:ok``, knows
    every other node and sees all 16384 slots assigned, and every replica is in sync.

    Args:
        binary: the redis-server to run every node with.
        primaries: number of primaries (at least 3, as ``redis-cli`` requires).
        replicas_per_primary: replicas of each primary.
        node_timeout_ms: ``cluster-node-timeout`` (short, so failovers happen in seconds).
        password: ``requirepass`` (and ``masterauth``) of every node.
        redis_cli: the ``redis-cli`` to create the cluster with (default:
            :func:`find_redis_cli`).
        startup_timeout: seconds allowed for the whole cluster to become ready.

    Attributes:
        nodes: every node, in creation order (the first ``primaries`` started as primaries).

    Raises:
        ConfigurationError: fewer than 3 primaries, or no ``redis-cli`` was found.
    """

    def __init__(
        self,
        binary: RedisBinary | str | os.PathLike[str] | None = None,
        *,
        primaries: int = 3,
        replicas_per_primary: int = 1,
        node_timeout_ms: int = 2000,
        password: str | None = None,
        redis_cli: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if primaries < 3:
            raise ConfigurationError("primaries", "a Redis Cluster needs at least 3 primaries")
        cli = Path(redis_cli) if redis_cli is not None else find_redis_cli()
        if cli is None:
            raise ConfigurationError("redis_cli", "redis-cli not found; set $RFSDK_REDIS_CLI")
        if binary is None:
            binary = find_redis_server()
        self.binary = binary if isinstance(binary, RedisBinary) else RedisBinary.from_path(binary)
        self.redis_cli = cli
        self.password = password
        self.replicas_per_primary = replicas_per_primary
        self._n_replicas = primaries * replicas_per_primary
        self.startup_timeout = startup_timeout
        extra = [f"masterauth {quote(password)}"] if password else []
        self.nodes: list[RedisServer] = [
            RedisServer(
                self.binary,
                password=password,
                cluster=True,
                cluster_node_timeout_ms=node_timeout_ms,
                extra_config=extra,
            )
            for _ in range(primaries * (1 + replicas_per_primary))
        ]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """``[(host, port)]`` of every node, for ``redis.cluster.RedisCluster``."""
        return [n.address for n in self.nodes]

    def start(self) -> ClusterTopology:
        """Start the nodes, create the cluster and wait until it is healthy.

        Raises:
            RedisError: a node failed to start, or ``redis-cli --cluster create`` failed.
            RedisTimeoutError: the cluster was not healthy within ``startup_timeout``.
        """
        try:
            for node in self.nodes:
                node.start()
            self._create()
            wait_until(self._healthy, timeout=self.startup_timeout, what="cluster_state:ok")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node."""
        for node in reversed(self.nodes):
            node.stop()

    def __enter__(self) -> ClusterTopology:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def cluster_nodes(self, via: RedisServer | None = None) -> list[ClusterNode]:
        """Parse ``CLUSTER NODES`` as seen by ``via`` (default: the first running node)."""
        node = via or next(n for n in self.nodes if n.running and not n.paused)
        text = as_text(node.command("CLUSTER", "NODES"))
        return [_parse_node(line) for line in text.splitlines() if line.strip()]

    def cluster_info(self, node: RedisServer) -> dict[str, str]:
        """``CLUSTER INFO`` of one node as a dict."""
        text = as_text(node.command("CLUSTER", "INFO"))
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def primaries(self) -> list[RedisServer]:
        """The nodes that are primaries now (roles change after a failover)."""
        ports = {n.port for n in self.cluster_nodes() if n.role == "master" and n.slots}
        return [n for n in self.nodes if n.running and n.port in ports]

    def replicas(self) -> list[RedisServer]:
        """The nodes that are replicas now."""
        ports = {n.port for n in self.cluster_nodes() if n.role == "slave"}
        return [n for n in self.nodes if n.running and n.port in ports]

    def node_for_port(self, port: int) -> RedisServer:
        """The node listening on ``port``."""
        return next(n for n in self.nodes if n.port == port)

    # -- internals -------------------------------------------------------------------------

    def _create(self) -> None:
        argv = [str(self.redis_cli), "--cluster", "create"]
        argv += [f"{host}:{port}" for host, port in self.startup_nodes]
        argv += ["--cluster-replicas", str(self.replicas_per_primary), "--cluster-yes"]
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        if self.password:
            env["REDISCLI_AUTH"] = self.password  # not in argv, where ps would show it
        try:
            proc = subprocess.run(  # noqa: S603 - argv built here, no shell
                argv,
                capture_output=True,
                timeout=self.startup_timeout,
                env=env,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise RedisError("redis-cli --cluster create timed out") from exc
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).decode(errors="replace")
            tail_lines = "\n".join(out.splitlines()[-15:])
            logs = tail(self.nodes[0].log_path, lines=10, secrets=[self.password or ""])
            raise RedisError(
                f"redis-cli --cluster create failed (code {proc.returncode}):\n{tail_lines}\n"
                f"first node log:\n{logs}"
            )

    def _healthy(self) -> bool:
        for node in self.nodes:
            info = self.cluster_info(node)
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_slots_ok", "0")) != _SLOTS:
                return False
            if int(info.get("cluster_known_nodes", "0")) != len(self.nodes):
                return False
            # Replica roles spread by gossip after redis-cli returns: wait for every view.
            view = self.cluster_nodes(node)
            if sum(1 for n in view if n.role == "slave") != self._n_replicas:
                return False
            if any(n.flags & {"fail", "fail?", "handshake", "noaddr"} for n in view):
                return False
            replication = node.info("replication")
            if replication.get("role") == "slave" and (
                replication.get("master_link_status") != "up"
            ):
                return False
        return True


def _parse_node(line: str) -> ClusterNode:
    parts = line.split()
    address = parts[1].split("@", 1)[0]
    host, _, port = address.rpartition(":")
    flags = frozenset(parts[2].split(","))
    role = "master" if "master" in flags else "slave"
    slots: list[tuple[int, int]] = []
    for item in parts[8:]:
        if item.startswith("["):  # a slot being migrated/imported
            continue
        first, _, last = item.partition("-")
        slots.append((int(first), int(last or first)))
    return ClusterNode(
        node_id=parts[0],
        host=host,
        port=int(port),
        role=role,
        primary_id=parts[3] if parts[3] != "-" else None,
        slots=tuple(slots),
        flags=flags,
    )
