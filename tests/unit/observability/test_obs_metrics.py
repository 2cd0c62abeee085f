"""The Metrics interface, the Prometheus exporter scraped over HTTP, OTel, and the breaker hook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.observability import (
    BreakerMetricsListener,
    CheckResult,
    HealthServer,
    InMemoryMetrics,
    Metrics,
    MultiMetrics,
    NoopMetrics,
    OpenTelemetryMetrics,
    PrometheusMetrics,
    breaker_check,
    lag_check,
)
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerConfig


def _feed(metrics: Metrics) -> None:
    """What a publisher and a subscriber would report for a small run."""
    for _ in range(7):
        metrics.inc(
            "messages_published_total", labels={"channel": "market.price", "kind": "pubsub"}
        )
    for _ in range(5):
        metrics.inc(
            "messages_delivered_total", labels={"channel": "market.price", "kind": "pubsub"}
        )
        metrics.observe("handler_duration_seconds", 0.002, {"channel": "market.price"})
    metrics.inc("messages_dropped_total", 2, {"channel": "market.price", "policy": "drop_oldest"})
    metrics.inc("sequence_gaps_total", labels={"channel": "market.price"})
    metrics.set("consumer_lag", 42, {"stream": "orders", "group": "settle"})


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read(), resp.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read(), err.headers["Content-Type"]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_prometheus_endpoint_is_scraped_and_matches_what_was_reported() -> None:
    prom = PrometheusMetrics()
    _feed(prom)
    with HealthServer("127.0.0.1", 0, metrics=prom) as server:
        status, body, ctype = _get(server.url + "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain")
    got = _samples(body.decode())
    ch = ("channel", "market.price")
    assert got[("rfsdk_messages_published_total", (ch, ("kind", "pubsub")))] == 7
    assert got[("rfsdk_messages_delivered_total", (ch, ("kind", "pubsub")))] == 5
    assert got[("rfsdk_messages_dropped_total", (ch, ("policy", "drop_oldest")))] == 2
    assert got[("rfsdk_sequence_gaps_total", (ch,))] == 1
    assert got[("rfsdk_consumer_lag", (("group", "settle"), ("stream", "orders")))] == 42
    assert got[("rfsdk_handler_duration_seconds_count", (ch,))] == 5
    assert got[("rfsdk_handler_duration_seconds_bucket", (ch, ("le", "0.0025")))] == 5
    assert got[("rfsdk_handler_duration_seconds_bucket", (ch, ("le", "0.001")))] == 0


def test_in_memory_and_multi_backends_agree() -> None:
    mem, mem2 = InMemoryMetrics(), InMemoryMetrics()
    _feed(MultiMetrics(mem, mem2, NoopMetrics()))
    for m in (mem, mem2):
        assert m.value("messages_published_total", channel="market.price", kind="pubsub") == 7
        assert m.total("messages_dropped_total") == 2
        assert m.samples("handler_duration_seconds", channel="market.price") == [0.002] * 5
    assert isinstance(NoopMetrics(), Metrics)
    assert isinstance(PrometheusMetrics(), Metrics)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("inc", ("no_such_metric", 1, {})),
        ("set", ("messages_published_total", 1, {"channel": "c", "kind": "pubsub"})),  # kind
        ("inc", ("messages_published_total", 1, {"channel": "c"})),  # labels
        ("inc", ("messages_published_total", -1, {"channel": "c", "kind": "pubsub"})),
    ],
)
def test_misuse_is_refused(call: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError):
        getattr(InMemoryMetrics(), call)(*args)


def test_opentelemetry_meter() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        _feed(OpenTelemetryMetrics(provider))
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    assert data is not None
    points: dict[str, Any] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points[metric.name] = list(metric.data.data_points)
    assert points["rfsdk.messages_published_total"][0].value == 7
    assert points["rfsdk.messages_dropped_total"][0].attributes["policy"] == "drop_oldest"
    assert points["rfsdk.handler_duration_seconds"][0].count == 5
    assert points["rfsdk.consumer_lag"][0].value == 42


def test_breaker_state_and_readiness() -> None:
    metrics = InMemoryMetrics()
    breaker = CircuitBreaker("redis", CircuitBreakerConfig(consecutive_failures=1))
    breaker.add_listener(BreakerMetricsListener(metrics))
    lag = {"value": 5}
    checks = {
        "breaker": breaker_check(breaker),
        "lag": lag_check(lambda: lag["value"], threshold=10),
    }
    with HealthServer(checks=checks) as server:
        status, body, _ = _get(server.url + "/readyz")
        assert status == 200
        assert json.loads(body)["ready"] is True
        assert _get(server.url + "/healthz")[0] == 200
        assert _get(server.url + "/metrics")[0] == 404  # no Prometheus registry given
        breaker.force_open()
        lag["value"] = 11
        status, body, _ = _get(server.url + "/readyz")
        result = json.loads(body)
        assert status == 503
        assert result["ready"] is False
        assert result["checks"]["breaker"] == {"ok": False, "detail": "forced_open"}
        assert result["checks"]["lag"]["ok"] is False
        assert metrics.value("circuit_breaker_state", breaker="redis") == 2.0
        breaker.reset()
        assert metrics.value("circuit_breaker_state", breaker="redis") == 0.0

        def broken() -> CheckResult:
            raise RuntimeError("password=hunter2 leaked?")

        server.add_check("broken", broken)
        status, body, _ = _get(server.url + "/readyz")
        assert status == 503
        assert b"hunter2" not in body
    server.close()  # idempotent
