"""The encoding half of :class:`~redis_fintech_sdk.codec.Codec` (a mixin; see ``codec.py``).

The hot path is :meth:`encode_raw` with no optional fields: one spec lookup, two cached byte
strings (names, channel), one ``struct.pack`` for the fixed header, one body pack and one
AES-GCM call. Optional fields go through the validated extension-map path.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..errors import ConfigurationError, FrameError, PolicyError, SchemaError
from .compression import Zstd
from .envelope import Envelope
from .keyring import Keyring
from .messages import Message, MessageRegistry, MessageSpec
from .signing import Signer
from .stats import _Counters
from .wire import (
    CLASSIFICATIONS,
    FIXED_SIZE,
    FLAG_COMPRESSED,
    FLAG_ENCRYPTED,
    FLAG_SIGNED,
    H_CAUSATION,
    H_CLASS,
    H_CORRELATION,
    H_DICT_ID,
    H_HEADERS,
    H_RAW_SIZE,
    H_SIGNER,
    H_TENANT,
    H_TRACEPARENT,
    H_TRACESTATE,
    HEAD,
    V1,
    Limits,
    _channel_bytes,
    check_ext,
    name_bytes,
    pack_ext,
    signature_input,
)

__all__: list[str] = []

_pack_head = HEAD.pack
_CODEC_KEYS = (H_DICT_ID, H_RAW_SIZE, H_SIGNER, H_CLASS)  # set by the codec, not the caller


class _Encoder:
    # Set by Codec.__init__.
    _registry: MessageRegistry
    _specs: dict[str, MessageSpec]
    _names: dict[str, tuple[int, int, bytes]]
    _seqs: dict[str, tuple[itertools.count[int], bytes]]
    _stats: _Counters
    _n_enc: itertools.count[int]
    _next_id: Callable[[], bytes]
    _clock: Callable[[], int]
    _producer: str
    _limits: Limits
    _enc_classes: frozenset[str]
    _encrypt_default: bool
    _ring: Keyring | None
    _dumps: Callable[[Any], bytes]
    _ser_id: int
    _threshold: int | None
    _zstd: Zstd
    _dict_id: int | None
    _signer: Signer | None
    _max_header: int
    _max_frame: int

    def _own_names(self, type_name: str) -> tuple[int, int, bytes]:
        raise NotImplementedError

    def _channel(self, channel: str) -> tuple[itertools.count[int], bytes]:
        raise NotImplementedError

    def encode(
        self,
        message: Message | msgspec.Struct | Envelope,
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
        """Encode a registered message (wrapped in a new envelope) or an Envelope.

        Args:
            message: a registered :class:`Message` or ``msgspec.Struct``, or a complete
                :class:`Envelope` (its metadata is kept; an empty ``producer_id`` is filled
                with this codec's, with a new sequence).
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
        try:
            if isinstance(message, Envelope):
                return self._encode_envelope(message, channel, encrypt)
            spec = self._registry.spec_for(type(message))
            payload = spec.dump(message)
        except Exception as exc:
            self._stats.fail(1, exc)
            raise
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
        try:
            spec = self._specs.get(type_name)
            names = self._names.get(type_name) or self._own_names(type_name)
            try:
                counter, cb = self._seqs[channel]
            except (KeyError, TypeError):
                counter, cb = self._channel(channel)
            x: dict[int, Any] | None = None
            if (
                tenant is not None
                or correlation_id is not None
                or causation_id is not None
                or traceparent is not None
                or tracestate is not None
                or headers
            ):
                x = {}
                for key, value in (
                    (H_TENANT, tenant),
                    (H_CORRELATION, correlation_id),
                    (H_CAUSATION, causation_id),
                    (H_TRACEPARENT, traceparent),
                    (H_TRACESTATE, tracestate),
                ):
                    if value is not None:
                        x[key] = value
                if headers:
                    x[H_HEADERS] = dict(headers)
                self._check_outgoing(x)
            fields = (
                self._next_id(),
                type_name,
                schema_version or (spec.version if spec is not None else 1),
                self._clock(),
                next(counter),
            )
            return self._seal(fields, names, x, payload, cb, spec, classification, encrypt)
        except Exception as exc:
            self._stats.fail(1, exc)
            raise

    def _encode_envelope(self, env: Envelope, channel: str, encrypt: bool | None) -> bytes:
        mid, type_name, ver, ts, producer, seq, _ = env._f
        cb = _channel_bytes(channel)
        if not producer:
            producer = self._producer
            counter, cb = self._seqs.get(channel) or self._channel(channel)
            seq = next(counter)
        x = dict(env._x) if env._x else {}
        cls = x.get(H_CLASS)
        for key in _CODEC_KEYS:  # a decoded envelope carries the old frame's codec fields
            x.pop(key, None)
        self._check_outgoing(x)
        names = name_bytes(type_name, producer)
        spec = self._registry.get(type_name)
        payload = env.payload
        if isinstance(payload, (Message, msgspec.Struct)):
            pspec = self._registry.spec_for(type(payload))
            if pspec.type_name != type_name:
                raise SchemaError("envelope type does not match its payload's registered type")
            payload = pspec.dump(payload)
        fields = (mid, type_name, ver, ts, seq)
        return self._seal(fields, names, x or None, payload, cb, spec, cls, encrypt)

    def _check_outgoing(self, x: dict[int, Any]) -> None:
        # Refuse to write a header our own decoder would refuse.
        try:
            check_ext(x, self._limits)
        except FrameError as exc:
            raise FrameError(f"cannot encode: {exc}") from None

    def _seal(
        self,
        fields: tuple[bytes, str, int, int, int],
        names: tuple[int, int, bytes],
        x: dict[int, Any] | None,
        payload: Any,
        cb: bytes,
        spec: MessageSpec | None,
        classification: str | None,
        encrypt: bool | None,
    ) -> bytes:
        mid, type_name, ver, ts, seq = fields
        cls = classification or (spec.classification if spec is not None else "internal")
        if cls != "internal":
            if cls not in CLASSIFICATIONS:
                raise ConfigurationError("classification", "unknown data classification")
            if x is None:
                x = {H_CLASS: cls}
            else:
                x[H_CLASS] = cls
        must = cls in self._enc_classes or (spec is not None and spec.encrypted)
        if encrypt is None:
            encrypt = self._encrypt_default or must
        if must and not encrypt:
            raise PolicyError(f"{type_name} ({cls}) must be encrypted")
        ring = self._ring
        if encrypt and ring is None:
            raise PolicyError(f"{type_name} needs encryption but no keyring is configured")
        try:
            body = self._dumps(payload)
        except Exception as exc:
            raise SchemaError(
                f"{type_name} payload cannot be serialised ({type(exc).__name__})"
            ) from None
        flags = self._ser_id
        threshold = self._threshold
        if threshold is not None and len(body) >= threshold:
            packed = self._zstd.compress(body, self._dict_id)
            if len(packed) < len(body):
                if x is None:
                    x = {}
                x[H_RAW_SIZE] = len(body)
                if self._dict_id is not None:
                    x[H_DICT_ID] = self._dict_id
                body = packed
                flags |= FLAG_COMPRESSED
        signer = self._signer
        if signer is not None:
            if x is None:
                x = {}
            x[H_SIGNER] = signer.signer_id
            flags |= FLAG_SIGNED
        tlen, plen, tail = names
        if x is not None:
            tail += pack_ext(x)
        hlen = FIXED_SIZE + len(tail)
        if hlen > self._max_header or len(mid) != 16 or ts >> 63:
            raise FrameError("cannot encode: header too large, or a bad message id or clock")
        try:
            if encrypt:
                assert ring is not None
                key = ring._primary_for_seal()
                head = _pack_head(
                    V1, flags | FLAG_ENCRYPTED, hlen, mid, ts, seq, ver, key.key_id, tlen, plen
                )
                head += tail
                frame = head + ring._seal(key, body, head + cb)
            else:
                head = _pack_head(V1, flags, hlen, mid, ts, seq, ver, 0, tlen, plen)
                frame = head + tail + body
        except (struct.error, TypeError):
            raise FrameError("cannot encode: a header field is out of range") from None
        if signer is not None:
            frame += signer.sign(signature_input(cb, frame))
        if len(frame) > self._max_frame:
            raise FrameError("frame exceeds max_frame_size")
        next(self._n_enc)
        return frame
