"""OrderBook: one instrument's book from a snapshot plus incremental updates (sans-I/O).

The book has a sequence number. An update whose ``prev_sequence`` is the book's sequence is
applied; one whose ``sequence`` is not past the book's is stale and ignored; anything else
means updates were missed (a gap): the book stops applying, holds what arrives (bounded),
and waits for a snapshot. A snapshot newer than the book replaces it and the held updates
that follow it are applied in sequence order. Nothing here waits or talks to Redis: the
subscriber helper fetches the stored snapshot when :attr:`OrderBook.needs_snapshot`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from redis_fintech_sdk.errors import ConfigurationError

from ._market_data import DepthSnapshot, DepthUpdate, PriceLevel

__all__ = ["BookAction", "OrderBook", "OrderBookStatistics"]


class BookAction(str, enum.Enum):
    """What :meth:`OrderBook.apply` or :meth:`OrderBook.load` did.

    * ``APPLIED`` — the book moved forward and is in sync.
    * ``STALE`` — the message is not newer than the book; it was ignored.
    * ``GAP`` — updates are missing; the book is out of sync until a newer snapshot.
    * ``PENDING`` — the book is waiting for a snapshot; the update was held.
    """

    APPLIED = "applied"
    STALE = "stale"
    GAP = "gap"
    PENDING = "pending"


@dataclass(frozen=True)
class OrderBookStatistics:
    """A snapshot of an :class:`OrderBook`'s state and counters.

    Attributes:
        symbol: the instrument.
        synced: whether the book is in sync.
        sequence: the book sequence number (``None`` before the first snapshot).
        bid_levels: bid price levels held.
        ask_levels: ask price levels held.
        snapshots: snapshots loaded.
        applied: updates applied.
        stale: updates (and snapshots) ignored as not newer than the book.
        gaps: times the book found updates missing.
        resyncs: times a snapshot brought the book back in sync after a gap.
        pending: updates held while waiting for a snapshot.
        dropped: held updates discarded because more than ``max_pending`` were waiting.
    """

    symbol: str
    synced: bool
    sequence: int | None
    bid_levels: int
    ask_levels: int
    snapshots: int
    applied: int
    stale: int
    gaps: int
    resyncs: int
    pending: int
    dropped: int


class _Side:
    """Price -> size, with the prices kept sorted ascending for ordered reads."""

    __slots__ = ("best_high", "prices", "sizes")

    def __init__(self, *, best_high: bool) -> None:
        self.best_high = best_high
        self.sizes: dict[Decimal, Decimal] = {}
        self.prices: list[Decimal] = []

    def load(self, levels: Iterable[PriceLevel]) -> None:
        self.sizes = {level.price: level.size for level in levels if level.size}
        self.prices = sorted(self.sizes)

    def set(self, price: Decimal, size: Decimal) -> None:
        if not size:
            if self.sizes.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
        else:
            if price not in self.sizes:
                bisect.insort(self.prices, price)
            self.sizes[price] = size

    def levels(self, depth: int | None) -> list[PriceLevel]:
        prices = self.prices
        if depth is not None:
            if depth <= 0:
                return []
            prices = prices[-depth:] if self.best_high else prices[:depth]
        ordered = reversed(prices) if self.best_high else iter(prices)
        return [PriceLevel(p, self.sizes[p]) for p in ordered]

    def best(self) -> PriceLevel | None:
        if not self.prices:
            return None
        price = self.prices[-1] if self.best_high else self.prices[0]
        return PriceLevel(price, self.sizes[price])


class OrderBook:
    """The book of one instrument, kept from a snapshot plus sequenced updates.

    Not thread-safe; every method is synchronous and never blocks.

    Args:
        symbol: the instrument; messages for another symbol are refused.
        venue: the venue, copied into :meth:`snapshot`.
        max_pending: most updates held while waiting for a snapshot (the oldest go first;
            ``0``: hold none).

    Raises:
        ConfigurationError: a negative ``max_pending``.
    """

    def __init__(self, symbol: str, *, venue: str | None = None, max_pending: int = 10_000) -> None:
        if max_pending < 0:
            raise ConfigurationError("max_pending", "must be >= 0")
        self.symbol = symbol
        self.venue = venue
        self.max_pending = max_pending
        self._bids = _Side(best_high=True)
        self._asks = _Side(best_high=False)
        self._seq: int | None = None
        self._time: dt.datetime | None = None
        self._synced = False
        self._gap_open = False
        self._pending: dict[int, DepthUpdate] = {}
        self._snapshots = self._applied = self._stale = 0
        self._gaps = self._resyncs = self._dropped = 0

    # ------------------------------------------------------------------ state

    @property
    def synced(self) -> bool:
        """Whether the book is in sync (a snapshot loaded and no gap since)."""
        return self._synced

    @property
    def needs_snapshot(self) -> bool:
        """Whether only a (newer) snapshot can bring the book into sync."""
        return not self._synced

    @property
    def sequence(self) -> int | None:
        """The book sequence number (``None`` before the first snapshot)."""
        return self._seq

    def reset(self) -> None:
        """Forget everything (for a feed that restarted its sequence numbers)."""
        self._bids.load(())
        self._asks.load(())
        self._seq = self._time = None
        self._synced = self._gap_open = False
        self._pending.clear()

    # ------------------------------------------------------------------ input

    def load(self, snapshot: DepthSnapshot) -> BookAction:
        """Replace the book with ``snapshot`` if it is newer, then apply held updates.

        Returns:
            ``APPLIED`` (in sync), ``STALE`` (not newer than the book: ignored) or ``GAP``
            (loaded, but the held updates do not follow it: a newer snapshot is needed).

        Raises:
            ConfigurationError: the snapshot is for another symbol.
        """
        self._check_symbol(snapshot.symbol)
        if self._seq is not None and snapshot.sequence <= self._seq:
            self._stale += 1
            return BookAction.STALE
        self._bids.load(snapshot.bids)
        self._asks.load(snapshot.asks)
        self._seq = snapshot.sequence
        self._time = snapshot.exchange_time
        self._snapshots += 1
        self._synced = True
        self._drain()
        if not self._synced:
            if not self._gap_open:
                self._gaps += 1
                self._gap_open = True
            return BookAction.GAP
        if self._gap_open:
            self._resyncs += 1
            self._gap_open = False
        return BookAction.APPLIED

    def apply(self, update: DepthUpdate) -> BookAction:
        """Apply ``update`` if it follows the book; see :class:`BookAction`.

        Raises:
            ConfigurationError: the update is for another symbol.
        """
        self._check_symbol(update.symbol)
        if self._seq is not None and update.sequence <= self._seq:
            self._stale += 1
            return BookAction.STALE
        if not self._synced:
            self._hold(update)
            return BookAction.PENDING
        if update.prev_sequence != self._seq:
            self._synced = False
            self._gap_open = True
            self._gaps += 1
            self._hold(update)
            return BookAction.GAP
        self._apply(update)
        return BookAction.APPLIED

    def _apply(self, update: DepthUpdate) -> None:
        for change in update.changes:
            (self._bids if change.side == "bid" else self._asks).set(change.price, change.size)
        self._seq = update.sequence
        self._time = update.exchange_time
        self._applied += 1

    def _hold(self, update: DepthUpdate) -> None:
        if self.max_pending == 0:
            self._dropped += 1
            return
        self._pending[update.sequence] = update
        if len(self._pending) > self.max_pending:
            del self._pending[min(self._pending)]
            self._dropped += 1

    def _drain(self) -> None:
        """Apply the held updates that follow the book, in sequence order."""
        for seq in sorted(self._pending):
            update = self._pending[seq]
            assert self._seq is not None
            if update.sequence <= self._seq:
                self._stale += 1
            elif update.prev_sequence == self._seq:
                self._apply(update)
            else:
                self._synced = False  # a hole between the snapshot and what we hold
                return
            del self._pending[seq]

    def _check_symbol(self, symbol: str) -> None:
        if symbol != self.symbol:
            raise ConfigurationError("symbol", f"message for another instrument than {self.symbol}")

    # ------------------------------------------------------------------ reads

    def best_bid(self) -> PriceLevel | None:
        """The highest bid level, or ``None``."""
        return self._bids.best()

    def best_ask(self) -> PriceLevel | None:
        """The lowest ask level, or ``None``."""
        return self._asks.best()

    def bids(self, depth: int | None = None) -> list[PriceLevel]:
        """The top ``depth`` bid levels (all when ``None``), best first."""
        return self._bids.levels(depth)

    def asks(self, depth: int | None = None) -> list[PriceLevel]:
        """The top ``depth`` ask levels (all when ``None``), best first."""
        return self._asks.levels(depth)

    def top(self, depth: int) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """``(bids, asks)``: the top ``depth`` levels of each side, best first."""
        return self._bids.levels(depth), self._asks.levels(depth)

    def spread(self) -> Decimal | None:
        """Best ask minus best bid (``None`` while a side is empty)."""
        bid, ask = self._bids.best(), self._asks.best()
        return None if bid is None or ask is None else ask.price - bid.price

    def snapshot(self) -> DepthSnapshot:
        """The book as a :class:`DepthSnapshot` (what a late joiner starts from).

        Raises:
            ConfigurationError: the book is not in sync.
        """
        if not self._synced or self._seq is None or self._time is None:
            raise ConfigurationError("book", f"{self.symbol} is not in sync")
        return DepthSnapshot(
            symbol=self.symbol,
            sequence=self._seq,
            bids=tuple(self._bids.levels(None)),
            asks=tuple(self._asks.levels(None)),
            venue=self.venue,
            exchange_time=self._time,
        )

    def statistics(self) -> OrderBookStatistics:
        """The state and counters now."""
        return OrderBookStatistics(
            symbol=self.symbol,
            synced=self._synced,
            sequence=self._seq,
            bid_levels=len(self._bids.prices),
            ask_levels=len(self._asks.prices),
            snapshots=self._snapshots,
            applied=self._applied,
            stale=self._stale,
            gaps=self._gaps,
            resyncs=self._resyncs,
            pending=len(self._pending),
            dropped=self._dropped,
        )

    def __repr__(self) -> str:
        state = "synced" if self._synced else "out of sync"
        return f"<OrderBook {self.symbol} seq={self._seq} {state}>"
