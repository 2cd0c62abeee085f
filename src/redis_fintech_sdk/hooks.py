"""Hooks: the small protocols the Pub/Sub and Streams classes report into and ask (L0).

Publishers, subscribers, stream producers and consumers (layer L3) accept these as
keyword-only constructor arguments; ``observability`` and ``security`` (also L3) provide the
implementations. Sibling layers never import each other: they meet here.

* :class:`Metrics` — ``inc``/``set``/``observe`` with names from :data:`SDK_METRICS`;
  ``observability.PrometheusMetrics``, ``OpenTelemetryMetrics``, ``InMemoryMetrics``.
* :class:`Tracing` — a span around each publish (it adds ``traceparent`` to the envelope
  header) and around each handled message; ``observability.OpenTelemetryTracing``.
* :class:`ChannelPolicy` — ``check_*`` before any I/O; ``security.Authorizer``.
* :class:`AuditSink` — ``await record(kind=…, actor=…, …)``; ``security.AsyncAuditLog``.
* :class:`Limiter` — ``await acquire(subject)``; ``security.AsyncRateLimiter``.

``SyncAuditSink`` and ``SyncLimiter`` are what the generated sync twins (``Publisher``,
``StreamProducer``) call; ``security.AuditLog`` and ``security.RateLimiter`` provide them.

Every argument defaults to ``None``, which costs one ``is None`` test on the hot path; the
``Noop*`` classes here behave the same and are treated as ``None``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

__all__ = [
    "AuditSink",
    "BREAKER_STATE_VALUES",
    "ChannelPolicy",
    "LATENCY_BUCKETS",
    "Labels",
    "Limiter",
    "MetricKind",
    "MetricSpec",
    "Metrics",
    "NoopAuditSink",
    "NoopLimiter",
    "NoopMetrics",
    "NoopTracing",
    "SDK_METRICS",
    "SyncAuditSink",
    "SyncLimiter",
    "Tracing",
    "active",
    "channel_family",
    "frame_ids",
    "principal_id",
    "with_trace",
]

T = TypeVar("T")
_TRACE_KEYS = ("traceparent", "tracestate")

MetricKind = Literal["counter", "gauge", "histogram"]
Labels = Mapping[str, str]

#: Handler latencies: 100 µs … 10 s.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of the catalogue.

    Attributes:
        name: name without the namespace (``messages_published_total``).
        kind: ``counter``, ``gauge`` or ``histogram``.
        help: one-line description.
        labels: label names, in order.
        buckets: histogram buckets (seconds).
    """

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS


def _spec(name: str, kind: MetricKind, help: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, kind, help, labels)


_STREAM = ("stream", "group")

#: Every metric the SDK reports. Label values should be channel or stream *families*
#: (``market.price``), not one value per symbol, to keep cardinality bounded.
SDK_METRICS: Mapping[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec("messages_published_total", "counter", "Messages published", "channel", "kind"),
        _spec("publish_errors_total", "counter", "Publishes that failed", "channel", "error"),
        _spec("messages_delivered_total", "counter", "Messages delivered", "channel", "kind"),
        _spec("messages_dropped_total", "counter", "Messages dropped", "channel", "policy"),
        _spec("sequence_gaps_total", "counter", "Per-producer sequence gaps detected", "channel"),
        _spec("messages_missed_total", "counter", "Messages lost in detected gaps", "channel"),
        _spec("decode_errors_total", "counter", "Frames not decoded", "channel", "reason"),
        _spec("retries_total", "counter", "Operations retried", "operation"),
        _spec("reconnects_total", "counter", "Connections re-established", "component"),
        _spec("connection_errors_total", "counter", "Connection failures", "component"),
        _spec("messages_acked_total", "counter", "Stream entries acknowledged", *_STREAM),
        _spec("messages_reclaimed_total", "counter", "Stream entries reclaimed", *_STREAM),
        _spec("dead_letters_total", "counter", "Entries moved to a dead-letter stream", *_STREAM),
        _spec("authorization_denied_total", "counter", "Operations refused", "action"),
        _spec("circuit_breaker_state", "gauge", "0 closed, 1 half-open, 2 open", "breaker"),
        _spec("consumer_lag", "gauge", "Entries not yet delivered to a group", *_STREAM),
        _spec("consumer_pending", "gauge", "Entries delivered but not acknowledged", *_STREAM),
        _spec("subscriber_buffer_size", "gauge", "Messages buffered", "channel"),
        _spec("handler_duration_seconds", "histogram", "Time spent in message handlers", "channel"),
        _spec("publish_duration_seconds", "histogram", "Time to publish one message", "channel"),
    )
}  # fmt: skip

#: Gauge values of ``circuit_breaker_state`` by breaker state name.
BREAKER_STATE_VALUES: Mapping[str, float] = {
    "closed": 0.0,
    "disabled": 0.0,
    "metrics_only": 0.0,
    "half_open": 1.0,
    "open": 2.0,
    "forced_open": 2.0,
}


@runtime_checkable
class Metrics(Protocol):
    """Where SDK components report. Implementations must be thread-safe and never raise."""

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Add ``amount`` to the counter ``name``."""

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Set the gauge ``name``."""

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Record ``value`` (seconds for durations) in the histogram ``name``."""


class NoopMetrics:
    """Discards everything (the default)."""

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Do nothing."""

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Do nothing."""

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Do nothing."""


def channel_family(name: str) -> str:
    """The metric label of a channel: ``<domain>.<kind>`` without tenant or qualifiers.

    ``market.price.AAPL`` → ``market.price``; ``tenant:acme:notify.user.42`` →
    ``notify.user``. A name without a dot is its own family.
    """
    if name.startswith("tenant:"):
        name = name.split(":", 2)[-1]
    first = name.find(".")
    if first < 0:
        return name
    second = name.find(".", first + 1)
    return name if second < 0 else name[:second]


@runtime_checkable
class Tracing(Protocol):
    """Spans around publishing and handling. Must not raise; attributes never hold payloads."""

    def publish_span(
        self, channel: str, headers: MutableMapping[str, str], *, operation: str = "publish"
    ) -> AbstractContextManager[object]:
        """A producer span; on entry writes ``traceparent``/``tracestate`` into ``headers``.

        Args:
            channel: channel or stream name.
            headers: the dict whose trace entries go into the envelope header.
            operation: ``publish`` (Pub/Sub) or ``send`` (XADD).
        """
        ...

    def consume_span(
        self, channel: str, carrier: Any, *, operation: str = "process"
    ) -> AbstractContextManager[object]:
        """A consumer span continuing the trace carried by ``carrier`` (an envelope/header).

        Args:
            channel: channel or stream the message came from.
            carrier: the decoded envelope or its plaintext header.
            operation: ``process`` or ``receive``.
        """
        ...


_NULL: AbstractContextManager[object] = contextlib.nullcontext()


class NoopTracing:
    """No spans, no headers (the default)."""

    def publish_span(
        self, channel: str, headers: MutableMapping[str, str], *, operation: str = "publish"
    ) -> AbstractContextManager[object]:
        """A context manager that does nothing."""
        return _NULL

    def consume_span(
        self, channel: str, carrier: Any, *, operation: str = "process"
    ) -> AbstractContextManager[object]:
        """A context manager that does nothing."""
        return _NULL


@runtime_checkable
class ChannelPolicy(Protocol):
    """What the Pub/Sub and Streams layers ask before acting. Each method raises to refuse.

    ``principal`` is whatever the application passed to the component (a
    ``security.Principal`` for the SDK's own policies); it may be ``None``.
    """

    def check_publish(self, channel: str, principal: Any = None) -> None:
        """Before ``PUBLISH``/``SPUBLISH`` to ``channel``.

        Raises:
            AuthorizationError: refused; ``.channel`` names the channel.
        """

    def check_subscribe(self, channel: str, principal: Any = None) -> None:
        """Before ``SUBSCRIBE``/``SSUBSCRIBE`` (a name) or ``PSUBSCRIBE`` (a glob).

        Raises:
            AuthorizationError: refused; ``.channel`` names the channel or pattern.
        """

    def check_produce(self, stream: str, principal: Any = None) -> None:
        """Before ``XADD`` to ``stream``.

        Raises:
            AuthorizationError: refused; ``.channel`` names the stream.
        """

    def check_consume(self, stream: str, principal: Any = None) -> None:
        """Before reading ``stream`` in a consumer group (``XREADGROUP``/``XACK``).

        Raises:
            AuthorizationError: refused; ``.channel`` names the stream.
        """


def principal_id(principal: Any) -> str:
    """The actor written to audit events: ``principal.id``, else ``"anonymous"``."""
    value = getattr(principal, "id", None)
    return value if isinstance(value, str) and value else "anonymous"


@runtime_checkable
class AuditSink(Protocol):
    """Receives security events (identifiers only: never payloads, never secrets)."""

    async def record(
        self,
        *,
        kind: str,
        actor: str,
        outcome: str = "success",
        channel: str = "",
        message_id: str = "",
        key_id: str = "",
        reason: str = "",
    ) -> None:
        """Record one event.

        Args:
            kind: ``published``, ``consumed``, ``acked``, ``dead_lettered``,
                ``permission_denied``, ``rate_limited`` … (``security.AuditKind``).
            actor: who acted.
            outcome: ``success``, ``failure`` or ``denied``.
            channel: the channel or stream.
            message_id: the message id.
            key_id: the encryption key id (never the key).
            reason: a short reason (never payload data).
        """
        ...


@runtime_checkable
class SyncAuditSink(Protocol):
    """The blocking :class:`AuditSink` that the sync twins call."""

    def record(
        self,
        *,
        kind: str,
        actor: str,
        outcome: str = "success",
        channel: str = "",
        message_id: str = "",
        key_id: str = "",
        reason: str = "",
    ) -> None:
        """Record one event (see :meth:`AuditSink.record`)."""
        ...


class NoopAuditSink:
    """Records nothing."""

    async def record(
        self,
        *,
        kind: str,
        actor: str,
        outcome: str = "success",
        channel: str = "",
        message_id: str = "",
        key_id: str = "",
        reason: str = "",
    ) -> None:
        """Do nothing."""


@runtime_checkable
class Limiter(Protocol):
    """A rate limit per subject; ``acquire`` raises ``RateLimitedError(retry_after)``."""

    async def acquire(self, subject: str) -> object:
        """Take one unit of ``subject``'s allowance.

        Raises:
            RateLimitedError: over the limit; ``retry_after`` says when to try again.
        """
        ...


@runtime_checkable
class SyncLimiter(Protocol):
    """The blocking :class:`Limiter` that the sync twins call."""

    def acquire(self, subject: str) -> object:
        """Take one unit (see :meth:`Limiter.acquire`).

        Raises:
            RateLimitedError: over the limit.
        """
        ...


class NoopLimiter:
    """Never limits."""

    async def acquire(self, subject: str) -> object:
        """Allow."""
        return None


# ---------------------------------------------------------------- helpers for the wiring


def active(hook: T | None) -> T | None:
    """``hook``, or ``None`` when it is ``None`` or one of the ``Noop*`` defaults.

    Components store the result, so an unused hook costs one ``is None`` test.
    """
    if isinstance(hook, (NoopMetrics, NoopTracing, NoopAuditSink, NoopLimiter)):
        return None
    return hook


def with_trace(
    message: Any, options: Mapping[str, Any], trace: Mapping[str, str]
) -> tuple[Any, Mapping[str, Any]]:
    """Put the trace context a span wrote into ``trace`` into the message's envelope header.

    An Envelope that already carries a ``traceparent`` keeps it, and so do explicit
    ``traceparent=`` / ``tracestate=`` codec options.
    """
    carried = {k: trace[k] for k in _TRACE_KEYS if trace.get(k)}
    if not carried:
        return message, options
    if isinstance(getattr(message, "type", None), str) and hasattr(message, "replace"):
        if getattr(message, "traceparent", None):
            return message, options
        return message.replace(**carried), options
    return message, {**carried, **options}


def frame_ids(codec: Any, frame: bytes | None) -> tuple[str, str]:
    """``(message id, key id)`` from a frame's plaintext header (``""`` when unknown).

    For audit events: identifiers only, read without decrypting anything.
    """
    if frame is None or codec is None:
        return "", ""
    try:
        header = codec.peek_header(frame)
    except Exception:  # hostile or raw frames: the audit event just lacks the ids
        return "", ""
    mid = getattr(header, "message_id", None)
    kid = getattr(header, "key_id", None)
    return (mid if isinstance(mid, str) else ""), ("" if kid is None else str(kid))
