"""How a stream consumer settles an entry: ack (batched), nack, commit, dead letter.

A mixin of :class:`~redis_fintech_sdk.streams.StreamConsumer` (kept apart so that each
module stays small); it uses the consumer's client, scripts, counters and hooks.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.resilience import is_retryable
from redis_fintech_sdk.streams._codec import FrameCodec, frame_message_id
from redis_fintech_sdk.streams._config import ConsumerConfig
from redis_fintech_sdk.streams._consumer_hooks import ConsumerHooks
from redis_fintech_sdk.streams._deadletter import (
    DeadLetterReason,
    dead_letter_fields,
    error_summary,
)
from redis_fintech_sdk.streams._decisions import AckBuffer
from redis_fintech_sdk.streams._errors import is_nogroup
from redis_fintech_sdk.streams._keys import StreamKeys
from redis_fintech_sdk.streams._message import Effects, IdempotencyStore, StreamMessage

__all__ = ["Settling"]

log = logging.getLogger("redis_fintech_sdk.streams")


class Settling:
    """Ack, nack, commit and dead-letter operations of a stream consumer."""

    _client: AsyncClient
    stream: str
    config: ConsumerConfig
    keys: StreamKeys
    codec: FrameCodec
    idempotency: IdempotencyStore | None
    _acks: AckBuffer
    _ack_wakeup: Any
    _dead_letter: Any
    _commit: Any
    _counts: dict[str, int]
    _hooks: ConsumerHooks | None
    _leased: dict[str, float]

    async def _settle(self, msg: StreamMessage, action: str, error: BaseException | None) -> None:
        # Settled by the handler itself: its lease must not be renewed any more (a renewal
        # after a nack would postpone the retry by a whole visibility timeout).
        self._leased.pop(msg.entry_id, None)
        if action == "ack":
            self._queue_ack(msg.entry_id)
        elif action == "nack":
            await self._nack(msg.entry_id)
        else:
            await self._to_dead_letters(
                msg.entry_id, msg.frame, msg.attempt, DeadLetterReason.MANUAL, error, msg.message_id
            )

    def _queue_ack(self, entry_id: str) -> None:
        if self._acks.add(entry_id):
            self._ack_wakeup.set()

    async def _ack_loop(self) -> None:
        while True:
            with anyio.move_on_after(self.config.ack_interval):
                await self._ack_wakeup.wait()
            self._ack_wakeup = anyio.Event()
            await self._flush_acks()

    async def _flush_acks(self, *, final: bool = False) -> None:
        tries = 0
        while len(self._acks):
            batch = self._acks.take()
            try:
                with self._client.translate_errors("XACK", key=self.stream):
                    await self._client.redis.xack(self.stream, self.config.group, *batch)
                self._counts["acked"] += len(batch)
                if self._hooks is not None:
                    self._hooks.count("messages_acked_total", len(batch))
            except RedisError as exc:
                if is_nogroup(exc):
                    self._counts["acks_dropped"] += len(batch) + self._acks.clear()
                    return
                if not is_retryable(exc):
                    raise
                self._acks.put_back(batch)
                tries += 1
                if not final or tries >= 5:
                    # Unacked entries stay pending and are redelivered: still at-least-once.
                    if final:
                        self._counts["acks_dropped"] += self._acks.clear()
                    return
                await anyio.sleep(0.05 * tries)

    async def _nack(self, entry_id: str) -> None:
        cfg = self.config
        idle = int(max(0.0, cfg.visibility_timeout - cfg.retry_delay) * 1000)
        with self._client.translate_errors("XCLAIM", key=self.stream):
            await self._client.redis.xclaim(
                self.stream, cfg.group, cfg.consumer, 0, [entry_id], idle=idle, justid=True
            )
        self._counts["nacked"] += 1

    async def _commit_exactly_once(self, entry_id: str, marker: str, effects: Effects) -> None:
        assert self.idempotency is not None
        ttl_ms = int(self.idempotency.ttl * 1000)
        with self._client.translate_errors("EVALSHA", key=self.stream):
            applied = await self._commit(
                keys=[self.stream, marker, *effects.keys()],
                args=[self.config.group, entry_id, ttl_ms, *effects.script_args()],
            )
        self._counts["acked"] += 1
        if self._hooks is not None:
            self._hooks.count("messages_acked_total")
        if not int(applied):
            self._counts["duplicates_skipped"] += 1

    async def _to_dead_letters(
        self,
        entry_id: str,
        frame: bytes | None,
        attempt: int,
        reason: DeadLetterReason,
        error: BaseException | None,
        message_id: str | None = None,
    ) -> None:
        cfg = self.config
        error_type, error_text = error_summary(error, limit=cfg.error_text_limit)
        if message_id is None and frame is not None and reason is not DeadLetterReason.UNDECODABLE:
            message_id = frame_message_id(self.codec, frame)
        fields = dead_letter_fields(
            frame=frame,
            original_id=entry_id,
            stream=self.stream,
            group=cfg.group,
            consumer=cfg.consumer,
            attempts=attempt,
            reason=reason,
            error_type=error_type,
            error=error_text,
            message_id=message_id,
        )
        flat: list[bytes] = []
        for name, value in fields.items():
            flat += [name, value]
        with self._client.translate_errors("EVALSHA", key=self.stream):
            moved = await self._dead_letter(
                keys=[self.stream, self.keys.dead_letters], args=[cfg.group, entry_id, *flat]
            )
        if int(moved):
            self._counts["dead_lettered"] += 1
            if self._hooks is not None:
                self._hooks.count("dead_letters_total")
                await self._hooks.record("dead_lettered", "failure", message_id, reason.value)
            log.warning(
                "dead-lettered %s entry %s after %d attempt(s): %s %s",
                self.stream,
                entry_id,
                attempt,
                reason.value,
                error_type,
            )
