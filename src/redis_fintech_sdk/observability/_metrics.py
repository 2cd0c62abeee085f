"""The one metrics interface the SDK reports into, its catalogue, and two plain backends.

The interface (:class:`Metrics`, :class:`NoopMetrics`) and the catalogue
(:data:`SDK_METRICS`) live in :mod:`redis_fintech_sdk.hooks`, where the Pub/Sub and Streams
layers can reach them; they are re-exported here.

Publishers, subscribers, stream consumers, breakers and retry loops call
:meth:`Metrics.inc` / :meth:`Metrics.set` / :meth:`Metrics.observe` with a name from
:data:`SDK_METRICS`; a backend turns that into Prometheus (:class:`PrometheusMetrics`),
OpenTelemetry (:class:`OpenTelemetryMetrics`) or memory (:class:`InMemoryMetrics`). The
default (``metrics=None``) reports nothing and costs one ``is None`` test.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.hooks import (
    BREAKER_STATE_VALUES,
    LATENCY_BUCKETS,
    SDK_METRICS,
    Labels,
    MetricKind,
    Metrics,
    MetricSpec,
    NoopMetrics,
)
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerListener, StateChange

__all__ = [
    "BREAKER_STATE_VALUES",
    "SDK_METRICS",
    "BreakerMetricsListener",
    "InMemoryMetrics",
    "LATENCY_BUCKETS",
    "MetricKind",
    "MetricSpec",
    "Metrics",
    "MultiMetrics",
    "NoopMetrics",
]


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
