"""Builders for the SDK's channel families, so services agree on names.

Every builder validates its inputs (a ``ConfigurationError`` names the bad part), accepts a
``tenant`` for multi-tenant deployments, and ``sharded=True`` to hash-tag the entity
(symbol, user, portfolio) so all of that entity's channels share one cluster slot.

================================  =============================================
builder                           example
================================  =============================================
``market_price("AAPL")``          ``market.price.AAPL``
``market_depth("AAPL", venue=…)`` ``market.depth.XNAS.AAPL``
``market_trades("AAPL")``         ``market.trades.AAPL``
``market_events(venue="XNAS")``   ``market.events.XNAS``
``portfolio_updates("P-9")``      ``portfolio.update.P-9``
``user_notifications(42)``        ``notify.user.42``
``risk_alerts("critical")``       ``risk.alert.critical``
``fraud_alerts()``                ``fraud.alert``
``compliance_events("kyc")``      ``compliance.event.kyc``
``trade_executions("high")``      ``trade.exec.high``
================================  =============================================
"""

from __future__ import annotations

import enum

from redis_fintech_sdk.errors import ConfigurationError

from ._names import Channel

__all__ = [
    "Priority",
    "compliance_events",
    "fraud_alerts",
    "market_depth",
    "market_events",
    "market_price",
    "market_trades",
    "portfolio_updates",
    "risk_alerts",
    "trade_executions",
    "user_notifications",
]


class Priority(str, enum.Enum):
    """Message priority.

    ``NORMAL`` traffic uses a family's base channel; the others may get their own channel
    (``trade.exec.high``) so a subscriber can drain them first.
    """

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @classmethod
    def parse(cls, value: Priority | str) -> Priority:
        """Return ``value`` as a :class:`Priority`.

        Raises:
            ConfigurationError: ``value`` is not one of low, normal, high, critical.
        """
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(p.value for p in cls)
            raise ConfigurationError(
                "priority", f"{value!r} is not a priority (allowed: {allowed})"
            ) from None


def _build(
    domain: str,
    kind: str,
    parts: list[str | None],
    *,
    tenant: str | None,
    shard_on: str | None = None,
    sharded: bool = False,
) -> Channel:
    qualifiers = [str(p) for p in parts if p is not None]
    if sharded:
        if shard_on is None:
            raise ConfigurationError("sharded", f"{domain}.{kind} has no entity to hash-tag")
        qualifiers = ["{" + q + "}" if q == shard_on else q for q in qualifiers]
    return Channel.of(domain, kind, *qualifiers, tenant=tenant)


def market_price(
    symbol: str, *, venue: str | None = None, tenant: str | None = None, sharded: bool = False
) -> Channel:
    """Price ticks of one instrument: ``market.price[.<venue>].<symbol>``.

    Raises:
        ConfigurationError: ``symbol``, ``venue`` or ``tenant`` is not a valid segment
            (use ``BRK-B``, not ``BRK.B``).
    """
    return _build(
        "market", "price", [venue, symbol], tenant=tenant, shard_on=symbol, sharded=sharded
    )


def market_depth(
    symbol: str, *, venue: str | None = None, tenant: str | None = None, sharded: bool = False
) -> Channel:
    """Order-book depth of one instrument: ``market.depth[.<venue>].<symbol>``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build(
        "market", "depth", [venue, symbol], tenant=tenant, shard_on=symbol, sharded=sharded
    )


def market_trades(
    symbol: str, *, venue: str | None = None, tenant: str | None = None, sharded: bool = False
) -> Channel:
    """Public trades (prints) of one instrument: ``market.trades[.<venue>].<symbol>``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build(
        "market", "trades", [venue, symbol], tenant=tenant, shard_on=symbol, sharded=sharded
    )


def market_events(
    *, venue: str | None = None, symbol: str | None = None, tenant: str | None = None
) -> Channel:
    """Market events (halts, auctions, session changes): ``market.events[.<venue>][.<symbol>]``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build("market", "events", [venue, symbol], tenant=tenant)


def portfolio_updates(
    portfolio_id: str | int, *, tenant: str | None = None, sharded: bool = False
) -> Channel:
    """Position / P&L updates of one portfolio: ``portfolio.update.<portfolio_id>``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    pid = str(portfolio_id)
    return _build("portfolio", "update", [pid], tenant=tenant, shard_on=pid, sharded=sharded)


def user_notifications(
    user_id: str | int, *, tenant: str | None = None, sharded: bool = False
) -> Channel:
    """Notifications for one user: ``notify.user.<user_id>``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    uid = str(user_id)
    return _build("notify", "user", [uid], tenant=tenant, shard_on=uid, sharded=sharded)


def risk_alerts(severity: str | None = None, *, tenant: str | None = None) -> Channel:
    """Risk alert broadcasts: ``risk.alert[.<severity>]``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build("risk", "alert", [severity], tenant=tenant)


def fraud_alerts(severity: str | None = None, *, tenant: str | None = None) -> Channel:
    """Fraud alert broadcasts: ``fraud.alert[.<severity>]``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build("fraud", "alert", [severity], tenant=tenant)


def compliance_events(category: str | None = None, *, tenant: str | None = None) -> Channel:
    """Compliance events (KYC, AML, surveillance): ``compliance.event[.<category>]``.

    Raises:
        ConfigurationError: a part is not a valid segment.
    """
    return _build("compliance", "event", [category], tenant=tenant)


def trade_executions(
    priority: Priority | str | None = None, *, desk: str | None = None, tenant: str | None = None
) -> Channel:
    """Trade execution reports: ``trade.exec[.<desk>][.<priority>]``.

    ``None`` and ``normal`` priority use the base channel; ``low``, ``high`` and
    ``critical`` get their own (``trade.exec.high``).

    Raises:
        ConfigurationError: ``priority`` is unknown or a part is not a valid segment.
    """
    suffix: str | None = None
    if priority is not None:
        level = Priority.parse(priority)
        if level is not Priority.NORMAL:
            suffix = level.value
    return _build("trade", "exec", [desk, suffix], tenant=tenant)
