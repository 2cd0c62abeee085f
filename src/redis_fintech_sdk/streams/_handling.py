"""How a stream consumer handles one entry: checks, breaker permit, handler, outcome.

A mixin of :class:`~redis_fintech_sdk.streams.StreamConsumer` (kept apart so that each
module stays small), built on the settling (:mod:`._settle`) and breaker
(:mod:`._breaker_gate`) mixins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from redis_fintech_sdk.errors import CodecError, RedisError
from redis_fintech_sdk.resilience import Permit, is_retryable
from redis_fintech_sdk.streams._breaker_gate import BreakerGate
from redis_fintech_sdk.streams._codec import frame_message_id
from redis_fintech_sdk.streams._config import FRAME_FIELD, AckPolicy
from redis_fintech_sdk.streams._deadletter import DeadLetterReason
from redis_fintech_sdk.streams._decisions import Outcome, decide_delivery, decide_outcome
from redis_fintech_sdk.streams._errors import is_nogroup
from redis_fintech_sdk.streams._message import Effects, StreamMessage
from redis_fintech_sdk.streams._settle import Settling

__all__ = ["Handling"]

log = logging.getLogger("redis_fintech_sdk.streams")


class Handling(Settling, BreakerGate):
    """Per-entry processing of a stream consumer."""

    _handler: Callable[[StreamMessage], Awaitable[None]]
    _slots: anyio.Semaphore
    _running: set[str]

    async def _process(self, entry_id: str, fields: Any, attempt: int) -> None:
        try:
            await self._handle(entry_id, fields or {}, attempt)
        except RedisError as exc:
            if not is_retryable(exc) and not is_nogroup(exc):
                raise
            # The entry stays pending; the reclaim loop delivers it again.
            log.warning(
                "stream %s entry %s: %s; left pending", self.stream, entry_id, type(exc).__name__
            )
        finally:
            self._running.discard(entry_id)
            self._leased.pop(entry_id, None)
            self._release_unused(self._probes.pop(entry_id, None))
            self._counts["in_flight"] -= 1
            self._slots.release()
            if self.config.breaker is not None:
                self._wake_paused()

    async def _handle(self, entry_id: str, fields: Any, attempt: int) -> None:
        cfg = self.config
        frame = fields.get(FRAME_FIELD)
        if frame is None:
            await self._to_dead_letters(
                entry_id, None, attempt, DeadLetterReason.MALFORMED_ENTRY, None
            )
            return
        if decide_delivery(attempt, cfg.max_attempts) is Outcome.DEAD_LETTER:
            await self._to_dead_letters(
                entry_id, frame, attempt, DeadLetterReason.MAX_DELIVERIES, None
            )
            return
        try:
            envelope = self.codec.decode(frame, channel=self.stream)
        except CodecError as exc:
            self._counts["undecodable"] += 1
            if self._hooks is not None:
                self._hooks.count("decode_errors_total", reason=type(exc).__name__)
            await self._to_dead_letters(entry_id, frame, attempt, DeadLetterReason.UNDECODABLE, exc)
            return
        message_id = frame_message_id(self.codec, frame)
        marker = None
        if self.idempotency is not None:
            marker = self.keys.processed_marker(cfg.group, message_id or entry_id)
            with self._client.translate_errors("EXISTS", key=marker):
                seen = await self._client.redis.exists(marker)
            if seen:
                self._counts["duplicates_skipped"] += 1
                self._queue_ack(entry_id)
                return
        permitted, permit = self._permit_for(entry_id)
        if not permitted:
            await self._defer(entry_id, attempt)
            return
        msg = StreamMessage(
            entry_id=entry_id,
            stream=self.stream,
            group=cfg.group,
            consumer=cfg.consumer,
            attempt=attempt,
            frame=frame,
            envelope=envelope,
            message_id=message_id,
            effects=Effects() if marker is not None else None,
            settle=self._settle,
        )
        if cfg.ack_policy is AckPolicy.ACK_FIRST:
            self._queue_ack(entry_id)
        elif cfg.renew_leases:
            self._leased[entry_id] = time.monotonic()
        error = await self._run_handler(msg, permit)
        self._leased.pop(entry_id, None)
        if msg.settled:
            return
        if self._outage(error):
            await self._defer(entry_id, attempt)
            if self._hooks is not None and self._hooks.audit is not None:
                reason = f"deferred, breaker open: {type(error).__name__}"
                await self._hooks.record("consumed", "failure", message_id or entry_id, reason)
            return
        outcome = decide_outcome(
            cfg.ack_policy, failed=error is not None, attempt=attempt, max_attempts=cfg.max_attempts
        )
        if self._hooks is not None and self._hooks.audit is not None:
            await self._audit_outcome(outcome, message_id or entry_id, error)
        if outcome is Outcome.ACK and marker is not None and msg.effects is not None:
            await self._commit_exactly_once(entry_id, marker, msg.effects)
        elif outcome is Outcome.ACK:
            self._queue_ack(entry_id)
        elif outcome is Outcome.NACK:
            await self._nack(entry_id)
        elif outcome is Outcome.DEAD_LETTER:
            await self._to_dead_letters(
                entry_id, frame, attempt, DeadLetterReason.HANDLER_ERROR, error, message_id
            )

    async def _run_handler(self, msg: StreamMessage, permit: Permit | None) -> Exception | None:
        """Run the handler (with hooks and timeout); its failure is data, not a crash."""
        try:
            await self._call_handler(msg)
        except Exception as exc:
            self._release(permit, exc)
            self._counts["failed"] += 1
            log.info(
                "handler failed on %s entry %s (attempt %d): %s",
                self.stream,
                msg.entry_id,
                msg.attempt,
                type(exc).__name__,
            )
            return exc
        except BaseException as exc:  # cancelled: the breaker ignores it
            self._release(permit, exc)
            raise
        self._release(permit, None)
        self._counts["handled"] += 1
        return None

    async def _call_handler(self, msg: StreamMessage) -> None:
        timeout = self.config.handler_timeout
        if timeout is None:
            await self._call_hooked(msg)
            return
        with anyio.move_on_after(timeout) as scope:
            try:
                await self._call_hooked(msg)
            except Exception:
                if not scope.cancel_called:
                    raise
                # raised while being cancelled for the timeout: it is the timeout
        if scope.cancel_called:
            # Once the deadline passed the call was cancelled, whatever it did with that:
            # its work may be partial, so it is a failed attempt.
            self._counts["handler_timeouts"] += 1
            raise TimeoutError(f"handler timed out after {timeout:g} s")

    async def _call_hooked(self, msg: StreamMessage) -> None:
        if self._hooks is None:
            await self._handler(msg)
        else:
            await self._hooks.handle(self._handler, msg)

    async def _audit_outcome(
        self, outcome: Outcome, message_id: str, error: BaseException | None
    ) -> None:
        assert self._hooks is not None
        if outcome is Outcome.ACK:
            await self._hooks.record("acked", "success", message_id)
        elif outcome is Outcome.NACK:
            reason = f"attempt failed: {type(error).__name__}"
            await self._hooks.record("consumed", "failure", message_id, reason)
        # dead letters are recorded when the move succeeded (Settling._to_dead_letters)
