"""``GET /metrics``: the gateway's counters in Prometheus text format, checked by its parser."""

from __future__ import annotations

from typing import Any

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayApp, GatewayConfig, create_app
from redis_fintech_sdk.gateway._prometheus import Family, render
from redis_fintech_sdk.gateway.testclient import request
from redis_fintech_sdk.security import RateLimit

from .gw_hooks import MemoryLimiter
from .gw_tokens import VERIFIER, auth, token

parser = pytest.importorskip("prometheus_client.parser")

pytestmark = pytest.mark.anyio

ADMIN = ("rfsdk.gateway.admin", "read")

FAMILIES = {
    "rfsdk_gateway_clients": "gauge",
    "rfsdk_gateway_subscriptions": "gauge",
    "rfsdk_gateway_connections": "counter",
    "rfsdk_gateway_messages_received": "counter",
    "rfsdk_gateway_messages_fanned_out": "counter",
    "rfsdk_gateway_messages_dropped": "counter",
    "rfsdk_gateway_messages_missed": "counter",
    "rfsdk_gateway_bad_frames": "counter",
    "rfsdk_gateway_auth_refusals": "counter",
    "rfsdk_gateway_rate_limited": "counter",
    "rfsdk_gateway_admin_publishes": "counter",
    "rfsdk_gateway_audit_errors": "counter",
    "rfsdk_gateway_resumes": "counter",
    "rfsdk_gateway_messages_replayed": "counter",
    "rfsdk_gateway_resume_gaps": "counter",
    "rfsdk_gateway_upstream_connected": "gauge",
    "rfsdk_gateway_redis_up": "gauge",
    "rfsdk_gateway_uptime_seconds": "gauge",
}


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as ``(name, sorted labels) -> value``, through prometheus_client's parser."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _app(**kw: Any) -> GatewayApp:
    client = AsyncClient.from_url("redis://127.0.0.1:1/0")  # never connected: redis_up 0
    return create_app(client, tokens=VERIFIER, **kw)


def test_render_escapes_and_parses_back() -> None:
    text = render(
        [
            Family("x_total", "counter", "help with \\ and\nnewline", (({"k": 'a"b\\c\nd'}, 3),)),
            Family("y", "gauge", "a float", (({}, 1.5),)),
        ]
    )
    assert 'x_total{k="a\\"b\\\\c\\nd"} 3\n' in text
    assert "# HELP x_total help with \\\\ and\\nnewline\n" in text
    samples = parse(text)
    assert samples[("x_total", (("k", 'a"b\\c\nd'),))] == 3
    assert samples[("y", ())] == 1.5


async def test_metrics_endpoint_needs_admin_and_counts_refusals() -> None:
    app = _app(connect_limiter=MemoryLimiter(RateLimit(rate=1, period=60, burst=1)))
    reader = auth(token(("market.*", "subscribe")))
    assert (await request(app, "GET", "/metrics")).status == 401
    assert (await request(app, "GET", "/metrics", headers=reader)).status == 403
    stream = "channels=market.price.AAPL"
    assert (await request(app, "GET", "/v1/stream", query=stream, headers=reader)).status == 503
    assert (await request(app, "GET", "/v1/stream", query=stream, headers=reader)).status == 429

    r = await request(app, "GET", "/metrics", headers=auth(token(ADMIN)))
    assert r.status == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f.type for f in parser.text_string_to_metric_families(r.body.decode())}
    assert families == FAMILIES
    samples = parse(r.body.decode())
    assert samples[("rfsdk_gateway_auth_refusals_total", (("code", "unauthorized"),))] == 1
    assert samples[("rfsdk_gateway_auth_refusals_total", (("code", "forbidden"),))] == 1
    assert samples[("rfsdk_gateway_rate_limited_total", (("action", "connect"),))] == 1
    assert samples[("rfsdk_gateway_rate_limited_total", (("action", "publish"),))] == 0
    assert samples[("rfsdk_gateway_clients", (("transport", "sse"),))] == 0
    assert samples[("rfsdk_gateway_redis_up", ())] == 0  # nothing listens on port 1
    assert samples[("rfsdk_gateway_messages_fanned_out_total", ())] == 0
    # The JSON document tells the same story.
    access = (await request(app, "GET", "/v1/metrics", headers=auth(token(ADMIN)))).json()
    assert access["access"] == {
        "connections": {},
        "unauthorized": 1,
        "forbidden": 1,
        "rate_limited": {"connect": 1},
        "admin_publishes": 0,
        "audit_errors": 0,
    }


async def test_public_metrics_serves_prometheus_without_a_token() -> None:
    app = _app(config=GatewayConfig(public_metrics=True))
    r = await request(app, "GET", "/metrics")
    assert r.status == 200
    assert ("rfsdk_gateway_subscriptions", ()) in parse(r.body.decode())
    assert (await request(app, "POST", "/metrics")).status == 405
