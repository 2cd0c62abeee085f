"""Decompression bombs are refused within the cap, quickly and without big allocations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
import zstandard

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.errors import DecompressionError, FrameError

GIB = 1 << 30


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    """1 GiB of zeros as one zstd frame (about 40 KB), made by streaming, never in memory."""
    cctx = zstandard.ZstdCompressor(level=1)
    chunk = bytes(1 << 20)
    out = cctx.compressobj(size=GIB)
    parts = [out.compress(chunk) for _ in range(1024)]
    parts.append(out.flush())
    bomb = b"".join(parts)
    assert zstandard.frame_content_size(bomb) == GIB
    return bomb


def _frame_with_body(codec: Codec, body: bytes, raw_size: int, headers: Any) -> bytes:
    """A valid plain compressed frame whose header claims ``raw_size``."""
    frame = codec.encode_raw("x", {"a": "b" * 3000}, channel="c")
    off, header = headers.split(frame)
    assert 15 in header  # compressed
    header[15] = raw_size
    head: bytes = headers.join(frame[:off], header)
    return head + body


@pytest.mark.parametrize("claimed", [GIB, 1000, 16 << 20])
def test_one_gigabyte_bomb_is_refused(
    make_codec: Callable[..., Codec], gigabyte_bomb: bytes, claimed: int, headers: Any
) -> None:
    codec = make_codec(compress=True, encrypt=False)
    frame = _frame_with_body(codec, gigabyte_bomb, claimed, headers)
    start = time.perf_counter()
    with pytest.raises(DecompressionError):
        codec.decode(frame, channel="c")
    assert time.perf_counter() - start < 0.5  # refused from the headers, not by inflating


def test_bomb_inside_an_authentic_sealed_frame_is_refused(
    make_codec: Callable[..., Codec], gigabyte_bomb: bytes
) -> None:
    """A malicious insider holding the key still cannot exhaust memory."""
    codec = make_codec(compress=True, max_body_size=1 << 20)
    real = codec._zstd.compress
    try:
        codec._zstd.compress = lambda data, dict_id=None: gigabyte_bomb  # type: ignore[method-assign]
        frame = codec.encode_raw("x", {"a": "b" * 100_000}, channel="c")
    finally:
        codec._zstd.compress = real  # type: ignore[method-assign]
    assert codec.peek_header(frame).compressed
    assert codec.peek_header(frame).encrypted
    with pytest.raises(DecompressionError):
        codec.decode(frame, channel="c", validate=False)


def test_frame_without_content_size_and_lying_frames(
    make_codec: Callable[..., Codec], headers: Any
) -> None:
    codec = make_codec(compress=True, encrypt=False)
    data = msgpack.packb({"a": "b" * 3000})
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(data)
    with pytest.raises(DecompressionError):
        codec.decode(_frame_with_body(codec, no_size, len(data), headers), channel="c")
    good = zstandard.ZstdCompressor().compress(data)
    with pytest.raises(DecompressionError):
        codec.decode(_frame_with_body(codec, good + b"junk", len(data), headers), channel="c")
    with pytest.raises(DecompressionError):
        codec.decode(_frame_with_body(codec, good + good, len(data), headers), channel="c")
    assert codec.decode(
        _frame_with_body(codec, good, len(data), headers), channel="c", validate=False
    )


def test_unknown_dictionary_id(make_codec: Callable[..., Codec]) -> None:
    with_dict = make_codec(
        compress=True,
        encrypt=False,
        compression_dictionaries={9: b"abcdefgh" * 64},
        compression_dictionary_id=9,
    )
    frame = with_dict.encode_raw("x", {"a": "abcdefgh" * 200}, channel="c")
    assert with_dict.peek_header(frame).dictionary_id == 9
    assert with_dict.decode(frame, channel="c", validate=False).payload["a"].startswith("abc")
    with pytest.raises(DecompressionError, match="dictionary"):
        make_codec(encrypt=False).decode(frame, channel="c")


def test_default_caps_refuse_oversize_frames_and_bodies(
    make_codec: Callable[..., Codec], headers: Any
) -> None:
    """The defaults: 1 MiB frames, 4 MiB decompressed bodies (parse memory is ~75x a body)."""
    codec = make_codec(compress=True, encrypt=False)
    with pytest.raises(FrameError, match="max_frame_size"):
        codec.decode(b"\xc1\x46\x01" + bytes((1 << 20) - 2), channel="c")
    body = zstandard.ZstdCompressor().compress(b"\x90" * ((4 << 20) + 1))
    frame = _frame_with_body(codec, body, (4 << 20) + 1, headers)
    with pytest.raises(DecompressionError):
        codec.decode(frame, channel="c")
