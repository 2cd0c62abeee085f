"""Hostile input: random bytes and mutated valid frames raise only CodecError subclasses."""

from __future__ import annotations

import contextlib
import random
import struct
import time
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_fintech_sdk.codec import JSON, Codec, Message
from redis_fintech_sdk.errors import CodecError

FUZZ_CASES = 100_000


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return rng.randrange(-(2**63), 2**64)
    if kind == 1:
        return rng.randbytes(rng.choice((0, 1, 15, 16, 17, 40)))
    if kind == 2:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.choice((None, True, False, 0.5, -1, 0, 2**32, 2**63))
    if kind == 4:
        return rng.randrange(0, 40)
    if kind == 5:
        return msgpack.ExtType(rng.randrange(128), b"x")
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(("a", "b", 1, 2)): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))
    }


def _mutate(rng: random.Random, frame: bytes, headers: Any) -> bytes:
    op = rng.randrange(8)
    buf = bytearray(frame)
    if op == 0:  # flip 1-3 random bytes
        for _ in range(rng.randrange(1, 4)):
            buf[rng.randrange(len(buf))] ^= rng.randrange(1, 256)
    elif op == 1:  # truncate
        del buf[rng.randrange(len(buf)) :]
    elif op == 2:  # insert junk
        pos = rng.randrange(len(buf) + 1)
        buf[pos:pos] = rng.randbytes(rng.randrange(1, 9))
    elif op == 3:  # random header length
        buf[4:6] = rng.randrange(65536).to_bytes(2, "little")
    elif op == 4:  # random flags
        buf[3] = rng.randrange(256)
    elif op == 5:  # extension map: one entry set to a random value (keys 0-6 are reserved)
        _, header = headers.split(frame)
        fixed = {k: header.pop(k) for k in range(7)}
        header[rng.randrange(18)] = _random_value(rng)
        if rng.random() < 0.2:
            del header[rng.choice(list(header))]
        ext: bytes = msgpack.packb(header)
        return headers.join(frame, fixed, raw_ext=ext)  # type: ignore[no-any-return]
    elif op == 6:  # body replaced by random bytes
        del buf[6 + int.from_bytes(frame[4:6], "little") :]
        buf += rng.randbytes(rng.randrange(0, 200))
    else:  # splice two halves
        cut = rng.randrange(len(buf))
        buf = buf[cut:] + buf[:cut]
    return bytes(buf)


def test_100k_fuzzed_inputs_raise_only_codec_errors(
    make_codec: Callable[..., Codec], tick: Message, trade: Message, headers: Any
) -> None:
    rng = random.Random(20240501)
    codecs = [
        make_codec(encrypt=False),
        make_codec(serializer=JSON, encrypt=False),
        make_codec(compress=True, encrypt=False),
        make_codec(compress=True),
        make_codec(sign=True),
        make_codec(sign=True, compress=True, serializer=JSON),
    ]
    # The confidential trade is sealed by policy even where encrypt=False.
    seeds = [
        (codec, codec.encode(msg, channel="fuzz")) for codec in codecs for msg in (tick, trade)
    ]
    accepted = rejected = 0
    slowest = 0.0
    for i in range(FUZZ_CASES):
        codec, seed = seeds[i % len(seeds)]
        if i % 4 == 0:
            # Random bytes; half of them start with the right magic and version.
            data = rng.randbytes(rng.randrange(0, 300))
            if i % 8 == 0:
                data = b"\xc1\x46\x01" + data
        else:
            data = _mutate(rng, seed, headers)
        start = time.perf_counter()
        try:
            codec.decode(data, channel="fuzz", validate=bool(i & 1))
            accepted += 1
        except CodecError:
            rejected += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert accepted + rejected == FUZZ_CASES
    # Almost everything is refused. The few accepted inputs are mutations of plain
    # (unauthenticated) frames that still form a valid frame, e.g. a changed sequence number.
    assert rejected > FUZZ_CASES * 0.9
    assert slowest < 1.0  # no input makes a single decode hang


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes(make_codec: Callable[..., Codec], data: bytes) -> None:
    codec = make_codec(sign=True)
    for frame in (data, b"\xc1\x46\x01" + data):
        with contextlib.suppress(CodecError):
            codec.decode(frame, channel="c")
        with contextlib.suppress(CodecError):
            codec.peek_header(frame)


_header_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.binary(max_size=20)
    | st.text(max_size=20)
    | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


_u64 = st.integers(min_value=0, max_value=2**64 - 1)
_u32 = st.integers(min_value=0, max_value=2**32 - 1)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ext=st.dictionaries(
        st.integers(min_value=-2, max_value=20) | st.text(max_size=2), _header_values, max_size=20
    ),
    fixed=st.tuples(st.binary(min_size=16, max_size=16), _u64, _u64, _u32, _u32),
    names=st.tuples(st.binary(max_size=4), st.binary(max_size=4)),
    flags=st.integers(min_value=0, max_value=255),
    body=st.binary(max_size=100),
)
def test_structured_headers(
    make_codec: Callable[..., Codec],
    ext: dict[Any, Any],
    fixed: tuple[bytes, int, int, int, int],
    names: tuple[bytes, bytes],
    flags: int,
    body: bytes,
) -> None:
    tb, pb = names
    hb = struct.pack("<16sQQIIBH", *fixed, len(tb), len(pb)) + tb + pb
    if ext:
        hb += msgpack.packb(ext)
    frame = b"\xc1\x46\x01" + bytes((flags,)) + len(hb).to_bytes(2, "little") + hb + body
    with contextlib.suppress(CodecError):
        make_codec().decode(frame, channel="c", validate=False)
    with contextlib.suppress(CodecError):
        make_codec().peek_header(frame)


def test_duplicate_header_keys_are_refused(
    make_codec: Callable[..., Codec], tick: Message, headers: Any
) -> None:
    codec = make_codec(encrypt=False)
    frame = codec.encode(tick, channel="c", tenant="t")
    _, header = headers.split(frame)
    ext = {k: v for k, v in header.items() if k > 6}
    xb: bytes = msgpack.packb(ext)
    # Append a duplicate "tenant" entry and bump the map's entry count.
    dup = bytes((xb[0] + 1,)) + xb[1:] + b"\x07\xa1u"
    with pytest.raises(CodecError, match="duplicate"):
        codec.decode(headers.join(frame, header, raw_ext=dup), channel="c")
    # A fixed field repeated in the map is refused too (two places, one meaning).
    for key, value in ((5, 7), (1, "md.tick"), (6, 0)):
        with pytest.raises(CodecError, match="fixed field"):
            codec.decode(
                headers.join(
                    frame,
                    {**header, key + 100: 0, key: header[key]},
                    raw_ext=msgpack.packb({**ext, key: value}),
                ),
                channel="c",
            )
    nested = codec.encode(tick, channel="c", headers={"a": "1"})
    hlen = int.from_bytes(nested[4:6], "little")
    hb = nested[6 : 6 + hlen]
    i = hb.index(b"\x81\xa1a\xa11")
    hb2 = hb[:i] + b"\x82\xa1a\xa11\xa1a\xa12" + hb[i + 5 :]
    bad = nested[:4] + len(hb2).to_bytes(2, "little") + hb2 + nested[6 + hlen :]
    with pytest.raises(CodecError, match="malformed header"):
        codec.decode(bad, channel="c")


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xc1",
        b"\xc1\x46",
        b"\xc1\x46\x01\x00\x00",
        b"\xc1\x46\x01\x00\x00\x00",
        b"\xc1\x46\x01\x00\x2b\x00" + bytes(43),
        b"{}",
        b"\x80",
    ],
)
def test_tiny_inputs(make_codec: Callable[..., Codec], frame: bytes) -> None:
    with pytest.raises(CodecError):
        make_codec().decode(frame, channel="c")


def test_oversize_frame_refused_before_parsing(make_codec: Callable[..., Codec]) -> None:
    codec = make_codec(max_frame_size=1024)
    with pytest.raises(CodecError, match="max_frame_size"):
        codec.decode(b"\xc1\x46\x01\x00\x00\x10" + b"\x00" * 2000, channel="c")
    with pytest.raises(CodecError, match="max_frame_size"):
        codec.encode_raw("x", {"a": "y" * 2000}, channel="c")


def test_not_bytes_is_a_frame_error(make_codec: Callable[..., Codec]) -> None:
    with pytest.raises(CodecError):
        make_codec().decode("text", channel="c")  # type: ignore[arg-type]
