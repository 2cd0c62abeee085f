"""Prometheus and OpenTelemetry backends of :class:`Metrics` (optional extras, imported lazily)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import MissingExtraError
from redis_fintech_sdk.hooks import SDK_METRICS, Labels, MetricKind, MetricSpec
from redis_fintech_sdk.observability._metrics import check_metric

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["OpenTelemetryMetrics", "PrometheusMetrics"]


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingExtraError("prometheus", "prometheus_client") from exc
    return prometheus_client


class PrometheusMetrics:
    """:class:`Metrics` backed by prometheus-client (``pip install 'redis-fintech-sdk[prometheus]'``).

    Metrics are created on first use in ``registry`` (a fresh one by default, so two
    instances never clash), named ``<namespace>_<name>``.

    Args:
        registry: the ``CollectorRegistry`` to register in; pass
            ``prometheus_client.REGISTRY`` to share the process-wide one.
        namespace: prefix of every name.
        catalogue: the metrics accepted (default :data:`SDK_METRICS`).

    Raises:
        MissingExtraError: prometheus-client is not installed.
    """  # noqa: E501

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "rfsdk",
        catalogue: Mapping[str, MetricSpec] = SDK_METRICS,
    ) -> None:
        self._prom = _prometheus()
        self.registry: CollectorRegistry = (
            registry if registry is not None else self._prom.CollectorRegistry()
        )
        self.namespace = namespace
        self.catalogue = catalogue
        self._lock = threading.Lock()
        self._instruments: dict[str, Any] = {}

    def _instrument(self, name: str, kind: MetricKind, labels: Labels | None) -> Any:
        spec = check_metric(self.catalogue, name, kind, labels)
        inst = self._instruments.get(name)
        if inst is None:
            with self._lock:
                inst = self._instruments.get(name)
                if inst is None:
                    full = f"{self.namespace}_{name}"
                    common = {"labelnames": spec.labels, "registry": self.registry}
                    if kind == "counter":
                        inst = self._prom.Counter(full, spec.help, **common)
                    elif kind == "gauge":
                        inst = self._prom.Gauge(full, spec.help, **common)
                    else:
                        inst = self._prom.Histogram(full, spec.help, buckets=spec.buckets, **common)
                    self._instruments[name] = inst
        return inst.labels(**labels) if labels else inst

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Add to a counter.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "counter", labels).inc(amount)

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Set a gauge.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "gauge", labels).set(value)

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Record a histogram sample.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "histogram", labels).observe(value)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in the text exposition format: ``(body, content type)``."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST


class OpenTelemetryMetrics:
    """:class:`Metrics` backed by an OpenTelemetry meter (``pip install 'redis-fintech-sdk[otel]'``).

    Args:
        meter_provider: the provider to get the meter from (the global one by default).
        namespace: prefix of every instrument name (``rfsdk.messages_published_total``).
        catalogue: the metrics accepted (default :data:`SDK_METRICS`).

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """  # noqa: E501

    def __init__(
        self,
        meter_provider: Any = None,
        *,
        namespace: str = "rfsdk",
        catalogue: Mapping[str, MetricSpec] = SDK_METRICS,
    ) -> None:
        try:
            from opentelemetry import metrics as otel_metrics
        except ImportError as exc:
            raise MissingExtraError("otel", "opentelemetry-api") from exc
        from redis_fintech_sdk._version import __version__

        provider = meter_provider or otel_metrics.get_meter_provider()
        self.meter = provider.get_meter("redis_fintech_sdk", __version__)
        self.namespace = namespace
        self.catalogue = catalogue
        self._lock = threading.Lock()
        self._instruments: dict[str, Any] = {}

    def _instrument(self, name: str, kind: MetricKind, labels: Labels | None) -> Any:
        spec = check_metric(self.catalogue, name, kind, labels)
        inst = self._instruments.get(name)
        if inst is None:
            with self._lock:
                inst = self._instruments.get(name)
                if inst is None:
                    full = f"{self.namespace}.{name}"
                    if kind == "counter":
                        inst = self.meter.create_counter(full, description=spec.help)
                    elif kind == "gauge":
                        inst = self.meter.create_gauge(full, description=spec.help)
                    else:
                        inst = self.meter.create_histogram(full, unit="s", description=spec.help)
                    self._instruments[name] = inst
        return inst

    def inc(self, name: str, amount: float = 1.0, labels: Labels | None = None) -> None:
        """Add to a counter.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "counter", labels).add(amount, attributes=dict(labels or {}))

    def set(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Set a gauge.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "gauge", labels).set(value, attributes=dict(labels or {}))

    def observe(self, name: str, value: float, labels: Labels | None = None) -> None:
        """Record a histogram sample.

        Raises:
            ConfigurationError: unknown metric, wrong kind or labels.
        """
        self._instrument(name, "histogram", labels).record(value, attributes=dict(labels or {}))
