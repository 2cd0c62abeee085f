"""What a subscriber reports to its hooks (metrics, tracing, authorization, audit).

No Redis I/O here: only calls into the hooks the application passed.

:class:`SubscriberHooks` exists only when the application passed at least one hook; the
subscriber tests ``is None`` once per message otherwise.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
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

from ._buffer import MessageBuffer, OverflowPolicy
from ._events import BadFrame, GapDetected, Resubscribed, SubscriberEvent
from ._hooks import LabelCache
from ._subscriptions import Handler, SubscriptionKind
from ._types import Delivery

__all__ = [
    "AuditRecord",
    "SubscriberHooks",
    "authorize",
    "name_refused",
    "observed",
    "safe_record",
]

_log = logging.getLogger("redis_fintech_sdk.pubsub")

AuditRecord = dict[str, str]
"""Keyword arguments of one ``AuditSink.record`` call."""


class SubscriberHooks:
    """The hooks of one subscriber and the label caches they use."""

    def __init__(
        self,
        *,
        metrics: Metrics | None,
        tracing: Tracing | None,
        authorizer: ChannelPolicy | None,
        principal: Any,
        audit: AuditSink | None,
    ) -> None:
        self.metrics = active(metrics)
        self.tracing = active(tracing)
        self.authorizer = authorizer
        self.principal = principal
        self.audit = active(audit)
        self.actor = principal_id(principal)
        self._delivered = LabelCache("kind", "pubsub")
        self._plain = LabelCache()
        self._dropped: dict[tuple[str, str], Mapping[str, str]] = {}
        self._buffered: dict[str, int] = {}  # family -> size at the last sample

    @classmethod
    def create(cls, **hooks: Any) -> SubscriberHooks | None:
        """The hooks, or ``None`` when every one is unset (or a no-op default)."""
        obj = cls(**hooks)
        if obj.metrics is None and obj.tracing is None and obj.audit is None:
            return None if obj.authorizer is None else obj
        return obj

    # ---------------------------------------------------------------- authorization

    def check(
        self, kind: SubscriptionKind, names: Iterable[str]
    ) -> tuple[AuthorizationError | None, list[AuditRecord]]:
        """Ask the authorizer about each name: the first refusal and the audit records.

        The caller records the refusals, then raises the first one.
        """
        refused: AuthorizationError | None = None
        records: list[AuditRecord] = []
        if self.authorizer is None:
            return refused, records
        for name in names:
            try:
                self.authorizer.check_subscribe(name, self.principal)
            except AuthorizationError as exc:
                refused = refused or exc
                if self.metrics is not None:
                    self.metrics.inc("authorization_denied_total", 1.0, {"action": "subscribe"})
                records.append(self.record("permission_denied", name, "denied", kind.value))
        return refused, records

    def record(
        self, kind: str, channel: str, outcome: str, reason: str, message_id: str | None = None
    ) -> AuditRecord:
        """One audit record (identifiers only)."""
        return {
            "kind": kind,
            "actor": self.actor,
            "outcome": outcome,
            "channel": channel[:256],
            "message_id": message_id or "",
            "reason": reason[:256],
        }

    # ---------------------------------------------------------------- data path

    def on_event(self, event: SubscriberEvent) -> AuditRecord | None:
        """Count one lifecycle event; return an audit record for quarantined frames."""
        m = self.metrics
        if isinstance(event, GapDetected):
            if m is not None:
                labels = self._plain(event.gap.channel)
                m.inc("sequence_gaps_total", 1.0, labels)
                m.inc("messages_missed_total", float(event.gap.missed), labels)
        elif isinstance(event, BadFrame):
            if m is not None:
                family = self._plain(event.channel)["channel"]
                m.inc("decode_errors_total", 1.0, {"channel": family, "reason": event.error})
            if self.audit is not None:
                reason = f"bad frame quarantined: {event.error}"
                return self.record("consumed", event.channel, "failure", reason, event.message_id)
        elif isinstance(event, Resubscribed) and m is not None:
            m.inc("reconnects_total", 1.0, {"component": "subscriber"})
        return None

    def delivered(self, delivery: Delivery, *, receive_span: bool) -> None:
        """One message handed to the application (``receive_span``: not to a handler)."""
        if self.metrics is not None:
            self.metrics.inc("messages_delivered_total", 1.0, self._delivered(delivery.channel))
        if receive_span and self.tracing is not None:
            with self.span(delivery.channel, delivery, "receive") or contextlib.nullcontext():
                pass  # marks the receipt in the producer's trace; the app's work follows

    def dropped(self, channel: str, policy: OverflowPolicy, count: int) -> None:
        """``count`` messages of ``channel`` discarded by the buffer's ``policy``."""
        if self.metrics is None or not count:
            return
        family = self._plain(channel)["channel"]
        key = (family, policy.value)
        labels = self._dropped.get(key)
        if labels is None:
            labels = self._dropped[key] = {"channel": family, "policy": policy.value}
        self.metrics.inc("messages_dropped_total", float(count), labels)

    def sample_buffer(self, buf: MessageBuffer[Delivery]) -> None:
        """Set ``subscriber_buffer_size`` per channel family from one pass over ``buf``.

        A family that emptied since the last sample is set to 0 once.
        """
        if self.metrics is None:
            return
        family = self._plain
        counts = buf.count_by(lambda d: family(d.channel)["channel"])
        for gone in self._buffered.keys() - counts.keys():
            self.metrics.set("subscriber_buffer_size", 0.0, {"channel": gone})
        for name, size in counts.items():
            self.metrics.set("subscriber_buffer_size", float(size), {"channel": name})
        self._buffered = counts

    def clear_buffer_gauges(self) -> None:
        """Set ``subscriber_buffer_size`` to 0 for every family reported (on close)."""
        if self.metrics is not None:
            for name in self._buffered:
                self.metrics.set("subscriber_buffer_size", 0.0, {"channel": name})
        self._buffered = {}

    def offer(self, buf: MessageBuffer[Delivery], delivery: Delivery) -> bool:
        """``buf.offer(delivery)``, counting what the overflow policy discarded."""
        policy = buf.policy
        victim = buf.peek_oldest() if buf.full and policy is not OverflowPolicy.BLOCK else None
        oldest, newest, conflated = buf.discarded()
        accepted = buf.offer(delivery)
        oldest2, newest2, conflated2 = buf.discarded()
        self.dropped(delivery.channel, policy, newest2 - newest)
        if oldest2 != oldest:
            channel = victim.channel if victim is not None else delivery.channel
            self.dropped(channel, policy, oldest2 - oldest)
        self.dropped(delivery.channel, policy, conflated2 - conflated)
        return accepted

    def span(
        self, channel: str, delivery: Delivery, operation: str
    ) -> AbstractContextManager[object] | None:
        """A consumer span for ``delivery``, or ``None`` without tracing."""
        if self.tracing is None:
            return None
        carrier = delivery.envelope if delivery.envelope is not None else delivery.header
        return self.tracing.consume_span(channel, carrier, operation=operation)


def name_refused(exc: BaseException, candidates: list[tuple[SubscriptionKind, str]]) -> str | None:
    """Which of our own pending subscriptions a server ``NOPERM`` refers to.

    Redis 7.2+ quotes the refused channel in the error text; we only ever pick a name from
    ``candidates`` (what we sent), so no server text reaches the error. Older servers do
    not quote it: one candidate is then the answer, several are listed.
    """
    if not candidates:
        return None
    text = str(exc)
    for _, name in candidates:
        if f"'{name}'" in text:
            return name
    if len(candidates) == 1:
        return candidates[0][1]
    return ", ".join(name for _, name in candidates)


async def safe_record(hooks: SubscriberHooks, record: AuditRecord) -> None:
    """Hand ``record`` to the audit sink; a failing sink is logged, never raised."""
    if hooks.audit is None:
        return
    try:
        await hooks.audit.record(**record)
    except Exception as exc:  # auditing must never break the subscriber
        _log.warning("audit sink failed (%s); %s not recorded", type(exc).__name__, record["kind"])


async def authorize(hooks: SubscriberHooks, kind: SubscriptionKind, names: Iterable[str]) -> None:
    """The authorizer's verdict on ``names``, before anything is sent; refusals are audited.

    Raises:
        AuthorizationError: refused; ``.channel`` names the channel or pattern.
    """
    refused, records = hooks.check(kind, names)
    for record in records:
        await safe_record(hooks, record)
    if refused is not None:
        raise refused


async def observed(hooks: SubscriberHooks, handler: Handler, delivery: Delivery) -> None:
    """Run one handler inside a consumer span, timing it.

    Raises:
        Exception: whatever the handler raised.
    """
    started = time.perf_counter()
    span = hooks.span(delivery.channel, delivery, "process")
    try:
        with span if span is not None else contextlib.nullcontext():
            result = handler(delivery)
            if inspect.isawaitable(result):
                await result
    finally:
        if hooks.metrics is not None:
            elapsed = time.perf_counter() - started
            labels = {"channel": channel_family(delivery.channel)}
            hooks.metrics.observe("handler_duration_seconds", elapsed, labels)
