"""Resilient Pub/Sub: publishers, subscribers, backpressure, gap detection and replay.

* :class:`AsyncPublisher` / :class:`Publisher` — typed messages to channels (or via a
  routing table), auto-pipelined, sharded on a Cluster, behind a circuit breaker.
* :class:`AsyncSubscriber` / :class:`Subscriber` — channels, patterns and shard channels;
  reconnect + resubscribe, half-open detection, bounded buffer with explicit
  :class:`OverflowPolicy`, per-producer gap detection, replay catch-up.
* :class:`MessageBuffer`, :class:`SequenceTracker`, :class:`DedupWindow`,
  :class:`HeaderFilter` — the sans-I/O parts, usable on their own.

Guarantees: plain channels are at-most-once (Redis keeps nothing for a disconnected
subscriber; the SDK reports what was missed). Replayable topics are at-least-once within
the stream's retention window. See ``docs/pubsub.md``.
"""

from ._async.publisher import AsyncPublisher, PublisherStatistics
from ._buffer import BufferStatistics, MessageBuffer, OverflowPolicy
from ._config import SubscriberConfig
from ._events import (
    BadFrame,
    Connected,
    Disconnected,
    GapDetected,
    HandlerFailed,
    PossibleGap,
    Resubscribed,
    SubscriberEvent,
    SubscriberStatistics,
)
from ._keyspace import KeyspaceWatcher
from ._metrics import OutputBufferReport, output_buffers, parse_client_list
from ._replay import ReplayConfig
from ._rpc import AsyncRequester, AsyncResponder, RequesterStatistics, ResponderStatistics
from ._senders import SenderStatistics
from ._subscriber import AsyncSubscriber
from ._subscriptions import SubscriptionKind
from ._sync.publisher import Publisher
from ._sync_subscriber import Subscriber
from ._tracking import DedupWindow, Gap, SequenceStatus, SequenceTracker, TrackerStatistics
from ._types import Delivery, FrameCodec, FrameHeaderLike, HeaderFilter, default_codec

__all__ = [
    "AsyncPublisher",
    "AsyncRequester",
    "AsyncResponder",
    "AsyncSubscriber",
    "BadFrame",
    "BufferStatistics",
    "Connected",
    "DedupWindow",
    "Delivery",
    "Disconnected",
    "FrameCodec",
    "FrameHeaderLike",
    "Gap",
    "GapDetected",
    "HandlerFailed",
    "HeaderFilter",
    "KeyspaceWatcher",
    "MessageBuffer",
    "OutputBufferReport",
    "OverflowPolicy",
    "PossibleGap",
    "Publisher",
    "PublisherStatistics",
    "ReplayConfig",
    "RequesterStatistics",
    "ResponderStatistics",
    "Resubscribed",
    "SenderStatistics",
    "SequenceStatus",
    "SequenceTracker",
    "Subscriber",
    "SubscriberConfig",
    "SubscriberEvent",
    "SubscriberStatistics",
    "SubscriptionKind",
    "TrackerStatistics",
    "default_codec",
    "output_buffers",
    "parse_client_list",
]
