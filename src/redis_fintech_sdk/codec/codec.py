"""The Codec: messages and envelopes to wire-format-v1 frames and back. Sans-I/O."""

from __future__ import annotations

import itertools
import os
import threading
import weakref
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
from ._encoding import _Encoder
from .compression import Zstd
from .config import CodecConfig
from .envelope import Envelope, FrameHeader
from .ids import MessageIdGenerator, _new_producer_id
from .ids import _default as _default_ids
from .keyring import NONCE_SIZE, TAG_SIZE
from .rotation import reseal
from .serializers import JSON, MSGPACK, Serializer
from .signing import SIGNATURE_SIZE
from .stats import CodecStatistics, _Counters
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
    Limits,
    _as_bytes,
    _channel_bytes,
    name_bytes,
    parse_frame,
    signature_input,
)

__all__ = ["Codec"]

_auto_producers: weakref.WeakSet[Codec] = weakref.WeakSet()
_pack_head = HEAD.pack
_unpack_head = HEAD.unpack_from
_SLOW_FLAGS = FLAG_RESERVED | FLAG_COMPRESSED | FLAG_SIGNED  # frames with an extension map
_new_envelope = object.__new__
_CACHE_MAX = 4096  # entries in each per-codec name cache
_CODEC_KEYS = (H_DICT_ID, H_RAW_SIZE, H_SIGNER, H_CLASS)  # set by the codec, not the caller


def _after_fork() -> None:
    # A child must not reuse the parent's (producer, channel, sequence) numbers.
    for codec in list(_auto_producers):
        codec._producer = _new_producer_id()
        codec._seqs = {}
        codec._names = {}


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork)


class Codec(_Encoder):
    """Encodes messages into wire-format-v1 frames and decodes them back.

    Thread-safe; build one per application and share it.

    Args:
        config: the settings; defaults to ``CodecConfig()``.
        **overrides: individual :class:`CodecConfig` fields, applied on top of ``config``.

    Raises:
        ConfigurationError: an invalid or unknown setting.

    Example:
        >>> codec = Codec(keyring=Keyring.generate())
        >>> frame = codec.encode_raw("md.tick", {"symbol": "AAPL"}, channel="md:AAPL")
        >>> codec.decode(frame, channel="md:AAPL").payload
        {'symbol': 'AAPL'}
    """

    def __init__(self, config: CodecConfig | None = None, /, **overrides: Any) -> None:
        cfg = config if config is not None else CodecConfig()
        if overrides:
            cfg = cfg.replace(**overrides)
        self.config = cfg
        self._registry = cfg.registry
        self._specs = cfg.registry._by_name  # read-only use: lookups on the hot path
        self._require_signature = cfg.require_signature
        self._ring = cfg.keyring
        self._encrypt_default = cfg.keyring is not None and cfg.encrypt
        self._enc_classes = cfg.encrypt_classifications
        self._dumps = cfg.serializer.dumps
        self._ser_id = cfg.serializer.serializer_id
        self._loads: list[Callable[[bytes], Any] | None] = [None] * 16
        sers: tuple[Serializer, ...] = (MSGPACK, JSON, *cfg.serializers, cfg.serializer)
        for ser in sers:
            self._loads[ser.serializer_id] = ser.loads
        self._threshold = cfg.compression_threshold
        self._dict_id = cfg.compression_dictionary_id
        self._zstd = Zstd(
            level=cfg.compression_level,
            dictionaries=cfg.compression_dictionaries,
            max_output_size=cfg.max_body_size,
        )
        self._limits = Limits(
            max_frame_size=cfg.max_frame_size,
            max_header_size=cfg.max_header_size,
            max_header_entries=cfg.max_header_entries,
        )
        self._max_frame = cfg.max_frame_size
        self._max_header = cfg.max_header_size
        self._signer = cfg.signer
        self._verifier = cfg.verifier
        self._clock = cfg.clock
        self._next_id: Callable[[], bytes] = cfg.id_source or (
            _default_ids if cfg.clock is CodecConfig.clock else MessageIdGenerator(clock=cfg.clock)
        )
        self._producer = cfg.producer_id or _new_producer_id()
        if cfg.producer_id is None:
            _auto_producers.add(self)
        # channel -> (sequence counter, UTF-8 name); type name -> (type_len, producer_len,
        # type + producer bytes); channel -> UTF-8 name for decoding (bounded).
        self._seqs: dict[str, tuple[itertools.count[int], bytes]] = {}
        self._names: dict[str, tuple[int, int, bytes]] = {}
        self._cbytes: dict[str, bytes] = {}
        self._dnames: dict[bytes, tuple[str, str]] = {}
        # A codec that requires signatures sends every frame through the general path.
        self._force_slow = FLAG_SIGNED if cfg.require_signature else 0
        self._lock = threading.Lock()
        self._stats = _Counters()
        self._n_enc = self._stats.encoded
        self._n_dec = self._stats.decoded

    @property
    def producer_id(self) -> str:
        """The producer id written into frames this codec makes."""
        return self._producer

    def statistics(self) -> CodecStatistics:
        """Return a snapshot of frames encoded, decoded and refused (by error class)."""
        return self._stats.snapshot()

    def _channel(self, channel: str) -> tuple[itertools.count[int], bytes]:
        # First frame on a channel: validate its name once and start its sequence.
        cb = _channel_bytes(channel)
        with self._lock:
            return self._seqs.setdefault(channel, (itertools.count(1), cb))

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

    def _own_names(self, type_name: str) -> tuple[int, int, bytes]:
        names = name_bytes(type_name, self._producer)
        if len(self._names) >= _CACHE_MAX:
            self._names.clear()
        self._names[type_name] = names
        return names

    # -- decoding -----------------------------------------------------------------------

    def peek_header(self, frame: bytes | bytearray | memoryview) -> FrameHeader:
        """Read a frame's plaintext header without decrypting or verifying it.

        The limits are enforced, but nothing is authenticated yet: use the result for
        routing, filtering, dedup and gap detection, and trust it only after
        :meth:`decode` succeeds.

        Raises:
            FrameError: malformed, truncated or oversize frame.
            UnsupportedVersionError: not a v1 frame.
        """
        if type(frame) is not bytes:
            frame = _as_bytes(frame)
        flags, fields, ext, off = parse_frame(frame, self._limits)
        body = len(frame) - off - (SIGNATURE_SIZE if flags & FLAG_SIGNED else 0)
        if body < 0:
            raise FrameError("truncated frame")
        return FrameHeader(fields, ext, flags, body)

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
        fields = None
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
            # Errors carry context, never payload bytes.
            if exc.message_id is None and fields is not None:
                exc.message_id = fields[0].hex()
            if exc.channel is None:
                exc.channel = channel
            self._stats.fail(0, exc)
            raise
        next(self._n_dec)
        env: Envelope = _new_envelope(Envelope)
        env._f = fields
        env._x = x
        env._p = payload
        return env

    # -- rotation -----------------------------------------------------------------------

    def rotate(self, frame: bytes | bytearray | memoryview, *, channel: str) -> bytes:
        """Re-seal an encrypted frame under the keyring's current primary key.

        Everything but the key id, nonce, ciphertext (and signature, re-made with this
        codec's signer) stays the same. Frames already under the primary, and unencrypted
        frames, are returned unchanged.

        Raises:
            PolicyError: no keyring, or a signed frame and no signer to re-sign it.
            CodecError: any error :meth:`decode` would raise for the frame.
        """
        return reseal(
            _as_bytes(frame),
            channel=_channel_bytes(channel),
            channel_name=channel,
            keyring=self._ring,
            signer=self._signer,
            verifier=self._verifier,
            limits=self._limits,
        )

    def __repr__(self) -> str:
        return (
            f"Codec(serializer={self.config.serializer.name!r}, producer_id={self._producer!r}, "
            f"keyring={self._ring!r})"
        )
