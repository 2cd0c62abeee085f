"""Codec.decode's hot path (frames whose shape the general path has already checked).

Every test first decodes a good frame so that the codec has learned its shape, then checks
that what follows through the hot path ends exactly as the general path (``Codec._decode``,
which knows no shapes) would end it: same payload and fields, or the same error class and
text, and the statistics count each frame once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import partial
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_fintech_sdk.codec import (
    JSON,
    MSGPACK,
    Codec,
    Keyring,
    Message,
    MessageRegistry,
    message,
    upcaster,
)
from redis_fintech_sdk.errors import (
    CodecError,
    DecryptionError,
    FrameError,
    PolicyError,
    SchemaError,
    UnknownKeyError,
)

TYPE = "md.bbo"  # not in the conftest registry: its types carry a classification (an extension map)
TICK = {"symbol": "AAPL", "bid": "189.12", "ask": "189.13", "conditions": ["R", "T"]}


def _outcome(decode: Callable[[], Any]) -> tuple[str, Any]:
    try:
        env = decode()
    except CodecError as exc:
        return type(exc).__name__, str(exc)
    return "ok", (env.message_id, env.type, env.sequence, env.produced_at_ns, env.payload)


def _warm(codec: Codec, channel: str = "md:AAPL") -> bytes:
    frame = codec.encode_raw(TYPE, TICK, channel=channel)
    codec.decode(frame, channel=channel, validate=False)
    assert len(codec._shapes) == 1  # the shape is learned: later frames take the hot path
    return frame


@pytest.mark.parametrize("encrypt", [True, False])
def test_hot_path_returns_what_the_general_path_returns(
    make_codec: Callable[..., Codec], encrypt: bool
) -> None:
    codec = make_codec(encrypt=encrypt)
    _warm(codec)
    for i in range(50):
        frame = codec.encode_raw(TYPE, {**TICK, "n": i}, channel="md:AAPL")
        hot = codec.decode(frame, channel="md:AAPL", validate=False)
        general = codec._decode(frame, "md:AAPL", False)
        assert hot.payload == general.payload == {**TICK, "n": i}
        assert hot._f == general._f
        assert hot.sequence == i + 2
        assert (hot.key_id is not None) is encrypt
        assert hot.headers == {}
        assert hot.tenant is None
    assert len(codec._shapes) == 1
    assert codec.statistics().decoded == 1 + 50 * 2


@pytest.mark.parametrize("encrypt", [True, False])
def test_every_single_byte_flip_ends_as_on_the_general_path(
    make_codec: Callable[..., Codec], encrypt: bool
) -> None:
    codec = make_codec(encrypt=encrypt)
    frame = _warm(codec)
    off = 6 + int.from_bytes(frame[4:6], "little")
    refused = 0
    for pos in range(len(frame)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(frame)
            bad[pos] ^= mask
            data = bytes(bad)
            hot = _outcome(partial(codec.decode, data, channel="md:AAPL", validate=False))
            general = _outcome(partial(codec._decode, data, "md:AAPL", False))
            assert hot == general, (pos, mask)
            if encrypt and pos >= off:
                assert hot[0] == "DecryptionError", (pos, mask)
            refused += hot[0] != "ok"
    if encrypt:  # the whole header is authenticated: no flip goes through
        assert refused == 3 * len(frame)
    else:  # in clear, the id, time and sequence bytes are not checked beyond their shape
        assert 0 < refused < 3 * len(frame)
    assert codec.decode(frame, channel="md:AAPL", validate=False).payload == TICK


def test_a_refused_frame_is_counted_once(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    frame = _warm(codec)
    bad = bytearray(frame)
    bad[-1] ^= 1
    with pytest.raises(DecryptionError) as info:
        codec.decode(bytes(bad), channel="md:AAPL")
    assert info.value.channel == "md:AAPL"
    assert info.value.message_id is not None
    stats = codec.statistics()
    assert stats.decoded == 1
    assert stats.failed == {"DecryptionError": 1}


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    cut=st.integers(-60, 40),
    encrypt=st.booleans(),
)
def test_random_edits_end_as_on_the_general_path(
    edits: list[tuple[int, int]], cut: int, encrypt: bool
) -> None:
    codec = Codec(keyring=Keyring.generate(), encrypt=encrypt)
    frame = bytearray(_warm(codec))
    for pos, value in edits:
        if pos < len(frame):
            frame[pos] = value
    data = bytes(frame[:cut] if cut < 0 else frame + bytes(cut))
    hot = _outcome(lambda: codec.decode(data, channel="md:AAPL", validate=False))
    assert hot == _outcome(lambda: codec._decode(data, "md:AAPL", False))


def test_produced_at_out_of_range_is_refused_on_the_hot_path(
    make_codec: Callable[..., Codec],
) -> None:
    codec = make_codec(encrypt=False)
    frame = bytearray(_warm(codec))
    frame[29] |= 0x80  # top bit of the u64 produced-at (bytes 22..30)
    with pytest.raises(FrameError, match="malformed"):
        codec.decode(bytes(frame), channel="md:AAPL", validate=False)


def test_truncated_and_padded_frames_of_a_known_shape(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    frame = _warm(codec)
    off = 6 + int.from_bytes(frame[4:6], "little")
    for size in (0, 5, 37, 38, 48, 49, off - 1, off, off + 12, off + 27, len(frame) - 1):
        cut = frame[:size]
        hot = _outcome(partial(codec.decode, cut, channel="md:AAPL"))
        assert hot == _outcome(partial(codec._decode, cut, "md:AAPL", True)), size
        assert hot[0] == ("FrameError" if size < off else "DecryptionError"), size
    with pytest.raises(DecryptionError):
        codec.decode(frame + b"\x00", channel="md:AAPL")


def test_other_channel_after_learning(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec()
    frame = _warm(codec, channel="md:AAPL")
    _warm(codec, channel="md:MSFT")  # both channels are known to the codec
    with pytest.raises(DecryptionError):
        codec.decode(frame, channel="md:MSFT")
    with pytest.raises(CodecError, match="valid str"):
        codec.decode(frame, channel=b"md:AAPL")  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="valid str"):
        codec.decode(frame, channel=["md:AAPL"])  # type: ignore[arg-type]


def test_a_key_retired_after_learning_is_refused() -> None:
    ring = Keyring.generate(1)
    codec = Codec(keyring=ring)
    frame = _warm(codec)
    ring.generate_key(2)
    ring.promote(2)
    ring.disable(1)
    with pytest.raises(DecryptionError):
        codec.decode(frame, channel="md:AAPL")
    ring.enable(1)
    assert codec.decode(frame, channel="md:AAPL", validate=False).payload == TICK
    ring.disable(1)
    ring.destroy(1)
    with pytest.raises(UnknownKeyError, match="1"):
        codec.decode(frame, channel="md:AAPL")


def test_registry_changes_after_learning_are_seen() -> None:
    registry = MessageRegistry()
    codec = Codec(registry=registry, keyring=Keyring.generate(), encrypt=False)
    frame = _warm(codec)
    with pytest.raises(SchemaError, match="unknown message type"):
        codec.decode(frame, channel="md:AAPL")  # validate=True needs a registered type

    @message(TYPE, version=2, classification="confidential", registry=registry)
    class Tick(Message):
        symbol: str
        bid: str
        ask: str
        conditions: list[str]
        venue: str

    @upcaster(TYPE, from_version=1, registry=registry)
    def _v1_to_v2(p: dict[str, Any]) -> dict[str, Any]:
        p["venue"] = "XNAS"
        return p

    # now registered as a type that must be encrypted: the clear frame is refused
    with pytest.raises(PolicyError):
        codec.decode(frame, channel="md:AAPL")
    sealed = Codec(registry=registry, keyring=codec._ring)
    frame = sealed.encode_raw(TYPE, TICK, channel="md:AAPL", schema_version=1)
    sealed.decode(frame, channel="md:AAPL", validate=False)  # learn the sealed v1 shape
    tick = sealed.decode(frame, channel="md:AAPL")
    assert isinstance(tick.payload, Tick)
    assert tick.payload.venue == "XNAS"
    assert tick.schema_version == 1


def test_an_upcaster_failure_on_the_hot_path_carries_context() -> None:
    registry = MessageRegistry()

    @message(TYPE, version=2, registry=registry)
    class Tick(Message):
        symbol: str

    @upcaster(TYPE, from_version=1, registry=registry)
    def _broken(p: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("nope")

    codec = Codec(registry=registry, keyring=Keyring.generate())
    frame = codec.encode_raw(TYPE, TICK, channel="md:AAPL", schema_version=1)
    for _ in range(2):  # general path, then hot path
        with pytest.raises(SchemaError, match="upcaster") as info:
            codec.decode(frame, channel="md:AAPL", validate=False)
        assert info.value.channel == "md:AAPL"
        assert info.value.message_id == frame[6:22].hex()
    assert codec.statistics().failed == {"SchemaError": 2}


def test_other_serializers_and_buffer_types(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec(serializer=JSON)
    frame = _warm(codec)
    for data in (bytearray(frame), memoryview(frame)):
        assert codec.decode(data, channel="md:AAPL", validate=False).payload == TICK
    # the same names under another serializer: a different prefix, so not the learned shape
    other = make_codec()
    assert (
        codec.decode(
            other.encode_raw(TYPE, TICK, channel="md:AAPL"), channel="md:AAPL", validate=False
        ).payload
        == TICK
    )


class _RetiringSerializer:
    """msgpack, except that its first ``loads`` retires key 1 (a change mid-decode)."""

    serializer_id = 9
    name = "retiring"

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring
        self.calls = 0

    def dumps(self, obj: Any) -> bytes:
        return MSGPACK.dumps(obj)

    def loads(self, data: bytes) -> Any:
        self.calls += 1
        if self.calls == 1:
            self.ring.disable(1)
        return MSGPACK.loads(data)


def test_a_shape_is_not_learned_across_a_keyring_change() -> None:
    ring = Keyring.generate(1)
    ring.promote(ring.generate_key(2))
    ring.promote(1)
    ser = _RetiringSerializer(ring)
    codec = Codec(keyring=ring, serializer=ser)
    frame = codec.encode_raw(TYPE, TICK, channel="md:AAPL")  # sealed under key 1
    ring.promote(2)
    # decrypted under key 1, then key 1 was retired before the shape could be remembered
    assert codec.decode(frame, channel="md:AAPL", validate=False).payload == TICK
    assert codec._shapes == {}
    with pytest.raises(DecryptionError, match="retired"):
        codec.decode(frame, channel="md:AAPL", validate=False)


def test_codecs_forget_shapes_on_every_change() -> None:
    registry = MessageRegistry()
    ring = Keyring.generate(1)
    codecs = [Codec(registry=registry, keyring=ring) for _ in range(3)]
    for codec in codecs:
        _warm(codec)
    ring.generate_key(2)  # a key added: the decrypt map is rebuilt
    assert [len(c._shapes) for c in codecs] == [0, 0, 0]
    for codec in codecs:
        _warm(codec)

    registry.add_upcaster(TYPE, 1, dict)  # a registry change (a class body would keep
    # the frame's locals alive through pydantic, and with them a codec)
    assert [len(c._shapes) for c in codecs] == [0, 0, 0]
    del codecs[:], codec  # watchers hold codecs weakly
    gc.collect()
    assert list(ring._watchers) == []
    assert list(registry._watchers) == []


@pytest.mark.parametrize("key", [7.0, True, "7"])
def test_extension_keys_must_be_integers(
    make_codec: Callable[..., Codec], headers: Any, key: object
) -> None:
    # 7.0 and True compare equal to the integer keys 7 and 1: refused before any lookup.
    codec = make_codec(encrypt=False)
    frame = codec.encode_raw(TYPE, TICK, channel="md:AAPL", tenant="acme")
    _, header = headers.split(frame)
    xb = msgpack.packb({key: "acme"})
    bad = headers.join(frame, header, raw_ext=xb)
    with pytest.raises(FrameError, match="integers"):
        codec.decode(bad, channel="md:AAPL", validate=False)
