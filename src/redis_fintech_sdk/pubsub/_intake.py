"""What happens to a frame between the socket and the buffer, and at delivery. Sans-I/O.

Intake (on the reader, header only): replay prefix -> peek header -> gap tracking -> filter
-> dedup. Decoding (decrypt, verify, validate) happens when the application takes the
message, so conflated or dropped messages are never decrypted and a slow consumer does not
slow the reader down.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from redis_fintech_sdk.errors import CodecError

from ._config import SubscriberConfig
from ._events import BadFrame, GapDetected, SubscriberEvent
from ._replay import ReplayConfig, split_replay, stream_id_key
from ._tracking import DedupWindow, SequenceStatus, SequenceTracker
from ._types import Delivery, FrameCodec

__all__ = ["Intake"]


class Intake:
    """Turns raw Pub/Sub messages into buffered deliveries, counting every decision."""

    def __init__(
        self, codec: FrameCodec | None, config: SubscriberConfig, replay: ReplayConfig | None
    ) -> None:
        self.codec = codec
        self.config = config
        self.replay = replay
        self.tracker = SequenceTracker(max_streams=config.max_streams)
        self.dedup = DedupWindow(config.dedup_window) if config.dedup_window else None
        self.cursors: dict[str, str] = {}  # replay channel -> last stream id taken in
        # The same for copies that came through a pattern (not caught up after reconnects;
        # kept apart so that a channel and a pattern subscription both get every message).
        self.pattern_cursors: dict[tuple[str, str], str] = {}
        self.received = self.filtered = self.duplicates = self.bad_frames = 0

    def _bad(self, channel: str, exc: BaseException, message_id: str | None) -> BadFrame:
        self.bad_frames += 1
        return BadFrame(channel, type(exc).__name__, message_id)

    def accept(
        self,
        channel: str,
        data: bytes,
        *,
        pattern: str | None = None,
        shard: bool = False,
        stream_id: str | None = None,
    ) -> tuple[Delivery | None, list[SubscriberEvent]]:
        """Process one message; return the delivery to buffer (or ``None``) and events."""
        events: list[SubscriberEvent] = []
        replayed = stream_id is not None
        if not replayed:
            self.received += 1
        try:
            if stream_id is None:
                stream_id, data = split_replay(data)
        except CodecError as exc:
            events.append(self._bad(channel, exc, None))
            return None, events
        if stream_id is not None:
            cursor_key = channel if pattern is None else (pattern, channel)
            cursors: dict[Any, str] = self.cursors if pattern is None else self.pattern_cursors
            last = cursors.get(cursor_key)
            try:
                if last is not None and stream_id_key(stream_id) <= stream_id_key(last):
                    self.duplicates += 1
                    return None, events
            except CodecError as exc:
                events.append(self._bad(channel, exc, None))
                return None, events
            cursors[cursor_key] = stream_id
        if self.codec is None or not self.config.decode:
            delivery = Delivery(channel, None, None, pattern, shard, replayed, stream_id, data)
            return delivery, events
        try:
            header = self.codec.peek_header(data)
            producer, sequence, message_id = header.producer_id, header.sequence, header.message_id
        except Exception as exc:  # hostile input: any failure is a bad frame
            events.append(self._bad(channel, exc, None))
            return None, events
        status, gap = self.tracker.observe(producer, channel, sequence, via=pattern)
        if gap is not None:
            events.append(GapDetected(gap))
        if status is SequenceStatus.DUPLICATE and self.dedup is None:
            self.duplicates += 1
            return None, events
        flt = self.config.filter
        if flt is not None:
            try:
                keep = flt.matches(header)
            except Exception as exc:
                events.append(self._bad(channel, exc, message_id))
                return None, events
            if not keep:
                self.filtered += 1
                return None, events
        if self.dedup is not None and self.dedup.seen(message_id):
            self.duplicates += 1
            return None, events
        return Delivery(channel, None, header, pattern, shard, replayed, stream_id, data), events

    def finish(self, delivery: Delivery) -> Delivery:
        """Decode a buffered delivery (decrypt, verify, validate).

        Raises:
            CodecError: the frame failed to decode; the caller counts and skips it.
        """
        if delivery.header is None or self.codec is None:
            return delivery
        try:
            envelope: Any = self.codec.decode(delivery.data, channel=delivery.channel)
        except CodecError:
            raise
        except Exception as exc:  # a codec bug or hostile input must not kill the loop
            raise CodecError(f"frame failed to decode ({type(exc).__name__})") from None
        return replace(delivery, envelope=envelope)
