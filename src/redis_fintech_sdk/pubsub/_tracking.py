"""Gap detection per (producer, channel) and a dedup window for redelivered ids. Sans-I/O.

Redis Pub/Sub has no sequence numbers; every frame header carries ``(producer id,
sequence)`` counted per channel, starting at 1. The tracker remembers the last sequence of
each (producer, channel) and reports:

* a :class:`Gap` with the *exact* number of missed messages when a sequence jumps (after a
  reconnect, a failover, an output-buffer disconnect or a local drop);
* a late arrival (a sequence inside an earlier gap: the gap shrinks) or a duplicate;
* a producer restart (sequence back to 1), which is not a gap.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["DedupWindow", "Gap", "SequenceStatus", "SequenceTracker", "TrackerStatistics"]

_MAX_OPEN_RANGES = 32


class SequenceStatus(str, enum.Enum):
    """How one observed sequence number relates to what came before."""

    FIRST = "first"  # first message seen from this (producer, channel)
    IN_ORDER = "in_order"
    GAP = "gap"  # earlier messages are missing
    LATE = "late"  # fills (part of) an earlier gap
    DUPLICATE = "duplicate"
    RESTART = "restart"  # the producer started counting again at 1


@dataclass(frozen=True)
class Gap:
    """Messages of one producer on one channel that never arrived.

    Attributes:
        producer_id: the producer.
        channel: the channel.
        first_missing: the first missing sequence number.
        last_missing: the last missing sequence number.
    """

    producer_id: str
    channel: str
    first_missing: int
    last_missing: int

    @property
    def missed(self) -> int:
        """How many messages are missing."""
        return self.last_missing - self.first_missing + 1


@dataclass(frozen=True)
class TrackerStatistics:
    """Counters of a :class:`SequenceTracker`.

    Attributes:
        streams: (producer, channel) pairs tracked now.
        gaps: gaps reported.
        missed: messages reported missing, minus late arrivals that filled a gap.
        late: late arrivals.
        duplicates: sequences seen twice.
        restarts: producer restarts (sequence back to 1).
        evicted: streams forgotten to stay within ``max_streams``.
    """

    streams: int
    gaps: int
    missed: int
    late: int
    duplicates: int
    restarts: int
    evicted: int


class _Stream:
    __slots__ = ("last", "open")

    def __init__(self, last: int) -> None:
        self.last = last
        self.open: list[list[int]] = []  # [first, last] missing ranges, oldest first


class SequenceTracker:
    """Tracks the last sequence per (producer, channel, pattern); LRU-bounded (``max_streams``).

    Example:
        >>> t = SequenceTracker()
        >>> t.observe("p", "c", 1)
        (<SequenceStatus.FIRST: 'first'>, None)
        >>> status, gap = t.observe("p", "c", 5)
        >>> status.value, gap.missed
        ('gap', 3)
    """

    def __init__(self, *, max_streams: int = 100_000) -> None:
        """Create an empty tracker.

        Raises:
            ConfigurationError: ``max_streams`` < 1.
        """
        if max_streams < 1:
            raise ConfigurationError("max_streams", "must be >= 1")
        self.max_streams = max_streams
        self._streams: OrderedDict[tuple[str, str, str | None], _Stream] = OrderedDict()
        self._gaps = self._missed = self._late = self._dups = self._restarts = 0
        self._evicted = 0

    def observe(
        self, producer_id: str, channel: str, sequence: int, *, via: str | None = None
    ) -> tuple[SequenceStatus, Gap | None]:
        """Record one message and classify it.

        Args:
            producer_id: the producer's id.
            channel: the channel it was published on.
            sequence: its per-(producer, channel) sequence number.
            via: the pattern it arrived through (``None``: the channel subscription). A
                subscriber on both a channel and a pattern covering it receives every
                message twice from Redis; each copy is tracked on its own, so neither is
                taken for a duplicate of the other.

        Returns:
            The status, and the :class:`Gap` when the status is ``GAP``.
        """
        key = (producer_id, channel, via)
        streams = self._streams
        st = streams.get(key)
        if st is None:
            streams[key] = _Stream(sequence)
            if len(streams) > self.max_streams:
                streams.popitem(last=False)
                self._evicted += 1
            return SequenceStatus.FIRST, None
        streams.move_to_end(key)
        last = st.last
        if sequence == last + 1:
            st.last = sequence
            return SequenceStatus.IN_ORDER, None
        if sequence > last + 1:
            st.last = sequence
            gap = Gap(producer_id, channel, last + 1, sequence - 1)
            st.open.append([last + 1, sequence - 1])
            if len(st.open) > _MAX_OPEN_RANGES:
                del st.open[0]
            self._gaps += 1
            self._missed += gap.missed
            return SequenceStatus.GAP, gap
        if sequence == 1 and last > 1 and not self._in_open(st, 1):
            st.last = 1
            st.open.clear()
            self._restarts += 1
            return SequenceStatus.RESTART, None
        if self._fill(st, sequence):
            self._late += 1
            self._missed -= 1
            return SequenceStatus.LATE, None
        self._dups += 1
        return SequenceStatus.DUPLICATE, None

    @staticmethod
    def _in_open(st: _Stream, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in st.open)

    @staticmethod
    def _fill(st: _Stream, seq: int) -> bool:
        for i, (lo, hi) in enumerate(st.open):
            if lo <= seq <= hi:
                if lo == hi:
                    del st.open[i]
                elif seq == lo:
                    st.open[i][0] = lo + 1
                elif seq == hi:
                    st.open[i][1] = hi - 1
                else:
                    st.open[i : i + 1] = [[lo, seq - 1], [seq + 1, hi]]
                return True
        return False

    def last_sequence(
        self, producer_id: str, channel: str, *, via: str | None = None
    ) -> int | None:
        """The highest sequence seen from ``producer_id`` on ``channel``, or ``None``."""
        st = self._streams.get((producer_id, channel, via))
        return None if st is None else st.last

    def forget(self, channel: str | None = None) -> None:
        """Forget every stream (or those of one channel), e.g. after unsubscribing."""
        if channel is None:
            self._streams.clear()
            return
        for key in [k for k in self._streams if k[1] == channel]:
            del self._streams[key]

    def statistics(self) -> TrackerStatistics:
        """A snapshot of the counters."""
        return TrackerStatistics(
            streams=len(self._streams),
            gaps=self._gaps,
            missed=self._missed,
            late=self._late,
            duplicates=self._dups,
            restarts=self._restarts,
            evicted=self._evicted,
        )


class DedupWindow:
    """Remembers the last ``capacity`` message ids; tells whether an id was seen before.

    Example:
        >>> w = DedupWindow(2)
        >>> [w.seen(i) for i in ("a", "b", "a", "c", "a")]
        [False, False, True, False, True]
    """

    def __init__(self, capacity: int = 10_000) -> None:
        """Create an empty window.

        Raises:
            ConfigurationError: ``capacity`` < 1.
        """
        if capacity < 1:
            raise ConfigurationError("dedup_window", "must be >= 1")
        self.capacity = capacity
        self._ids: OrderedDict[str | bytes, None] = OrderedDict()
        self.duplicates = 0

    def seen(self, message_id: str | bytes) -> bool:
        """Record ``message_id``; return ``True`` when it was already in the window."""
        ids = self._ids
        if message_id in ids:
            ids.move_to_end(message_id)
            self.duplicates += 1
            return True
        ids[message_id] = None
        if len(ids) > self.capacity:
            ids.popitem(last=False)
        return False

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
