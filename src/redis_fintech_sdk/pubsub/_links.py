"""Pub/Sub connections ("links") for each topology: open, send, read raw replies, close.

A link drives one redis-py connection directly — no redis-py retry and no silent
reconnect, so every loss reaches the subscriber's supervisor, which reconnects, resubscribes
and reports it. Standalone and Sentinel: one link carries every subscription (Sentinel's
pool resolves the current primary on each connect). Cluster: one link for channels and
patterns, one per primary for the shard channels that primary owns.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_fintech_sdk.connection import AsyncClient

from ._subscriptions import SubscriptionKind, SubscriptionSet, shard_groups

__all__ = ["Link", "open_links"]

# Keys of ClusterNode.connection_kwargs that redis.asyncio.Redis() does not accept.
_NODE_ONLY = {"connection_class", "max_connections", "event_dispatcher", "host", "port"}


class Link:
    """One Pub/Sub connection and the subscriptions it carries."""

    def __init__(self, pubsub: PubSub, *, address: str, owner: aredis.Redis | None = None) -> None:
        self.pubsub: Any = pubsub  # redis-py's PubSub is partly untyped
        self.address = address
        self._owner = owner
        self.commands: list[tuple[str, tuple[str, ...]]] = []
        self.unconfirmed: set[tuple[SubscriptionKind, str]] = set()
        self.shard_only = False

    async def open(self) -> None:
        """Connect (no retries: the supervisor owns reconnecting)."""
        await self.pubsub.connect()
        conn = self.pubsub.connection
        assert conn is not None
        conn.retry = Retry(NoBackoff(), 0)
        host, port = getattr(conn, "host", None), getattr(conn, "port", None)
        if host is not None:
            self.address = f"{host}:{port}"

    async def send(self, *args: Any) -> None:
        """Send one command without waiting for its reply."""
        conn = self.pubsub.connection
        if conn is None:
            raise ConnectionError("link is closed")
        await conn.send_command(*args, check_health=False)

    async def read(self) -> Any:
        """Read the next reply or push message (blocks until one arrives)."""
        conn = self.pubsub.connection
        if conn is None:
            raise ConnectionError("link is closed")
        return await conn.read_response(
            timeout=math.inf, disconnect_on_error=True, push_request=True
        )

    async def subscribe_all(self) -> None:
        """Send every subscription command this link carries."""
        for command, names in self.commands:
            await self.send(command, *names)

    async def aclose(self) -> None:
        """Close the connection (and the node client a cluster shard link owns)."""
        try:
            await self.pubsub.aclose()
        finally:
            if self._owner is not None:
                owner: Any = self._owner
                await owner.aclose()

    def __repr__(self) -> str:
        return f"<Link {self.address} {len(self.unconfirmed)} unconfirmed>"


async def open_links(client: AsyncClient, wanted: SubscriptionSet) -> list[Link]:
    """Open and subscribe the links ``wanted`` needs (confirmations are read by the caller).

    Raises:
        Exception: whatever connecting raised (redis-py or OS errors; the caller maps them).
    """
    redis = client.redis
    links: list[Link] = []
    try:
        if isinstance(redis, RedisCluster):
            await _cluster_links(redis, wanted, links)
        else:
            link = Link(client.pubsub(), address=client.address)
            link.commands = wanted.commands()
            link.unconfirmed = wanted.expected_confirmations()
            links.append(link)
        for link in links:
            await link.open()
            await link.subscribe_all()
    except BaseException:
        for link in links:
            await _quiet_close(link)
        raise
    return links


async def _cluster_links(redis: RedisCluster, wanted: SubscriptionSet, links: list[Link]) -> None:
    await redis.initialize()
    # initialize() maps the slots only once per client; a reconnect after a slot moved (the
    # server said sunsubscribe, or SSUBSCRIBE got MOVED) must see the new owners.
    await redis.nodes_manager.initialize()
    plain = [
        (k.subscribe_command, wanted.names(k))
        for k in (SubscriptionKind.CHANNEL, SubscriptionKind.PATTERN)
        if wanted.names(k)
    ]
    by_node: dict[str, list[str]] = {}
    nodes: dict[str, Any] = {}
    for name in wanted.names(SubscriptionKind.SHARD):
        node: Any = redis.get_node_from_key(name)
        nodes[node.name] = node
        by_node.setdefault(node.name, []).append(name)
    # Always one plain link, so channels added at run time have a home.
    node = redis.get_random_node()
    link = _node_link(node)
    link.commands = plain
    link.unconfirmed = {
        (k, n)
        for k in (SubscriptionKind.CHANNEL, SubscriptionKind.PATTERN)
        for n in wanted.names(k)
    }
    links.append(link)
    for node_name, names in by_node.items():
        link = _node_link(nodes[node_name])
        link.commands = [("SSUBSCRIBE", group) for group in shard_groups(names)]
        link.unconfirmed = {(SubscriptionKind.SHARD, n) for n in names}
        link.shard_only = True
        links.append(link)


def _node_link(node: Any) -> Link:
    accepted = _redis_params()
    kwargs = {
        k: v for k, v in node.connection_kwargs.items() if k in accepted and k not in _NODE_ONLY
    }
    if getattr(node, "connection_class", None) is aredis.SSLConnection:
        kwargs["ssl"] = True
    kwargs["socket_timeout"] = None
    kwargs["health_check_interval"] = 0
    owner = aredis.Redis(host=node.host, port=node.port, **kwargs)
    return Link(owner.pubsub(), address=node.name, owner=owner)


@functools.lru_cache(maxsize=1)
def _redis_params() -> frozenset[str]:
    return frozenset(inspect.signature(aredis.Redis.__init__).parameters)


async def _quiet_close(link: Link) -> None:
    with contextlib.suppress(Exception):  # a broken link must not mask the real error
        await link.aclose()
