"""Observability: typed server metrics, SDK metrics (Prometheus, OpenTelemetry), tracing, health.

* Server side: :class:`ServerInfo` (every ``INFO`` section), ``CLIENT LIST``, ``SLOWLOG``,
  ``LATENCY``, ``MEMORY STATS``, Pub/Sub and consumer-group lag, gathered by
  :func:`collect_snapshot` into a :class:`ServerSnapshot`.
* SDK side: the :class:`Metrics` protocol that publishers, subscribers and consumers report
  into, with :class:`NoopMetrics`, :class:`InMemoryMetrics`, :class:`PrometheusMetrics` and
  :class:`OpenTelemetryMetrics`.
* Tracing: W3C ``traceparent`` carried in the envelope header; :func:`inject`,
  :func:`extract`, :func:`publish_span`, :func:`consume_span`, and
  :class:`OpenTelemetryTracing`, the ``tracing=`` hook of publishers and consumers.
* Health: :class:`HealthServer` serving ``/healthz``, ``/readyz`` and ``/metrics``.

See ``docs/observability.md``.
"""

from redis_fintech_sdk.observability._collect import (
    ServerSnapshot,
    collect_snapshot,
    collect_snapshot_sync,
    snapshot_steps,
)
from redis_fintech_sdk.observability._exporters import OpenTelemetryMetrics, PrometheusMetrics
from redis_fintech_sdk.observability._health import (
    CheckResult,
    HealthServer,
    ReadinessCheck,
    breaker_check,
    lag_check,
    redis_check,
)
from redis_fintech_sdk.observability._info import (
    INFO_SECTIONS,
    CommandStat,
    KeyspaceStat,
    ServerInfo,
    parse_info_text,
)
from redis_fintech_sdk.observability._metrics import (
    BREAKER_STATE_VALUES,
    SDK_METRICS,
    BreakerMetricsListener,
    InMemoryMetrics,
    MetricKind,
    Metrics,
    MetricSpec,
    MultiMetrics,
    NoopMetrics,
)
from redis_fintech_sdk.observability._replies import (
    ClientInfo,
    GroupLag,
    LatencyEvent,
    PubSubStats,
    SlowlogEntry,
    SlowlogReport,
    analyze_slowlog,
    parse_client_list,
    parse_latency_latest,
    parse_memory_stats,
    parse_slowlog,
    parse_stream_groups,
)
from redis_fintech_sdk.observability._tracing import (
    TRACE_HEADERS,
    OpenTelemetryTracing,
    consume_span,
    extract,
    get_tracer,
    inject,
    publish_span,
    trace_headers,
)

__all__ = [
    "BREAKER_STATE_VALUES",
    "BreakerMetricsListener",
    "CheckResult",
    "ClientInfo",
    "CommandStat",
    "GroupLag",
    "HealthServer",
    "INFO_SECTIONS",
    "InMemoryMetrics",
    "KeyspaceStat",
    "LatencyEvent",
    "MetricKind",
    "MetricSpec",
    "Metrics",
    "MultiMetrics",
    "NoopMetrics",
    "OpenTelemetryMetrics",
    "OpenTelemetryTracing",
    "PrometheusMetrics",
    "PubSubStats",
    "ReadinessCheck",
    "SDK_METRICS",
    "ServerInfo",
    "ServerSnapshot",
    "SlowlogEntry",
    "SlowlogReport",
    "TRACE_HEADERS",
    "analyze_slowlog",
    "breaker_check",
    "collect_snapshot",
    "collect_snapshot_sync",
    "consume_span",
    "extract",
    "get_tracer",
    "inject",
    "lag_check",
    "parse_client_list",
    "parse_info_text",
    "parse_latency_latest",
    "parse_memory_stats",
    "parse_slowlog",
    "parse_stream_groups",
    "publish_span",
    "redis_check",
    "snapshot_steps",
    "trace_headers",
]
