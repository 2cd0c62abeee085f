from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal

import pytest
from pydantic import ValidationError

from redis_fintech_sdk.codec import (
    Codec,
    Envelope,
    Message,
    MessageRegistry,
    Money,
    Timestamp,
    message,
)
from redis_fintech_sdk.errors import ConfigurationError, PolicyError, SchemaError

SECRET = "ACCT-SECRET-4242"


def test_money_is_decimal_and_iso_4217() -> None:
    m = Money(amount="10.005", currency="JPY")  # type: ignore[arg-type]
    assert m.amount == Decimal("10.005")
    assert m.model_dump(mode="json") == {"amount": "10.005", "currency": "JPY"}
    with pytest.raises(ValidationError, match="never float"):
        Money(amount=0.1, currency="USD")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1"), currency="usd")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1"), currency="XYZ")
    with pytest.raises(ValidationError):
        Money(amount=Decimal("NaN"), currency="USD")


def test_timestamp_keeps_nanoseconds() -> None:
    ts = Timestamp.parse("2024-05-01T12:00:00.123456789Z")
    assert ts.ns % 1_000_000_000 == 123_456_789
    assert ts.isoformat() == "2024-05-01T12:00:00.123456789Z"
    assert Timestamp.parse("2024-05-01T14:00:00.123456789+02:00") == ts
    assert ts.to_datetime().tzinfo is dt.timezone.utc
    aware = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    assert Timestamp.from_datetime(aware).ns == ts.ns - 123_456_789
    with pytest.raises(ValueError, match="aware"):
        Timestamp.from_datetime(dt.datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="RFC 3339"):
        Timestamp.parse("2024-05-01T12:00:00")
    assert Timestamp(5) < Timestamp(6)
    assert len({Timestamp(5), Timestamp(5)}) == 1


def test_sensitive_fields_are_redacted_everywhere(
    make_codec: Callable[..., Codec], caplog: pytest.LogCaptureFixture, trade: Message
) -> None:
    trade = trade
    assert SECRET not in repr(trade)
    assert SECRET not in str(trade)
    assert trade.redacted()["account"] == "***"
    codec = make_codec()
    env = codec.decode(codec.encode(trade, channel="t"), channel="t")
    assert SECRET not in repr(env)
    raw = codec.decode(codec.encode(trade, channel="t"), channel="t", validate=False)
    assert SECRET not in repr(raw)
    # A payload that fails validation: the error text names fields, never values.
    bad = codec.encode_raw(
        "trade.executed", {"trade_id": SECRET, "price": SECRET, "quantity": SECRET}, channel="t"
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(SchemaError) as info:
        codec.decode(bad, channel="t")
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_confidential_type_needs_encryption(
    make_codec: Callable[..., Codec], trade: Message
) -> None:
    with pytest.raises(PolicyError, match="keyring"):
        make_codec(keyring=None, encrypt=False).encode(trade, channel="t")
    with pytest.raises(PolicyError, match="must be encrypted"):
        make_codec().encode(trade, channel="t", encrypt=False)
    with pytest.raises(PolicyError):
        make_codec(keyring=None).encode_raw("x", {}, channel="t", classification="restricted")


def test_clear_frame_of_confidential_type_is_refused_on_decode(
    make_codec: Callable[..., Codec],
    trade: Message,
) -> None:
    # A producer that does not know the policy sends the type in clear ...
    careless = Codec(registry=MessageRegistry())
    frame = careless.encode_raw("trade.executed", trade.model_dump(mode="json"), channel="t")
    # ... and the consumer that knows it refuses the downgrade.
    with pytest.raises(PolicyError):
        make_codec().decode(frame, channel="t")


def test_upcasters_run_in_order(make_codec: Callable[..., Codec], trade: Message) -> None:
    codec = make_codec()
    v1 = {"trade_id": "T-1", "px": "101.25", "ccy": "EUR", "qty": "10", "account": SECRET}
    frame = codec.encode_raw("trade.executed", v1, channel="t", schema_version=1)
    env = codec.decode(frame, channel="t")
    assert env.payload == trade
    assert env.schema_version == 1  # as written; the payload is the current version
    raw = codec.decode(frame, channel="t", validate=False)
    assert raw.payload["quantity"] == 10


def test_newer_or_unbridgeable_versions_are_schema_errors(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    newer = codec.encode_raw("trade.executed", {}, channel="t", schema_version=4)
    with pytest.raises(SchemaError, match="newer"):
        codec.decode(newer, channel="t")
    reg = MessageRegistry()

    @message("thing", version=3, registry=reg)
    class Thing(Message):
        x: int

    old = Codec(registry=reg).encode_raw("thing", {"x": 1}, channel="t", schema_version=1)
    with pytest.raises(SchemaError, match="no upcaster"):
        Codec(registry=reg).decode(old, channel="t")


def test_registration_errors(registry: MessageRegistry, trade: Message) -> None:
    reg = MessageRegistry()

    class A(Message):
        x: int

    class B(Message):
        x: int

    reg.register(A, "a")
    with pytest.raises(ConfigurationError, match="already"):
        reg.register(B, "a")
    with pytest.raises(ConfigurationError) as info:
        reg.register(B, "b", classification="secret")  # type: ignore[arg-type]
    assert info.value.field == "classification"
    with pytest.raises(ConfigurationError):
        reg.register(int, "c")
    assert registry.get("trade.executed") is not None
    assert registry.spec_for(type(trade)).encrypted is True


def test_envelope_is_immutable_and_replace_validates() -> None:
    env = Envelope(type="x", payload={"a": 1})
    with pytest.raises(AttributeError):
        env.payload = {}  # type: ignore[misc]
    env2 = env.replace(sequence=5, tenant="t")
    assert (env2.sequence, env2.tenant, env2.message_id) == (5, "t", env.message_id)
    with pytest.raises(ConfigurationError) as info:
        env.replace(message_id="zz")
    assert info.value.field == "message_id"
    with pytest.raises(ConfigurationError):
        Envelope(type="x", payload={}, classification="top-secret")
