"""The decoding half of :class:`~redis_fintech_sdk.codec.Codec` (a mixin; see ``codec.py``).

``_decode`` is the general path: every check of docs/wire-format.md §4, every error named.
``decode`` is the hot path in front of it. A frame's prefix and static part (bytes 38 to the
end of the header: schema version, key id, names) are the same for every frame of one type,
producer and key; once the general path has decoded one such frame on its inline branch,
that *shape* is remembered and later frames need only the per-frame checks. Anything else,
and every failure, goes to the general path, which repeats the work and raises the precise
error (a tampered frame costs two decryption attempts).
"""

from __future__ import annotations

import itertools
import struct
import threading
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag

from ..errors import (
    CodecError,
    DecryptionError,
    FrameError,
    PolicyError,
    SchemaError,
    SignatureError,
    UnknownKeyError,
)
from .compression import Zstd
from .envelope import Envelope
from .keyring import NONCE_SIZE, TAG_SIZE, Keyring
from .messages import MessageRegistry, MessageSpec
from .signing import SIGNATURE_SIZE, Verifier
from .stats import _Counters
from .wire import (
    FLAG_COMPRESSED,
    FLAG_ENCRYPTED,
    FLAG_RESERVED,
    FLAG_SIGNED,
    H_CLASS,
    H_DICT_ID,
    H_RAW_SIZE,
    H_SIGNER,
    HEAD,
    HEAD_SIZE,
    MAX_PRODUCER,
    PREFIX_SIZE,
    V1,
    Fields,
    Limits,
    _as_bytes,
    _channel_bytes,
    parse_frame,
    signature_input,
)

__all__: list[str] = []

_unpack_head = HEAD.unpack_from
# The per-frame part of the head: magic + version + flags as one u32, header length, id,
# produced-at, sequence. Bytes 38 onwards (schema version, key id, name lengths, names) are
# the frame's static part.
_unpack_ids = struct.Struct("<IH16sQQ").unpack_from
_STATIC = 38
_SLOW_FLAGS = FLAG_RESERVED | FLAG_COMPRESSED | FLAG_SIGNED  # frames with an extension map
_new_envelope = object.__new__
_CACHE_MAX = 4096  # entries in each per-codec cache


class _Shape:
    """The static part of a frame that has passed every check once (see Codec.decode).

    It holds what the general path looked up for that frame (message spec, decrypt function),
    so it is only valid until the registry or the keyring changes: both tell every codec
    that uses them, which then forgets all its shapes (``_Decoder._forget_shapes``).
    """

    __slots__ = (
        "decrypt",
        "h4",
        "kid",
        "loads",
        "min_body",
        "producer",
        "spec",
        "type",
        "upcast",
        "ver",
    )

    def __init__(
        self,
        *,
        h4: int,
        fields: Fields,
        loads: Callable[[bytes], Any],
        spec: MessageSpec | None,
        decrypt: Callable[..., bytes] | None,
    ) -> None:
        self.h4 = h4
        self.type = fields[1]
        self.ver = fields[2]
        self.producer = fields[4]
        self.kid = fields[6]
        self.loads = loads
        self.spec = spec
        self.upcast = spec is not None and spec.version != self.ver
        self.decrypt = decrypt
        self.min_body = 0 if decrypt is None else NONCE_SIZE + TAG_SIZE


class _Decoder:
    # Set by Codec.__init__.
    _registry: MessageRegistry
    _specs: dict[str, MessageSpec]
    _ring: Keyring | None
    _enc_classes: frozenset[str]
    _loads: list[Callable[[bytes], Any] | None]
    _zstd: Zstd
    _limits: Limits
    _max_frame: int
    _max_header: int
    _verifier: Verifier | None
    _require_signature: bool
    _force_slow: int
    _cbytes: dict[str, bytes]
    _dnames: dict[bytes, tuple[str, str]]
    _shapes: dict[bytes, _Shape]
    _shapes_epoch: int
    _lock: threading.Lock
    _stats: _Counters
    _n_dec: itertools.count[int]

    def _decode_channel(self, channel: str) -> bytes:
        cb = _channel_bytes(channel)
        cache = self._cbytes
        if len(cache) >= _CACHE_MAX:
            cache.clear()  # many distinct channels (pattern subscriptions): start over
        cache[channel] = cb
        return cb

    def _decode_names(self, nb: bytes, tlen: int) -> tuple[str, str]:
        # Type and producer names of received frames, decoded once per distinct pair.
        try:
            names = (nb[:tlen].decode(), nb[tlen:].decode())
        except UnicodeDecodeError:
            raise FrameError("a required header field is not UTF-8") from None
        cache = self._dnames
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[nb] = names
        return names

    # -- decoding -----------------------------------------------------------------------

    def decode(
        self, frame: bytes | bytearray | memoryview, *, channel: str, validate: bool = True
    ) -> Envelope:
        """Verify, decrypt, decompress and parse a frame.

        Args:
            frame: the frame bytes.
            channel: the channel or stream it was read from (must match the one it was
                encoded for, or authentication fails).
            validate: build the registered pydantic model (default). With ``False`` the
                payload stays plain data (upcasters still run) — the fast path.

        Raises:
            FrameError: malformed, truncated or oversize frame, or an unparseable body.
            UnsupportedVersionError: not a v1 frame.
            PolicyError: a type that must be encrypted arrived in clear.
            SignatureError: a bad signature, or none when one is required.
            UnknownKeyError: the key id is not in the keyring (or was destroyed).
            DecryptionError: authentication failed or the key is retired.
            DecompressionError: a bad zstd body or one past ``max_body_size``.
            SchemaError: unknown type or version, or failed validation.
        """
        # The hot path. A frame whose static part (prefix, schema version, key id, names:
        # everything but id, time and sequence) equals one the general path has already
        # checked and decoded needs only the per-frame checks below. Anything else, and any
        # failure, goes to the general path, which repeats the work and names the problem.
        if type(frame) is not bytes or (size := len(frame)) > self._max_frame:
            return self._decode(frame, channel, validate)
        try:
            h4, hlen, mid, ts, seq = _unpack_ids(frame)
        except struct.error:  # shorter than the fixed head
            return self._decode(frame, channel, validate)
        off = hlen + 6  # PREFIX_SIZE; a shape's key is at least 12 bytes, so off <= size
        shape = self._shapes.get(frame[38:off])  # _STATIC
        if shape is None or shape.h4 != h4 or ts >> 63 or size - off < shape.min_body:
            return self._decode(frame, channel, validate)
        decrypt = shape.decrypt
        if decrypt is not None:
            try:
                cb = self._cbytes[channel]
            except (KeyError, TypeError):
                return self._decode(frame, channel, validate)
            nonce_end = off + NONCE_SIZE
            try:
                body = decrypt(frame[off:nonce_end], frame[nonce_end:], frame[:off] + cb)
            except InvalidTag:
                return self._decode(frame, channel, validate)
        else:
            body = frame[off:]
        try:
            payload = shape.loads(body)
        except Exception:  # any parser error on hostile bytes: named by the general path
            return self._decode(frame, channel, validate)
        fields = (mid, shape.type, shape.ver, ts, shape.producer, seq, shape.kid)
        if validate or shape.upcast:
            spec = shape.spec
            if spec is None:
                return self._decode(frame, channel, validate)  # raises SchemaError
            try:
                if shape.upcast:
                    payload = self._registry.upcast(shape.type, shape.ver, payload)
                if validate:
                    payload = self._registry.validate(spec, payload)
            except CodecError as exc:
                self._fail(exc, fields, channel)
                raise
        next(self._n_dec)
        env: Envelope = _new_envelope(Envelope)
        env._f = fields
        env._x = None
        env._p = payload
        return env

    def _fail(self, exc: CodecError, fields: Fields | None, channel: str) -> None:
        # Errors carry context, never payload bytes.
        if exc.message_id is None and fields is not None:
            exc.message_id = fields[0].hex()
        if exc.channel is None:
            exc.channel = channel
        self._stats.fail(0, exc)

    def _forget_shapes(self) -> None:
        # Called by the registry and the keyring when they change.
        with self._lock:
            self._shapes_epoch += 1
            self._shapes.clear()

    def _learn(
        self,
        epoch: int,
        frame: bytes,
        off: int,
        fields: Fields,
        loads: Callable[[bytes], Any],
        spec: MessageSpec | None,
        decrypt: Callable[..., bytes] | None,
    ) -> None:
        # Remember the static part of a frame the general path decoded on its inline branch
        # (so every check on it passed) for decode()'s hot path — unless the registry or the
        # keyring changed since the general path started (``epoch``): the spec or decrypt
        # function it used may be stale.
        shape = _Shape(
            h4=_unpack_ids(frame)[0], fields=fields, loads=loads, spec=spec, decrypt=decrypt
        )
        with self._lock:
            if epoch != self._shapes_epoch:
                return
            shapes = self._shapes
            if len(shapes) >= _CACHE_MAX:
                shapes.clear()
            shapes[frame[_STATIC:off]] = shape

    def _decode(
        self, frame: bytes | bytearray | memoryview, channel: str, validate: bool
    ) -> Envelope:
        # The general path: every frame, every check, every error named. Frames it decodes
        # on the inline branch teach decode() their shape.
        epoch = self._shapes_epoch  # read before the spec and the decrypt function
        fields = None
        decrypt = None
        try:
            if type(frame) is not bytes:
                frame = _as_bytes(frame)
            size = len(frame)
            if size < HEAD_SIZE or size > self._max_frame:
                parse_frame(frame, self._limits)  # raises, naming the problem
            # The common frame (no extension map, not compressed, not signed) is read inline;
            # everything else, and every malformed frame, goes through parse_frame, which
            # names the problem.
            v1, flags, hlen, mid, ts, seq, ver, kid, tlen, plen = _unpack_head(frame)
            off = PREFIX_SIZE + hlen
            q = HEAD_SIZE + tlen + plen
            if (
                v1 != V1
                or (flags | self._force_slow) & _SLOW_FLAGS
                or q != off
                or off > size
                or hlen > self._max_header
                or not tlen
                or plen > MAX_PRODUCER
                or ts >> 63
                or (kid and not flags & FLAG_ENCRYPTED)
            ):
                flags, fields, x, off = parse_frame(frame, self._limits)
                type_name = fields[1]
                loads = self._loads[flags & 0x0F]
                slow = True
            else:
                slow = False
                x = None
                nb = frame[HEAD_SIZE:q]
                try:
                    type_name, producer = self._dnames[nb]
                except KeyError:
                    type_name, producer = self._decode_names(nb, tlen)
                loads = self._loads[flags & 0x0F]
                fields = (
                    mid,
                    type_name,
                    ver,
                    ts,
                    producer,
                    seq,
                    kid if flags & FLAG_ENCRYPTED else None,
                )
            if loads is None:
                raise FrameError(f"unknown serializer id {flags & 0x0F}")
            spec = self._specs.get(type_name)
            encrypted = flags & FLAG_ENCRYPTED
            end = size
            if slow:
                if not encrypted and (
                    (spec is not None and spec.encrypted)
                    or (x is not None and x.get(H_CLASS) in self._enc_classes)
                ):
                    raise PolicyError(f"{type_name} must be encrypted but arrived in clear")
                if flags & FLAG_SIGNED:
                    assert x is not None  # parse_frame guarantees the signer id
                    end -= SIGNATURE_SIZE
                    if end < off:
                        raise FrameError("truncated frame")
                    if self._verifier is not None:
                        self._verifier.verify(
                            x[H_SIGNER],
                            frame[end:],
                            signature_input(_channel_bytes(channel), frame[:end]),
                            channel=channel,
                        )
                elif self._require_signature:
                    raise SignatureError("frame is not signed")
            elif not encrypted and spec is not None and spec.encrypted:
                # The inline path: no extension map (so no classification), not signed, and
                # this codec does not require signatures (else _force_slow sent it above).
                raise PolicyError(f"{type_name} must be encrypted but arrived in clear")
            if encrypted:
                ring = self._ring
                if ring is None:
                    raise UnknownKeyError(kid)
                try:
                    cb = self._cbytes[channel]
                except (KeyError, TypeError):
                    cb = self._decode_channel(channel)
                decrypt = ring._decrypts.get(kid)
                nonce_end = off + NONCE_SIZE
                if decrypt is None or end - nonce_end < TAG_SIZE:
                    body = ring._open(kid, frame, off, end, frame[:off] + cb)  # raises
                else:
                    try:
                        body = decrypt(frame[off:nonce_end], frame[nonce_end:end], frame[:off] + cb)
                    except InvalidTag:
                        raise DecryptionError() from None
            else:
                body = frame[off:end]
            if slow and flags & FLAG_COMPRESSED:
                assert x is not None  # parse_frame guarantees the raw size
                body = self._zstd.decompress(body, x[H_RAW_SIZE], x.get(H_DICT_ID))
            try:
                payload = loads(body)
            except Exception:  # any parser error on hostile bytes
                raise FrameError("body cannot be parsed") from None
            if spec is not None:
                if ver != spec.version:
                    payload = self._registry.upcast(type_name, ver, payload)
                if validate:
                    payload = self._registry.validate(spec, payload)
            elif validate:
                raise SchemaError(f"unknown message type {type_name!r}")
        except CodecError as exc:
            self._fail(exc, fields, channel)
            raise
        if not slow:
            self._learn(epoch, frame, off, fields, loads, spec, decrypt)
        next(self._n_dec)
        env: Envelope = _new_envelope(Envelope)
        env._f = fields
        env._x = x
        env._p = payload
        return env
