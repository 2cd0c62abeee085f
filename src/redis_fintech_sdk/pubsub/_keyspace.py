"""Keyspace notifications (cache invalidation, change data capture) on the resilient subscriber.

Channel names and parsing come from redis-py's :mod:`redis.keyspace_notifications`
(``KeyspaceChannel``, ``KeyeventChannel``, ``KeyNotification``); reconnects, resubscription
and backpressure come from :class:`AsyncSubscriber` in raw mode. Notifications are
fire-and-forget: after a :class:`~redis_fintech_sdk.pubsub.PossibleGap` a cache should be
invalidated wholesale (listen for it with :meth:`add_listener`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from types import TracebackType

from redis.keyspace_notifications import KeyeventChannel, KeyNotification, KeyspaceChannel

from redis_fintech_sdk.connection import AsyncClient

from ._config import SubscriberConfig
from ._events import SubscriberEvent
from ._subscriber import AsyncSubscriber

__all__ = ["KeyspaceWatcher"]


class KeyspaceWatcher:
    """Watch key changes: ``async with KeyspaceWatcher(client) as w: await w.watch_keys("user:*")``.

    The server must have ``notify-keyspace-events`` set (e.g. ``KEA``); :meth:`enable` sets
    it when the user may run ``CONFIG SET``.

    Args:
        client: the connection.
        db: the database whose events to watch.
        config: subscriber settings (raw mode is forced).
    """

    def __init__(
        self, client: AsyncClient, *, db: int = 0, config: SubscriberConfig | None = None
    ) -> None:
        base = config or SubscriberConfig()
        self.db = db
        self._client = client
        self.subscriber = AsyncSubscriber(client, config=replace(base, decode=False), codec=None)

    async def __aenter__(self) -> KeyspaceWatcher:
        await self.subscriber.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self.subscriber.__aexit__(exc_type, exc, tb)

    async def enable(self, flags: str = "KEA") -> None:
        """``CONFIG SET notify-keyspace-events flags``.

        Raises:
            AuthorizationError: the user may not run ``CONFIG SET``.
        """
        with self._client.translate_errors("CONFIG"):
            await self._client.redis.config_set("notify-keyspace-events", flags)

    async def watch_keys(self, key_or_pattern: str) -> None:
        """Receive every event on keys matching ``key_or_pattern`` (``__keyspace@db__:``)."""
        channel = KeyspaceChannel(key_or_pattern, db=self.db)
        if channel.is_pattern:
            await self.subscriber.psubscribe(str(channel))
        else:
            await self.subscriber.subscribe(str(channel))

    async def watch_events(self, event: str) -> None:
        """Receive every key affected by ``event`` (``"del"``, ``"expired"`` …)."""
        channel = KeyeventChannel(event, db=self.db)
        if channel.is_pattern:
            await self.subscriber.psubscribe(str(channel))
        else:
            await self.subscriber.subscribe(str(channel))

    def add_listener(self, listener: Callable[[SubscriberEvent], None]) -> None:
        """Receive lifecycle events (a ``PossibleGap`` means: invalidate everything)."""
        self.subscriber.add_listener(listener)

    async def get(self, timeout: float | None = None) -> KeyNotification:
        """The next notification (unparseable ones are skipped).

        Raises:
            TimeoutError: nothing arrived in time.
        """
        while True:
            delivery = await self.subscriber.get(timeout)
            note = KeyNotification.try_parse(delivery.channel, delivery.data)
            if note is not None:
                return note

    def __aiter__(self) -> AsyncIterator[KeyNotification]:
        return self

    async def __anext__(self) -> KeyNotification:
        return await self.get()
