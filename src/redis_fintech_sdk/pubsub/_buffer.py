"""The bounded buffer between the socket and the application, with explicit overflow policies.

Sans-I/O: :class:`MessageBuffer` never waits. The subscriber adds the waiting (``block``) on
top with an event. Every decision is counted, so ``drop_*`` policies report exactly what
they dropped and ``conflate`` how many stale values it replaced.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["BufferStatistics", "MessageBuffer", "OverflowPolicy"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class OverflowPolicy(str, enum.Enum):
    """What a full buffer does with one more message.

    * ``BLOCK`` — refuse it; the reader stops reading the socket until there is room, so
      Redis buffers (and may disconnect the subscriber past ``client-output-buffer-limit``,
      which gap detection then reports).
    * ``DROP_OLDEST`` — discard the oldest buffered message to make room.
    * ``DROP_NEWEST`` — discard the incoming message.
    * ``CONFLATE`` — keep only the latest message per key (e.g. per symbol): a message whose
      key is already buffered replaces the buffered one in place. A new key arriving at a
      full buffer evicts the oldest key (counted as ``dropped_oldest``).
    """

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    CONFLATE = "conflate"


@dataclass(frozen=True)
class BufferStatistics:
    """A snapshot of a :class:`MessageBuffer`.

    Attributes:
        policy: the overflow policy.
        capacity: the most messages held at once.
        size: messages held now.
        high_watermark: the largest ``size`` seen.
        offered: messages offered.
        accepted: messages taken into the buffer (including conflating replacements).
        delivered: messages handed to the application.
        dropped_oldest: buffered messages discarded to make room.
        dropped_newest: incoming messages discarded.
        conflated: buffered messages replaced by a newer one with the same key.
        refused: offers refused under ``block`` (the reader then waited).
    """

    policy: OverflowPolicy
    capacity: int
    size: int
    high_watermark: int
    offered: int
    accepted: int
    delivered: int
    dropped_oldest: int
    dropped_newest: int
    conflated: int
    refused: int


class MessageBuffer(Generic[T]):
    """A bounded FIFO with an overflow policy. Not thread-safe; no waiting.

    Example:
        >>> buf = MessageBuffer(2, OverflowPolicy.DROP_OLDEST)
        >>> for n in range(3):
        ...     _ = buf.offer(n)
        >>> [buf.pop(), buf.pop()], buf.statistics().dropped_oldest
        ([1, 2], 1)
    """

    def __init__(
        self,
        capacity: int,
        policy: OverflowPolicy | str = OverflowPolicy.BLOCK,
        *,
        key: Callable[[T], Hashable | None] | None = None,
    ) -> None:
        """Create an empty buffer.

        Args:
            capacity: the most messages held at once (>= 1).
            policy: the overflow policy.
            key: for ``conflate``: the conflation key of a message (``None`` = never
                conflate this one). Required with ``conflate``.

        Raises:
            ConfigurationError: bad capacity, unknown policy, or ``conflate`` without ``key``.
        """
        if not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError("buffer_capacity", "must be an int >= 1")
        try:
            self.policy = OverflowPolicy(policy)
        except ValueError:
            raise ConfigurationError(
                "overflow", f"must be one of {[p.value for p in OverflowPolicy]}"
            ) from None
        if self.policy is OverflowPolicy.CONFLATE and key is None:
            raise ConfigurationError("conflate_key", "conflate needs a key function")
        self.capacity = capacity
        self._key = key
        self._fifo: deque[T] = deque()
        # conflate: key -> slot; unkeyed messages get a unique object() as their key.
        self._slots: OrderedDict[Hashable, T] = OrderedDict()
        self._offered = self._accepted = self._delivered = 0
        self._dropped_oldest = self._dropped_newest = self._conflated = self._refused = 0
        self._high = 0

    def __len__(self) -> int:
        return len(self._slots) if self.policy is OverflowPolicy.CONFLATE else len(self._fifo)

    @property
    def full(self) -> bool:
        """Whether the buffer holds ``capacity`` messages."""
        return len(self) >= self.capacity

    def offer(self, item: T) -> bool:
        """Apply the policy to one incoming message.

        Returns:
            ``False`` only under ``block`` when the buffer is full (nothing was stored; offer
            it again once there is room). ``True`` otherwise — which includes the cases
            where the policy dropped something; :meth:`statistics` says what.
        """
        self._offered += 1
        if self.policy is OverflowPolicy.CONFLATE:
            return self._offer_conflate(item)
        fifo = self._fifo
        if len(fifo) >= self.capacity:
            if self.policy is OverflowPolicy.BLOCK:
                self._offered -= 1  # it will be offered again
                self._refused += 1
                return False
            if self.policy is OverflowPolicy.DROP_NEWEST:
                self._dropped_newest += 1
                return True
            fifo.popleft()
            self._dropped_oldest += 1
        fifo.append(item)
        self._accepted += 1
        if len(fifo) > self._high:
            self._high = len(fifo)
        return True

    def _offer_conflate(self, item: T) -> bool:
        assert self._key is not None
        slots = self._slots
        key = self._key(item)
        if key is None:
            key = object()
        elif key in slots:
            slots[key] = item  # replace in place: the key keeps its place in the queue
            self._conflated += 1
            self._accepted += 1
            return True
        if len(slots) >= self.capacity:
            slots.popitem(last=False)
            self._dropped_oldest += 1
        slots[key] = item
        self._accepted += 1
        if len(slots) > self._high:
            self._high = len(slots)
        return True

    def pop(self) -> T:
        """Take the oldest message.

        Raises:
            IndexError: the buffer is empty.
        """
        if self.policy is OverflowPolicy.CONFLATE:
            if not self._slots:
                raise IndexError("pop from an empty buffer")
            item = self._slots.popitem(last=False)[1]
        else:
            item = self._fifo.popleft()
        self._delivered += 1
        return item

    def peek_oldest(self) -> T | None:
        """The message :meth:`pop` would return, without taking it (``None`` when empty)."""
        if self.policy is OverflowPolicy.CONFLATE:
            return next(iter(self._slots.values()), None)
        return self._fifo[0] if self._fifo else None

    def count_by(self, key: Callable[[T], K]) -> dict[K, int]:
        """How many buffered messages share each ``key(message)``.

        One pass over the buffer, nothing copied: meant for periodic sampling (the
        subscriber's ``subscriber_buffer_size`` gauge), not for every message.

        Example:
            >>> buf = MessageBuffer(4, OverflowPolicy.BLOCK)
            >>> for word in ("ab", "ac", "b"):
            ...     _ = buf.offer(word)
            >>> buf.count_by(lambda w: w[0])
            {'a': 2, 'b': 1}
        """
        counts: dict[K, int] = {}
        items = self._slots.values() if self.policy is OverflowPolicy.CONFLATE else self._fifo
        for item in items:
            k = key(item)
            counts[k] = counts.get(k, 0) + 1
        return counts

    def discarded(self) -> tuple[int, int, int]:
        """``(dropped_oldest, dropped_newest, conflated)`` so far, cheaper than statistics()."""
        return self._dropped_oldest, self._dropped_newest, self._conflated

    def clear(self) -> int:
        """Discard everything buffered (counted as ``dropped_oldest``); return how many."""
        n = len(self)
        self._fifo.clear()
        self._slots.clear()
        self._dropped_oldest += n
        return n

    def statistics(self) -> BufferStatistics:
        """A snapshot of the counters."""
        return BufferStatistics(
            policy=self.policy,
            capacity=self.capacity,
            size=len(self),
            high_watermark=self._high,
            offered=self._offered,
            accepted=self._accepted,
            delivered=self._delivered,
            dropped_oldest=self._dropped_oldest,
            dropped_newest=self._dropped_newest,
            conflated=self._conflated,
            refused=self._refused,
        )

    def __repr__(self) -> str:
        return f"MessageBuffer({len(self)}/{self.capacity}, {self.policy.value})"
