"""Redis Streams: producers, consumer groups, dead letters, exactly-once processing, admin.

The async classes are the originals; ``StreamProducer``, ``StreamAdmin``,
``DeadLetterQueue`` and ``StreamTail`` are their generated sync twins. See
``docs/streams.md`` for the delivery guarantees.
"""

from __future__ import annotations

from ._append import AppendResult
from ._async.admin import AsyncStreamAdmin, TrimResult
from ._async.dead_letters import AsyncDeadLetterQueue
from ._async.producer import AsyncStreamProducer
from ._async.tail import AsyncStreamTail
from ._codec import FrameCodec, RawFrameCodec, default_codec
from ._config import (
    AckPolicy,
    ConsumerConfig,
    Durability,
    Retention,
    TrimPolicy,
    default_consumer_name,
)
from ._consumer import Handler, StreamConsumer
from ._deadletter import DeadLetter, DeadLetterReason
from ._decisions import GroupPosition, TrimPlan, plan_trim
from ._delayed import AsyncDelayedQueue, DelayedStatistics
from ._info import ConsumerInfo, GroupHealth, GroupInfo, ServerFeatures, StreamInfo
from ._keys import StreamKeys, related_key
from ._message import Effects, IdempotencyStore, StreamMessage
from ._stats import ConsumerStatistics, ProducerStatistics
from ._sync.admin import StreamAdmin
from ._sync.dead_letters import DeadLetterQueue
from ._sync.producer import StreamProducer
from ._sync.tail import StreamTail

__all__ = [
    "AckPolicy",
    "AppendResult",
    "AsyncDeadLetterQueue",
    "AsyncDelayedQueue",
    "AsyncStreamAdmin",
    "AsyncStreamProducer",
    "AsyncStreamTail",
    "ConsumerConfig",
    "ConsumerInfo",
    "ConsumerStatistics",
    "DeadLetter",
    "DeadLetterQueue",
    "DeadLetterReason",
    "DelayedStatistics",
    "Durability",
    "Effects",
    "FrameCodec",
    "GroupHealth",
    "GroupInfo",
    "GroupPosition",
    "Handler",
    "IdempotencyStore",
    "ProducerStatistics",
    "RawFrameCodec",
    "Retention",
    "ServerFeatures",
    "StreamAdmin",
    "StreamConsumer",
    "StreamInfo",
    "StreamKeys",
    "StreamMessage",
    "StreamProducer",
    "StreamTail",
    "TrimPlan",
    "TrimPolicy",
    "TrimResult",
    "default_codec",
    "default_consumer_name",
    "plan_trim",
    "related_key",
]
