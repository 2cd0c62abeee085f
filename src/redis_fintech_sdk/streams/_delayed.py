"""AsyncDelayedQueue: messages appended to a stream at a chosen time, exactly once.

Async only (its mover is a background task), like :class:`StreamConsumer`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.resilience import Backoff, is_retryable
from redis_fintech_sdk.streams._codec import FrameCodec, default_codec, frame_message_id
from redis_fintech_sdk.streams._config import FRAME_FIELD
from redis_fintech_sdk.streams._keys import related_key

__all__ = ["AsyncDelayedQueue", "DelayedStatistics"]

log = logging.getLogger("redis_fintech_sdk.streams")

# KEYS: due zset (id -> due ms), frames hash (id -> frame).
# ARGV: id, due ms (absolute) or '', delay ms (from the server's clock) or '', frame.
# Returns 1 when scheduled, 0 when the id is already waiting (idempotent).
_SCHEDULE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 0 then return 0 end
local due = tonumber(ARGV[2])
if ARGV[3] ~= '' then
  local t = redis.call('TIME')
  due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
end
redis.call('ZADD', KEYS[1], due, ARGV[1])
return 1
"""

# KEYS: due zset, frames hash. ARGV: id. Returns 1 when cancelled, 0 when not waiting.
_CANCEL = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS: due zset, frames hash, stream. ARGV: limit, field, n_trim, trim args...
# Moves every entry due by the server's clock (at most ``limit``) into the stream, in due
# order, and forgets it, in one atomic step: a crash or a second mover cannot append an
# entry twice or lose it. Returns {moved, seconds until the next due entry or -1}.
_MOVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local ntrim = tonumber(ARGV[3])
for _, id in ipairs(ids) do
  local frame = redis.call('HGET', KEYS[2], id)
  if frame then
    local xa = {'XADD', KEYS[3]}
    for i = 1, ntrim do xa[#xa + 1] = ARGV[3 + i] end
    xa[#xa + 1] = '*'
    xa[#xa + 1] = ARGV[2]
    xa[#xa + 1] = frame
    redis.call(unpack(xa))
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then wait = math.max(0, tonumber(nxt[2]) - now) / 1000 end
return {#ids, tostring(wait)}
"""


@dataclass(frozen=True, slots=True)
class DelayedStatistics:
    """Counters of an :class:`AsyncDelayedQueue` (this process only).

    Attributes:
        scheduled: messages scheduled.
        duplicates: schedules refused because the id was already waiting.
        cancelled: schedules cancelled before they were due.
        moved: entries this process moved into the stream.
        errors: failed move rounds (retried with backoff).
    """

    scheduled: int
    duplicates: int
    cancelled: int
    moved: int
    errors: int


class AsyncDelayedQueue:
    """Schedules messages for a stream: each is appended once, when it falls due.

    Scheduled frames wait in a sorted set and a hash next to the stream (same hash tag, so
    a Cluster keeps them in one slot). :meth:`move_due` appends what is due by the
    *server's* clock and forgets it in one Lua script, so movers in several processes never
    append an entry twice, and a crash loses nothing. Use the queue as ``async with``
    to run a mover in the background, or call :meth:`move_due` from your own loop. Consumers
    read the stream as usual (``StreamConsumer``), so retries, dead letters and exactly-once
    processing apply to delayed messages too.

    Args:
        client: the SDK client (not closed by the queue).
        stream: the stream the messages go to when due.
        codec: turns messages into frames; ``bytes`` are taken as ready frames.
        poll_interval: longest seconds the background mover sleeps between rounds (it
            wakes earlier when the next entry falls due sooner).
        batch: most entries moved per round.
        max_length: approximate ``MAXLEN ~`` cap applied to the stream on each move.

    Raises:
        ConfigurationError: ``poll_interval`` not positive, ``batch`` below 1 or
            ``max_length`` below 1, or an invalid stream name.

    Example:
        >>> async with AsyncDelayedQueue(client, "payments:retry") as queue:  # doctest: +SKIP
        ...     await queue.schedule(retry, delay=30.0, key=f"retry:{payment_id}")
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        *,
        codec: FrameCodec | None = None,
        poll_interval: float = 0.5,
        batch: int = 100,
        max_length: int | None = None,
    ) -> None:
        if not poll_interval > 0:
            raise ConfigurationError("poll_interval", "must be a positive number of seconds")
        if batch < 1:
            raise ConfigurationError("batch", "must be at least 1")
        if max_length is not None and max_length < 1:
            raise ConfigurationError("max_length", "must be at least 1")
        self._client = client
        self.stream = stream
        self.codec = codec if codec is not None else default_codec()
        self.poll_interval = poll_interval
        self.batch = batch
        self._trim: list[Any] = [] if max_length is None else ["MAXLEN", "~", max_length]
        self._due = related_key(stream, ":delay:due")
        self._frames = related_key(stream, ":delay:frames")
        redis = client.redis
        self._schedule = redis.register_script(_SCHEDULE)
        self._cancel = redis.register_script(_CANCEL)
        self._move = redis.register_script(_MOVE)
        self._seq = 0
        self._scheduled = self._duplicates = self._cancelled = self._moved = self._errors = 0
        self._stopping = False
        self._done = anyio.Event()
        self._tg: TaskGroup | None = None

    async def schedule(
        self,
        message: Any,
        *,
        delay: float | None = None,
        at: dt.datetime | None = None,
        key: str | None = None,
    ) -> str:
        """Schedule ``message`` to be appended after ``delay`` seconds or at ``at``.

        Args:
            message: a message for the codec, or a ready frame (``bytes``).
            delay: seconds from now, by the Redis server's clock (the one the mover uses,
                so client clock skew does not matter); ``0`` means at once.
            at: a timezone-aware due time (compared with the server's clock).
            key: the schedule id (default: the frame's message id); scheduling an id that
                is already waiting does nothing, so a retried call cannot schedule twice.

        Returns:
            The schedule id (for :meth:`cancel`).

        Raises:
            ConfigurationError: neither or both of ``delay`` and ``at``, a negative delay,
                or a naive ``at``.
            CodecError: the message cannot be encoded.
            RedisError: Redis refused or could not be reached.
        """
        due, delay_ms = _due(delay, at)
        if isinstance(message, (bytes, bytearray, memoryview)):
            frame = bytes(message)
        else:
            frame = self.codec.encode(message, channel=self.stream)
        self._seq += 1
        sid = key or frame_message_id(self.codec, frame) or f"{time.time_ns()}-{self._seq}"
        with self._client.translate_errors("EVALSHA", key=self.stream):
            added = await self._schedule(
                keys=[self._due, self._frames], args=[sid, due, delay_ms, frame]
            )
        if int(added):
            self._scheduled += 1
        else:
            self._duplicates += 1
        return sid

    async def cancel(self, schedule_id: str) -> bool:
        """Cancel a schedule that has not fallen due yet; ``False`` if it is not waiting.

        Raises:
            RedisError: Redis refused or could not be reached.
        """
        with self._client.translate_errors("EVALSHA", key=self.stream):
            removed = await self._cancel(keys=[self._due, self._frames], args=[schedule_id])
        if int(removed):
            self._cancelled += 1
            return True
        return False

    async def waiting(self) -> int:
        """How many schedules are waiting (not yet due or not yet moved).

        Raises:
            RedisError: Redis refused or could not be reached.
        """
        with self._client.translate_errors("ZCARD", key=self._due):
            return int(await self._client.redis.zcard(self._due))

    async def move_due(self) -> tuple[int, float | None]:
        """Append every due entry (up to ``batch``) to the stream, atomically.

        Returns:
            ``(entries moved, seconds until the next entry falls due or None)``.

        Raises:
            RedisError: Redis refused or could not be reached.
        """
        with self._client.translate_errors("EVALSHA", key=self.stream):
            reply = await self._move(
                keys=[self._due, self._frames, self.stream],
                args=[self.batch, FRAME_FIELD, len(self._trim), *self._trim],
            )
        moved, wait = int(reply[0]), float(reply[1])
        self._moved += moved
        return moved, (None if wait < 0 else wait)

    async def run(self) -> None:
        """Move due entries until :meth:`stop`; connection errors are retried with backoff.

        Raises:
            RedisError: an error retrying cannot fix (e.g. NOPERM).
        """
        backoff = Backoff(base=0.05, cap=2.0)
        while not self._stopping:
            try:
                moved, wait = await self.move_due()
            except RedisError as exc:
                if not is_retryable(exc):
                    raise
                self._errors += 1
                log.warning("delayed queue %s: move failed (%s)", self.stream, type(exc).__name__)
                await self._nap(backoff.next_delay())
                continue
            backoff.reset()
            if moved < self.batch:
                await self._nap(
                    self.poll_interval if wait is None else min(wait, self.poll_interval)
                )

    async def _nap(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._done.wait()

    def stop(self) -> None:
        """Ask :meth:`run` to return after its current round.

        For good: a stopped queue's mover does not start again; make a new queue.
        """
        self._stopping = True
        self._done.set()

    async def __aenter__(self) -> AsyncDelayedQueue:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        tg.start_soon(self.run)
        self._tg = tg
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.stop()
        tg, self._tg = self._tg, None
        if tg is not None:
            await tg.__aexit__(*exc_info)

    def statistics(self) -> DelayedStatistics:
        """Counters since creation."""
        return DelayedStatistics(
            scheduled=self._scheduled,
            duplicates=self._duplicates,
            cancelled=self._cancelled,
            moved=self._moved,
            errors=self._errors,
        )


def _due(delay: float | None, at: dt.datetime | None) -> tuple[str, str]:
    # (absolute due ms, '') for at=, ('', delay ms) for delay=: the script adds the server's
    # TIME to a delay.
    if (delay is None) == (at is None):
        raise ConfigurationError("delay", "give exactly one of delay= and at=")
    if at is not None:
        if at.tzinfo is None:
            raise ConfigurationError("at", "must be timezone-aware")
        return str(int(at.timestamp() * 1000)), ""
    assert delay is not None
    if not delay >= 0:
        raise ConfigurationError("delay", "must not be negative")
    return "", str(int(delay * 1000))
