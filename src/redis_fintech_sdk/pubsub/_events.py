"""Subscriber lifecycle events and statistics. Plain frozen values, no I/O.

Events never carry payload bytes: a bad frame is reported by channel, error class and (when
the header could be read) message id.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._buffer import BufferStatistics
from ._tracking import Gap, TrackerStatistics

__all__ = [
    "BadFrame",
    "Connected",
    "Disconnected",
    "GapDetected",
    "HandlerFailed",
    "PossibleGap",
    "Resubscribed",
    "SubscriberEvent",
    "SubscriberStatistics",
]


@dataclass(frozen=True)
class Connected:
    """A connection is up and every subscription is confirmed.

    Attributes:
        address: the server (or ``cluster``) connected to.
        attempts: connection attempts it took since the last loss (1 = first try).
    """

    address: str
    attempts: int


@dataclass(frozen=True)
class Disconnected:
    """The connection was lost (or judged dead).

    Attributes:
        reason: the error class name or ``half-open`` / ``server-unsubscribed``.
        at: ``time.time()`` when the loss was noticed.
    """

    reason: str
    at: float


@dataclass(frozen=True)
class Resubscribed:
    """After a loss, every subscription was restored.

    Attributes:
        channels: channels resubscribed.
        patterns: patterns resubscribed.
        shard_channels: shard channels resubscribed.
        downtime: seconds between noticing the loss and the restored subscriptions.
    """

    channels: tuple[str, ...]
    patterns: tuple[str, ...]
    shard_channels: tuple[str, ...]
    downtime: float


@dataclass(frozen=True)
class PossibleGap:
    """Messages published between ``since`` and ``until`` may have been missed.

    Reported on every reconnect: Redis keeps nothing for a disconnected subscriber, so the
    exact count is known only once each producer's next message arrives (:class:`GapDetected`).

    Attributes:
        since: ``time.time()`` when the loss was noticed.
        until: ``time.time()`` when the subscriptions were restored.
    """

    since: float
    until: float


@dataclass(frozen=True)
class GapDetected:
    """A producer's sequence jumped: exactly ``gap.missed`` messages were lost.

    Attributes:
        gap: producer, channel and the missing sequence range.
    """

    gap: Gap


@dataclass(frozen=True)
class BadFrame:
    """A frame could not be read, authenticated or validated; it was skipped.

    Attributes:
        channel: where it arrived.
        error: the error class name (never the payload).
        message_id: from the header, when it could be read.
    """

    channel: str
    error: str
    message_id: str | None


@dataclass(frozen=True)
class HandlerFailed:
    """A handler raised; the loop went on.

    Attributes:
        channel: the message's channel.
        error: the error class name.
        message_id: the message id.
    """

    channel: str
    error: str
    message_id: str | None


SubscriberEvent = (
    Connected | Disconnected | Resubscribed | PossibleGap | GapDetected | BadFrame | HandlerFailed
)
"""Any event a subscriber reports to its listeners."""


@dataclass(frozen=True)
class SubscriberStatistics:
    """A snapshot of an :class:`~redis_fintech_sdk.pubsub.AsyncSubscriber`.

    Attributes:
        connected: whether a connection is up now.
        connects: successful connections (first one included).
        disconnects: connections lost.
        half_open_detected: losses found by the PING deadline.
        received: data frames read from Redis.
        delivered: messages handed to the application (iterator or handlers).
        filtered: messages skipped by the header filter.
        duplicates: messages skipped by the dedup window.
        bad_frames: frames that failed to decode.
        handler_errors: handler calls that raised.
        replayed: messages caught up from replay streams.
        buffer: the backpressure buffer's counters.
        sequences: the gap tracker's counters.
    """

    connected: bool
    connects: int
    disconnects: int
    half_open_detected: int
    received: int
    delivered: int
    filtered: int
    duplicates: int
    bad_frames: int
    handler_errors: int
    replayed: int
    buffer: BufferStatistics
    sequences: TrackerStatistics
