"""The small frame-codec protocol this layer needs, the delivered message, and filters.

The Pub/Sub layer depends on :class:`FrameCodec` only — three methods that
:class:`redis_fintech_sdk.codec.Codec` provides — so a codec change cannot break it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from redis_fintech_sdk.channels import glob_match

__all__ = [
    "Delivery",
    "FrameCodec",
    "FrameHeaderLike",
    "HeaderFilter",
    "default_codec",
]


@runtime_checkable
class FrameHeaderLike(Protocol):
    """The plaintext header fields the Pub/Sub layer reads (``codec.FrameHeader``)."""

    @property
    def message_id(self) -> str:
        """Unique message id."""
        ...

    @property
    def type(self) -> str:
        """Registered message type name."""
        ...

    @property
    def producer_id(self) -> str:
        """Producer id; sequences are counted per (producer, channel)."""
        ...

    @property
    def sequence(self) -> int:
        """Per-(producer, channel) sequence number, from 1."""
        ...

    @property
    def tenant(self) -> str | None:
        """Tenant id, if any."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Free application headers."""
        ...


@runtime_checkable
class FrameCodec(Protocol):
    """What the Pub/Sub layer needs from a codec (:class:`~redis_fintech_sdk.codec.Codec`)."""

    def encode(self, message: Any, *, channel: str) -> bytes:
        """Encode a message or envelope into a frame bound to ``channel``."""
        ...

    def decode(self, frame: bytes, *, channel: str) -> Any:
        """Authenticate and decode a frame read from ``channel`` into an envelope."""
        ...

    def peek_header(self, frame: bytes) -> FrameHeaderLike:
        """Read the plaintext header without decrypting anything."""
        ...


def default_codec() -> FrameCodec:
    """A new :class:`redis_fintech_sdk.codec.Codec` with default settings."""
    from redis_fintech_sdk.codec import Codec

    codec: FrameCodec = Codec()
    return codec


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message handed to the application.

    Attributes:
        channel: the channel it was published on.
        envelope: the decoded envelope (``None`` in raw mode, e.g. keyspace notifications).
        header: the plaintext header (``None`` in raw mode).
        pattern: the pattern that matched, for pattern subscriptions.
        shard: whether it came from a shard channel (``SSUBSCRIBE``).
        replayed: whether it was caught up from a replay stream rather than live.
        stream_id: the replay stream entry id, when it has one.
        data: the raw frame (or notification) bytes.
    """

    channel: str
    envelope: Any
    header: FrameHeaderLike | None
    pattern: str | None = None
    shard: bool = False
    replayed: bool = False
    stream_id: str | None = None
    data: bytes = field(default=b"", repr=False)

    @property
    def payload(self) -> Any:
        """The envelope's payload (a :class:`~redis_fintech_sdk.codec.Message` or plain data).

        Raises:
            AttributeError: raw mode; there is no envelope.
        """
        if self.envelope is None:
            raise AttributeError("raw delivery has no decoded payload; use .data")
        return self.envelope.payload

    @property
    def type(self) -> str | None:
        """The message type, from the header (``None`` in raw mode)."""
        return None if self.header is None else self.header.type


@dataclass(frozen=True, kw_only=True)
class HeaderFilter:
    """A client-side filter over the plaintext header, evaluated before any decryption.

    Every given condition must hold. Globs use Redis's matching rules.

    Attributes:
        types: globs over the message type; any may match.
        headers: header name -> glob over its value; the header must be present.
        producers: allowed producer ids.
        tenants: allowed tenant ids.
        predicate: any further test on the header.
    """

    types: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    producers: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()
    predicate: Callable[[FrameHeaderLike], bool] | None = None

    def matches(self, header: FrameHeaderLike) -> bool:
        """Whether the message with this header passes the filter."""
        if self.types and not any(glob_match(t, header.type) for t in self.types):
            return False
        if self.producers and header.producer_id not in self.producers:
            return False
        if self.tenants and header.tenant not in self.tenants:
            return False
        if self.headers:
            have = header.headers
            for name, pattern in self.headers.items():
                value = have.get(name)
                if value is None or not glob_match(pattern, value):
                    return False
        return self.predicate is None or bool(self.predicate(header))
