"""What a stream consumer reports to its hooks (metrics, tracing, authorization, audit).

No Redis I/O here: only calls into the hooks the application passed. The consumer keeps
``None`` instead of a :class:`ConsumerHooks` when none was given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis_fintech_sdk.errors import AuthorizationError
from redis_fintech_sdk.hooks import (
    AuditSink,
    ChannelPolicy,
    Metrics,
    Tracing,
    active,
    channel_family,
    principal_id,
)

__all__ = ["ConsumerHooks"]

log = logging.getLogger("redis_fintech_sdk.streams")


class ConsumerHooks:
    """The hooks of one :class:`~redis_fintech_sdk.streams.StreamConsumer`."""

    def __init__(
        self,
        *,
        stream: str,
        group: str,
        metrics: Metrics | None,
        tracing: Tracing | None,
        authorizer: ChannelPolicy | None,
        principal: Any,
        audit: AuditSink | None,
    ) -> None:
        self.stream = stream
        self.metrics = active(metrics)
        self.tracing = active(tracing)
        self.authorizer = authorizer
        self.principal = principal
        self.audit = active(audit)
        self.actor = principal_id(principal)
        family = channel_family(stream)
        self._delivered = {"channel": family, "kind": "stream"}
        self._channel = {"channel": family}
        self._group = {"stream": family, "group": group}

    @classmethod
    def create(cls, **hooks: Any) -> ConsumerHooks | None:
        """The hooks, or ``None`` when every one is unset (or a no-op default)."""
        obj = cls(**hooks)
        unused = obj.metrics is None and obj.tracing is None and obj.audit is None
        return None if unused and obj.authorizer is None else obj

    def count(self, name: str, amount: int = 1, **extra: str) -> None:
        """Add to a counter labelled by stream and group (or the other fixed label sets)."""
        if self.metrics is None or not amount:
            return
        if name == "messages_delivered_total":
            labels: dict[str, str] = self._delivered
        elif name == "decode_errors_total":
            labels = {**self._channel, **extra}
        elif name == "reconnects_total":
            labels = {"component": "stream_consumer"}
        else:
            labels = self._group
        self.metrics.inc(name, float(amount), labels)

    def gauge(self, name: str, value: float) -> None:
        """Set ``consumer_lag`` / ``consumer_pending`` of this stream and group."""
        if self.metrics is not None:
            self.metrics.set(name, value, self._group)

    async def admit(self) -> None:
        """``check_consume`` before the consumer touches Redis; the verdict is audited.

        ``access`` when granted, ``permission_denied`` when refused.

        Raises:
            AuthorizationError: refused; ``.channel`` names the stream.
        """
        if self.authorizer is None:
            return
        try:
            self.authorizer.check_consume(self.stream, self.principal)
        except AuthorizationError as exc:
            if self.metrics is not None:
                self.metrics.inc("authorization_denied_total", 1.0, {"action": "consume"})
            await self.record("permission_denied", "denied", None, f"consume: {type(exc).__name__}")
            raise
        await self.record("access", "success", None, "consume granted")

    async def record(
        self, kind: str, outcome: str, message_id: str | None, reason: str = ""
    ) -> None:
        """Hand one event to the audit sink; a failing sink is logged, never raised."""
        if self.audit is None:
            return
        try:
            await self.audit.record(
                kind=kind,
                actor=self.actor,
                outcome=outcome,
                channel=self.stream,
                message_id=message_id or "",
                reason=reason[:256],
            )
        except Exception as exc:  # auditing must never break the consumer
            log.warning("audit sink failed (%s); %s not recorded", type(exc).__name__, kind)

    async def handle(self, handler: Callable[[Any], Awaitable[None]], msg: Any) -> None:
        """Run the handler inside a CONSUMER span, timing it.

        Raises:
            Exception: whatever the handler raised.
        """
        started = time.perf_counter()
        span: Any = contextlib.nullcontext()
        if self.tracing is not None:
            span = self.tracing.consume_span(self.stream, msg.envelope)
        try:
            with span:
                await handler(msg)
        finally:
            if self.metrics is not None:
                elapsed = time.perf_counter() - started
                self.metrics.observe("handler_duration_seconds", elapsed, self._channel)
