"""The publishing side of market data, and the Redis keys late joiners start from.

* :class:`MarketDataStore` — the latest depth snapshot of each symbol and the latest market
  status of each scope, one key each with a TTL, framed by the codec (so encrypted and
  authenticated like any message, and bound to the key name).
* :class:`MarketDataPublisher` — publishes ticks, prints, depth, status events and portfolio
  updates on the SDK's channel families, keeps the authoritative :class:`OrderBook` of each
  symbol it publishes depth for, and stores its snapshot every ``snapshot_every`` updates
  *before* publishing the update, so a subscriber that sees a gap finds a stored snapshot at
  least as new as the update that revealed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio

from redis_fintech_sdk.channels import (
    Channel,
    market_depth,
    market_events,
    market_price,
    market_trades,
    portfolio_updates,
)
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, SchemaError
from redis_fintech_sdk.pubsub import AsyncPublisher, FrameCodec, default_codec

from ._market_data import (
    DepthSnapshot,
    DepthUpdate,
    MarketStatusEvent,
    PortfolioUpdate,
    PriceTick,
    TradePrint,
)
from ._market_data_book import BookAction, OrderBook

__all__ = ["MarketDataPublisher", "MarketDataStore"]


@dataclass(frozen=True)
class Scope:
    """Channel names and keys of one feed (a venue or none, a tenant or none)."""

    venue: str | None = None
    tenant: str | None = None
    key_prefix: str = "rfsdk:md"

    def price(self, symbol: str) -> Channel:
        return market_price(symbol, venue=self.venue, tenant=self.tenant)

    def trades(self, symbol: str) -> Channel:
        return market_trades(symbol, venue=self.venue, tenant=self.tenant)

    def depth(self, symbol: str) -> Channel:
        return market_depth(symbol, venue=self.venue, tenant=self.tenant)

    def events(self, symbol: str | None = None, venue: str | None = None) -> Channel:
        if symbol is not None:
            return market_events(venue=self.venue, symbol=symbol, tenant=self.tenant)
        if venue is None and self.venue is None:
            raise ConfigurationError("venue", "a venue-wide status needs a venue")
        return market_events(venue=venue or self.venue, tenant=self.tenant)

    def portfolio(self, portfolio_id: str) -> Channel:
        return portfolio_updates(portfolio_id, tenant=self.tenant)

    def pattern(self, channel: Channel) -> str:
        """``market.price.AAPL`` -> ``market.price.*`` (the same family, any symbol)."""
        return channel.name.rsplit(".", 1)[0] + ".*"


class MarketDataStore:
    """The latest depth snapshot per symbol and market status per scope, in Redis.

    Keys: ``<key_prefix>:snapshot:<depth channel>`` and ``<key_prefix>:status:<events
    channel>`` (for example ``rfsdk:md:snapshot:market.depth.AAPL``). Values are codec
    frames, so the codec's keyring must be shared by writers and readers.

    Args:
        client: the SDK client.
        codec: frames the stored values (default: a new SDK codec).
        venue: the feed's venue (part of the channel names and keys), if any.
        tenant: the tenant of the channels, if any.
        key_prefix: the first part of every key.

    Raises:
        ConfigurationError: an empty ``key_prefix``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        venue: str | None = None,
        tenant: str | None = None,
        key_prefix: str = "rfsdk:md",
    ) -> None:
        if not key_prefix:
            raise ConfigurationError("key_prefix", "must not be empty")
        self._client = client
        self.codec = codec if codec is not None else default_codec()
        self.scope = Scope(venue, tenant, key_prefix)

    def snapshot_key(self, symbol: str) -> str:
        """The key of one symbol's depth snapshot.

        Raises:
            ConfigurationError: the symbol is not a valid channel segment.
        """
        return f"{self.scope.key_prefix}:snapshot:{self.scope.depth(symbol)}"

    def status_key(self, symbol: str | None = None, *, venue: str | None = None) -> str:
        """The key of the status of one symbol, or (no symbol) of a venue.

        Raises:
            ConfigurationError: no symbol and no venue, or an invalid segment.
        """
        return f"{self.scope.key_prefix}:status:{self.scope.events(symbol, venue)}"

    async def snapshot(self, symbol: str) -> DepthSnapshot | None:
        """The stored snapshot of ``symbol`` (``None``: none, or expired).

        Raises:
            RedisError: Redis could not be reached.
            CodecError: the stored frame cannot be read (wrong key, not a snapshot).
        """
        found = await self._load(self.snapshot_key(symbol))
        if found is not None and not isinstance(found, DepthSnapshot):
            raise SchemaError("the stored depth snapshot has another message type")
        return found

    async def status(
        self, symbol: str | None = None, *, venue: str | None = None
    ) -> MarketStatusEvent | None:
        """The latest status event of a symbol, or (no symbol) of a venue.

        Raises:
            ConfigurationError: no symbol and no venue.
            RedisError: Redis could not be reached.
            CodecError: the stored frame cannot be read.
        """
        found = await self._load(self.status_key(symbol, venue=venue))
        if found is not None and not isinstance(found, MarketStatusEvent):
            raise SchemaError("the stored market status has another message type")
        return found

    async def save_snapshot(self, snapshot: DepthSnapshot, *, ttl: float) -> None:
        """Store ``snapshot`` as its symbol's latest, for ``ttl`` seconds.

        Raises:
            RedisError: Redis could not be reached.
            CodecError: the snapshot cannot be encoded.
        """
        await self._save(self.snapshot_key(snapshot.symbol), snapshot, ttl)

    async def save_status(self, event: MarketStatusEvent, *, ttl: float) -> None:
        """Store ``event`` as its scope's latest status, for ``ttl`` seconds.

        Raises:
            RedisError: Redis could not be reached.
            CodecError: the event cannot be encoded.
        """
        await self._save(self.status_key(event.symbol, venue=event.venue), event, ttl)

    async def _save(self, key: str, message: Any, ttl: float) -> None:
        frame = self.codec.encode(message, channel=key)
        with self._client.translate_errors("SET", key=key):
            await self._client.redis.set(key, frame, px=max(1, int(ttl * 1000)))

    async def _load(self, key: str) -> Any:
        with self._client.translate_errors("GET", key=key):
            frame = await self._client.redis.get(key)
        if frame is None:
            return None
        data = frame if isinstance(frame, bytes) else frame.encode()
        return self.codec.decode(data, channel=key).payload


class MarketDataPublisher:
    """Publishes a market-data feed on the typed channels and keeps late-joiner state.

    ===========================  =====================================  ==================
    method                       channel                                stored
    ===========================  =====================================  ==================
    :meth:`publish_tick`         ``market.price[.<venue>].<symbol>``    —
    :meth:`publish_trade`        ``market.trades[.<venue>].<symbol>``   —
    :meth:`publish_snapshot`     ``market.depth[.<venue>].<symbol>``    the snapshot
    :meth:`publish_update`       ``market.depth[.<venue>].<symbol>``    the book (every
                                                                        ``snapshot_every``)
    :meth:`publish_status`       ``market.events.<venue>`` or           the event
                                 ``market.events[.<venue>].<symbol>``
    :meth:`publish_portfolio`    ``portfolio.update.<portfolio id>``    —
    ===========================  =====================================  ==================

    Depth calls for one symbol are serialised (a lock per symbol), so the stored snapshot
    and the published updates never overtake each other.

    Args:
        client: the SDK client (for the stored keys).
        publisher: the publisher; its codec also frames the stored values.
        venue: the feed's venue, added to the market channel names and keys.
        tenant: the tenant of the channels.
        key_prefix: the first part of the stored keys.
        snapshot_every: store the book after every n-th applied update (``1``: the stored
            snapshot is always current, so a resync never has to wait for a newer one).
        snapshot_ttl: seconds a stored snapshot lives without being refreshed.
        status_ttl: seconds a stored status lives.

    Raises:
        ConfigurationError: ``snapshot_every < 1``, a TTL that is not positive, or an empty
            ``key_prefix``.
    """

    def __init__(
        self,
        client: AsyncClient,
        publisher: AsyncPublisher,
        *,
        venue: str | None = None,
        tenant: str | None = None,
        key_prefix: str = "rfsdk:md",
        snapshot_every: int = 1,
        snapshot_ttl: float = 3600.0,
        status_ttl: float = 86400.0,
    ) -> None:
        if snapshot_every < 1:
            raise ConfigurationError("snapshot_every", "must be >= 1")
        for name, ttl in (("snapshot_ttl", snapshot_ttl), ("status_ttl", status_ttl)):
            if not ttl > 0:
                raise ConfigurationError(name, "must be > 0 seconds")
        self._publisher = publisher
        self.store = MarketDataStore(
            client, codec=publisher.codec, venue=venue, tenant=tenant, key_prefix=key_prefix
        )
        self._scope = self.store.scope
        self._every = snapshot_every
        self._snapshot_ttl = snapshot_ttl
        self._status_ttl = status_ttl
        self._books: dict[str, OrderBook] = {}
        self._unsaved: dict[str, int] = {}
        self._locks: dict[str, anyio.Lock] = {}

    def book(self, symbol: str) -> OrderBook | None:
        """The publisher's own book of ``symbol`` (``None`` before its first snapshot)."""
        return self._books.get(symbol)

    def _lock(self, symbol: str) -> anyio.Lock:
        lock = self._locks.get(symbol)
        if lock is None:
            lock = self._locks[symbol] = anyio.Lock()
        return lock

    async def publish_tick(self, tick: PriceTick) -> int:
        """Publish a quote; return how many subscribers got it.

        Raises:
            ConfigurationError: the symbol is not a valid channel segment.
            RedisError: the publish failed (see :meth:`AsyncPublisher.publish`).
        """
        return await self._publisher.publish(tick, self._scope.price(tick.symbol))

    async def publish_ticks(self, ticks: Iterable[PriceTick]) -> list[int]:
        """Publish many quotes in one pipeline; return each one's receiver count.

        Raises:
            ConfigurationError: a symbol is not a valid channel segment (nothing was sent).
            RedisError: the publish failed.
        """
        items = [(self._scope.price(t.symbol), t) for t in ticks]
        return await self._publisher.publish_many(items)

    async def publish_trade(self, trade: TradePrint) -> int:
        """Publish a trade print; return how many subscribers got it.

        Raises:
            ConfigurationError: the symbol is not a valid channel segment.
            RedisError: the publish failed.
        """
        return await self._publisher.publish(trade, self._scope.trades(trade.symbol))

    async def publish_snapshot(self, snapshot: DepthSnapshot) -> int:
        """Restart the symbol's book from ``snapshot``, store it, then publish it.

        Sequence numbers of a symbol must keep growing across snapshots: subscribers ignore
        a snapshot that is not newer than their book.

        Raises:
            ConfigurationError: the symbol is not a valid channel segment.
            CodecError: the snapshot cannot be encoded.
            RedisError: storing or publishing failed.
        """
        symbol = snapshot.symbol
        channel = self._scope.depth(symbol)
        async with self._lock(symbol):
            book = OrderBook(symbol, venue=self._scope.venue, max_pending=0)
            book.load(snapshot)
            self._books[symbol] = book
            self._unsaved[symbol] = self._every  # stored below; stays due if that fails
            await self.store.save_snapshot(snapshot, ttl=self._snapshot_ttl)
            self._unsaved[symbol] = 0
            return await self._publisher.publish(snapshot, channel)

    async def publish_update(self, update: DepthUpdate) -> BookAction:
        """Apply ``update`` to the publisher's book and, if it applied, publish it.

        Returns:
            ``APPLIED`` (stored when due, then published); ``STALE`` (not newer than the
            book: nothing sent); ``GAP`` or ``PENDING`` (it does not follow the book, or no
            snapshot was published yet: nothing sent — publish a fresh snapshot).

        Raises:
            ConfigurationError: the symbol is not a valid channel segment.
            CodecError: the update or the snapshot cannot be encoded.
            RedisError: storing or publishing failed (the next applied update stores the
                book again, so subscribers resync past it).
        """
        symbol = update.symbol
        channel = self._scope.depth(symbol)
        async with self._lock(symbol):
            book = self._books.get(symbol)
            if book is None:
                return BookAction.PENDING
            action = book.apply(update)
            if action is not BookAction.APPLIED:
                return action
            due = self._unsaved.get(symbol, 0) + 1
            self._unsaved[symbol] = due
            if due >= self._every:
                await self.store.save_snapshot(book.snapshot(), ttl=self._snapshot_ttl)
                self._unsaved[symbol] = 0
            await self._publisher.publish(update, channel)
            return action

    async def publish_status(self, event: MarketStatusEvent) -> int:
        """Store ``event`` as the latest status of its scope, then publish it.

        A venue-wide event (no symbol) goes to ``market.events.<event venue>``; an instrument
        event to ``market.events[.<feed venue>].<symbol>``.

        Raises:
            ConfigurationError: an invalid channel segment.
            CodecError: the event cannot be encoded.
            RedisError: storing or publishing failed.
        """
        channel = self._scope.events(event.symbol, event.venue)
        await self.store.save_status(event, ttl=self._status_ttl)
        headers = {"status": event.status.value}
        return await self._publisher.publish(event, channel, headers=headers)

    async def publish_portfolio(self, update: PortfolioUpdate) -> int:
        """Publish positions and P&L on ``portfolio.update.<portfolio id>``.

        Raises:
            ConfigurationError: the portfolio id is not a valid channel segment.
            RedisError: the publish failed.
        """
        channel = self._scope.portfolio(update.portfolio_id)
        headers = {"version": str(update.version)}
        return await self._publisher.publish(update, channel, headers=headers)
