"""Trade/settlement confirmations, balances, risk/fraud alerts, compliance, reporting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.codec import Codec, Keyring, Money
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, DecryptionError, PolicyError
from redis_fintech_sdk.patterns import (
    BalanceNotifier,
    BalanceUpdated,
    ComplianceEvent,
    ComplianceEvents,
    Confirmation,
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
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber, Delivery

pytestmark = pytest.mark.anyio

USD = "USD"


def trade(trade_id: str) -> TradeExecuted:
    return TradeExecuted(
        trade_id=trade_id,
        order_id="O-1",
        account_id="ACC-SECRET-1",
        symbol="AAPL",
        side="buy",
        quantity=Decimal("100"),
        price=Money(amount=Decimal("189.125"), currency=USD),
        venue="XNAS",
    )


async def drain(sub: AsyncSubscriber, quiet: float = 0.3) -> list[Delivery]:
    """Everything that arrives until nothing has come for ``quiet`` seconds."""
    got: list[Delivery] = []
    while True:
        with anyio.move_on_after(quiet):
            got.append(await sub.get())
            continue
        return got


async def test_trade_confirmation_is_exactly_once_by_trade_id(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    stream = f"{prefix}:trades"
    async with (
        AsyncPublisher(aclient) as pub1,
        AsyncPublisher(aclient2) as pub2,
        AsyncSubscriber(aclient) as sub,
    ):
        one = TradeConfirmations(aclient, publisher=pub1, stream=stream, desk=prefix)
        two = TradeConfirmations(aclient2, publisher=pub2, stream=stream, desk=prefix)
        await sub.subscribe(one.channel("high"))
        results: list[Confirmation] = []

        async def confirm(tc: TradeConfirmations) -> None:
            results.append(await tc.confirm(trade(f"{prefix}-T1"), priority="high"))

        async with anyio.create_task_group() as tg:
            for i in range(6):  # three "processes" each, concurrently
                tg.start_soon(confirm, one if i % 2 else two)
        got = await drain(sub)
        assert await aclient.redis.xlen(stream) == 1
        assert sorted(r.duplicate for r in results) == [False] + [True] * 5
        assert len({r.entry_id for r in results}) == 1
        new = next(r for r in results if not r.duplicate)
        assert new.receivers == 1
        assert [d.payload.trade_id for d in got] == [f"{prefix}-T1"]
        assert got[0].channel == f"trade.exec.{prefix}.high"
        # A second trade is a second entry.
        other = await one.confirm(trade(f"{prefix}-T2"), priority="high")
        assert not other.duplicate
        assert await aclient.redis.xlen(stream) == 2
    # The account id is marked sensitive: never in repr.
    assert "ACC-SECRET-1" not in repr(trade("x"))


async def test_settlement_confirmation_once(aclient: AsyncClient, prefix: str) -> None:
    async with AsyncPublisher(aclient) as pub:
        sc = SettlementConfirmations(aclient, publisher=pub, stream=f"{prefix}:settle")
        s = SettlementConfirmed(
            settlement_id=f"{prefix}S1",
            trade_id="T1",
            account_id="ACC-1",
            amount=Money(amount=Decimal("18912.50"), currency=USD),
        )
        first, second = await sc.confirm(s), await sc.confirm(s)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.entry_id == second.entry_id
    assert await aclient.redis.xlen(sc.stream) == 1
    assert str(sc.channel) == "trade.settlement"


async def test_balance_updates_on_the_account_channel(aclient: AsyncClient, prefix: str) -> None:
    account = f"{prefix}ACC"
    async with AsyncPublisher(aclient) as pub, AsyncSubscriber(aclient) as sub:
        notifier = BalanceNotifier(pub)
        await sub.subscribe(notifier.channel(account))
        update = BalanceUpdated(
            account_id=account,
            balance=Money(amount=Decimal("1000.00"), currency=USD),
            available=Money(amount=Decimal("750.00"), currency=USD),
            version=7,
            reason="trade",
        )
        assert await notifier.publish(update) == 1
        with anyio.fail_after(5):
            got = await sub.get()
    assert got.payload.version == 7
    assert got.payload.available.amount == Decimal("750.00")
    assert got.header is not None
    assert got.header.headers["version"] == "7"


async def test_risk_alerts_use_priority_channels_and_durable_from(
    aclient: AsyncClient, prefix: str
) -> None:
    async with AsyncPublisher(aclient) as pub, AsyncSubscriber(aclient) as sub:
        alerts = RiskAlerts(aclient, pub, stream=f"{prefix}:risk", tenant=prefix)
        await sub.psubscribe(f"tenant:{prefix}:risk.alert.*")
        low = RiskAlert(severity=Priority.LOW, kind="var_spike", metric="var", value=Decimal("1"))
        crit = RiskAlert(
            severity=Priority.CRITICAL,
            kind="limit_breach",
            metric="gross_exposure",
            value=Decimal("12000000"),
            limit=Decimal("10000000"),
            desk="rates",
        )
        r_low = await alerts.broadcast(low)
        r_crit = await alerts.broadcast(crit)
        r_again = await alerts.broadcast(crit)  # same alert id: not appended or sent again
        got = await drain(sub)
    assert r_low.entry_id is None
    assert r_low.receivers == 1
    assert r_crit.entry_id is not None
    assert not r_crit.duplicate
    assert r_again.duplicate
    assert await aclient.redis.xlen(alerts.stream) == 1  # only critical is durable
    assert [d.channel for d in got] == [
        f"tenant:{prefix}:risk.alert.low",
        f"tenant:{prefix}:risk.alert.critical",
    ]


async def test_fraud_alerts(aclient: AsyncClient, prefix: str) -> None:
    async with AsyncPublisher(aclient) as pub, AsyncSubscriber(aclient) as sub:
        fraud = FraudAlerts(aclient, pub, stream=f"{prefix}:fraud", tenant=prefix)
        await sub.subscribe(fraud.channel("high"))
        alert = FraudAlert(
            severity=Priority.HIGH,
            account_id="ACC-SECRET-9",
            transaction_id="TX-1",
            score=Decimal("0.97"),
            rules=["velocity", "new_device"],
        )
        result = await fraud.broadcast(alert)
        with anyio.fail_after(5):
            got = await sub.get()
    assert result.receivers == 1
    assert result.entry_id is not None
    assert got.payload.rules == ["velocity", "new_device"]
    assert "ACC-SECRET-9" not in repr(alert)
    with pytest.raises(ValueError, match="score"):
        FraudAlert(severity=Priority.LOW, account_id="a", score=Decimal("1.5"))


async def test_compliance_events_are_encrypted_by_policy(aclient: AsyncClient, prefix: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ComplianceEvents(aclient, codec=Codec())
    assert info.value.field == "codec"
    keyed = Codec(keyring=Keyring.generate(key_id=3))
    events = ComplianceEvents(aclient, codec=keyed, stream=f"{prefix}:compliance")
    event = ComplianceEvent(
        category="aml",
        kind="large_cash_deposit",
        subject_id="CUST-SECRET-42",
        severity=Priority.HIGH,
        details={"amount": "15000.00"},
    )
    first = await events.publish(event)
    assert not first.duplicate
    assert (await events.publish(event)).duplicate
    entries: Any = await aclient.redis.xrange(events.stream)
    [(_entry_id, fields)] = entries
    frame: bytes = next(iter(fields.values()))
    assert b"CUST-SECRET-42" not in frame
    assert b"15000.00" not in frame
    assert keyed.decode(frame, channel=events.stream).payload.subject_id == "CUST-SECRET-42"
    with pytest.raises((DecryptionError, PolicyError)):
        Codec().decode(frame, channel=events.stream)  # no key: cannot read it


async def test_regulatory_trigger_once_per_report_period(aclient: AsyncClient, prefix: str) -> None:
    reporting = RegulatoryReporting(aclient, stream=f"{prefix}:reg")
    may = RegulatoryReportTrigger(report="MiFIR-RTS22", period="2024-05", requested_by="cron-a")
    again = RegulatoryReportTrigger(report="MiFIR-RTS22", period="2024-05", requested_by="cron-b")
    june = RegulatoryReportTrigger(report="MiFIR-RTS22", period="2024-06")
    results = [await reporting.trigger(t) for t in (may, again, june)]
    assert [r.duplicate for r in results] == [False, True, False]
    assert may.trigger_id == "MiFIR-RTS22:2024-05"
    assert await aclient.redis.xlen(reporting.stream) == 2
