"""Pub/Sub pieces of the issue-8 scenarios: a recording publisher and subscriber.

Frames are encoded here (the codec assigns the per-(producer, channel) sequence number) and
sent with ``publish_frame``, so the history records exactly the numbers the SDK's gap
detection counts. Every delivery, ``GapDetected`` and ``PossibleGap`` goes into the
history; :meth:`SubscriberRecorder.exact_missed` is the ground truth the SDK's reported
gap count is compared with.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel

from redis_fintech_sdk.codec import Codec, Message, default_registry, message
from redis_fintech_sdk.errors import SDKError
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    Disconnected,
    GapDetected,
    PossibleGap,
    Resubscribed,
    SubscriberEvent,
)
from redis_fintech_sdk.testing.checker import History

if default_registry.get("test.chaos.scenario") is None:

    @message("test.chaos.scenario", version=1)
    class ScenarioTick(Message):
        """A numbered, padded test message."""

        n: int
        pad: str = ""

else:  # pragma: no cover - re-imported under another module name
    ScenarioTick = default_registry.get("test.chaos.scenario").model  # type: ignore[union-attr,misc]


def mid_of(producer: str, seq: int) -> str:
    """The history id of a producer's sequence number."""
    return f"{producer}#{seq}"


@dataclass
class PublisherRecorder:
    """Publishes numbered frames on one channel, recording every attempt in the history."""

    history: History
    channel: str
    codec: Codec = field(default_factory=Codec)
    pad: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    acked: int = 0
    attempted: int = 0
    receivers_zero: int = 0

    async def publish_one(self, pub: AsyncPublisher, n: int) -> bool:
        frame = self.codec.encode(ScenarioTick(n=n, pad="x" * self.pad), channel=self.channel)
        header = self.codec.peek_header(frame)
        mid = mid_of(header.producer_id, header.sequence)
        self.history.attempt(mid, producer=header.producer_id, seq=header.sequence)
        self.attempted += 1
        try:
            receivers = await pub.publish_frame(self.channel, frame)
        except SDKError as exc:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
            # A PUBLISH that got no reply may have been delivered: unknown, not failed.
            self.history.ambiguous(mid, name)
            return False
        self.history.ack(mid)
        self.acked += 1
        if receivers == 0:
            self.receivers_zero += 1
        return True

    async def run(self, pub: AsyncPublisher, stop: anyio.Event, rate: float) -> None:
        """Publish at about ``rate`` messages per second until ``stop`` is set."""
        n = 0
        interval = 1.0 / rate
        while not stop.is_set():
            t0 = time.monotonic()
            n += 1
            ok = await self.publish_one(pub, n)
            delay = interval - (time.monotonic() - t0)
            if not ok:
                delay = max(delay, 0.02)  # down: do not spin
            if delay > 0:
                await anyio.sleep(delay)
            else:
                await anyio.lowlevel.checkpoint()


@dataclass
class SubscriberRecorder:
    """Consumes a subscriber into the history and keeps its lifecycle events."""

    history: History
    name: str
    events: list[SubscriberEvent] = field(default_factory=list)
    seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    received_at: list[float] = field(default_factory=list)
    gate: anyio.Event | None = None

    def listen(self, event: SubscriberEvent) -> None:
        self.events.append(event)
        if isinstance(event, GapDetected):
            gap = event.gap
            self.history.gap(
                subscriber=self.name,
                producer=gap.producer_id,
                first=gap.first_missing,
                last=gap.last_missing,
            )
        elif isinstance(event, PossibleGap):
            self.history.possible_gap(subscriber=self.name)

    def attach(self, sub: AsyncSubscriber) -> None:
        sub.add_listener(self.listen)

    async def consume(self, sub: AsyncSubscriber) -> None:
        """Take deliveries until the subscriber closes; before each, wait on ``gate``.

        Replace ``gate`` with a new event to block the consumer, set it to release it.
        """
        while True:
            if self.gate is not None:
                await self.gate.wait()
            try:
                delivery = await sub.get()
            except anyio.EndOfStream:
                return
            header = delivery.header
            assert header is not None
            self.seqs[header.producer_id].append(header.sequence)
            self.history.receive(mid_of(header.producer_id, header.sequence), subscriber=self.name)
            self.received_at.append(time.monotonic())

    # ---------------------------------------------------------------- figures

    def of(self, kind: type) -> list[SubscriberEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def reported_missed(self) -> int:
        """Messages the SDK reported missing (sum of ``GapDetected``)."""
        return sum(e.gap.missed for e in self.events if isinstance(e, GapDetected))

    def exact_missed(self) -> int:
        """Sequence numbers between the first and last received that never arrived."""
        total = 0
        for seqs in self.seqs.values():
            got = set(seqs)
            total += max(got) - min(got) + 1 - len(got)
        return total

    def received(self) -> int:
        return sum(len(s) for s in self.seqs.values())

    def duplicate_receipts(self) -> int:
        return sum(len(s) - len(set(s)) for s in self.seqs.values())

    def first_receipt_after(self, t: float) -> float:
        """Seconds from ``t`` to the first receipt at or after it (inf: none)."""
        return next((at - t for at in self.received_at if at >= t), float("inf"))

    def disconnect_reasons(self) -> list[str]:
        return [e.reason for e in self.events if isinstance(e, Disconnected)]

    def resubscribed(self) -> int:
        return len(self.of(Resubscribed))

    def notes(self) -> dict[str, object]:
        return {
            f"{self.name}_received": self.received(),
            f"{self.name}_missed_exact": self.exact_missed(),
            f"{self.name}_missed_reported": self.reported_missed(),
            f"{self.name}_disconnects": self.disconnect_reasons(),
        }
