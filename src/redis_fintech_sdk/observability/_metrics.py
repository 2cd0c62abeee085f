"""The one metrics interface the SDK reports into, its catalogue, and two plain backends.

Publishers, subscribers, stream consumers, breakers and retry loops call
:meth:`Metrics.inc` / :meth:`Metrics.set` / :meth:`Metrics.observe` with a name from
:data:`SDK_METRICS`; a backend turns that into Prometheus (:class:`PrometheusMetrics`),
OpenTelemetry (:class:`OpenTelemetryMetrics`) or memory (:class:`InMemoryMetrics`). The
default is :class:`NoopMetrics`, which costs one method call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerListener, StateChange

__all__ = [
    "BREAKER_STATE_VALUES",
    "SDK_METRICS",
    "BreakerMetricsListener",
    "InMemoryMetrics",
    "MetricKind",
    "MetricSpec",
    "Metrics",
    "MultiMetrics",
    "NoopMetrics",
]

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


#: Every metric the SDK reports. Label values should be channel or stream *families*
#: (``market.price``), not one value per symbol, to keep cardinality bounded.
SDK_METRICS: Mapping[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec("messages_published_total", "counter", "Messages published", "channel", "kind"),
        _spec(
            "messages_delivered_total",
            "counter",
            "Messages delivered to handlers",
            "channel",
            "kind",
        ),
        _spec(
            "messages_dropped_total",
            "counter",
            "Messages dropped by a buffer policy",
            "channel",
            "policy",
        ),
        _spec("sequence_gaps_total", "counter", "Per-producer sequence gaps detected", "channel"),
        _spec("messages_missed_total", "counter", "Messages lost in detected gaps", "channel"),
        _spec(
            "decode_errors_total", "counter", "Frames that failed to decode", "channel", "reason"
        ),
        _spec("retries_total", "counter", "Operations retried", "operation"),
        _spec("reconnects_total", "counter", "Connections re-established", "component"),
        _spec("connection_errors_total", "counter", "Connection failures", "component"),
        _spec(
            "dead_letters_total",
            "counter",
            "Entries moved to a dead-letter stream",
            "stream",
            "group",
        ),
        _spec(
            "circuit_breaker_state",
            "gauge",
            "Breaker state (0 closed, 1 half-open, 2 open)",
            "breaker",
        ),
        _spec("consumer_lag", "gauge", "Entries not yet delivered to a group", "stream", "group"),
        _spec(
            "consumer_pending", "gauge", "Entries delivered but not acknowledged", "stream", "group"
        ),
        _spec(
            "subscriber_buffer_size", "gauge", "Messages waiting in a subscriber buffer", "channel"
        ),
        _spec("handler_duration_seconds", "histogram", "Time spent in message handlers", "channel"),
        _spec("publish_duration_seconds", "histogram", "Time to publish one message", "channel"),
    )
}

#: Gauge values of ``circuit_breaker_state``.
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


def check_metric(
    catalogue: Mapping[str, MetricSpec], name: str, kind: MetricKind, labels: Labels | None
) -> MetricSpec:
    """Return the spec of ``name``, checking its kind and labels.

    Raises:
        ConfigurationError: unknown name, wrong kind or wrong label names.
    """
    spec = catalogue.get(name)
    if spec is None:
        raise ConfigurationError("metric", f"unknown metric {name!r}")
    if spec.kind != kind:
        raise ConfigurationError("metric", f"{name} is a {spec.kind}, not a {kind}")
    given = set(labels or ())
    if given != set(spec.labels):
        raise ConfigurationError(
            "metric", f"{name} takes labels {list(spec.labels)}, got {sorted(given)}"
        )
    return spec


class InMemoryMetrics:
    """Keeps every value in memory: for tests, ``statistics()`` and debugging.

    Args:
        catalogue: the metrics accepted (default :data:`SDK_METRICS`).
    """

    def __init__(self, catalogue: Mapping[str, MetricSpec] = SDK_METRICS) -> None:
        self.catalogue = catalogue
        self._lock = threading.Lock()
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._samples: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}

    @staticmethod
    def _key(name: str, labels: Labels | None) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (name, tuple(sorted((labels or {}).items())))

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Add to a counter.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels, or a negative amount.
        """
        check_metric(self.catalogue, name, "counter", labels)
        if amount < 0:
            raise ConfigurationError("metric", "counters only go up")
        key = self._key(name, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Set a gauge.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        check_metric(self.catalogue, name, "gauge", labels)
        with self._lock:
            self._values[self._key(name, labels)] = value

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Record a histogram sample.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        check_metric(self.catalogue, name, "histogram", labels)
        with self._lock:
            self._samples.setdefault(self._key(name, labels), []).append(value)

    def value(self, name: str, **labels: str) -> float:
        """The current value of a counter or gauge (0 when never reported)."""
        with self._lock:
            return self._values.get(self._key(name, labels), 0.0)

    def samples(self, name: str, **labels: str) -> list[float]:
        """The recorded samples of a histogram."""
        with self._lock:
            return list(self._samples.get(self._key(name, labels), []))

    def total(self, name: str) -> float:
        """A counter summed over every label set."""
        with self._lock:
            return sum(v for (n, _), v in self._values.items() if n == name)


class MultiMetrics:
    """Reports to several backends at once (e.g. Prometheus and OpenTelemetry)."""

    def __init__(self, *backends: Metrics) -> None:
        self.backends: Sequence[Metrics] = backends

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Add to a counter in every backend."""
        for backend in self.backends:
            backend.inc(name, amount, labels)

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Set a gauge in every backend."""
        for backend in self.backends:
            backend.set(name, value, labels)

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Record a histogram sample in every backend."""
        for backend in self.backends:
            backend.observe(name, value, labels)


class BreakerMetricsListener(CircuitBreakerListener):
    """Reports a breaker's state to ``circuit_breaker_state`` on every transition.

    Example:
        >>> breaker.add_listener(BreakerMetricsListener(metrics))  # doctest: +SKIP
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def state_change(self, breaker: CircuitBreaker, change: StateChange) -> None:
        """Set the gauge to the new state."""
        self.metrics.set(
            "circuit_breaker_state",
            BREAKER_STATE_VALUES.get(change.new.value, 2.0),
            {"breaker": breaker.name},
        )
