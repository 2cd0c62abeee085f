from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_fintech_sdk.codec import JSON, MSGPACK, Codec, Envelope, Message
from redis_fintech_sdk.errors import FrameError, SchemaError

FLAG_COMBOS = [
    {"serializer": ser, "compress": comp, "encrypt": enc, "sign": sig}
    for ser, comp, enc, sig in itertools.product((MSGPACK, JSON), *[(False, True)] * 3)
]


def combo_id(combo: dict[str, Any]) -> str:
    parts = [combo["serializer"].name]
    parts += [k for k in ("compress", "encrypt", "sign") if combo[k]]
    return "-".join(parts)


# Plain data every serialiser carries exactly: no NaN (JSON has none), no lone surrogates
# (not UTF-8), 64-bit ints.
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_plain = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30,
)
payloads = st.dictionaries(_text, _plain, max_size=8)


@pytest.mark.parametrize("combo", FLAG_COMBOS, ids=combo_id)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads, channel=_text)
def test_raw_round_trip_every_flag_combination(
    make_codec: Callable[..., Codec], combo: dict[str, Any], payload: dict[str, Any], channel: str
) -> None:
    codec = make_codec(**combo)
    frame = codec.encode_raw("test.raw", payload, channel=channel, tenant="t1")
    head = codec.peek_header(frame)
    assert head.encrypted is combo["encrypt"]
    assert head.signed is combo["sign"]
    assert head.serializer_id == combo["serializer"].serializer_id
    # Only bodies that zstd actually shrinks are stored compressed.
    assert head.compressed <= combo["compress"]
    env = codec.decode(frame, channel=channel, validate=False)
    assert env.payload == payload
    assert env.type == "test.raw"
    assert env.tenant == "t1"
    assert env.message_id == head.message_id
    assert env.key_id == (1 if combo["encrypt"] else None)


@pytest.mark.parametrize("combo", FLAG_COMBOS, ids=combo_id)
def test_typed_round_trip_every_flag_combination(
    make_codec: Callable[..., Codec], combo: dict[str, Any], tick: Message, trade: Message
) -> None:
    codec = make_codec(**combo)
    for msg, channel in ((tick, "md:AAPL"), (trade, "trades")):
        if msg is trade and not combo["encrypt"]:
            continue  # confidential: covered by the policy tests
        frame = codec.encode(msg, channel=channel, correlation_id="c-1", headers={"k": "v"})
        env = codec.decode(frame, channel=channel)
        assert env.payload == msg
        assert env.correlation_id == "c-1"
        assert dict(env.headers) == {"k": "v"}
        assert env.producer_id == codec.producer_id


def test_sequence_counts_per_channel_and_ids_increase(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    seen: dict[str, list[int]] = {"a": [], "b": []}
    ids = []
    for i in range(6):
        ch = "a" if i % 3 else "b"
        env = codec.decode(codec.encode_raw("x", {}, channel=ch), channel=ch, validate=False)
        seen[ch].append(env.sequence)
        ids.append(env.message_id_bytes)
    assert seen == {"a": [1, 2, 3, 4], "b": [1, 2]}
    assert ids == sorted(ids)
    assert len(set(ids)) == 6


def test_envelope_round_trip_keeps_every_field(
    make_codec: Callable[..., Codec], trade: Message
) -> None:
    codec = make_codec(sign=True)
    env = Envelope(
        type="trade.executed",
        payload=trade,
        schema_version=3,
        produced_at_ns=1_700_000_000_000_000_001,
        producer_id="upstream",
        sequence=41,
        tenant="acme",
        classification="restricted",
        correlation_id="corr",
        causation_id="cause",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate="vendor=1",
        headers={"a": "1"},
    )
    out = codec.decode(codec.encode(env, channel="trades"), channel="trades")
    expected = env.metadata() | {"key_id": 1, "signer_id": "producer-a"}
    assert out.metadata() == expected
    assert out.payload == env.payload
    assert out.produced_at.year == 2023


def test_decode_unknown_type_needs_validate_false(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    frame = codec.encode_raw("nobody.knows", {"a": 1}, channel="c")
    with pytest.raises(SchemaError, match="unknown message type"):
        codec.decode(frame, channel="c")
    assert codec.decode(frame, channel="c", validate=False).payload == {"a": 1}


def test_validation_failure_is_schema_error(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    frame = codec.encode_raw("md.tick", {"symbol": "AAPL"}, channel="c")
    with pytest.raises(SchemaError) as info:
        codec.decode(frame, channel="c")
    assert "bid" in str(info.value)
    assert info.value.channel == "c"


def test_unregistered_message_class_is_refused(make_codec: Callable[..., Codec]) -> None:
    class Loose(Message):
        x: int

    with pytest.raises(SchemaError, match="not a registered"):
        make_codec().encode(Loose(x=1), channel="c")


def test_bytearray_and_memoryview_frames_decode(
    make_codec: Callable[..., Codec], tick: Message
) -> None:
    codec = make_codec()
    frame = codec.encode(tick, channel="c")
    assert codec.decode(bytearray(frame), channel="c").payload == tick
    assert codec.decode(memoryview(frame), channel="c").payload == tick


def test_statistics_count_frames_and_failures_by_class(
    make_codec: Callable[..., Codec], tick: Message
) -> None:
    from redis_fintech_sdk.codec import CodecStatistics
    from redis_fintech_sdk.errors import CodecError

    codec = make_codec()
    frame = codec.encode(tick, channel="a")
    codec.encode_raw("x", {}, channel="a")
    codec.decode(frame, channel="a")
    for bad, channel in ((frame, "b"), (b"junk", "a"), (frame[:-1], "a")):
        with pytest.raises(CodecError):
            codec.decode(bad, channel=channel)
    with pytest.raises(SchemaError):
        codec.encode_raw("x", {"a": object()}, channel="a")
    stats = codec.statistics()
    assert isinstance(stats, CodecStatistics)
    assert (stats.encoded, stats.decoded) == (2, 1)
    assert stats.failed == {"DecryptionError": 2, "UnsupportedVersionError": 1}
    assert stats.encode_failed == {"SchemaError": 1}
    with pytest.raises(AttributeError):
        stats.encoded = 0  # type: ignore[misc]


def test_decoded_envelope_re_encodes_for_forwarding(
    make_codec: Callable[..., Codec], tick: Message
) -> None:
    codec = make_codec(compress=True, sign=True)
    env = codec.decode(codec.encode(tick, channel="a", tenant="t"), channel="a")
    plain = make_codec(encrypt=False)
    out = plain.decode(plain.encode(env, channel="b"), channel="b")
    assert out.payload == tick
    assert (out.message_id, out.sequence, out.tenant) == (env.message_id, env.sequence, "t")
    assert (out.key_id, out.signer_id) == (None, None)


def test_key_id_on_an_unencrypted_frame_is_refused(
    make_codec: Callable[..., Codec], tick: Message
) -> None:
    codec = make_codec(encrypt=False)
    frame = bytearray(codec.encode(tick, channel="a"))
    frame[42] = 1  # key id (u32 LE at offset 42) on a frame without the encrypted flag
    with pytest.raises(FrameError, match="key id"):
        codec.decode(bytes(frame), channel="a")
