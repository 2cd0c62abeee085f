"""Market-data messages: Decimal money (never float), validation, wire form, redaction."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from redis_fintech_sdk.codec import Codec, Money, default_registry
from redis_fintech_sdk.errors import SchemaError
from redis_fintech_sdk.patterns import (
    DepthSnapshot,
    DepthUpdate,
    LevelChange,
    MarketStatus,
    MarketStatusEvent,
    PortfolioUpdate,
    Position,
    PriceLevel,
    PriceTick,
    TradePrint,
)

T0 = dt.datetime(2026, 3, 2, 14, 30, 0, 123456, tzinfo=dt.timezone.utc)
ACCOUNT = "ACC-7781-SECRET"


def tick(**kw: Any) -> PriceTick:
    base: dict[str, Any] = {
        "symbol": "AAPL",
        "bid": Decimal("189.12"),
        "ask": Decimal("189.13"),
        "bid_size": Decimal("300"),
        "ask_size": Decimal("200"),
        "venue": "XNAS",
        "exchange_time": T0,
    }
    base.update(kw)
    return PriceTick(**base)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def portfolio(**kw: Any) -> PortfolioUpdate:
    base: dict[str, Any] = {
        "portfolio_id": "P-9",
        "account_id": ACCOUNT,
        "positions": [
            {
                "symbol": "AAPL",
                "quantity": "-100",
                "average_price": {"amount": "190.00", "currency": "USD"},
                "market_value": {"amount": "-18912.50", "currency": "USD"},
                "unrealized_pnl": {"amount": "87.50", "currency": "USD"},
            }
        ],
        "realized_pnl": usd("1250.10"),
        "unrealized_pnl": usd("87.50"),
        "version": 3,
    }
    base.update(kw)
    return PortfolioUpdate.model_validate(base)


def test_types_are_registered_with_the_codec() -> None:
    names = set(default_registry.type_names())
    assert {
        "rfsdk.md.tick",
        "rfsdk.md.trade",
        "rfsdk.md.depth.snapshot",
        "rfsdk.md.depth.update",
        "rfsdk.md.status",
        "rfsdk.portfolio.update",
    } <= names
    assert default_registry.spec_for(PriceTick).is_struct
    assert not default_registry.spec_for(PortfolioUpdate).is_struct


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("bid", 189.12, "must be a Decimal, not float"),
        ("ask_size", 1.0, "must be a Decimal, not float"),
        ("ask", Decimal("NaN"), "must be finite"),
        ("bid", Decimal("Infinity"), "must be finite"),
        ("bid_size", Decimal("-1"), "zero or positive"),
        ("bid", True, "not bool"),
        ("exchange_time", dt.datetime(2026, 3, 2, 14, 30), "timezone-aware"),
    ],
)
def test_struct_messages_refuse_floats_and_bad_values(field: str, value: Any, problem: str) -> None:
    with pytest.raises(SchemaError, match=problem) as info:
        tick(**{field: value})
    assert str(value) not in str(info.value)  # the input is not echoed


def test_other_struct_messages_refuse_floats_too() -> None:
    with pytest.raises(SchemaError, match=r"TradePrint.price"):
        TradePrint(symbol="AAPL", price=189.1, size=Decimal(1), exchange_time=T0)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"TradePrint.size: must be positive"):
        TradePrint(symbol="AAPL", price=Decimal(1), size=Decimal(0), exchange_time=T0)
    with pytest.raises(SchemaError, match=r"PriceLevel.size"):
        PriceLevel(Decimal("1"), 2.5)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match=r"LevelChange.price"):
        LevelChange("bid", 0.1, Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="prev_sequence"):
        DepthUpdate(symbol="AAPL", sequence=5, prev_sequence=5, changes=(), exchange_time=T0)
    with pytest.raises(SchemaError, match="strictly descending"):
        DepthSnapshot(
            symbol="AAPL",
            sequence=1,
            bids=(PriceLevel(Decimal("1"), Decimal(1)), PriceLevel(Decimal("2"), Decimal(1))),
            exchange_time=T0,
        )


def test_an_int_is_taken_as_an_exact_decimal() -> None:
    t = tick(bid_size=300, ask=None)
    assert t.bid_size == Decimal(300)
    assert type(t.bid_size) is Decimal
    assert t.ask is None


def test_struct_round_trip_keeps_decimals_and_writes_decimal_strings() -> None:
    codec = Codec()
    update = DepthUpdate(
        symbol="AAPL",
        sequence=12,
        prev_sequence=11,
        changes=(LevelChange("bid", Decimal("189.10"), Decimal("0")),),
        exchange_time=T0,
    )
    for original in (tick(), update):
        frame = codec.encode(original, channel="market.x")
        back = codec.decode(frame, channel="market.x").payload
        assert back == original
    assert isinstance(back.changes[0].price, Decimal)
    assert str(back.changes[0].price) == "189.10"  # the exponent survives
    # Levels travel as compact [side, price, size] arrays of decimal strings.
    assert default_registry.spec_for(DepthUpdate).dump(update)["changes"] == (
        ["bid", "189.10", "0"],
    )


def test_a_bad_frame_is_a_schema_error_without_the_values() -> None:
    codec = Codec()
    payload = {"symbol": "AAPL", "bid": "9999.77", "ask": "NaN", "exchange_time": T0.isoformat()}
    frame = codec.encode_raw("rfsdk.md.tick", payload, channel="c")
    with pytest.raises(SchemaError) as info:
        codec.decode(frame, channel="c")
    assert "finite" in str(info.value)
    assert "9999.77" not in str(info.value)
    naive = dict(payload, ask="1", exchange_time="2026-03-02T14:30:00")
    with pytest.raises(SchemaError):
        codec.decode(codec.encode_raw("rfsdk.md.tick", naive, channel="c"), channel="c")


def test_market_status_event_needs_a_scope_and_knows_when_trading() -> None:
    halt = MarketStatusEvent(status=MarketStatus.HALT, symbol="AAPL", reason="LUDP")
    assert not halt.status.trading
    assert MarketStatus("resume").trading
    with pytest.raises(pydantic.ValidationError, match="venue or a symbol"):
        MarketStatusEvent(status=MarketStatus.OPEN)
    with pytest.raises(pydantic.ValidationError):
        MarketStatusEvent.model_validate({"status": "paused", "venue": "XNAS"})
    with pytest.raises(pydantic.ValidationError):
        MarketStatusEvent(status=MarketStatus.OPEN, venue="X.NAS")  # not a channel segment


def test_portfolio_money_is_decimal_and_floats_are_refused() -> None:
    update = portfolio()
    assert update.positions[0].quantity == Decimal("-100")
    assert isinstance(update.realized_pnl.amount, Decimal)
    with pytest.raises(pydantic.ValidationError, match="never float"):
        portfolio(realized_pnl={"amount": 1250.1, "currency": "USD"})
    with pytest.raises(pydantic.ValidationError):
        Position.model_validate(
            {
                "symbol": "AAPL",
                "quantity": 1.5,
                "average_price": usd("1"),
                "market_value": usd("1"),
                "unrealized_pnl": usd("0"),
            }
        )
    with pytest.raises(pydantic.ValidationError):
        portfolio(cash={"amount": "1", "currency": "XYZ"})  # not ISO-4217
    # On the wire money is decimal strings.
    wire = update.model_dump(mode="json")
    assert wire["realized_pnl"] == {"amount": "1250.10", "currency": "USD"}


def test_portfolio_account_id_is_redacted_in_repr_logs_and_errors(
    caplog: pytest.LogCaptureFixture, log_secrets: set[str]
) -> None:
    log_secrets.add(ACCOUNT)
    update = portfolio()
    assert ACCOUNT not in repr(update)
    assert ACCOUNT not in str(update)
    assert update.redacted()["account_id"] == "***"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.md").info("portfolio update %r", update)
    assert ACCOUNT not in caplog.text
    codec = Codec()
    frame = codec.encode_raw(
        "rfsdk.portfolio.update",
        {"portfolio_id": "P-9", "account_id": ACCOUNT, "version": -1},
        channel="c",
    )
    with pytest.raises(SchemaError) as info:
        codec.decode(frame, channel="c")
    assert ACCOUNT not in str(info.value)
    # The account still reaches the consumer intact.
    assert codec.decode(codec.encode(update, channel="c"), channel="c").payload == update
