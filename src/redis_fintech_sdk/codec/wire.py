"""Wire format v1: constants, the prefix, and the header map (see ``docs/wire-format.md``).

::

    frame  = prefix(4) | header_len(u16 BE) | header(msgpack map) | body | [signature(64)]
    prefix = magic C1 46 | version 01 | flags
    flags  = bits 0-3 serializer id | 0x10 compressed | 0x20 encrypted | 0x40 signed | 0x80 = 0
    AAD    = frame[0 : 6 + header_len] || UTF-8 channel name

Every limit is checked here, before any crypto or decompression runs.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import msgpack

from ..errors import CodecError, FrameError, UnsupportedVersionError

__all__ = [
    "CLASSIFICATIONS",
    "FLAG_COMPRESSED",
    "FLAG_ENCRYPTED",
    "FLAG_SIGNED",
    "FORMAT_VERSION",
    "MAGIC",
    "Limits",
    "parse_frame",
]

MAGIC = b"\xc1\x46"
"""First two bytes of every frame. 0xC1 is never valid MessagePack, so a frame is never
mistaken for a bare msgpack value (and vice versa)."""
FORMAT_VERSION = 1
PREFIX_SIZE = 6  # magic, version, flags, u16 header length

FLAG_SERIALIZER_MASK = 0x0F
FLAG_COMPRESSED = 0x10
FLAG_ENCRYPTED = 0x20
FLAG_SIGNED = 0x40
FLAG_RESERVED = 0x80

# Header keys (see docs/wire-format.md, "Header").
H_ID = 0
H_TYPE = 1
H_VERSION = 2
H_TIME = 3
H_PRODUCER = 4
H_SEQ = 5
H_KEY_ID = 6
H_TENANT = 7
H_CLASS = 8
H_CORRELATION = 9
H_CAUSATION = 10
H_TRACEPARENT = 11
H_TRACESTATE = 12
H_HEADERS = 13
H_DICT_ID = 14
H_RAW_SIZE = 15
H_SIGNER = 16

CLASSIFICATIONS = frozenset({"public", "internal", "confidential", "restricted"})
"""Data classifications, least to most sensitive: public, internal, confidential, restricted."""

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_I63 = 0x7FFFFFFFFFFFFFFF
_MAX_STR = 1024  # characters; any single header string
_MAX_TYPE = 255
_REQUIRED_TYPES = (bytes, str, int, int, str, int)

_PREFIXES = [MAGIC + bytes((FORMAT_VERSION, f)) for f in range(256)]
_pack_u16 = struct.Struct(">H").pack
_unpack_prefix = struct.Struct(">2sBBH").unpack_from

_HEADER_TYPES: dict[int, type] = {
    H_ID: bytes,
    H_TYPE: str,
    H_VERSION: int,
    H_TIME: int,
    H_PRODUCER: str,
    H_SEQ: int,
    H_KEY_ID: int,
    H_TENANT: str,
    H_CLASS: str,
    H_CORRELATION: str,
    H_CAUSATION: str,
    H_TRACEPARENT: str,
    H_TRACESTATE: str,
    H_HEADERS: dict,
    H_DICT_ID: int,
    H_RAW_SIZE: int,
    H_SIGNER: str,
}


class Limits:
    """Hard limits applied to every frame before any crypto or decompression.

    Attributes:
        max_frame_size: whole frame, bytes.
        max_header_size: encoded header map, bytes (at most 65535).
        max_header_entries: entries in the header map (and in its free ``headers`` map).
    """

    __slots__ = ("max_frame_size", "max_header_entries", "max_header_size")

    def __init__(
        self, *, max_frame_size: int, max_header_size: int, max_header_entries: int
    ) -> None:
        self.max_frame_size = max_frame_size
        self.max_header_size = max_header_size
        self.max_header_entries = max_header_entries


_local = threading.local()


def _packer() -> Any:
    # msgpack.packb builds a Packer per call; a per-thread Packer saves ~0.1 us per pack.
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer()
        return _local.packer


def build_head(flags: int, header: dict[int, Any], limits: Limits) -> bytes:
    """Return ``prefix | header_len | header`` for a header dict.

    Raises:
        FrameError: the header exceeds ``max_header_size``.
    """
    try:
        hb: bytes = _local.packer.pack(header)
    except AttributeError:
        hb = _packer().pack(header)
    if len(hb) > limits.max_header_size:
        raise FrameError("header exceeds max_header_size")
    return _PREFIXES[flags] + _pack_u16(len(hb)) + hb


def _map_len(hb: bytes) -> int:
    first = hb[0]
    if 0x80 <= first <= 0x8F:
        return first & 0x0F
    if first == 0xDE and len(hb) >= 3:
        return int.from_bytes(hb[1:3], "big")
    if first == 0xDF and len(hb) >= 5:
        return int.from_bytes(hb[1:5], "big")
    raise FrameError("header is not a map")


def _strict_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key")
    return d


def parse_frame(frame: bytes, limits: Limits) -> tuple[int, dict[int, Any], int]:
    """Split a frame into ``(flags, header, body_offset)`` and validate the header.

    Raises:
        FrameError: truncated, oversize, malformed or inconsistent frame.
        UnsupportedVersionError: wrong magic or an unknown format version.
    """
    size = len(frame)
    max_header = limits.max_header_size
    if size > limits.max_frame_size:
        raise FrameError("frame exceeds max_frame_size")
    if size < PREFIX_SIZE:
        if size >= 2 and frame[:2] != MAGIC:
            raise UnsupportedVersionError("not a redis_fintech_sdk frame (bad magic)")
        raise FrameError("truncated frame")
    magic, version, flags, hlen = _unpack_prefix(frame)
    if magic != MAGIC:
        raise UnsupportedVersionError("not a redis_fintech_sdk frame (bad magic)")
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(f"unsupported wire-format version {version}")
    if flags & FLAG_RESERVED:
        raise FrameError("reserved flag bit set")
    if hlen > max_header:
        raise FrameError("header exceeds max_header_size")
    off = PREFIX_SIZE + hlen
    if hlen == 0 or off > size:
        raise FrameError("truncated frame")
    hb = frame[PREFIX_SIZE:off]
    first = hb[0]
    # The entry count is read from the map header before unpacking, so that a header with
    # too many entries is refused without building it, and duplicate keys (which a dict
    # would silently merge) are detected by comparing counts afterwards.
    count = first - 0x80 if 0x80 <= first <= 0x8F else _map_len(hb)
    if count > limits.max_header_entries:
        raise FrameError("too many header entries")
    try:
        h = msgpack.unpackb(hb, strict_map_key=False)
        if type(h) is dict and H_HEADERS in h:
            # Free headers are a nested map: parse again, rejecting duplicate keys inside it
            # too. Rare, so the common path stays fast.
            h = msgpack.unpackb(hb, strict_map_key=False, object_pairs_hook=_strict_pairs)
    except Exception:  # msgpack raises ValueError/TypeError subclasses on hostile input
        raise FrameError("malformed header") from None
    if type(h) is not dict or len(h) != count:
        raise FrameError("malformed header (duplicate keys)")
    try:
        mid = h[H_ID]
        tname = h[H_TYPE]
        ver = h[H_VERSION]
        ts = h[H_TIME]
        prod = h[H_PRODUCER]
        seq = h[H_SEQ]
    except KeyError:
        raise FrameError("a required header field is missing") from None
    # One tuple comparison and a few shifts instead of a dozen branches: this runs for every
    # message. msgpack ints are within -2**63..2**64-1; a negative or too-large value leaves a
    # non-zero result after the shift.
    if (
        (type(mid), type(tname), type(ver), type(ts), type(prod), type(seq)) != _REQUIRED_TYPES
        or len(mid) != 16
        or not 0 < len(tname) <= _MAX_TYPE
        or len(prod) > _MAX_STR
        or (ver >> 32) | (ts >> 63) | (seq >> 64)
    ):
        raise FrameError("a required header field is malformed")
    n = 6
    if flags & FLAG_ENCRYPTED:
        kid = h.get(H_KEY_ID)
        if type(kid) is not int or not 0 <= kid <= _U32:
            raise FrameError("encrypted frame without a valid key id")
        n = 7
    if len(h) > n or flags & (FLAG_COMPRESSED | FLAG_SIGNED):
        _check_optional(h, flags, limits)
    return flags, h, off


def _check_optional(h: dict[Any, Any], flags: int, limits: Limits) -> None:
    types = _HEADER_TYPES
    v: Any
    for k, v in h.items():
        t = types.get(k)
        if t is None:
            # Unknown integer keys are future optional fields: ignored. Anything else is junk.
            if type(k) is not int:
                raise FrameError("header keys must be integers")
        elif type(v) is not t:
            raise FrameError(f"header field {k} has the wrong type")
        elif t is str and len(h[k]) > _MAX_STR:
            raise FrameError(f"header field {k} is too long")
        elif t is int and not 0 <= h[k] <= (_U64 if k == H_SEQ else _I63 if k == H_TIME else _U32):
            raise FrameError(f"header field {k} is out of range")
    cls = h.get(H_CLASS)
    if cls is not None and cls not in CLASSIFICATIONS:
        raise FrameError("unknown data classification")
    if (H_KEY_ID in h) != bool(flags & FLAG_ENCRYPTED):
        raise FrameError("key id present if and only if encrypted")
    if (H_RAW_SIZE in h) != bool(flags & FLAG_COMPRESSED):
        raise FrameError("raw size present if and only if compressed")
    if H_DICT_ID in h and not flags & FLAG_COMPRESSED:
        raise FrameError("dictionary id on an uncompressed frame")
    if (H_SIGNER in h) != bool(flags & FLAG_SIGNED):
        raise FrameError("signer id present if and only if signed")
    free = h.get(H_HEADERS)
    if free is not None:
        if len(free) > limits.max_header_entries:
            raise FrameError("too many free headers")
        for fk, fv in free.items():
            if type(fk) is not str or type(fv) is not str:
                raise FrameError("free headers map strings to strings")


def signature_input(channel_bytes: bytes, signed_part: bytes) -> bytes:
    """Bytes covered by an Ed25519 signature: ``u16(len(channel)) | channel | frame_part``."""
    return _pack_u16(len(channel_bytes)) + channel_bytes + signed_part


def check_header(h: dict[Any, Any], flags: int, limits: Limits) -> None:
    """Validate a header dict as :func:`parse_frame` would (used before encoding).

    Raises:
        FrameError: a field is missing, has the wrong type or is out of range.
    """
    hb = msgpack.packb(h)
    parse_frame(_PREFIXES[flags] + _pack_u16(len(hb)) + hb, limits)


def _channel_bytes(channel: str) -> bytes:
    try:
        raw = channel.encode()
    except (AttributeError, UnicodeEncodeError):
        raise CodecError("channel must be a valid str") from None
    if len(raw) > 0xFFFF:
        raise CodecError("channel name longer than 65535 bytes")
    return raw


def _as_bytes(frame: object) -> bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, (bytearray, memoryview)):
        return bytes(frame)
    raise CodecError(f"a frame is bytes, not {type(frame).__name__}")
