"""Market-data and portfolio messages.

The feed itself — :class:`PriceTick`, :class:`TradePrint`, :class:`DepthSnapshot` and
:class:`DepthUpdate` — is made of ``msgspec.Struct`` types: a tick is the hottest message
the SDK carries, and a Struct dumps and validates in about a quarter of pydantic's time
(``docs/messages.md``) while keeping the same wire form (decimal strings, RFC 3339 text).
Depth levels travel as ``[price, size]`` arrays. The rare, richer messages —
:class:`MarketStatusEvent` and :class:`PortfolioUpdate` — are pydantic
:class:`~redis_fintech_sdk.codec.Message` types, for ``Money`` with its ISO-4217 check,
nanosecond :class:`~redis_fintech_sdk.codec.Timestamp` and redaction of the account id.

Prices and sizes are ``Decimal``. Constructing a Struct with a float (or NaN, infinity, a
negative size, a naive timestamp) raises :class:`~redis_fintech_sdk.errors.SchemaError`;
an ``int`` is taken as an exact ``Decimal``. On the wire the SDK always writes decimal
strings; msgspec cannot tell a foreign producer's float from a decimal string on decoding,
so the pydantic types are the ones to use where a float must be refused on the wire too.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from redis_fintech_sdk.codec import Amount, Message, Money, SensitiveStr, Timestamp, message
from redis_fintech_sdk.errors import SchemaError

__all__ = [
    "DepthSnapshot",
    "DepthUpdate",
    "LevelChange",
    "MarketStatus",
    "MarketStatusEvent",
    "PortfolioUpdate",
    "Position",
    "PriceLevel",
    "PriceTick",
    "TradePrint",
]

_WORD = r"^[A-Za-z0-9_-]{1,64}$"
Symbol = Annotated[str, msgspec.Meta(pattern=_WORD)]
UtcTime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
BookSequence = Annotated[int, msgspec.Meta(ge=0)]
Side = Literal["bid", "ask"]
_ZERO = Decimal(0)


def _decimal(obj: Any, name: str, *, optional: bool = False, sign: str = "") -> None:
    """Check (and coerce an ``int`` into) one Decimal field of a frozen Struct.

    Raises:
        SchemaError: a float, bool or other type, NaN/infinity, or a value of the wrong sign.
    """
    value = getattr(obj, name)
    if value is None and optional:
        return
    if type(value) is int:
        value = Decimal(value)
        msgspec.structs.force_setattr(obj, name, value)
    if not isinstance(value, Decimal):
        kind = "float" if isinstance(value, float) else type(value).__name__
        raise SchemaError(f"{type(obj).__name__}.{name}: must be a Decimal, not {kind}")
    if not value.is_finite():
        raise SchemaError(f"{type(obj).__name__}.{name}: must be finite")
    if (sign == ">=0" and value < 0) or (sign == ">0" and value <= 0):
        what = "positive" if sign == ">0" else "zero or positive"
        raise SchemaError(f"{type(obj).__name__}.{name}: must be {what}")


def _aware(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise SchemaError(f"{type(obj).__name__}.{name}: must be a timezone-aware datetime")


@message("rfsdk.md.tick", version=1)
class PriceTick(msgspec.Struct, frozen=True, kw_only=True):
    """Top of book of one instrument (a quote). Published on ``market.price.<symbol>``.

    Attributes:
        symbol: the instrument (a channel segment: ``[A-Za-z0-9_-]``, e.g. ``BRK-B``).
        bid: the best bid price (``None``: no bid).
        ask: the best ask price (``None``: no offer).
        bid_size: the quantity at the bid.
        ask_size: the quantity at the ask.
        venue: the venue (MIC) that quoted it, if known.
        exchange_time: when the venue stamped it (UTC; microseconds).

    Raises:
        SchemaError: on construction or decoding, a float price, a negative size or a naive
            timestamp.
    """

    symbol: Symbol
    bid: Decimal | None
    ask: Decimal | None
    bid_size: Decimal = _ZERO
    ask_size: Decimal = _ZERO
    venue: str | None = None
    exchange_time: UtcTime

    def __post_init__(self) -> None:
        _decimal(self, "bid", optional=True)
        _decimal(self, "ask", optional=True)
        _decimal(self, "bid_size", sign=">=0")
        _decimal(self, "ask_size", sign=">=0")
        _aware(self, "exchange_time")


@message("rfsdk.md.trade", version=1)
class TradePrint(msgspec.Struct, frozen=True, kw_only=True):
    """A public trade (a print). Published on ``market.trades.<symbol>``.

    Attributes:
        symbol: the instrument.
        price: the trade price.
        size: the traded quantity (> 0).
        venue: the venue (MIC), if known.
        exchange_time: when the venue stamped it (UTC).
        trade_id: the venue's trade id, if any.
        aggressor: the side that took liquidity, if known.
        conditions: the venue's sale-condition codes.

    Raises:
        SchemaError: a float or non-positive size, a float price or a naive timestamp.
    """

    symbol: Symbol
    price: Decimal
    size: Decimal
    venue: str | None = None
    exchange_time: UtcTime
    trade_id: str | None = None
    aggressor: Literal["buy", "sell"] | None = None
    conditions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _decimal(self, "price")
        _decimal(self, "size", sign=">0")
        _aware(self, "exchange_time")


class PriceLevel(msgspec.Struct, frozen=True, array_like=True):
    """One level of a book side; on the wire ``["189.12", "300"]``.

    Attributes:
        price: the price.
        size: the total quantity at that price (>= 0).

    Raises:
        SchemaError: a float price or size, or a negative size.
    """

    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        _decimal(self, "price")
        _decimal(self, "size", sign=">=0")


class LevelChange(msgspec.Struct, frozen=True, array_like=True):
    """A new size for one price level; on the wire ``["bid", "189.12", "0"]``.

    Attributes:
        side: ``bid`` or ``ask``.
        price: the level's price.
        size: the new total quantity; ``0`` removes the level.

    Raises:
        SchemaError: a float price or size, or a negative size.
    """

    side: Side
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        _decimal(self, "price")
        _decimal(self, "size", sign=">=0")


def _check_sorted(obj: Any, name: str, levels: tuple[PriceLevel, ...], descending: bool) -> None:
    prices = [level.price for level in levels]
    for a, b in itertools.pairwise(prices):
        if (a <= b) if descending else (a >= b):
            order = "descending" if descending else "ascending"
            raise SchemaError(f"{type(obj).__name__}.{name}: prices must be strictly {order}")


@message("rfsdk.md.depth.snapshot", version=1)
class DepthSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The whole book of one instrument as of one book sequence number.

    Attributes:
        symbol: the instrument.
        sequence: the book sequence number this snapshot includes (the last update applied).
        bids: bid levels, best (highest) first.
        asks: ask levels, best (lowest) first.
        venue: the venue, if known.
        exchange_time: the venue time of the last change included.

    Raises:
        SchemaError: unsorted or duplicate levels, or a bad level or timestamp.
    """

    symbol: Symbol
    sequence: BookSequence
    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()
    venue: str | None = None
    exchange_time: UtcTime

    def __post_init__(self) -> None:
        _check_sorted(self, "bids", self.bids, descending=True)
        _check_sorted(self, "asks", self.asks, descending=False)
        _aware(self, "exchange_time")


@message("rfsdk.md.depth.update", version=1)
class DepthUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Incremental book changes that move the book from ``prev_sequence`` to ``sequence``.

    A book at sequence ``prev_sequence`` applies it; one past ``sequence`` ignores it (stale);
    any other book has missed something and must resync from a snapshot.

    Attributes:
        symbol: the instrument.
        sequence: the book sequence number after this update.
        prev_sequence: the book sequence number this update applies after
            (``sequence - 1`` for a feed that numbers every update).
        changes: the level changes, applied in order.
        venue: the venue, if known.
        exchange_time: the venue time of the change.

    Raises:
        SchemaError: ``prev_sequence >= sequence``, or a bad change or timestamp.
    """

    symbol: Symbol
    sequence: BookSequence
    prev_sequence: BookSequence
    changes: tuple[LevelChange, ...]
    venue: str | None = None
    exchange_time: UtcTime

    def __post_init__(self) -> None:
        if self.prev_sequence >= self.sequence:
            raise SchemaError("DepthUpdate.prev_sequence: must be lower than sequence")
        _aware(self, "exchange_time")


class MarketStatus(str, enum.Enum):
    """A trading-status transition of a venue or an instrument."""

    OPEN = "open"
    CLOSE = "close"
    HALT = "halt"
    RESUME = "resume"

    @property
    def trading(self) -> bool:
        """Whether trading is possible after this transition (``open`` or ``resume``)."""
        return self in (MarketStatus.OPEN, MarketStatus.RESUME)


@message("rfsdk.md.status", version=1)
class MarketStatusEvent(Message):
    """A venue or instrument opens, closes, halts or resumes.

    Published on ``market.events.<venue>`` (venue-wide, no symbol) or
    ``market.events[.<feed venue>].<symbol>``; the latest one per scope is kept in Redis.

    Attributes:
        status: the transition.
        venue: the venue (MIC); required when there is no symbol.
        symbol: the instrument, for an instrument-level event.
        reason: why (a halt code such as ``LUDP`` or free text; at most 256 characters).
        effective_at: when it takes effect.
    """

    status: MarketStatus
    venue: str | None = Field(default=None, pattern=_WORD)
    symbol: str | None = Field(default=None, pattern=_WORD)
    reason: str = Field(default="", max_length=256)
    effective_at: Timestamp = Field(default_factory=Timestamp.now)

    @model_validator(mode="after")
    def _scope(self) -> MarketStatusEvent:
        if self.venue is None and self.symbol is None:
            raise ValueError("a market status event needs a venue or a symbol")
        return self


class Position(BaseModel):
    """One position of a portfolio.

    Attributes:
        symbol: the instrument.
        quantity: signed quantity (negative: short).
        average_price: the average entry price.
        market_value: quantity times the current price.
        unrealized_pnl: profit or loss of the open quantity.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: str
    quantity: Amount
    average_price: Money
    market_value: Money
    unrealized_pnl: Money


@message("rfsdk.portfolio.update", version=1)
class PortfolioUpdate(Message):
    """Positions and P&L of one portfolio. Published on ``portfolio.update.<portfolio_id>``.

    The channel is keyed by ``portfolio_id``, not by the account: channel names show up in
    logs, metrics labels, ACL rules and ``MONITOR``. Map accounts to opaque portfolio ids.

    Attributes:
        portfolio_id: the portfolio (a channel segment).
        account_id: the owning account (redacted in ``repr`` and logs).
        positions: the open positions.
        realized_pnl: realised profit or loss of the day.
        unrealized_pnl: unrealised profit or loss of the open positions.
        cash: available cash, if reported.
        version: increases with every update of this portfolio (drop older ones).
        as_of: when it was computed.
    """

    portfolio_id: str = Field(pattern=_WORD)
    account_id: SensitiveStr
    positions: tuple[Position, ...] = ()
    realized_pnl: Money
    unrealized_pnl: Money
    cash: Money | None = None
    version: int = Field(ge=0)
    as_of: Timestamp = Field(default_factory=Timestamp.now)
