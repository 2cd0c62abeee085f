"""msgspec Structs as message types, and the decoder's inline fast path.

Structs are the faster model type (issue 3: "keep pydantic off the path when the caller ...
opts into a faster model type such as msgspec Structs"); they must follow the same rules as
pydantic messages: registry, upcasters, policy, redaction, typed errors without values.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from decimal import Decimal
from typing import Annotated, Any

import msgpack
import msgspec
import pytest

from redis_fintech_sdk.codec import (
    Codec,
    Keyring,
    MessageRegistry,
    Sensitive,
    message,
    upcaster,
)
from redis_fintech_sdk.errors import (
    ConfigurationError,
    DecryptionError,
    FrameError,
    PolicyError,
    SchemaError,
    UnknownKeyError,
)
from redis_fintech_sdk.security import RedactionFilter, field_classifications

REG = MessageRegistry()


class Amount(msgspec.Struct, frozen=True):
    amount: Decimal
    currency: str


@message("md.quote", version=2, classification="public", registry=REG)
class Quote(msgspec.Struct, frozen=True):
    symbol: str
    bid: Amount
    size: int
    at: dt.datetime


@upcaster("md.quote", from_version=1, registry=REG)
def _quote_v1(p: dict[str, Any]) -> dict[str, Any]:
    p["bid"] = {"amount": p.pop("px"), "currency": "USD"}
    return p


@message("card.charge", classification="restricted", registry=REG)
class Charge(msgspec.Struct, frozen=True):
    charge_id: str
    pan: Annotated[str, Sensitive]
    amount: Amount


AT = dt.datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)
QUOTE = Quote("AAPL", Amount(Decimal("189.125"), "USD"), 100, AT)
PAN = "4111111111111111"


def test_struct_round_trip_is_typed_and_money_stays_decimal() -> None:
    codec = Codec(registry=REG, keyring=Keyring.generate())
    frame = codec.encode(QUOTE, channel="md:AAPL")
    env = codec.decode(frame, channel="md:AAPL")
    assert env.payload == QUOTE
    assert isinstance(env.payload.bid.amount, Decimal)
    assert env.type == "md.quote"
    assert env.schema_version == 2
    # On the wire: decimal string and RFC 3339 text, as for pydantic messages.
    raw = codec.decode(frame, channel="md:AAPL", validate=False).payload
    assert raw["bid"] == {"amount": "189.125", "currency": "USD"}
    assert raw["at"] == "2026-11-25T12:00:00.123456Z"


def test_struct_frames_decode_as_plain_data_in_another_language_shape() -> None:
    codec = Codec(registry=REG)
    # A foreign producer sends plain data; typed decoding builds the Struct.
    frame = codec.encode_raw(
        "md.quote",
        {"symbol": "MSFT", "bid": {"amount": "1.5", "currency": "EUR"}, "size": 3, "at": AT},
        channel="md:MSFT",
    )
    assert codec.decode(frame, channel="md:MSFT").payload == Quote(
        "MSFT", Amount(Decimal("1.5"), "EUR"), 3, AT
    )


def test_struct_upcaster_runs_before_validation() -> None:
    codec = Codec(registry=REG)
    old = {"symbol": "AAPL", "px": "10.5", "size": 1, "at": "2026-11-25T12:00:00Z"}
    frame = codec.encode_raw("md.quote", old, channel="c", schema_version=1)
    quote = codec.decode(frame, channel="c").payload
    assert quote.bid == Amount(Decimal("10.5"), "USD")
    assert quote.at.tzinfo is not None


def test_struct_validation_error_names_the_field_never_the_value() -> None:
    codec = Codec(registry=REG)
    frame = codec.encode_raw(
        "md.quote",
        {"symbol": "AAPL", "bid": {"amount": "1", "currency": "USD"}, "size": "sekrit", "at": AT},
        channel="c",
    )
    with pytest.raises(SchemaError) as info:
        codec.decode(frame, channel="c")
    assert "size" in str(info.value)
    assert "sekrit" not in str(info.value)


def test_struct_sensitive_fields_are_redacted_everywhere() -> None:
    charge = Charge("ch-1", PAN, Amount(Decimal("9.99"), "EUR"))
    assert PAN not in repr(charge)
    assert "***" in repr(charge)
    spec = REG.get("card.charge")
    assert spec is not None
    assert spec.sensitive == frozenset({"pan"})
    assert spec.is_struct
    codec = Codec(registry=REG, keyring=Keyring.generate())
    env = codec.decode(codec.encode(charge, channel="cards"), channel="cards")
    assert env.payload == charge
    assert PAN not in repr(env)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "charge %s", (charge,), None)
    # Card-number masking off: the Struct's own redacting repr must do the work.
    RedactionFilter(registry=REG, mask_card_numbers=False).filter(record)
    assert PAN not in record.getMessage()
    assert field_classifications(spec) == {
        "charge_id": "internal",
        "pan": "restricted",
        "amount": "internal",
    }


def test_struct_policy_restricted_type_needs_a_keyring() -> None:
    charge = Charge("ch-1", PAN, Amount(Decimal("1"), "EUR"))
    with pytest.raises(PolicyError):
        Codec(registry=REG).encode(charge, channel="cards")


def test_unregistered_struct_and_non_model_classes_are_refused() -> None:
    class Loose(msgspec.Struct):
        x: int

    with pytest.raises(SchemaError):
        Codec(registry=REG).encode(Loose(1), channel="c")
    with pytest.raises(ConfigurationError, match="model"):
        MessageRegistry().register(dict, "x")


# -- the decoder's inline path (frames with no extension map) ---------------------------


def _codec() -> Codec:
    return Codec(registry=REG, keyring=Keyring.generate(7))


def test_fast_path_refuses_a_name_that_is_not_utf8() -> None:
    codec = _codec()
    frame = bytearray(codec.encode_raw("md.x", {"a": 1}, channel="c"))
    frame[49] = 0xFF  # first byte of the type name
    with pytest.raises(FrameError, match="UTF-8"):
        codec.decode(bytes(frame), channel="c", validate=False)


def test_fast_path_name_cache_is_bounded_and_correct() -> None:
    codec = _codec()
    frames = [codec.encode_raw(f"t.{i}", {"i": i}, channel="c") for i in range(5000)]
    for i, frame in enumerate(frames):
        env = codec.decode(frame, channel="c", validate=False)
        assert env.type == f"t.{i}"
        assert env.payload == {"i": i}
    assert len(codec._dnames) <= 4096


def test_fast_path_key_states_follow_the_keyring() -> None:
    ring = Keyring.generate(1)
    codec = Codec(registry=REG, keyring=ring)
    frame = codec.encode_raw("md.x", {"a": 1}, channel="c")
    ring.add(2, b"\x02" * 32, primary=True)
    assert codec.decode(frame, channel="c", validate=False).payload == {"a": 1}
    ring.disable(1)
    with pytest.raises(DecryptionError):
        codec.decode(frame, channel="c", validate=False)
    ring.enable(1)
    assert codec.decode(frame, channel="c", validate=False).key_id == 1
    ring.disable(1)
    ring.destroy(1)
    with pytest.raises(UnknownKeyError):
        codec.decode(frame, channel="c", validate=False)


def test_fast_path_short_sealed_body_is_a_decryption_error() -> None:
    codec = _codec()
    frame = codec.encode_raw("md.x", {"a": 1}, channel="c")
    hlen = struct.unpack_from("<H", frame, 4)[0]
    with pytest.raises(DecryptionError):
        codec.decode(frame[: 6 + hlen + 20], channel="c", validate=False)


def test_msgpack_body_timestamp_extension_is_a_datetime_other_extensions_refused() -> None:
    codec = Codec(registry=REG)
    ts = msgpack.packb({"at": msgpack.Timestamp(1, 0)}, datetime=False)
    frame = codec.encode_raw("md.x", {"k": 1}, channel="c")
    # Swap the body for one holding the timestamp extension (unencrypted frame).
    hlen = struct.unpack_from("<H", frame, 4)[0]
    env = codec.decode(frame[: 6 + hlen] + ts, channel="c", validate=False)
    assert env.payload["at"] == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)
    ext = msgpack.packb({"x": msgpack.ExtType(5, b"z")})
    with pytest.raises(FrameError, match="parsed"):
        codec.decode(frame[: 6 + hlen] + ext, channel="c", validate=False)
