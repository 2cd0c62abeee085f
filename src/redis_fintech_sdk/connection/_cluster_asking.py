"""redis-py's asyncio ``RedisCluster``, mended for failovers and half-migrated slots.

Async only: the sync client uses redis-py's ``RedisCluster`` unchanged (it sends ``ASKING``
and the command on one connection already). Kept out of ``_async/`` so that the generated
sync twin does not carry a dead copy.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

import anyio
import redis.exceptions as rexc
from redis.asyncio.cluster import RedisCluster

__all__ = ["PairedAskingCluster"]

log = logging.getLogger("redis_fintech_sdk.connection")


class PairedAskingCluster(RedisCluster):
    """redis-py's ``RedisCluster``, fixed for half-migrated slots (used by the async client only).

    redis-py 8.1's asyncio ``RedisCluster`` follows an ``ASK`` redirect by sending
    ``ASKING`` and then the command as two separately pooled commands on the target node.
    Its node pool is first-in-first-out, so once the node holds two idle connections the
    command goes out on a different connection than ``ASKING``; the importing node answers
    ``MOVED`` back to the source, which answers ``ASK`` again, until the redirect TTL runs
    out: ``ClusterError("TTL exhausted.")`` for every command on a key that is not yet
    migrated, for as long as the migration lasts (with five slot-cache rebuilds per
    failed command on the way). The sync client sends both on one connection.

    Two changes, neither of which can send a command twice:

    * **Pairing.** Every node's idle connections are handed out last-released-first (the
      order redis-py's standalone pool uses). redis-py releases the ``ASKING`` connection
      and acquires the command's connection with no suspension point in between, so the
      command now always follows ``ASKING`` on the same connection.
    * **Recovery.** Should the TTL still run out (a node added by a redirect and not yet
      switched to that order, a connection recycled in between), every attempt of
      redis-py's loop was refused with ``MOVED``/``ASK``/``TRYAGAIN`` — any other reply or
      error ends that loop — so the command was never applied, and
      :func:`_follow_redirects` follows the redirects once more with ``ASKING`` and the
      command written to one connection in one packet.
    """

    _lifo_nodes = 0

    async def initialize(self, *args: Any, **kwargs: Any) -> RedisCluster:
        """``RedisCluster.initialize``, then every node hands out its last-released connection."""
        await super().initialize(*args, **kwargs)
        self._pair_asking()
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """``RedisCluster.execute_command``, recovering from the ASK ping-pong above."""
        for attempt in range(_UNSENT_RETRIES + 1):
            if len(self.nodes_manager.nodes_cache) != self._lifo_nodes:
                self._pair_asking()  # a redirect added a node since the last initialize
            try:
                return await super().execute_command(*args, **kwargs)
            except rexc.ClusterError as exc:
                if not _redirects_exhausted(exc) or "target_nodes" in kwargs:
                    raise
                return await _follow_redirects(self, exc, args, kwargs)
            except AttributeError as exc:
                # redis-py 8.1 re-initialising the slot map (a failover) disconnects every
                # connection of a node, including one another task is about to write to:
                # its writer is gone before the first byte, so the command was not sent.
                if attempt == _UNSENT_RETRIES or not _never_written(exc):
                    raise
                log.info("cluster: %s retried: its connection was closed before sending", args[0])
                await anyio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def disconnect_all(self) -> None:
        """Close every node connection, even when ``aclose()`` thinks there is nothing to close.

        redis-py's ``aclose()`` does nothing while the client is marked for re-initialisation,
        which its redirect loop does every few ``MOVED``s while it keeps opening connections.
        """
        nodes = [
            *self.nodes_manager.nodes_cache.values(),
            *self.nodes_manager.startup_nodes.values(),
        ]
        for node in nodes:
            try:
                await node.disconnect()
            except (OSError, rexc.RedisError) as exc:  # closing: nothing left to do about it
                log.debug("closing a cluster node connection failed: %s", type(exc).__name__)

    def _pair_asking(self) -> None:
        nodes = self.nodes_manager.nodes_cache
        for node in list(nodes.values()):
            free = getattr(node, "_free", None)
            if type(free) is collections.deque:
                node._free = _LastReleasedFirst(free, maxlen=free.maxlen)
        self._lifo_nodes = len(nodes)


class _LastReleasedFirst(collections.deque):  # type: ignore[type-arg]
    """A cluster node's idle connections: ``append`` (redis-py's release) puts it first."""

    __slots__ = ()

    def append(self, connection: Any, /) -> None:
        """Put a released connection where the next ``popleft`` (acquire) takes it."""
        self.appendleft(connection)


_UNSENT_RETRIES = 3


def _never_written(exc: AttributeError) -> bool:
    """Whether redis-py failed on a connection whose writer was already closed (unsent)."""
    return "'NoneType' object has no attribute 'writelines'" in str(exc)


def _redirects_exhausted(exc: BaseException) -> bool:
    """Whether redis-py's cluster loop ended because every attempt was redirected."""
    return "TTL exhausted" in str(exc) and hasattr(getattr(exc, "connection", None), "name")


async def _follow_redirects(
    cluster: Any, exc: rexc.ClusterError, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Follow ``MOVED``/``ASK`` for one command whose redirect TTL ran out, never re-applying it.

    Starts at the node redis-py tried last; each hop either returns the reply, raises a
    non-redirect error (which may mean the command ran: it propagates, it is never sent
    again), or is refused with a redirect (not applied) and moves on. ``ASK`` hops write
    ``ASKING`` and the command to one connection. ``TRYAGAIN`` (a multi-key command whose
    keys are split mid-migration) waits a short backoff. At most
    ``RedisClusterRequestTTL`` hops; then the original error is raised again.
    """
    node: Any = getattr(exc, "connection", None)
    command = args[0]
    if command in getattr(cluster, "result_callbacks", {}):
        raise exc  # a fan-out command: never redirected, not ours to re-route
    asking = False
    delay = 0.02
    for _ in range(int(getattr(cluster, "RedisClusterRequestTTL", 16))):
        if node is None or not hasattr(node, "acquire_connection"):
            break
        try:
            if asking:
                reply = await _asking_then(node, args, kwargs)
            else:
                reply = await node.execute_command(*args, **kwargs)
        except rexc.MovedError as redirect:  # before AskError: MovedError subclasses it
            node, asking = cluster.get_node(host=redirect.host, port=redirect.port), False
        except rexc.AskError as redirect:
            node, asking = cluster.get_node(host=redirect.host, port=redirect.port), True
        except rexc.TryAgainError:
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.5)
            asking = False
        else:
            log.info("cluster: %s completed after following redirects redis-py gave up on", command)
            return reply
    raise exc


async def _asking_then(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ASKING`` and the command on one connection of ``node``, written in one packet."""
    connection = node.acquire_connection()
    try:
        if hasattr(node, "disconnect_if_needed"):  # redis-py's lazy reconnect after a refresh
            await node.disconnect_if_needed(connection)
        await connection.send_packed_command(connection.pack_commands([("ASKING",), args]))
        try:
            await node.parse_response(connection, "ASKING")
        except rexc.ResponseError:
            # The command's reply is still unread on this connection: do not reuse it.
            await connection.disconnect()
            raise
        return await node.parse_response(connection, args[0], **kwargs)
    finally:
        node.release(connection)
