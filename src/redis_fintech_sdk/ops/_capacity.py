"""Capacity estimates: memory and bandwidth from rate, size, fan-out, retention, compression."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["CapacityEstimate", "CapacityInput", "estimate_capacity"]

# Per-entry overhead of a stream entry in a listpack-encoded radix-tree node, measured with
# MEMORY USAGE on Redis 7.x for small field maps: ~ 30-60 bytes; we use the upper end.
STREAM_ENTRY_OVERHEAD = 60
# Envelope header of wire format v1 (id, type, time, producer, sequence, trace context).
ENVELOPE_OVERHEAD = 120
# RESP framing of a published message as delivered to one subscriber (push array + names).
PUBSUB_FRAME_OVERHEAD = 40


@dataclass(frozen=True, kw_only=True)
class CapacityInput:
    """What the workload looks like.

    Attributes:
        rate: messages per second at peak.
        size: mean payload size in bytes before compression.
        fanout: subscribers per Pub/Sub message (0 for streams only).
        retention_seconds: how long stream entries are kept (0: Pub/Sub only).
        compression_ratio: compressed/raw size (0.3 means 70 % smaller; 1.0: none).
        consumer_groups: consumer groups reading each stream (each reads every entry).
        replicas: replicas receiving every write.
        headroom: extra fraction on top for fragmentation, peaks and forks (0.5 = +50 %).
    """

    rate: float
    size: int
    fanout: int = 1
    retention_seconds: float = 0.0
    compression_ratio: float = 1.0
    consumer_groups: int = 1
    replicas: int = 1
    headroom: float = 0.5

    def __post_init__(self) -> None:
        if self.rate < 0 or self.size < 0 or self.fanout < 0 or self.retention_seconds < 0:
            raise ConfigurationError("capacity", "rate, size, fanout and retention must be >= 0")
        if not 0 < self.compression_ratio <= 1.0:
            raise ConfigurationError("compression_ratio", "must be in (0, 1]")
        if self.consumer_groups < 0 or self.replicas < 0 or self.headroom < 0:
            raise ConfigurationError("capacity", "groups, replicas and headroom must be >= 0")


@dataclass(frozen=True, slots=True)
class CapacityEstimate:
    """The result; bytes and bytes per second.

    Attributes:
        frame_bytes: one message on the wire (compressed payload + envelope).
        retained_entries: stream entries kept at steady state.
        stream_memory: memory held by the retained entries.
        recommended_maxmemory: ``stream_memory`` plus headroom (at least 64 MiB).
        ingress_bps: bytes/s into Redis from producers.
        egress_bps: bytes/s out to subscribers, consumer groups and replicas.
        pubsub_buffer_per_subscriber: bytes a subscriber that stalls for 60 s would need
            (compare with ``client-output-buffer-limit pubsub``).
        aof_growth_bps: AOF bytes/s before rewrites.
    """

    frame_bytes: int
    retained_entries: int
    stream_memory: int
    recommended_maxmemory: int
    ingress_bps: float
    egress_bps: float
    pubsub_buffer_per_subscriber: int
    aof_growth_bps: float

    def as_dict(self) -> dict[str, float | int]:
        """JSON-friendly form."""
        return {name: getattr(self, name) for name in self.__slots__}


def estimate_capacity(workload: CapacityInput) -> CapacityEstimate:
    """Estimate memory and bandwidth for ``workload`` (deliberately on the high side).

    Example:
        >>> est = estimate_capacity(CapacityInput(rate=1000, size=200, fanout=10))
        >>> est.egress_bps > est.ingress_bps
        True
    """
    w = workload
    frame = math.ceil(w.size * w.compression_ratio) + ENVELOPE_OVERHEAD
    retained = math.ceil(w.rate * w.retention_seconds)
    stream_memory = retained * (frame + STREAM_ENTRY_OVERHEAD)
    recommended = max(64 * 2**20, math.ceil(stream_memory * (1 + w.headroom)))
    ingress = w.rate * frame
    per_delivery = frame + PUBSUB_FRAME_OVERHEAD
    egress = w.rate * (w.fanout * per_delivery + (w.consumer_groups * frame if retained else 0))
    egress += ingress * w.replicas
    # The AOF logs XADD with its arguments (frame plus RESP framing); PUBLISH is not logged.
    aof = w.rate * (frame + 64) if retained else 0.0
    return CapacityEstimate(
        frame_bytes=frame,
        retained_entries=retained,
        stream_memory=stream_memory,
        recommended_maxmemory=recommended,
        ingress_bps=ingress,
        egress_bps=egress,
        pubsub_buffer_per_subscriber=math.ceil(w.rate * per_delivery * 60) if w.fanout else 0,
        aof_growth_bps=aof,
    )
