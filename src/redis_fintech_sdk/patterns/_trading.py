"""Trade execution and settlement confirmations, and account balance updates.

* :class:`TradeConfirmations` — a :class:`TradeExecuted` goes to a durable stream with the
  trade id as idempotency key (one entry per trade, whoever confirms it and however often),
  then, only when it was new, to the Pub/Sub priority channel ``trade.exec[.<desk>][.<prio>]``.
* :class:`SettlementConfirmations` — the same for :class:`SettlementConfirmed`, keyed by
  settlement id, with the copy on ``trade.settlement``.
* :class:`BalanceNotifier` — :class:`BalanceUpdated` on ``account.balance.<account>``; its
  ``version`` lets a client drop an update older than one it has shown.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from redis_fintech_sdk.channels import Channel, Priority, trade_executions
from redis_fintech_sdk.codec import Amount, Message, Money, SensitiveStr, Timestamp, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.streams import Durability, FrameCodec, Retention

from ._durable import Confirmation, KeyedStream, publish_copy

__all__ = [
    "BalanceNotifier",
    "BalanceUpdated",
    "SettlementConfirmations",
    "SettlementConfirmed",
    "TradeConfirmations",
    "TradeExecuted",
]

_ID = r"^[A-Za-z0-9_.:-]{1,128}$"


@message("rfsdk.trade.executed", version=1)
class TradeExecuted(Message):
    """A fill: the confirmation a trading system sends once per trade.

    Attributes:
        trade_id: unique trade id (the idempotency key).
        order_id: the order it filled.
        account_id: the account (redacted in logs).
        symbol: the instrument.
        side: ``buy`` or ``sell``.
        quantity: the filled quantity.
        price: the fill price.
        venue: the execution venue (MIC), if known.
        executed_at: when it executed.
    """

    trade_id: str = Field(pattern=_ID)
    order_id: str
    account_id: SensitiveStr
    symbol: str
    side: Literal["buy", "sell"]
    quantity: Amount
    price: Money
    venue: str | None = None
    executed_at: Timestamp = Field(default_factory=Timestamp.now)


@message("rfsdk.trade.settled", version=1)
class SettlementConfirmed(Message):
    """The settlement outcome of a trade.

    Attributes:
        settlement_id: unique settlement id (the idempotency key).
        trade_id: the trade settled.
        account_id: the account (redacted in logs).
        amount: the cash amount settled.
        status: ``settled`` or ``failed``.
        reason: why it failed, if it did.
        settled_at: when.
    """

    settlement_id: str = Field(pattern=_ID)
    trade_id: str
    account_id: SensitiveStr
    amount: Money
    status: Literal["settled", "failed"] = "settled"
    reason: str | None = None
    settled_at: Timestamp = Field(default_factory=Timestamp.now)


@message("rfsdk.account.balance", version=1)
class BalanceUpdated(Message):
    """A new balance of one account.

    Attributes:
        account_id: the account (used in the channel name: ``[A-Za-z0-9_-]``).
        balance: the ledger balance.
        available: the available balance.
        version: increases with every change of this account's balance.
        reason: what changed it (``trade``, ``deposit``, ``fee`` …).
        updated_at: when.
    """

    account_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    balance: Money
    available: Money
    version: int = Field(ge=0)
    reason: str = ""
    updated_at: Timestamp = Field(default_factory=Timestamp.now)


class TradeConfirmations:
    """Confirms executions exactly once per trade id; see the module docs.

    Args:
        client: the SDK client.
        publisher: sends the low-latency copy (``None``: stream only).
        codec: frames stream entries (default: the SDK codec).
        stream: the stream key.
        desk: adds the desk to the Pub/Sub channel name.
        tenant: the tenant of the Pub/Sub channel.
        dedup_window: seconds a trade id is remembered.
        dedup_max_ids: most trade ids remembered; keep it above the trades of one window.
        retention: how much of the stream to keep.
        durability: what each append waits for (``WAIT`` / ``WAITAOF``).
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        publisher: AsyncPublisher | None = None,
        codec: FrameCodec | None = None,
        stream: str = "trade.executions",
        desk: str | None = None,
        tenant: str | None = None,
        dedup_window: float = 24 * 3600.0,
        dedup_max_ids: int = 100_000,
        retention: Retention | None = None,
        durability: Durability | None = None,
    ) -> None:
        self._stream = KeyedStream(
            client,
            stream,
            producer_id="trade-confirmations",
            codec=codec,
            dedup_window=dedup_window,
            dedup_max_ids=dedup_max_ids,
            retention=retention,
            durability=durability,
        )
        self._publisher = publisher
        self._desk = desk
        self._tenant = tenant

    @property
    def stream(self) -> str:
        """The stream key."""
        return self._stream.stream

    def channel(self, priority: Priority | str = Priority.NORMAL) -> Channel:
        """The Pub/Sub channel of one priority.

        Raises:
            ConfigurationError: an unknown priority or a bad desk/tenant.
        """
        return trade_executions(priority, desk=self._desk, tenant=self._tenant)

    async def confirm(
        self, trade: TradeExecuted, *, priority: Priority | str = Priority.NORMAL
    ) -> Confirmation:
        """Append the confirmation once; publish the copy when it is new.

        Raises:
            ConfigurationError: an unknown priority.
            CodecError: the trade cannot be encoded.
            RedisError: the append or the publish failed.
        """
        channel = self.channel(priority)
        entry, duplicate = await self._stream.append(trade, trade.trade_id)
        if duplicate:
            return Confirmation(entry, True)
        headers = {"priority": Priority.parse(priority).value, "symbol": trade.symbol}
        return Confirmation(
            entry, False, await publish_copy(self._publisher, trade, channel, headers)
        )


class SettlementConfirmations:
    """Confirms settlements exactly once per settlement id (copy on ``trade.settlement``).

    Args:
        client: the SDK client.
        publisher: sends the low-latency copy (``None``: stream only).
        codec: frames stream entries.
        stream: the stream key.
        tenant: the tenant of the Pub/Sub channel.
        dedup_window: seconds a settlement id is remembered.
        dedup_max_ids: most settlement ids remembered.
        retention: how much of the stream to keep.
        durability: what each append waits for.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        publisher: AsyncPublisher | None = None,
        codec: FrameCodec | None = None,
        stream: str = "trade.settlements",
        tenant: str | None = None,
        dedup_window: float = 7 * 24 * 3600.0,
        dedup_max_ids: int = 100_000,
        retention: Retention | None = None,
        durability: Durability | None = None,
    ) -> None:
        self._stream = KeyedStream(
            client,
            stream,
            producer_id="settlement-confirmations",
            codec=codec,
            dedup_window=dedup_window,
            dedup_max_ids=dedup_max_ids,
            retention=retention,
            durability=durability,
        )
        self._publisher = publisher
        self.channel = Channel.of("trade", "settlement", tenant=tenant)

    @property
    def stream(self) -> str:
        """The stream key."""
        return self._stream.stream

    async def confirm(self, settlement: SettlementConfirmed) -> Confirmation:
        """Append the settlement once; publish the copy when it is new.

        Raises:
            CodecError: the settlement cannot be encoded.
            RedisError: the append or the publish failed.
        """
        entry, duplicate = await self._stream.append(settlement, settlement.settlement_id)
        if duplicate:
            return Confirmation(entry, True)
        headers = {"status": settlement.status}
        receivers = await publish_copy(self._publisher, settlement, self.channel, headers)
        return Confirmation(entry, False, receivers)


class BalanceNotifier:
    """Publishes balance updates on the account's channel ``account.balance.<account>``.

    Pub/Sub only (at-most-once): the ledger, not this channel, is the record of balances.
    Give the publisher a :class:`~redis_fintech_sdk.pubsub.ReplayConfig` covering
    ``account.balance.*`` when clients must catch up after a reconnect.

    Args:
        publisher: the publisher.
        tenant: the tenant of the channels.
        sharded: hash-tag the account id (Redis Cluster sharded Pub/Sub).
    """

    def __init__(
        self, publisher: AsyncPublisher, *, tenant: str | None = None, sharded: bool = False
    ) -> None:
        self._publisher = publisher
        self._tenant = tenant
        self._sharded = sharded

    def channel(self, account_id: str) -> Channel:
        """The channel of one account.

        Raises:
            ConfigurationError: the account id is not a valid channel segment.
        """
        qualifier = "{" + account_id + "}" if self._sharded else account_id
        return Channel.of("account", "balance", qualifier, tenant=self._tenant)

    async def publish(self, update: BalanceUpdated) -> int:
        """Publish ``update``; return how many subscribers got it.

        Raises:
            RedisError: the publish failed.
        """
        headers = {"version": str(update.version), "reason": update.reason}
        return await self._publisher.publish(
            update, self.channel(update.account_id), headers=headers
        )
