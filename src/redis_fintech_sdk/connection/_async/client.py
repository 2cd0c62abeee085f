"""AsyncClient: owns the redis-py pools for one deployment (standalone, Sentinel, Cluster).

This file is the source of truth; ``connection/_sync/client.py`` is generated from it by
``scripts/unasync.py``. Edit here, then run ``python scripts/unasync.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import redis.asyncio as aredis
import redis.exceptions as rexc
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.cluster import LoadBalancingStrategy

from redis_fintech_sdk.connection import _params
from redis_fintech_sdk.connection._cluster_asking import PairedAskingCluster
from redis_fintech_sdk.connection.errormap import is_connection_failure, map_redis_error
from redis_fintech_sdk.connection.health import (
    HealthReport,
    PreflightReport,
    Requirement,
    durability_findings,
    health_from_info,
)
from redis_fintech_sdk.errors import AuthorizationError, PreflightError, RedisError
from redis_fintech_sdk.hooks import Metrics, active
from redis_fintech_sdk.settings import ConnectionConfig

__all__ = ["AsyncClient"]

_IS_ASYNC = True  # the generated sync twin says False: redis-py needs a Retry class per flavour

AnyRedis = aredis.Redis | RedisCluster


class AsyncClient:
    """The SDK's connection to one Redis deployment; owns every pool it opens.

    Build it from a :class:`ConnectionConfig`, keyword arguments of one, a URL
    (:meth:`from_url`) or the environment (:meth:`from_env`). Use it as a context manager;
    pools are opened lazily and closed by :meth:`aclose`.

    Three pools with coherent timeouts sit behind it: :attr:`redis` for ordinary commands,
    :attr:`blocking` for blocking reads (its socket timeout is longer than any permitted
    block) and the Pub/Sub connections from :meth:`pubsub` (no socket timeout; liveness by
    PING with a deadline).

    Connection failures (see :func:`~redis_fintech_sdk.connection.is_connection_failure`)
    of the commands it runs are counted in ``connection_errors_total``: in the ``metrics``
    hook of the component that ran the command (``component="publisher"`` …) or, when that
    component has none, in this client's ``metrics`` (``component="client"`` for commands
    it runs itself or for components without a label of their own). Each failure is
    counted once, where the foreign exception is translated.

    Args:
        config: the connection settings (or pass their fields as keyword arguments).
        metrics: where ``connection_errors_total`` is counted (default: nowhere).

    Example:
        >>> async with AsyncClient.from_url("redis://127.0.0.1:6379/0") as client:  # doctest: +SKIP
        ...     report = await client.health()
    """

    def __init__(
        self,
        config: ConnectionConfig | None = None,
        /,
        *,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        if config is not None and kwargs:
            raise TypeError("pass either a ConnectionConfig or keyword arguments, not both")
        self._config = config if config is not None else ConnectionConfig(**kwargs)
        self._metrics = active(metrics)
        self._clients: dict[str, AnyRedis] = {}
        self._sentinel: Sentinel | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> AsyncClient:
        """Build a client from a ``redis://``, ``rediss://`` or ``unix://`` URL.

        Args:
            url: the URL.
            **overrides: :class:`ConnectionConfig` fields that win over the URL, and
                ``metrics`` (see the class; popped before the config is built, so the
                signature stays what typed callers unpacking a dict of overrides expect).

        Raises:
            ConfigurationError: the URL or an override is invalid.
        """
        metrics: Metrics | None = overrides.pop("metrics", None)
        return cls(ConnectionConfig.from_url(url, **overrides), metrics=metrics)

    @classmethod
    def from_env(cls, *, metrics: Metrics | None = None) -> AsyncClient:
        """Build a client from ``RFSDK_*`` environment variables.

        Args:
            metrics: where ``connection_errors_total`` is counted.

        Raises:
            ConfigurationError: a variable holds an invalid value.
        """
        from redis_fintech_sdk.settings import RedisSettings

        return cls(RedisSettings().to_config(), metrics=metrics)

    @property
    def config(self) -> ConnectionConfig:
        """The validated configuration."""
        return self._config

    @property
    def address(self) -> str:
        """Where this client connects, for messages (never contains a secret)."""
        return self._config.address

    @property
    def metrics(self) -> Metrics | None:
        """The hook this client counts connection failures in (``None``: not counted)."""
        return self._metrics

    # ---------------------------------------------------------------- pools

    def _get(self, profile: _params.Profile, *, replica: bool = False) -> AnyRedis:
        if self._closed:
            raise RedisError("client is closed", address=self.address)
        name = f"{profile}:{'replica' if replica else 'primary'}"
        client = self._clients.get(name)
        if client is None:
            client = self._build(profile, replica=replica)
            self._clients[name] = client
        return client

    def _build(self, profile: _params.Profile, *, replica: bool) -> AnyRedis:
        config = self._config
        if config.cluster is not None:
            kwargs = _params.node_kwargs(config, profile, is_async=_IS_ASYNC)
            kwargs.pop("health_check_interval", None)
            if replica or config.cluster.read_from_replicas:
                kwargs["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN_REPLICAS
            cluster_class: Any = PairedAskingCluster if _IS_ASYNC else RedisCluster
            cluster: AnyRedis = cluster_class(
                startup_nodes=[ClusterNode(h, p) for h, p in config.cluster.startup_nodes],
                require_full_coverage=config.cluster.require_full_coverage,
                max_connections=config.pool.max_connections,
                **kwargs,
            )
            return cluster
        if config.sentinel is not None:
            if self._sentinel is None:
                self._sentinel = Sentinel(  # type: ignore[no-untyped-call]
                    list(config.sentinel.sentinels),
                    sentinel_kwargs=_params.sentinel_kwargs(config, is_async=_IS_ASYNC),
                    socket_timeout=config.timeouts.command,
                    socket_connect_timeout=config.timeouts.connect,
                )
            kwargs = _params.node_kwargs(config, profile, is_async=_IS_ASYNC)
            kwargs["db"] = config.db
            factory = self._sentinel.slave_for if replica else self._sentinel.master_for
            client: aredis.Redis = factory(config.sentinel.service_name, **kwargs)
            return client
        kwargs = _params.standalone_kwargs(config, profile, is_async=_IS_ASYNC)
        connection_class = _connection_class(kwargs)
        if profile == "pubsub":
            # Each subscriber owns its connection for its whole life: the command pool's
            # limit would make subscriber N+1 wait forever, so this pool is unbounded.
            pubsub_pool = aredis.ConnectionPool(connection_class=connection_class, **kwargs)
            return aredis.Redis(connection_pool=pubsub_pool)
        pool = aredis.BlockingConnectionPool(
            connection_class=connection_class, **_params.pool_kwargs(config), **kwargs
        )
        return aredis.Redis(connection_pool=pool)

    @property
    def redis(self) -> AnyRedis:
        """The redis-py client for ordinary commands (socket timeout ``timeouts.command``)."""
        return self._get("command")

    @property
    def blocking(self) -> AnyRedis:
        """The redis-py client for blocking reads (``XREADGROUP BLOCK``, ``BLPOP``).

        Its socket timeout is ``timeouts.max_block + timeouts.command``; check a requested
        block with :meth:`Timeouts.check_block` first.
        """
        return self._get("blocking")

    @property
    def replica(self) -> AnyRedis:
        """A client for read-only commands served by replicas (Sentinel or Cluster).

        Standalone deployments have no replicas; this is then the primary's client.
        """
        if self._config.topology == "standalone":
            return self.redis
        return self._get("command", replica=True)

    def pubsub(self) -> PubSub:
        """A new redis-py ``PubSub`` on a connection without a socket timeout.

        The caller owns it and must close it. Cluster deployments use sharded Pub/Sub
        through :attr:`redis` instead.

        Raises:
            RedisError: on a Cluster deployment (use sharded Pub/Sub).
        """
        if self._config.cluster is not None:
            raise RedisError("use sharded Pub/Sub on a cluster", address=self.address)
        client = self._get("pubsub")
        assert isinstance(client, aredis.Redis)
        return client.pubsub(ignore_subscribe_messages=False)

    async def refresh_primary(self) -> tuple[str, int] | None:
        """Sentinel only: ask the sentinels where the primary is now.

        When it moved, redis-py drops the idle pooled connections to the old one, so the
        next command dials the new primary. This matters for commands a demoted primary
        still accepts without complaint — ``PUBLISH`` on a replica answers ``0`` receivers
        instead of ``READONLY``. Returns ``None`` for other topologies.

        Raises:
            RedisError: no sentinel answered.
        """
        if self._config.sentinel is None:
            return None
        address: tuple[str, int] | None = None
        blocking = self._clients.get("blocking:primary")
        for client in (self.redis, blocking):
            if client is None:
                continue
            pool: Any = getattr(client, "connection_pool", None)
            with self.translate_errors("SENTINEL"):
                host, port = await pool.get_master_address()
            address = (str(host), int(port))
        return address

    async def sentinel_replicas(self) -> list[list[dict[str, str]]]:
        """Sentinel only: what every Sentinel that answers knows of the primary's replicas.

        One list per answering Sentinel (``SENTINEL REPLICAS <service>``), one field map
        per replica (``ip``, ``port``, ``flags``, ``master-link-status`` ...), as strings.
        Sentinels that cannot be reached are skipped. Returns ``[]`` for other topologies.

        Raises:
            RedisError: no Sentinel answered.
        """
        sentinel_config = self._config.sentinel
        if sentinel_config is None:
            return []
        self._get("command")  # makes the Sentinel client
        assert self._sentinel is not None
        views: list[list[dict[str, str]]] = []
        failure: Exception | None = None
        nodes: list[Any] = list(self._sentinel.sentinels)
        for node in nodes:
            try:
                reply = await node.execute_command(
                    "SENTINEL", "REPLICAS", sentinel_config.service_name
                )
            except (rexc.ConnectionError, rexc.TimeoutError, rexc.ResponseError, OSError) as exc:
                failure = exc
                continue
            views.append([_pairs(entry) for entry in reply or []])
        if not views and failure is not None:
            mapped = map_redis_error(failure, address=self.address, command="SENTINEL")
            if is_connection_failure(mapped):
                self.count_connection_error()
            raise mapped from failure
        return views

    async def replication_info(self, key: str | None = None) -> dict[str, Any]:
        """``INFO replication`` of the primary (on a Cluster: the primary serving ``key``).

        Raises:
            RedisError: the server cannot be reached.
        """
        with self.translate_errors("INFO"):
            client = self.redis
            if isinstance(client, RedisCluster):
                node = (
                    client.get_node_from_key(key) if key is not None else client.get_primaries()[0]
                )
                info: Any = await client.info("replication", target_nodes=node)
                if isinstance(info, dict) and node is not None and node.name in info:
                    info = info[node.name]
                return dict(info)
            return dict(await client.info("replication"))

    # ---------------------------------------------------------------- errors

    def count_connection_error(
        self, component: str = "client", *, metrics: Metrics | None = None
    ) -> None:
        """Add one to ``connection_errors_total{component}``.

        Args:
            component: who saw the failure (``client``, ``publisher``, ``subscriber`` …).
            metrics: the hook to count in; ``None``: this client's (if any).
        """
        sink = active(metrics)
        if sink is None:
            sink = self._metrics
        if sink is not None:
            sink.inc("connection_errors_total", 1.0, {"component": component})

    @contextmanager
    def translate_errors(
        self,
        command: str | None = None,
        *,
        channel: str | None = None,
        key: str | None = None,
        component: str = "client",
        metrics: Metrics | None = None,
    ) -> Iterator[None]:
        """Map redis-py / OS errors raised inside the block to SDK errors.

        A connection failure translated here is counted once in ``connection_errors_total``
        (see :meth:`count_connection_error`); SDK errors pass through uncounted, so nested
        blocks never count twice.

        Args:
            command: the command name, for the error (never its arguments).
            channel: the channel, for authorization errors.
            key: the key, for authorization errors.
            component: the ``component`` label of a counted connection failure.
            metrics: the caller's own metrics hook (default: this client's).

        Raises:
            SDKError: the mapped error, chained ``from`` the original.
        """
        try:
            yield
        except Exception as exc:
            mapped = map_redis_error(
                exc, address=self.address, command=command, channel=channel, key=key
            )
            if mapped is exc:
                raise
            if is_connection_failure(mapped):
                self.count_connection_error(component, metrics=metrics)
            raise mapped from exc

    async def execute(self, *args: Any, **options: Any) -> Any:
        """Run one command on the command pool with SDK error mapping.

        Raises:
            RedisError: the mapped server or connection error.
        """
        with self.translate_errors(str(args[0]).upper() if args else None):
            return await self.redis.execute_command(*args, **options)

    # ---------------------------------------------------------------- health

    async def ping(self) -> float:
        """PING the primary; return the round trip in milliseconds.

        Raises:
            RedisError: the server cannot be reached.
        """
        with self.translate_errors("PING"):
            start = time.perf_counter()
            await self.redis.ping()
            return (time.perf_counter() - start) * 1000.0

    async def health(self) -> HealthReport:
        """Check the deployment; never raises for an unreachable server.

        Returns:
            A :class:`HealthReport`; ``reachable`` is False and ``error`` says why when the
            server could not be reached.
        """
        topology = self._config.topology
        try:
            latency = await self.ping()
        except RedisError as exc:
            return HealthReport(
                reachable=False, address=self.address, topology=topology, error=str(exc)
            )
        try:
            info, nodes = await self._info()
        except RedisError as exc:
            # PING answered, so the server is reachable; say why the details are missing.
            reason = (
                "INFO is not permitted for this user"
                if isinstance(exc, AuthorizationError)
                else f"INFO failed: {exc}"
            )
            return HealthReport(
                reachable=True,
                address=self.address,
                topology=topology,
                latency_ms=round(latency, 3),
                error=reason,
            )
        return health_from_info(
            info, address=self.address, topology=topology, latency_ms=latency, nodes=nodes
        )

    async def _info(self) -> tuple[dict[str, Any], int]:
        with self.translate_errors("INFO"):
            client = self.redis
            if isinstance(client, RedisCluster):
                primaries = client.get_primaries()
                info: Any = await client.info(target_nodes=primaries[0])
                if isinstance(info, dict) and primaries[0].name in info:
                    info = info[primaries[0].name]
                return info, len(primaries)
            return await client.info(), 1

    async def durability_warnings(self) -> list[str]:
        """Warn about server settings that can lose acknowledged writes (startup check).

        Reads ``appendonly``, ``appendfsync``, ``save`` and ``maxmemory-policy`` with
        ``CONFIG GET``. A user without ``CONFIG GET`` rights gets one warning saying the
        settings could not be checked.

        Raises:
            RedisError: the server cannot be reached.
        """
        client = self.redis
        # On a Cluster every primary is asked (CONFIG GET has no key to route by); a finding
        # on any primary is reported once.
        targets: list[Any] = (
            list(client.get_primaries()) if isinstance(client, RedisCluster) else [None]
        )
        findings: list[str] = []
        try:
            for node in targets:
                values: dict[str, str] = {}
                for name in ("appendonly", "appendfsync", "save", "maxmemory-policy"):
                    with self.translate_errors("CONFIG"):
                        if node is None:
                            reply = await client.execute_command("CONFIG", "GET", name)
                        else:
                            reply = await client.execute_command(
                                "CONFIG", "GET", name, target_nodes=node
                            )
                    values.update(_pairs(reply))
                findings += [f for f in durability_findings(values) if f not in findings]
        except AuthorizationError:
            return ["durability settings unknown: this user may not run CONFIG GET"]
        return findings

    async def whoami(self) -> str:
        """The ACL user this client is authenticated as (``ACL WHOAMI``).

        Falls back to the configured user name when the user may not run ``ACL WHOAMI``.
        """
        try:
            with self.translate_errors("ACL"):
                name = await self.redis.execute_command("ACL", "WHOAMI")
        except AuthorizationError:
            return self._config.credentials.username or "default"
        return name.decode() if isinstance(name, bytes) else str(name)

    async def preflight(
        self,
        requirements: Sequence[Requirement],
        *,
        admin: AsyncClient | None = None,
        raise_on_missing: bool = True,
    ) -> PreflightReport:
        """Check that the configured user may do what the application declares.

        Each requirement is checked with ``ACL DRYRUN`` — on this connection when the user
        may run it, else through ``admin`` when given. Without either, subscriptions and key
        reads are probed with harmless live commands and the rest is reported unverified.

        Args:
            requirements: what the application will do.
            admin: a client allowed to run ``ACL DRYRUN`` for other users.
            raise_on_missing: raise :class:`PreflightError` when something is missing.

        Raises:
            PreflightError: a requirement is missing; the message names each one.
            RedisError: the server cannot be reached.
        """
        user = await self.whoami()
        report = await self._dryrun(self, user, requirements)
        if report is None and admin is not None:
            report = await self._dryrun(admin, user, requirements)
        if report is None:
            report = await self._probe(user, requirements)
        if raise_on_missing and report.missing:
            raise PreflightError(report.missing_descriptions(), user=user, address=self.address)
        return report

    @staticmethod
    async def _dryrun(
        via: AsyncClient, user: str, requirements: Sequence[Requirement]
    ) -> PreflightReport | None:
        granted: list[Requirement] = []
        missing: list[tuple[Requirement, str]] = []
        for req in requirements:
            reason = ""
            for argv in req.dryrun_commands():
                try:
                    with via.translate_errors("ACL"):
                        reply = await via.redis.execute_command("ACL", "DRYRUN", user, *argv)
                except AuthorizationError:
                    return None  # this connection may not run ACL DRYRUN
                text = reply.decode() if isinstance(reply, bytes) else str(reply)
                if text != "OK":
                    reason = text
                    break
            if reason:
                missing.append((req, reason))
            else:
                granted.append(req)
        return PreflightReport(
            user=user, method="dryrun", granted=tuple(granted), missing=tuple(missing)
        )

    async def _probe(self, user: str, requirements: Sequence[Requirement]) -> PreflightReport:
        granted: list[Requirement] = []
        missing: list[tuple[Requirement, str]] = []
        unverified: list[Requirement] = []
        for req in requirements:
            try:
                if req.action == "read_key":
                    with self.translate_errors("GET", key=req.target):
                        await self.redis.execute_command("EXISTS", req.target)
                elif req.action in ("subscribe", "psubscribe"):
                    await self._probe_subscribe(req)
                elif req.action == "command" and req.target == "PING":
                    await self.ping()
                else:
                    unverified.append(req)
                    continue
            except AuthorizationError:
                missing.append((req, "NOPERM"))
                continue
            granted.append(req)
        return PreflightReport(
            user=user,
            method="probe",
            granted=tuple(granted),
            missing=tuple(missing),
            unverified=tuple(unverified),
        )

    async def _probe_subscribe(self, req: Requirement) -> None:
        pubsub = self.pubsub()
        try:
            with self.translate_errors(req.action.upper(), channel=req.target):
                if req.action == "subscribe":
                    await pubsub.subscribe(req.target)
                else:
                    await pubsub.psubscribe(req.target)
                # The subscribe confirmation (or the NOPERM error) arrives as a reply.
                await pubsub.get_message(timeout=self._config.timeouts.command)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    # ---------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        """Close every pool this client opened. Safe to call twice."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            if isinstance(client, RedisCluster):
                await client.aclose()
                if isinstance(client, PairedAskingCluster):
                    await client.disconnect_all()
            else:
                await client.aclose()
                await client.connection_pool.disconnect()
        if self._sentinel is not None:
            for node in self._sentinel.sentinels:
                await node.aclose()
            self._sentinel = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.topology} {self.address})"


def _pairs(reply: Any) -> dict[str, str]:
    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    if isinstance(reply, dict):  # RESP3, or a cluster's merged reply
        return {text(k): text(v) for k, v in reply.items()}
    items = list(reply or [])
    return {text(items[i]): text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _connection_class(
    kwargs: dict[str, Any],
) -> type[aredis.Connection | aredis.UnixDomainSocketConnection]:
    # A pool made from kwargs must be told the connection class itself; redis.Redis() would
    # pick it from `ssl=` / `unix_socket_path=` but ConnectionPool does not.
    if kwargs.pop("ssl", False):
        return aredis.SSLConnection
    if "unix_socket_path" in kwargs:
        kwargs["path"] = kwargs.pop("unix_socket_path")
        # TCP keepalive means nothing on a Unix socket, and the class refuses the argument.
        kwargs.pop("socket_keepalive", None)
        kwargs.pop("socket_keepalive_options", None)
        return aredis.UnixDomainSocketConnection
    return aredis.Connection
