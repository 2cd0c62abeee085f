"""A trade's life in messages: execution, settlement, balance, risk, fraud, compliance.

    python examples/trade_lifecycle.py

Runs on an embedded redis-server. Two "processes" confirm the same fill (one stream entry,
one Pub/Sub notification); a settlement worker consumes the durable stream with a consumer
group; the settlement and the new balance are published; a limit breach and a fraud hit
are broadcast on their priority channels; an AML event goes to an encrypted stream; and
the month-end report is triggered twice but requested once.
"""

from __future__ import annotations

import sys
from decimal import Decimal

import anyio

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.codec import Codec, Keyring, Money
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    BalanceNotifier,
    BalanceUpdated,
    ComplianceEvent,
    ComplianceEvents,
    FraudAlert,
    FraudAlerts,
    RegulatoryReporting,
    RegulatoryReportTrigger,
    RiskAlert,
    RiskAlerts,
    SettlementConfirmations,
    SettlementConfirmed,
    TradeConfirmations,
    TradeExecuted,
)
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import StreamConsumer, StreamMessage
from redis_fintech_sdk.testing import RedisServer


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


async def run(url: str) -> dict[str, int]:
    seen: list[str] = []
    settled: list[str] = []
    async with (
        AsyncClient.from_url(url, timeouts=Timeouts(max_block=5.0)) as client,
        AsyncClient.from_url(url) as other_process,
        AsyncPublisher(client) as publisher,
        AsyncPublisher(other_process) as other_publisher,
        AsyncSubscriber(client) as desk,
    ):
        await desk.psubscribe("trade.*", "account.balance.*", "risk.alert.*", "fraud.alert.*")
        fill = TradeExecuted(
            trade_id="T-1001",
            order_id="O-77",
            account_id="ACC-42",
            symbol="AAPL",
            side="buy",
            quantity=Decimal("100"),
            price=usd("189.125"),
            venue="XNAS",
        )
        executions = TradeConfirmations(client, publisher=publisher)
        replica = TradeConfirmations(other_process, publisher=other_publisher)
        a = await executions.confirm(fill, priority=Priority.HIGH)
        b = await replica.confirm(fill, priority=Priority.HIGH)  # e.g. a retried request
        print(f"confirm T-1001: new={not a.duplicate}, again: duplicate={b.duplicate}")
        print("  stream entries:", await client.redis.xlen(executions.stream))

        settlements = SettlementConfirmations(client, publisher=publisher)
        balances = BalanceNotifier(publisher)

        async def settle(message: StreamMessage) -> None:
            trade: TradeExecuted = message.envelope.payload
            cash = usd(str(trade.quantity * trade.price.amount))
            await settlements.confirm(
                SettlementConfirmed(
                    settlement_id=f"S-{trade.trade_id}",
                    trade_id=trade.trade_id,
                    account_id=trade.account_id,
                    amount=cash,
                )
            )
            await balances.publish(
                BalanceUpdated(
                    account_id=trade.account_id,
                    balance=usd("81087.50"),
                    available=usd("61087.50"),
                    version=2,
                    reason=f"trade {trade.trade_id}",
                )
            )
            settled.append(trade.trade_id)

        worker = StreamConsumer(
            client, executions.stream, settle, group="settlement", consumer="w1", block=0.2
        )
        async with worker:
            with anyio.fail_after(10):
                while not settled:  # noqa: ASYNC110
                    await anyio.sleep(0.02)
        print("settled:", settled)

        risk = RiskAlerts(client, publisher)
        await risk.broadcast(
            RiskAlert(
                severity=Priority.CRITICAL,
                kind="limit_breach",
                metric="single_name_exposure",
                value=Decimal("2.1e6"),
                limit=Decimal("2e6"),
                account_id="ACC-42",
                message="AAPL exposure over limit",
            )
        )
        fraud = FraudAlerts(client, publisher)
        await fraud.broadcast(
            FraudAlert(
                severity=Priority.HIGH,
                account_id="ACC-42",
                transaction_id="W-9",
                score=Decimal("0.93"),
                rules=["new_device", "withdrawal_after_deposit"],
            )
        )

        # Confidential: the codec encrypts every frame; without a keyring it is refused.
        compliance = ComplianceEvents(client, codec=Codec(keyring=Keyring.generate(key_id=1)))
        await compliance.publish(
            ComplianceEvent(
                category="aml",
                kind="large_cash_deposit",
                subject_id="CUST-42",
                details={"amount": "15000.00"},
            )
        )
        reporting = RegulatoryReporting(client)
        for who in ("scheduler-a", "scheduler-b"):
            done = await reporting.trigger(
                RegulatoryReportTrigger(report="MiFIR-RTS22", period="2024-05", requested_by=who)
            )
            print(f"report trigger from {who}: duplicate={done.duplicate}")

        with anyio.move_on_after(0.5):
            while True:
                delivery = await desk.get()
                seen.append(f"{delivery.channel}: {delivery.type}")
        print("desk screen saw:", *seen, sep="\n  ")
        return {
            "executions": await client.redis.xlen(executions.stream),
            "pubsub": len(seen),
            "risk_durable": await client.redis.xlen(risk.stream),
            "report_triggers": await client.redis.xlen(reporting.stream),
        }


def main(url: str | None = None) -> int:
    if url is None:
        # Financial streams want every acknowledged append on disk (the producers warn
        # at start-up when the server could lose them).
        with RedisServer(appendonly=True, appendfsync="always") as server:
            counts = anyio.run(run, server.url)
    else:
        counts = anyio.run(run, url)
    print("counts:", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
