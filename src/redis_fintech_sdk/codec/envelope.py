"""The Envelope (metadata + payload) and the FrameHeader seen by :meth:`Codec.peek_header`.

Both are read-only views over the decoded header — a tuple of the fixed fields and the
(usually absent) extension map — so decoding builds no per-field objects: a field is
converted only when it is read.
"""

from __future__ import annotations

import datetime as _dt
import time
import types
from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import ConfigurationError
from .ids import _default as _default_ids
from .messages import Message
from .wire import (
    CLASSIFICATIONS,
    FLAG_COMPRESSED,
    FLAG_ENCRYPTED,
    FLAG_SERIALIZER_MASK,
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
    Fields,
)

__all__ = ["Envelope", "FrameHeader"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EMPTY: Mapping[str, str] = types.MappingProxyType({})


class _HeaderView:
    __slots__ = ("_f", "_x")

    _f: Fields
    _x: dict[int, Any] | None

    def _opt(self, key: int) -> Any | None:
        x = self._x
        return None if x is None else x.get(key)

    @property
    def message_id(self) -> str:
        """Time-ordered unique id, 32 lowercase hex digits."""
        return self._f[0].hex()

    @property
    def message_id_bytes(self) -> bytes:
        """The 16 raw bytes of the message id."""
        return self._f[0]

    @property
    def type(self) -> str:
        """Registered message type name."""
        return self._f[1]

    @property
    def schema_version(self) -> int:
        """Schema version the payload was written with (before any upcasting)."""
        return self._f[2]

    @property
    def produced_at_ns(self) -> int:
        """Production time, nanoseconds since the Unix epoch (UTC)."""
        return self._f[3]

    @property
    def produced_at(self) -> _dt.datetime:
        """Production time as an aware UTC ``datetime`` (microsecond resolution)."""
        return _EPOCH + _dt.timedelta(microseconds=self._f[3] // 1000)

    @property
    def producer_id(self) -> str:
        """Id of the producing process; sequences are counted per (producer, channel)."""
        return self._f[4]

    @property
    def sequence(self) -> int:
        """Per-(producer, channel) sequence number, starting at 1; gaps mean lost messages."""
        return self._f[5]

    @property
    def tenant(self) -> str | None:
        """Tenant id, if any."""
        return self._opt(H_TENANT)

    @property
    def classification(self) -> str:
        """Data classification (``internal`` when absent)."""
        return self._opt(H_CLASS) or "internal"

    @property
    def correlation_id(self) -> str | None:
        """Id shared by all messages of one conversation or workflow."""
        return self._opt(H_CORRELATION)

    @property
    def causation_id(self) -> str | None:
        """Id of the message that caused this one."""
        return self._opt(H_CAUSATION)

    @property
    def traceparent(self) -> str | None:
        """W3C ``traceparent``."""
        return self._opt(H_TRACEPARENT)

    @property
    def tracestate(self) -> str | None:
        """W3C ``tracestate``."""
        return self._opt(H_TRACESTATE)

    @property
    def headers(self) -> Mapping[str, str]:
        """Free application headers (read-only)."""
        free = self._opt(H_HEADERS)
        return _EMPTY if free is None else types.MappingProxyType(free)

    @property
    def key_id(self) -> int | None:
        """Id of the key the body was sealed under; ``None`` when not encrypted."""
        return self._f[6]

    @property
    def signer_id(self) -> str | None:
        """Id of the Ed25519 signer; ``None`` when not signed."""
        return self._opt(H_SIGNER)


class FrameHeader(_HeaderView):
    """The plaintext header of a frame, read without decrypting or verifying anything.

    Use it for routing, filtering, dedup and gap detection. It is **not yet authenticated**:
    only a successful :meth:`Codec.decode` proves the header is genuine.
    """

    __slots__ = ("body_size", "flags")

    def __init__(
        self, fields: Fields, ext: dict[int, Any] | None, flags: int, body_size: int
    ) -> None:
        self._f = fields
        self._x = ext
        self.flags = flags
        self.body_size = body_size

    @property
    def serializer_id(self) -> int:
        """Wire id of the body serialiser."""
        return self.flags & FLAG_SERIALIZER_MASK

    @property
    def compressed(self) -> bool:
        """Whether the body is zstd-compressed."""
        return bool(self.flags & FLAG_COMPRESSED)

    @property
    def encrypted(self) -> bool:
        """Whether the body is AES-256-GCM sealed."""
        return bool(self.flags & FLAG_ENCRYPTED)

    @property
    def signed(self) -> bool:
        """Whether an Ed25519 signature ends the frame."""
        return bool(self.flags & FLAG_SIGNED)

    @property
    def dictionary_id(self) -> int | None:
        """The zstd dictionary id, if one was used."""
        return self._opt(H_DICT_ID)

    @property
    def raw_size(self) -> int | None:
        """Size of the body after decompression, when compressed."""
        return self._opt(H_RAW_SIZE)

    def __repr__(self) -> str:
        return (
            f"FrameHeader(message_id={self.message_id!r}, type={self.type!r}, "
            f"schema_version={self.schema_version}, producer_id={self.producer_id!r}, "
            f"sequence={self.sequence}, key_id={self.key_id}, flags=0x{self.flags:02x})"
        )


class Envelope(_HeaderView):
    """A message with its metadata. Immutable; use :meth:`replace` to derive a changed copy.

    Build one to control every field (forwarding, replay, tests); otherwise let
    :meth:`Codec.encode` wrap a :class:`Message` for you.

    Args:
        type: registered message type name.
        payload: a :class:`Message` or plain data (dict).
        schema_version: version of ``payload``'s schema.
        message_id: 32 hex digits; a new time-ordered id by default.
        produced_at_ns: nanoseconds since the epoch; now by default.
        producer_id: producer id; empty means "the encoding codec's producer id", and the
            codec then also assigns the sequence number.
        sequence: per-(producer, channel) sequence number.
        tenant: tenant id.
        classification: ``public``, ``internal``, ``confidential`` or ``restricted``.
        correlation_id: conversation id.
        causation_id: id of the causing message.
        traceparent: W3C trace context.
        tracestate: W3C trace state.
        headers: free string headers.

    Raises:
        ConfigurationError: a field is malformed (the field is named).
    """

    __slots__ = ("_p",)

    def __init__(
        self,
        *,
        type: str,
        payload: Any,
        schema_version: int = 1,
        message_id: str | None = None,
        produced_at_ns: int | None = None,
        producer_id: str = "",
        sequence: int = 0,
        tenant: str | None = None,
        classification: str = "internal",
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(type, str) or not type:
            raise ConfigurationError("type", "must be a non-empty string")
        if classification not in CLASSIFICATIONS:
            raise ConfigurationError("classification", f"must be one of {sorted(CLASSIFICATIONS)}")
        if message_id is None:
            raw_id = _default_ids()
        else:
            try:
                raw_id = bytes.fromhex(message_id)
            except (TypeError, ValueError):
                raise ConfigurationError("message_id", "must be 32 hex digits") from None
            if len(raw_id) != 16:
                raise ConfigurationError("message_id", "must be 32 hex digits")
        produced = time.time_ns() if produced_at_ns is None else produced_at_ns
        self._f = (raw_id, type, schema_version, produced, producer_id, sequence, None)
        x: dict[int, Any] = {}
        for key, value in (
            (H_TENANT, tenant),
            (H_CORRELATION, correlation_id),
            (H_CAUSATION, causation_id),
            (H_TRACEPARENT, traceparent),
            (H_TRACESTATE, tracestate),
        ):
            if value is not None:
                x[key] = value
        if classification != "internal":
            x[H_CLASS] = classification
        if headers:
            x[H_HEADERS] = dict(headers)
        self._x = x or None
        self._p = payload

    @classmethod
    def _from_wire(cls, fields: Fields, ext: dict[int, Any] | None, payload: Any) -> Envelope:
        env = cls.__new__(cls)
        env._f = fields
        env._x = ext
        env._p = payload
        return env

    @property
    def payload(self) -> Any:
        """The payload: a validated :class:`Message`, or plain data when not validated."""
        return self._p

    def replace(self, **changes: Any) -> Envelope:
        """Return a copy with some fields changed (same keyword names as the constructor).

        Raises:
            ConfigurationError: a changed field is malformed.
        """
        fields: dict[str, Any] = {
            "type": self.type,
            "payload": self.payload,
            "schema_version": self.schema_version,
            "message_id": self.message_id,
            "produced_at_ns": self.produced_at_ns,
            "producer_id": self.producer_id,
            "sequence": self.sequence,
            "tenant": self.tenant,
            "classification": self.classification,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "traceparent": self.traceparent,
            "tracestate": self.tracestate,
            "headers": dict(self.headers),
        }
        fields.update(changes)
        return Envelope(**fields)

    def metadata(self) -> dict[str, Any]:
        """All metadata fields as a plain dict (no payload), e.g. for logging or vectors."""
        return {
            "message_id": self.message_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "produced_at_ns": self.produced_at_ns,
            "producer_id": self.producer_id,
            "sequence": self.sequence,
            "tenant": self.tenant,
            "classification": self.classification,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "traceparent": self.traceparent,
            "tracestate": self.tracestate,
            "headers": dict(self.headers),
            "key_id": self.key_id,
            "signer_id": self.signer_id,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        return self.metadata() == other.metadata() and self.payload == other.payload

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Never the payload's values: a model redacts itself, a plain map shows only keys.
        if isinstance(self.payload, (Message, msgspec.Struct)):
            shown = repr(self.payload)
        elif isinstance(self.payload, dict):
            shown = f"<{len(self.payload)} fields>"
        else:
            shown = f"<{type(self.payload).__name__}>"
        return (
            f"Envelope(type={self.type!r}, schema_version={self.schema_version}, "
            f"message_id={self.message_id!r}, producer_id={self.producer_id!r}, "
            f"sequence={self.sequence}, key_id={self.key_id}, payload={shown})"
        )
