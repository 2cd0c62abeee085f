"""The subscribing side of market data: order books kept in sync, conflated ticks.

* :class:`OrderBookSubscriber` — one :class:`OrderBook` per followed symbol, fed from
  ``market.depth.<symbol>``. It starts from the stored snapshot (late joiners) and, when a
  book finds a gap (a dropped message, a reconnect, a slow consumer cut off by Redis),
  fetches the stored snapshot again and carries on from it.
* :class:`TickSubscriber` — ``market.price.<symbol>`` through a conflating buffer: a slow
  consumer gets the latest tick of every symbol, never a backlog; replaced ticks are never
  decoded.

Each owns an :class:`~redis_fintech_sdk.pubsub.AsyncSubscriber` (reconnects, liveness,
metrics) and runs inside its ``async with``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TypeVar

import anyio

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, SDKError
from redis_fintech_sdk.pubsub import (
    AsyncSubscriber,
    Delivery,
    FrameCodec,
    OverflowPolicy,
    SubscriberConfig,
    SubscriberStatistics,
)

from ._market_data import DepthSnapshot, DepthUpdate, PriceTick
from ._market_data_book import BookAction, OrderBook, OrderBookStatistics
from ._market_data_feed import MarketDataStore, Scope

__all__ = ["OrderBookSubscriber", "TickSubscriber"]

_log = logging.getLogger("redis_fintech_sdk.patterns")
_DEPTH_TYPES = ("rfsdk.md.depth.snapshot", "rfsdk.md.depth.update")


class _Follow:
    """A followed symbol: its book and its resync bookkeeping."""

    __slots__ = ("book", "fetched_at", "fetching", "resync_errors")

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.fetching = False
        self.fetched_at = -1e9
        self.resync_errors = 0


_W = TypeVar("_W", bound="_Wrapper")


class _Wrapper:
    """``async with`` runs the wrapped subscriber."""

    subscriber: AsyncSubscriber

    async def __aenter__(self: _W) -> _W:
        await self.subscriber.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self.subscriber.__aexit__(exc_type, exc, tb)


class OrderBookSubscriber(_Wrapper):
    """Keeps an :class:`OrderBook` per followed symbol in sync with a depth feed.

    ::

        async with OrderBookSubscriber(client) as books:
            await books.follow("AAPL")
            book = await books.wait_synced("AAPL", timeout=5)
            book.best_bid(), book.top(5)

    Updates are applied in the subscriber's handler task, in arrival order. A book that
    needs a snapshot fetches the stored one at once, and again at most every
    ``resync_interval`` seconds while it stays out of sync (a publisher storing its book
    only every n updates may need a later one); a snapshot published on the channel is
    loaded too. Resync failures (Redis unreachable) are counted and logged by error class.

    Args:
        client: the SDK client.
        codec: the frame codec (the publisher's keyring, if it encrypts).
        venue: the feed's venue, as given to the publisher.
        tenant: the tenant of the channels.
        key_prefix: the publisher's ``key_prefix``.
        config: subscriber settings (default: ``block`` overflow with room for 100,000
            messages; a dropping policy works but turns every drop into a resync).
        max_pending: updates each book holds while it waits for a snapshot.
        resync_interval: least seconds between two snapshot fetches of one symbol.

    Raises:
        ConfigurationError: a negative ``resync_interval`` or ``max_pending``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        venue: str | None = None,
        tenant: str | None = None,
        key_prefix: str = "rfsdk:md",
        config: SubscriberConfig | None = None,
        max_pending: int = 10_000,
        resync_interval: float = 0.05,
    ) -> None:
        if resync_interval < 0:
            raise ConfigurationError("resync_interval", "must be >= 0 seconds")
        if max_pending < 0:
            raise ConfigurationError("max_pending", "must be >= 0")
        cfg = config or SubscriberConfig(buffer_capacity=100_000, overflow=OverflowPolicy.BLOCK)
        self.subscriber = AsyncSubscriber(client, codec=codec, config=cfg)
        self.subscriber.add_handler(self._on_delivery, types=_DEPTH_TYPES)
        self.store = MarketDataStore(
            client, codec=self.subscriber.codec, venue=venue, tenant=tenant, key_prefix=key_prefix
        )
        self._max_pending = max_pending
        self._interval = resync_interval
        self._follows: dict[str, _Follow] = {}
        self._by_channel: dict[str, str] = {}
        self._changed = anyio.Event()
        self._waiters = 0

    async def follow(self, *symbols: str) -> None:
        """Subscribe to the depth of ``symbols``, then load their stored snapshots.

        Subscribing first means no update between the snapshot and the live feed is lost:
        updates that arrive before the snapshot is loaded are held and applied after it.

        Raises:
            ConfigurationError: a symbol is not a valid channel segment.
            RedisTimeoutError: the subscription was not confirmed in time.
        """
        channels = []
        for symbol in symbols:
            channel = self.store.scope.depth(symbol)
            if symbol not in self._follows:
                book = OrderBook(
                    symbol, venue=self.store.scope.venue, max_pending=self._max_pending
                )
                self._follows[symbol] = _Follow(book)
                self._by_channel[channel.name] = symbol
            channels.append(channel)
        await self.subscriber.subscribe(*channels)
        for symbol in symbols:
            await self._resync(symbol, force=True)

    async def unfollow(self, *symbols: str) -> None:
        """Stop following ``symbols`` and forget their books."""
        channels = [self.store.scope.depth(s) for s in symbols if s in self._follows]
        for channel in channels:
            self._follows.pop(self._by_channel.pop(channel.name), None)
        await self.subscriber.unsubscribe(*channels)

    def book(self, symbol: str) -> OrderBook:
        """The book of a followed symbol.

        Raises:
            KeyError: the symbol is not followed.
        """
        return self._follows[symbol].book

    def statistics(self) -> dict[str, OrderBookStatistics]:
        """Each followed symbol's book statistics."""
        return {symbol: f.book.statistics() for symbol, f in self._follows.items()}

    def resync_errors(self, symbol: str) -> int:
        """Snapshot fetches of ``symbol`` that failed (Redis or codec errors).

        Raises:
            KeyError: the symbol is not followed.
        """
        return self._follows[symbol].resync_errors

    async def wait_synced(
        self,
        symbol: str,
        *,
        sequence: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the subscriber's get() does the same
    ) -> OrderBook:
        """Wait until the book of ``symbol`` is in sync (and at ``sequence`` or later).

        Raises:
            KeyError: the symbol is not followed.
            TimeoutError: not within ``timeout`` seconds.
        """
        follow = self._follows[symbol]
        self._waiters += 1
        try:
            with anyio.fail_after(timeout):
                while not (
                    follow.book.synced
                    and (sequence is None or (follow.book.sequence or 0) >= sequence)
                ):
                    await self._changed.wait()
        finally:
            self._waiters -= 1
        return follow.book

    def _notify(self) -> None:
        if self._waiters:  # no Event churn on the hot path when nobody waits
            self._changed.set()
            self._changed = anyio.Event()

    async def _on_delivery(self, delivery: Delivery) -> None:
        symbol = self._by_channel.get(delivery.channel)
        follow = self._follows.get(symbol) if symbol is not None else None
        if follow is None:
            return  # unfollowed while in flight
        payload = delivery.payload
        if isinstance(payload, DepthUpdate):
            action = follow.book.apply(payload)
        elif isinstance(payload, DepthSnapshot):
            action = follow.book.load(payload)
        else:
            return
        if action is BookAction.GAP:  # a new hole: fetch at once
            await self._resync(follow.book.symbol, force=True)
        elif action is BookAction.PENDING:  # still waiting: fetch again, but not too often
            await self._resync(follow.book.symbol)
        self._notify()

    async def _resync(self, symbol: str, *, force: bool = False) -> None:
        follow = self._follows.get(symbol)
        if follow is None or follow.fetching:
            return
        now = time.monotonic()
        if not force and now - follow.fetched_at < self._interval:
            return
        follow.fetching = True
        try:
            snapshot = await self.store.snapshot(symbol)
        except SDKError as exc:
            follow.resync_errors += 1
            _log.warning("order book %s: snapshot fetch failed (%s)", symbol, type(exc).__name__)
            return
        finally:
            follow.fetching = False
            follow.fetched_at = now
        if snapshot is not None and self._follows.get(symbol) is follow:
            follow.book.load(snapshot)
            self._notify()


class TickSubscriber(_Wrapper):
    """The latest :class:`PriceTick` of every subscribed symbol, for slow consumers.

    A conflating buffer holds one pending tick per channel (so per symbol, or per venue and
    symbol on a venue-scoped feed); a newer tick replaces the pending one in place and keeps
    its place in the queue. ``statistics().buffer.conflated`` counts the replaced ticks.

    Args:
        client: the SDK client.
        codec: the frame codec.
        venue: the feed's venue, as given to the publisher.
        tenant: the tenant of the channels.
        capacity: most symbols pending at once (a new symbol beyond it evicts the oldest).
        config: other subscriber settings; its ``overflow`` and ``buffer_capacity`` are
            replaced by ``conflate`` and ``capacity``.

    Raises:
        ConfigurationError: ``capacity < 1``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        venue: str | None = None,
        tenant: str | None = None,
        capacity: int = 10_000,
        config: SubscriberConfig | None = None,
    ) -> None:
        cfg = dataclasses.replace(
            config or SubscriberConfig(), buffer_capacity=capacity, overflow=OverflowPolicy.CONFLATE
        )
        self.subscriber = AsyncSubscriber(client, codec=codec, config=cfg)
        self._scope = Scope(venue, tenant)

    async def subscribe(self, *symbols: str) -> None:
        """Receive the ticks of ``symbols``.

        Raises:
            ConfigurationError: a symbol is not a valid channel segment.
            RedisTimeoutError: the subscription was not confirmed in time.
        """
        await self.subscriber.subscribe(*(self._scope.price(s) for s in symbols))

    async def subscribe_all(self) -> None:
        """Receive the ticks of every symbol of the feed (``market.price[.<venue>].*``).

        Raises:
            RedisTimeoutError: the subscription was not confirmed in time.
        """
        await self.subscriber.psubscribe(self._scope.pattern(self._scope.price("X")))

    def get_nowait(self) -> PriceTick:
        """The oldest pending tick (the latest of its symbol), without waiting.

        Raises:
            anyio.WouldBlock: no tick is pending.
        """
        while True:
            payload = self.subscriber.get_nowait().payload
            if isinstance(payload, PriceTick):
                return payload

    async def get(self, timeout: float | None = None) -> PriceTick:  # noqa: ASYNC109
        """Wait for the next pending tick (the latest of its symbol).

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            anyio.EndOfStream: the subscriber is closed.
        """
        with anyio.fail_after(timeout):
            while True:
                payload = (await self.subscriber.get()).payload
                if isinstance(payload, PriceTick):
                    return payload

    def latest(self) -> dict[str, PriceTick]:
        """Take every pending tick now: the latest one per symbol (never waits)."""
        found: dict[str, PriceTick] = {}
        while True:
            try:
                tick = self.get_nowait()
            except anyio.WouldBlock:
                return found
            found[tick.symbol] = tick

    def __aiter__(self) -> AsyncIterator[PriceTick]:
        return self

    async def __anext__(self) -> PriceTick:
        try:
            return await self.get()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def statistics(self) -> SubscriberStatistics:
        """The subscriber's counters (``buffer.conflated``: ticks replaced by newer ones)."""
        return self.subscriber.statistics()
