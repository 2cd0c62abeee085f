"""Resuming an SSE stream from ``Last-Event-ID`` on replayable topics.

Replayable topics (:class:`~redis_fintech_sdk.pubsub.ReplayConfig`: Pub/Sub plus a capped
stream, written in one Lua step) give every live message a stream id, which the gateway
sends as the SSE ``id:``. A client reconnecting with ``Last-Event-ID: <stream id>`` first
gets what the streams of its replayable channels hold after that id, then live messages;
live copies of replayed messages are skipped.

Everything that cannot be replayed is said so with a ``gap`` event instead of silence:
``replay_unavailable`` (no replay configured, a pattern, a channel that is not replayable,
or an id that is not a stream id), ``replay_window_exceeded`` (the stream was trimmed past
the id: older messages are gone) and ``replay_truncated`` (more missed messages than the
client's queue holds).

One id for several channels: stream ids are the server's clock, and one Lua step writes the
stream and publishes, so on one primary the order of ids is the order clients saw. For the
stream the id came from, replay starts after it; for the others at the start of its
millisecond (a message of that millisecond may come twice: at-least-once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ResponseError, SDKError
from redis_fintech_sdk.pubsub import ReplayConfig, SubscriptionKind

from ._asgi import HttpError
from ._client import ClientQueue, SubKey
from ._hub import FanoutHub
from ._messages import GatewayMessage, Notice, stream_position

__all__ = ["Resumer", "ResumeStatistics"]

_DETAIL = {
    "replay_unavailable": "messages since Last-Event-ID cannot be replayed and may be lost",
    "replay_window_exceeded": "the stream was trimmed past Last-Event-ID: messages may be lost",
    "replay_truncated": "more messages were missed than the client queue holds: some were lost",
}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _position(message: GatewayMessage) -> tuple[int, int]:
    return stream_position(message.stream_id or "") or (0, 0)


def gap_notice(reason: str, channels: Sequence[str]) -> Notice:
    """A ``gap`` event about a resume: ``{"op": "gap", "reason", "channels", "detail"}``."""
    return Notice("gap", {"reason": reason, "channels": list(channels), "detail": _DETAIL[reason]})


@dataclass(frozen=True)
class ResumeStatistics:
    """Counters of ``Last-Event-ID`` resumes.

    Attributes:
        resumes: SSE connections that came with a ``Last-Event-ID``.
        replayed: messages replayed from streams.
        gaps: ``gap`` events sent instead of (part of) a replay, by reason.
    """

    resumes: int
    replayed: int
    gaps: dict[str, int]


class Resumer:
    """Replays what an SSE client missed since its ``Last-Event-ID``, or says it cannot.

    Args:
        client: the Redis connection (``XRANGE`` / ``XINFO STREAM`` on the replay streams).
        hub: decodes frames the way live messages are decoded.
        replay: the replayable channels (``None``: every resume gets ``replay_unavailable``).
        limit: most messages replayed to one client (its queue capacity).
    """

    def __init__(
        self, client: AsyncClient, hub: FanoutHub, replay: ReplayConfig | None, *, limit: int
    ) -> None:
        self.client = client
        self.hub = hub
        self.replay = replay
        self.limit = limit
        self._resumes = self._replayed = 0
        self._gaps: Counter[str] = Counter()

    async def resume(self, queue: ClientQueue, keys: Sequence[SubKey], last_event_id: str) -> None:
        """Queue the missed messages (oldest first) and gap events ahead of live ones.

        Call it after the client is subscribed, before its writer starts.

        Raises:
            HttpError: 503 when Redis fails during the replay (the client retries with the
                same ``Last-Event-ID``).
        """
        self._resumes += 1
        replay = self.replay
        position = stream_position(last_event_id.strip())
        wanted = [
            name
            for kind, name in keys
            if replay is not None
            and position is not None
            and kind is SubscriptionKind.CHANNEL
            and replay.applies_to(name)
        ]
        notices: list[Notice] = []
        unavailable = [name for _, name in keys if name not in wanted]
        if unavailable:
            notices.append(gap_notice("replay_unavailable", unavailable))
        got: list[tuple[str, list[GatewayMessage]]] = []
        budget = max(0, self.limit - len(keys) - 1)  # leave room for every gap event
        if replay is not None and position is not None:
            for name in wanted:
                messages, problems = await self._read(replay, name, last_event_id.strip(), budget)
                budget -= len(messages)
                got.append((name, messages))
                notices.extend(gap_notice(problem, [name]) for problem in problems)
        # No await from here on: the fan-out loop cannot slip a message in between.
        live = queue.take_all()
        for notice in notices:
            self._gaps[str(notice.data["reason"])] += 1
            queue.offer(notice)
        replayed = sorted((m for _, ms in got for m in ms), key=_position)
        for message in replayed:
            queue.offer(message)
        for name, messages in got:
            if messages and messages[-1].stream_id is not None:
                queue.set_floor(name, messages[-1].stream_id)
        for item in live:
            queue.offer(item)  # live copies of replayed messages stop at the floor
        self._replayed += len(replayed)

    async def _read(
        self, replay: ReplayConfig, name: str, last_id: str, budget: int
    ) -> tuple[list[GatewayMessage], list[str]]:
        key = replay.stream_key(name)
        ms = last_id.partition("-")[0]
        entries: list[tuple[str, Any]] = []
        start = f"{ms}-0"
        try:
            while True:
                with self.client.translate_errors("XRANGE", key=key):
                    batch: Any = await self.client.redis.xrange(key, min=start, count=replay.batch)
                for raw_id, fields in batch:
                    sid = _text(raw_id)
                    if sid == last_id:  # the stream the id came from: resume right after it
                        entries.clear()
                        continue
                    entries.append((sid, fields))
                if len(batch) < replay.batch or len(entries) > budget:
                    break
                start = "(" + _text(batch[-1][0])
            trimmed = await self._trimmed(key, last_id)
        except SDKError as exc:
            raise HttpError(503, "redis_unavailable", type(exc).__name__) from None
        problems = [trimmed] if trimmed is not None else []
        if len(entries) > budget:
            entries = entries[:budget]
            problems.append("replay_truncated")
        messages = []
        for sid, fields in entries:
            frame = fields.get(b"f") or fields.get("f") or b""
            message = self.hub.decode(name, bytes(frame), stream_id=sid)
            if message is not None:
                messages.append(message)
        return messages, problems

    async def _trimmed(self, key: str, last_id: str) -> str | None:
        """``replay_window_exceeded`` when the stream lost entries and starts after ``last_id``.

        Trimming (``MAXLEN``) removes the oldest entries; if what is left starts after the
        client's position, entries it never saw may be among the removed ones.
        """
        try:
            with self.client.translate_errors("XINFO", key=key):
                info: Any = await self.client.redis.xinfo_stream(key)
        except ResponseError:  # no such stream: nothing was ever kept for it
            return None

        def field(name: str) -> Any:
            return info.get(name, info.get(name.encode()))

        added, length, first = field("entries-added"), field("length"), field("first-entry")
        if added is None or length is None or int(added) <= int(length):
            return None  # nothing removed (or Redis < 7.0, which does not say)
        start = stream_position(_text(first[0])) if first else None
        last = stream_position(last_id)
        if last is not None and (start is None or start > last):
            return "replay_window_exceeded"
        return None

    def statistics(self) -> ResumeStatistics:
        """A snapshot of the counters."""
        return ResumeStatistics(self._resumes, self._replayed, dict(self._gaps))
