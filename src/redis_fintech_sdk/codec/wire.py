"""Wire format v1: constants, the fixed header and the extension map (docs/wire-format.md).

::

    frame  = prefix(6) | header | body | [signature(64)]
    prefix = magic C1 46 | version 01 | flags | header_len (u16 LE)
    header = fixed(43, little-endian) | type (UTF-8) | producer id (UTF-8) | [ext: msgpack map]
    fixed  = id(16) | produced_at u64 | sequence u64 | schema_version u32 | key_id u32
             | type_len u8 | producer_len u16
    flags  = bits 0-3 serializer id | 0x10 compressed | 0x20 encrypted | 0x40 signed | 0x80 = 0
    AAD    = frame[0 : 6 + header_len] || UTF-8 channel name

The required fields sit at fixed offsets so that the hot path reads them with one
``struct.unpack_from``; the optional ones (tenant, trace context, ...) travel in a msgpack map
that is absent from most frames. Every limit is checked here, before any crypto or
decompression runs.
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
FIXED_SIZE = 43  # the fixed part of the header
HEAD_SIZE = PREFIX_SIZE + FIXED_SIZE  # where the type name starts

FLAG_SERIALIZER_MASK = 0x0F
FLAG_COMPRESSED = 0x10
FLAG_ENCRYPTED = 0x20
FLAG_SIGNED = 0x40
FLAG_RESERVED = 0x80

# Extension-map keys (see docs/wire-format.md, "Extension map"). Keys 0-6 are the fixed fields
# of the header and must not appear in the map.
H_RESERVED = 7  # keys below this are refused in the map
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

MAX_TYPE = 255  # bytes, UTF-8
MAX_PRODUCER = 1024  # bytes, UTF-8
_MAX_STR = 1024  # characters; any string in the extension map
_U32 = 0xFFFFFFFF
_I63 = 0x7FFFFFFFFFFFFFFF

HEAD = struct.Struct("<3sBH16sQQIIBH")
"""prefix without the magic split out, then the fixed header fields (49 bytes)."""
V1 = MAGIC + bytes((FORMAT_VERSION,))
_unpack_head = HEAD.unpack_from
_pack_u16 = struct.Struct("<H").pack

# Types of the extension-map values; the ints are uint32 (``0 ..= 2**32-1``).
_EXT_TYPES: dict[int, type] = {
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

Fields = tuple[bytes, str, int, int, str, int, "int | None"]
"""The fixed header fields: id, type, schema version, produced at, producer, sequence, key id."""


class Limits:
    """Hard limits applied to every frame before any crypto or decompression.

    Attributes:
        max_frame_size: whole frame, bytes.
        max_header_size: the header (fixed part, names and extension map), bytes (<= 65535).
        max_header_entries: entries in the extension map (and in its free ``headers`` map).
    """

    __slots__ = ("max_frame_size", "max_header_entries", "max_header_size")

    def __init__(
        self, *, max_frame_size: int, max_header_size: int, max_header_entries: int
    ) -> None:
        self.max_frame_size = max_frame_size
        self.max_header_size = max_header_size
        self.max_header_entries = max_header_entries


_local = threading.local()


def pack_ext(ext: dict[int, Any]) -> bytes:
    """Serialise an extension map (msgpack; one Packer per thread, ~0.1 us cheaper)."""
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer()
    return packer.pack(ext)  # type: ignore[no-any-return]


def name_bytes(type_name: object, producer: object) -> tuple[int, int, bytes]:
    """Return ``(type_len, producer_len, type + producer)`` for the header, validated.

    Raises:
        FrameError: a name is not a string, not UTF-8 encodable, or too long.
    """
    try:
        tb = type_name.encode()  # type: ignore[attr-defined]
        pb = producer.encode()  # type: ignore[attr-defined]
    except (AttributeError, UnicodeEncodeError):
        raise FrameError("cannot encode: type and producer id must be valid strings") from None
    if type(type_name) is not str or type(producer) is not str:
        raise FrameError("cannot encode: type and producer id must be valid strings")
    if not 0 < len(tb) <= MAX_TYPE or len(pb) > MAX_PRODUCER:
        raise FrameError("cannot encode: type or producer id too long (or empty type)")
    return len(tb), len(pb), tb + pb


def build_head(
    flags: int,
    fields: Fields,
    ext: dict[int, Any] | None,
    key_id: int,
    limits: Limits,
) -> bytes:
    """Return ``prefix | header`` for validated fields (the slow, general path).

    Raises:
        FrameError: a field is out of range, or the header exceeds ``max_header_size``.
    """
    mid, type_name, ver, ts, producer, seq, _ = fields
    tlen, plen, names = name_bytes(type_name, producer)
    xb = b"" if not ext else pack_ext(ext)
    hlen = FIXED_SIZE + len(names) + len(xb)
    if hlen > limits.max_header_size:
        raise FrameError("cannot encode: header exceeds max_header_size")
    if type(mid) is not bytes or len(mid) != 16 or type(ts) is not int or ts >> 63:
        raise FrameError("cannot encode: a required header field is malformed")
    try:
        fixed = HEAD.pack(V1, flags, hlen, mid, ts, seq, ver, key_id, tlen, plen)
    except (struct.error, TypeError):
        raise FrameError("cannot encode: a required header field is out of range") from None
    return fixed + names + xb


def _refuse_prefix(frame: bytes, limits: Limits) -> FrameError | UnsupportedVersionError:
    # The slow path that explains why a frame's prefix or fixed header is unacceptable, in
    # the order of docs/wire-format.md §4.
    size = len(frame)
    if size >= 2 and frame[:2] != MAGIC:
        return UnsupportedVersionError("not a redis_fintech_sdk frame (bad magic)")
    if size < PREFIX_SIZE:
        return FrameError("truncated frame")
    if frame[2] != FORMAT_VERSION:
        return UnsupportedVersionError(f"unsupported wire-format version {frame[2]}")
    if frame[3] & FLAG_RESERVED:
        return FrameError("reserved flag bit set")
    hlen = frame[4] | frame[5] << 8
    if hlen > limits.max_header_size:
        return FrameError("header exceeds max_header_size")
    if PREFIX_SIZE + hlen > size or size < HEAD_SIZE:
        return FrameError("truncated frame")
    return FrameError("a required header field is malformed")


def parse_frame(frame: bytes, limits: Limits) -> tuple[int, Fields, dict[int, Any] | None, int]:
    """Split a frame into ``(flags, fields, ext, body_offset)`` and validate the header.

    ``ext`` is ``None`` when the frame has no extension map.

    Raises:
        FrameError: truncated, oversize, malformed or inconsistent frame.
        UnsupportedVersionError: wrong magic or an unknown format version.
    """
    size = len(frame)
    if size > limits.max_frame_size:
        raise FrameError("frame exceeds max_frame_size")
    if size < HEAD_SIZE:
        raise _refuse_prefix(frame, limits)
    v1, flags, hlen, mid, ts, seq, ver, kid, tlen, plen = _unpack_head(frame)
    off = PREFIX_SIZE + hlen
    p = HEAD_SIZE + tlen
    q = p + plen
    # One combined test for the common case; the slow path names the problem.
    if (
        v1 != V1
        or flags & FLAG_RESERVED
        or hlen > limits.max_header_size
        or off > size
        or not tlen
        or q > off
        or plen > MAX_PRODUCER
        or ts >> 63
        or (kid and not flags & FLAG_ENCRYPTED)
    ):
        if v1 != V1 or flags & FLAG_RESERVED or hlen > limits.max_header_size or off > size:
            raise _refuse_prefix(frame, limits)
        if kid and not flags & FLAG_ENCRYPTED:
            raise FrameError("key id on an unencrypted frame")
        raise FrameError("a required header field is malformed")
    try:
        type_name = frame[HEAD_SIZE:p].decode()
        producer = frame[p:q].decode()
    except UnicodeDecodeError:
        raise FrameError("a required header field is not UTF-8") from None
    ext = None
    if q < off or flags & (FLAG_COMPRESSED | FLAG_SIGNED):
        ext = _parse_ext(frame[q:off], flags, limits)
    fields = (mid, type_name, ver, ts, producer, seq, kid if flags & FLAG_ENCRYPTED else None)
    return flags, fields, ext, off


def _map_len(xb: bytes) -> int:
    first = xb[0]
    if 0x80 <= first <= 0x8F:
        return first & 0x0F
    if first == 0xDE and len(xb) >= 3:
        return int.from_bytes(xb[1:3], "big")
    if first == 0xDF and len(xb) >= 5:
        return int.from_bytes(xb[1:5], "big")
    raise FrameError("header extension is not a map")


def _strict_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key")
    return d


def _parse_ext(xb: bytes, flags: int, limits: Limits) -> dict[int, Any]:
    ext: Any = {}
    if xb:
        # The entry count is read from the map header before unpacking, so that a map with
        # too many entries is refused without building it, and duplicate keys (which a dict
        # would silently merge) are detected by comparing counts afterwards.
        count = _map_len(xb)
        if count > limits.max_header_entries:
            raise FrameError("too many header entries")
        try:
            ext = msgpack.unpackb(xb, strict_map_key=False)
            if type(ext) is dict and H_HEADERS in ext:
                # The free headers are a nested map: parse again, rejecting duplicate keys
                # inside it too.
                ext = msgpack.unpackb(xb, strict_map_key=False, object_pairs_hook=_strict_pairs)
        except Exception:  # msgpack raises ValueError/TypeError subclasses on hostile input
            raise FrameError("malformed header") from None
        if type(ext) is not dict or len(ext) != count:
            raise FrameError("malformed header (duplicate keys)")
        check_ext(ext, limits)
    if (H_RAW_SIZE in ext) != bool(flags & FLAG_COMPRESSED):
        raise FrameError("raw size present if and only if compressed")
    if H_DICT_ID in ext and not flags & FLAG_COMPRESSED:
        raise FrameError("dictionary id on an uncompressed frame")
    if (H_SIGNER in ext) != bool(flags & FLAG_SIGNED):
        raise FrameError("signer id present if and only if signed")
    return ext  # type: ignore[no-any-return]


def check_ext(ext: dict[Any, Any], limits: Limits) -> None:
    """Validate the keys, types and lengths of an extension map (not flag consistency).

    Raises:
        FrameError: a reserved or non-integer key, a wrong type, or a value out of range.
    """
    types = _EXT_TYPES
    v: Any
    k: Any
    for k, v in ext.items():
        if type(k) is not int:  # before any lookup: 7.0 and True compare equal to ints
            raise FrameError("header keys must be integers")
        t = types.get(k)
        if t is None:
            # Unknown integer keys are future optional fields: ignored.
            if 0 <= k < H_RESERVED:
                raise FrameError(f"header key {k} is a fixed field, not a map entry")
        elif type(v) is not t:
            raise FrameError(f"header field {k} has the wrong type")
        elif t is str and len(ext[k]) > _MAX_STR:
            raise FrameError(f"header field {k} is too long")
        elif t is int and not 0 <= ext[k] <= _U32:
            raise FrameError(f"header field {k} is out of range")
    cls = ext.get(H_CLASS)
    if cls is not None and cls not in CLASSIFICATIONS:
        raise FrameError("unknown data classification")
    free = ext.get(H_HEADERS)
    if free is not None:
        if len(free) > limits.max_header_entries:
            raise FrameError("too many free headers")
        for fk, fv in free.items():
            if type(fk) is not str or type(fv) is not str:
                raise FrameError("free headers map strings to strings")


def signature_input(channel_bytes: bytes, signed_part: bytes) -> bytes:
    """Bytes covered by an Ed25519 signature: ``u16le(len(channel)) | channel | frame_part``."""
    return _pack_u16(len(channel_bytes)) + channel_bytes + signed_part


def _channel_bytes(channel: str) -> bytes:
    try:
        raw = channel.encode()
    except (AttributeError, UnicodeEncodeError):
        raise CodecError("channel must be a valid str") from None
    if type(channel) is not str:
        raise CodecError("channel must be a valid str")
    if len(raw) > 0xFFFF:
        raise CodecError("channel name longer than 65535 bytes")
    return raw


def _as_bytes(frame: object) -> bytes:
    if isinstance(frame, bytes):
        return bytes(frame) if type(frame) is not bytes else frame
    if isinstance(frame, (bytearray, memoryview)):
        return bytes(frame)
    raise CodecError(f"a frame is bytes, not {type(frame).__name__}")
