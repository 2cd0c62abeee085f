"""One connected SSE or WebSocket client: its bounded queue, policy and counters."""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass

import anyio

from redis_fintech_sdk.pubsub import MessageBuffer, OverflowPolicy, SubscriptionKind

from ._messages import GatewayMessage, Notice, stream_position

__all__ = ["ClientQueue", "ClientStatistics", "Item", "SubKey"]

Item = GatewayMessage | Notice
SubKey = tuple[SubscriptionKind, str]
_ids = itertools.count(1)


def _conflate_key(item: Item) -> Hashable | None:
    # Latest message per channel; notices are never conflated away.
    return item.channel if isinstance(item, GatewayMessage) else None


@dataclass(frozen=True)
class ClientStatistics:
    """Counters of one client.

    Attributes:
        id: gateway-local client number.
        transport: ``sse`` or ``ws``.
        subject: the token's subject.
        subscriptions: channels and patterns held.
        queued: items waiting now.
        delivered: items handed to the transport.
        dropped: items discarded by the overflow policy.
        conflated: items replaced by a newer one on the same channel (``conflate``).
    """

    id: int
    transport: str
    subject: str
    subscriptions: int
    queued: int
    delivered: int
    dropped: int
    conflated: int


class ClientQueue:
    """A bounded queue between the fan-out loop (never waits) and one client's writer.

    Args:
        transport: ``sse`` or ``ws``.
        subject: who the client is (the token's ``sub``; for metrics, never the token).
        capacity: items held before ``policy`` applies.
        policy: a non-blocking :class:`OverflowPolicy`.
    """

    def __init__(
        self, transport: str, subject: str, *, capacity: int, policy: OverflowPolicy
    ) -> None:
        self.id = next(_ids)
        self.transport = transport
        self.subject = subject
        self.subscriptions: set[SubKey] = set()
        self._buffer: MessageBuffer[Item] = MessageBuffer(capacity, policy, key=_conflate_key)
        self._ready = anyio.Event()
        self._reported = 0
        self._floors: dict[str, tuple[int, int]] = {}  # channel -> last replayed stream id
        self._taken = 0  # popped by take_all (to be queued again), not delivered
        self.closed = False

    def close(self) -> None:
        """Mark the client closed (the gateway shuts down); its writer then ends."""
        self.closed = True
        self._ready.set()

    def offer(self, item: Item) -> None:
        """Queue one item (the policy may drop something; it is counted).

        A live message at or below the channel's replay floor was already replayed to this
        client and is skipped.
        """
        if self._floors and isinstance(item, GatewayMessage) and item.stream_id is not None:
            floor = self._floors.get(item.channel)
            if floor is not None:
                if (stream_position(item.stream_id) or (0, 0)) <= floor:
                    return
                del self._floors[item.channel]  # live is past the replay: stop checking
        self._buffer.offer(item)
        self._ready.set()

    def take_all(self) -> list[Item]:
        """Remove and return everything queued now (oldest first)."""
        items: list[Item] = []
        while (item := self.get_nowait()) is not None:
            items.append(item)
        self._taken += len(items)
        return items

    def set_floor(self, channel: str, stream_id: str) -> None:
        """Skip live messages of ``channel`` up to ``stream_id`` (they were replayed)."""
        position = stream_position(stream_id)
        if position is not None:
            self._floors[channel] = position

    def get_nowait(self) -> Item | None:
        """The next item, or ``None`` when empty."""
        try:
            return self._buffer.pop()
        except IndexError:
            return None

    async def get(self, timeout: float) -> Item | None:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the next item (``None``: nothing came)."""
        item = self.get_nowait()
        if item is not None or self.closed:
            return item
        self._ready = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._ready.wait()
        return self.get_nowait()

    @property
    def dropped(self) -> int:
        """Items discarded so far (oldest or newest, by policy)."""
        oldest, newest, _ = self._buffer.discarded()
        return oldest + newest

    def drop_notice(self) -> Notice | None:
        """A ``dropped`` notice when messages were dropped since the last one."""
        dropped = self.dropped
        if dropped == self._reported:
            return None
        notice = Notice("dropped", {"dropped": dropped - self._reported, "total": dropped})
        self._reported = dropped
        return notice

    def statistics(self) -> ClientStatistics:
        """A snapshot of the counters."""
        s = self._buffer.statistics()
        return ClientStatistics(
            id=self.id,
            transport=self.transport,
            subject=self.subject,
            subscriptions=len(self.subscriptions),
            queued=s.size,
            delivered=s.delivered - self._taken,
            dropped=s.dropped_oldest + s.dropped_newest,
            conflated=s.conflated,
        )
