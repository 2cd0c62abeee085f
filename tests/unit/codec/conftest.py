"""Fixtures for the codec tests: a private registry with a few message types, keyrings.

Test modules use these through fixtures only (no imports from conftest), so that mypy and
pytest resolve them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from redis_fintech_sdk.codec import (
    MSGPACK,
    Codec,
    Keyring,
    Message,
    MessageRegistry,
    Money,
    SensitiveStr,
    Signer,
    Timestamp,
    Verifier,
    message,
    upcaster,
)

REGISTRY = MessageRegistry()


@message("md.tick", version=1, classification="public", registry=REGISTRY)
class Tick(Message):
    symbol: str
    bid: Money
    ask: Money
    at: Timestamp


@message("trade.executed", version=3, classification="confidential", registry=REGISTRY)
class TradeExecuted(Message):
    trade_id: str
    price: Money
    quantity: int
    account: SensitiveStr


@upcaster("trade.executed", from_version=1, registry=REGISTRY)
def _trade_v1_to_v2(p: dict[str, Any]) -> dict[str, Any]:
    p["price"] = {"amount": p.pop("px"), "currency": p.pop("ccy")}
    return p


@upcaster("trade.executed", from_version=2, registry=REGISTRY)
def _trade_v2_to_v3(p: dict[str, Any]) -> dict[str, Any]:
    p["quantity"] = int(p.pop("qty"))
    return p


def make_tick() -> Tick:
    return Tick(
        symbol="AAPL",
        bid=Money(amount=Decimal("189.12"), currency="USD"),
        ask=Money(amount=Decimal("189.13"), currency="USD"),
        at=Timestamp(1_714_564_800_123_456_789),
    )


def make_trade() -> TradeExecuted:
    return TradeExecuted(
        trade_id="T-1",
        price=Money(amount=Decimal("101.25"), currency="EUR"),
        quantity=10,
        account="ACCT-SECRET-4242",
    )


@pytest.fixture
def registry() -> MessageRegistry:
    return REGISTRY


@pytest.fixture
def tick() -> Message:
    return make_tick()


@pytest.fixture
def trade() -> Message:
    return make_trade()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(1)


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("producer-a")


@pytest.fixture
def make_codec(keyring: Keyring, signer: Signer) -> Callable[..., Codec]:
    def build(
        *,
        serializer: Any = MSGPACK,
        compress: bool = False,
        encrypt: bool = True,
        sign: bool = False,
        **extra: Any,
    ) -> Codec:
        extra.setdefault("keyring", keyring)
        extra.setdefault("verifier", Verifier({signer.signer_id: signer.public_key()}))
        extra.setdefault("signer", signer if sign else None)
        return Codec(
            registry=REGISTRY,
            serializer=serializer,
            encrypt=encrypt,
            compression_threshold=0 if compress else None,
            **extra,
        )

    return build
