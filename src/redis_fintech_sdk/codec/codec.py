"""The Codec: messages and envelopes to wire-format-v1 frames and back. Sans-I/O."""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    CodecError,
    ConfigurationError,
    FrameError,
    PolicyError,
    SchemaError,
    SignatureError,
    UnknownKeyError,
)
from .compression import Zstd
from .config import CodecConfig
from .envelope import Envelope, FrameHeader
from .ids import MessageIdGenerator, _new_producer_id
from .ids import _default as _default_ids
from .messages import Message, MessageSpec
from .rotation import reseal
from .serializers import JSON, MSGPACK, Serializer
from .signing import SIGNATURE_SIZE
from .wire import (
    FLAG_COMPRESSED,
    FLAG_ENCRYPTED,
    FLAG_SIGNED,
    H_CAUSATION,
    H_CLASS,
    H_CORRELATION,
    H_DICT_ID,
    H_HEADERS,
    H_KEY_ID,
    H_RAW_SIZE,
    H_SIGNER,
    H_TENANT,
    H_TRACEPARENT,
    H_TRACESTATE,
    Limits,
    _as_bytes,
    _channel_bytes,
    build_head,
    check_header,
    parse_frame,
    signature_input,
)

__all__ = ["Codec"]

_auto_producers: weakref.WeakSet[Codec] = weakref.WeakSet()


def _after_fork() -> None:
    # A child must not reuse the parent's (producer, channel, sequence) numbers.
    for codec in list(_auto_producers):
        codec._producer = _new_producer_id()
        codec._seqs = {}


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork)


class Codec:
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
        self._signer = cfg.signer
        self._verifier = cfg.verifier
        self._clock = cfg.clock
        self._next_id: Callable[[], bytes] = cfg.id_source or (
            _default_ids if cfg.clock is CodecConfig.clock else MessageIdGenerator(clock=cfg.clock)
        )
        self._producer = cfg.producer_id or _new_producer_id()
        if cfg.producer_id is None:
            _auto_producers.add(self)
        self._seqs: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    @property
    def producer_id(self) -> str:
        """The producer id written into frames this codec makes."""
        return self._producer

    def _next_seq(self, channel: str) -> int:
        counter = self._seqs.get(channel)
        if counter is None:
            with self._lock:
                counter = self._seqs.setdefault(channel, itertools.count(1))
        return next(counter)

    # -- encoding -----------------------------------------------------------------------

    def encode(
        self,
        message: Message | Envelope,
        *,
        channel: str,
        tenant: str | None = None,
        classification: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        headers: Mapping[str, str] | None = None,
        encrypt: bool | None = None,
    ) -> bytes:
        """Encode a registered :class:`Message` (wrapped in a new envelope) or an Envelope.

        Args:
            message: the message, or a complete :class:`Envelope` (its metadata is kept; an
                empty ``producer_id`` is filled with this codec's, with a new sequence).
            channel: the channel or stream name the frame is bound to (part of the AAD).
            tenant: tenant id.
            classification: overrides the type's default classification.
            correlation_id: conversation id.
            causation_id: id of the message that caused this one.
            traceparent: W3C trace context.
            tracestate: W3C trace state.
            headers: free string headers.
            encrypt: force encryption on or off for this frame (policy still applies).

        Raises:
            SchemaError: unregistered message class, or a payload that cannot be serialised.
            PolicyError: the type must be encrypted but no keyring is configured.
            FrameError: the header or frame exceeds the configured limits.
        """
        if isinstance(message, Envelope):
            return self._encode_envelope(message, channel, encrypt)
        spec = self._registry.spec_for(type(message))
        payload = message.model_dump(mode="json")
        return self.encode_raw(
            spec.type_name,
            payload,
            channel=channel,
            schema_version=spec.version,
            tenant=tenant,
            classification=classification,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent,
            tracestate=tracestate,
            headers=headers,
            encrypt=encrypt,
        )

    def encode_raw(
        self,
        type_name: str,
        payload: Any,
        *,
        channel: str,
        schema_version: int | None = None,
        tenant: str | None = None,
        classification: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        headers: Mapping[str, str] | None = None,
        encrypt: bool | None = None,
    ) -> bytes:
        """Encode plain data under a type name without pydantic (the fast path).

        The payload is serialised as given: it must already match the type's schema.
        Arguments are as for :meth:`encode`; ``schema_version`` defaults to the registered
        version of ``type_name`` (or 1 for unregistered types).

        Raises:
            SchemaError: the payload cannot be serialised.
            PolicyError: the type must be encrypted but no keyring is configured.
            FrameError: the header or frame exceeds the configured limits.
        """
        spec = self._registry.get(type_name)
        h: dict[int, Any] = {
            0: self._next_id(),
            1: type_name,
            2: schema_version or (spec.version if spec is not None else 1),
            3: self._clock(),
            4: self._producer,
            5: self._next_seq(channel),
        }
        if (
            tenant is not None
            or correlation_id is not None
            or causation_id is not None
            or traceparent is not None
            or tracestate is not None
            or headers
        ):
            for key, value in (
                (H_TENANT, tenant),
                (H_CORRELATION, correlation_id),
                (H_CAUSATION, causation_id),
                (H_TRACEPARENT, traceparent),
                (H_TRACESTATE, tracestate),
            ):
                if value is not None:
                    h[key] = value
            if headers:
                h[H_HEADERS] = dict(headers)
            self._check_outgoing(h)
        return self._seal(h, payload, channel, spec, classification, encrypt)

    def _encode_envelope(self, env: Envelope, channel: str, encrypt: bool | None) -> bytes:
        h = dict(env._h)
        if not h[4]:
            h[4] = self._producer
            h[5] = self._next_seq(channel)
        spec = self._registry.get(env.type)
        payload = env.payload
        if isinstance(payload, Message):
            if self._registry.spec_for(type(payload)).type_name != env.type:
                raise SchemaError("envelope type does not match its payload's registered type")
            payload = payload.model_dump(mode="json")
        self._check_outgoing(h)
        return self._seal(h, payload, channel, spec, h.pop(H_CLASS, None), encrypt)

    def _check_outgoing(self, h: dict[int, Any]) -> None:
        # Refuse to write a header our own decoder would refuse.
        try:
            check_header(h, 0, self._limits)
        except FrameError as exc:
            raise FrameError(f"cannot encode: {exc}") from None

    def _seal(
        self,
        h: dict[int, Any],
        payload: Any,
        channel: str,
        spec: MessageSpec | None,
        classification: str | None,
        encrypt: bool | None,
    ) -> bytes:
        cls = classification or (spec.classification if spec is not None else "internal")
        if cls != "internal":
            if cls not in ("public", "confidential", "restricted"):
                raise ConfigurationError("classification", "unknown data classification")
            h[H_CLASS] = cls
        must = cls in self._enc_classes or (spec is not None and spec.encrypted)
        if encrypt is None:
            encrypt = self._encrypt_default or must
        if must and not encrypt:
            raise PolicyError(f"{h[1]} ({cls}) must be encrypted", channel=channel)
        ring = self._ring
        if encrypt and ring is None:
            raise PolicyError(f"{h[1]} needs encryption but no keyring is configured")
        try:
            body = self._dumps(payload)
        except Exception as exc:
            raise SchemaError(
                f"{h[1]} payload cannot be serialised ({type(exc).__name__})"
            ) from None
        flags = self._ser_id
        threshold = self._threshold
        if threshold is not None and len(body) >= threshold:
            packed = self._zstd.compress(body, self._dict_id)
            if len(packed) < len(body):
                h[H_RAW_SIZE] = len(body)
                if self._dict_id is not None:
                    h[H_DICT_ID] = self._dict_id
                body = packed
                flags |= FLAG_COMPRESSED
        signer = self._signer
        if signer is not None:
            h[H_SIGNER] = signer.signer_id
            flags |= FLAG_SIGNED
        ch = _channel_bytes(channel)
        if encrypt:
            assert ring is not None
            key = ring._primary_for_seal()
            h[H_KEY_ID] = key.key_id
            head = build_head(flags | FLAG_ENCRYPTED, h, self._limits)
            frame = head + ring._seal(key, body, head + ch)
        else:
            frame = build_head(flags, h, self._limits) + body
        if signer is not None:
            frame += signer.sign(signature_input(ch, frame))
        if len(frame) > self._max_frame:
            raise FrameError("frame exceeds max_frame_size", channel=channel)
        return frame

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
        frame = _as_bytes(frame)
        flags, h, off = parse_frame(frame, self._limits)
        body = len(frame) - off - (SIGNATURE_SIZE if flags & FLAG_SIGNED else 0)
        if body < 0:
            raise FrameError("truncated frame")
        return FrameHeader(h, flags, body)

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
        if type(frame) is not bytes:
            frame = _as_bytes(frame)
        flags, h, off = parse_frame(frame, self._limits)
        try:
            loads = self._loads[flags & 0x0F]
            if loads is None:
                raise FrameError(f"unknown serializer id {flags & 0x0F}")
            type_name = h[1]
            spec = self._specs.get(type_name)
            encrypted = flags & FLAG_ENCRYPTED
            if not encrypted and (
                (spec is not None and spec.encrypted) or h.get(H_CLASS) in self._enc_classes
            ):
                raise PolicyError(f"{type_name} must be encrypted but arrived in clear")
            end = len(frame)
            if flags & FLAG_SIGNED:
                end -= SIGNATURE_SIZE
                if end < off:
                    raise FrameError("truncated frame")
                if self._verifier is not None:
                    self._verifier.verify(
                        h[H_SIGNER],
                        frame[end:],
                        signature_input(_channel_bytes(channel), frame[:end]),
                        channel=channel,
                    )
            elif self._require_signature:
                raise SignatureError("frame is not signed")
            body = frame[off:end]
            if encrypted:
                ring = self._ring
                if ring is None:
                    raise UnknownKeyError(h[H_KEY_ID])
                body = ring._open(h[H_KEY_ID], body, frame[:off] + _channel_bytes(channel))
            if flags & FLAG_COMPRESSED:
                body = self._zstd.decompress(body, h[H_RAW_SIZE], h.get(H_DICT_ID))
            try:
                payload = loads(body)
            except Exception:  # any parser error on hostile bytes
                raise FrameError("body cannot be parsed") from None
            if spec is not None:
                if h[2] != spec.version:
                    payload = self._registry.upcast(type_name, h[2], payload)
                if validate:
                    payload = self._registry.validate(spec, payload)
            elif validate:
                raise SchemaError(f"unknown message type {type_name!r}")
        except CodecError as exc:
            # Errors carry context, never payload bytes.
            if exc.message_id is None:
                exc.message_id = h[0].hex()
            if exc.channel is None:
                exc.channel = channel
            raise
        return Envelope._from_wire(h, payload)

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
