"""SubscriberConfig: frozen, keyword-only settings of a subscriber, validated at construction."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError

from ._buffer import OverflowPolicy
from ._types import Delivery, HeaderFilter

__all__ = ["SubscriberConfig"]


def _by_channel(delivery: Delivery) -> Hashable:
    return delivery.channel


@dataclass(frozen=True, kw_only=True)
class SubscriberConfig:
    """How a subscriber buffers, checks liveness, reconnects and filters.

    Attributes:
        buffer_capacity: messages held between the socket and the application.
        overflow: what a full buffer does (see :class:`OverflowPolicy`).
        conflate_key: the conflation key of a delivery (default: its channel, i.e. one
            pending message per symbol channel).
        ping_interval: seconds of silence before a liveness PING is sent.
        ping_timeout: seconds the PONG (or any frame) may take; past it the connection is
            judged half-open and replaced.
        connect_timeout: deadline for connecting and having every subscription confirmed.
        reconnect_base: first reconnect delay, seconds (doubles, equal jitter).
        reconnect_cap: largest reconnect delay, seconds.
        dedup_window: message ids remembered to drop redelivered ones (0: off).
        filter: client-side header filter, applied before decoding.
        decode: decode frames (``False``: raw mode, deliveries carry bytes only).
        max_streams: (producer, channel) pairs the gap tracker remembers.
        drain_timeout: seconds handlers may take to drain the buffer on shutdown.
        buffer_sample_interval: seconds between two samples of the buffer for the
            ``subscriber_buffer_size`` gauge (only with ``metrics=``; nothing is added to
            the per-message path).

    Raises:
        ConfigurationError: a value is out of range (the field is named).
    """

    buffer_capacity: int = 10_000
    overflow: OverflowPolicy | str = OverflowPolicy.BLOCK
    conflate_key: Callable[[Delivery], Hashable | None] = _by_channel
    ping_interval: float = 5.0
    ping_timeout: float = 2.0
    connect_timeout: float = 5.0
    reconnect_base: float = 0.05
    reconnect_cap: float = 1.0
    dedup_window: int = 10_000
    filter: HeaderFilter | None = None
    decode: bool = True
    max_streams: int = 100_000
    drain_timeout: float = 5.0
    buffer_sample_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.buffer_capacity < 1:
            raise ConfigurationError("buffer_capacity", "must be >= 1")
        try:
            object.__setattr__(self, "overflow", OverflowPolicy(self.overflow))
        except ValueError:
            raise ConfigurationError(
                "overflow", f"must be one of {[p.value for p in OverflowPolicy]}"
            ) from None
        for name in (
            "ping_interval",
            "ping_timeout",
            "connect_timeout",
            "reconnect_base",
            "buffer_sample_interval",
        ):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, "must be > 0 seconds")
        if self.reconnect_cap < self.reconnect_base:
            raise ConfigurationError("reconnect_cap", "must be >= reconnect_base")
        if self.dedup_window < 0:
            raise ConfigurationError("dedup_window", "must be >= 0")
        if self.drain_timeout < 0:
            raise ConfigurationError("drain_timeout", "must be >= 0 seconds")
