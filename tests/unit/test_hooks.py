"""hooks.py: the no-op defaults, the helpers, and who implements which protocol."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk import hooks, observability, security
from redis_fintech_sdk.codec import Codec, Envelope, Keyring
from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.hooks import (
    AuditSink,
    ChannelPolicy,
    Limiter,
    Metrics,
    NoopAuditSink,
    NoopLimiter,
    NoopMetrics,
    NoopTracing,
    SyncAuditSink,
    SyncLimiter,
    Tracing,
    active,
    channel_family,
    frame_ids,
    principal_id,
    with_trace,
)
from redis_fintech_sdk.observability import (
    InMemoryMetrics,
    MultiMetrics,
    OpenTelemetryMetrics,
    OpenTelemetryTracing,
    PrometheusMetrics,
)
from redis_fintech_sdk.pubsub import AsyncPublisher
from redis_fintech_sdk.security import (
    AllowAll,
    AsyncAuditLog,
    AsyncRateLimiter,
    AuditLog,
    Authorizer,
    Principal,
    RateLimit,
    RateLimiter,
    RolePolicy,
    TenantPolicy,
    TokenPolicy,
)

URL = "redis://127.0.0.1:1"  # never connected: the objects below do no I/O when built
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_noop_metrics_accepts_everything_and_returns_nothing() -> None:
    m = NoopMetrics()
    m.inc("anything", 5, {"x": "y"})  # no catalogue check, no error, nothing kept
    m.set("anything", 1.0)
    m.observe("anything", 0.1, None)
    assert isinstance(m, Metrics)


def test_noop_tracing_spans_do_nothing() -> None:
    t = NoopTracing()
    headers: dict[str, str] = {}
    with t.publish_span("market.price.AAPL", headers) as span:
        assert span is None
    with t.consume_span("market.price.AAPL", None, operation="receive"):
        pass
    assert headers == {}
    assert isinstance(t, Tracing)


@pytest.mark.anyio
async def test_noop_audit_sink_and_limiter() -> None:
    await NoopAuditSink().record(kind="published", actor="a")
    assert await NoopLimiter().acquire("user:1") is None
    assert isinstance(NoopAuditSink(), AuditSink)
    assert isinstance(NoopLimiter(), Limiter)


def test_active_treats_noop_defaults_as_unset() -> None:
    for noop in (NoopMetrics(), NoopTracing(), NoopAuditSink(), NoopLimiter(), None):
        assert active(noop) is None
    real = InMemoryMetrics()
    assert active(real) is real


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("market.price.AAPL", "market.price"),
        ("market.price", "market.price"),
        ("tenant:acme:notify.user.42", "notify.user"),
        ("trades", "trades"),
        ("market.depth.{XNAS}.AAPL", "market.depth"),
    ],
)
def test_channel_family(name: str, family: str) -> None:
    assert channel_family(name) == family


def test_principal_id() -> None:
    assert principal_id(Principal(id="svc-1")) == "svc-1"
    assert principal_id(None) == "anonymous"
    assert principal_id(object()) == "anonymous"


def test_with_trace_adds_context_without_overriding_the_caller() -> None:
    trace = {"traceparent": TRACEPARENT, "tracestate": ""}
    msg, opts = with_trace("payload", {"tenant": "acme"}, trace)
    assert msg == "payload"
    assert opts == {"traceparent": TRACEPARENT, "tenant": "acme"}
    _, opts = with_trace("payload", {"traceparent": "explicit"}, trace)
    assert opts["traceparent"] == "explicit"
    env = Envelope(type="t.x", payload={"a": 1})
    traced, _ = with_trace(env, {}, trace)
    assert traced.traceparent == TRACEPARENT
    kept = Envelope(
        type="t.x", payload={"a": 1}, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    )
    assert with_trace(kept, {}, trace)[0] is kept
    assert with_trace("p", {}, {})[1] == {}


def test_frame_ids_reads_the_plaintext_header_only() -> None:
    codec = Codec(keyring=Keyring.generate())
    frame = codec.encode_raw("t.x", {"secret": "s"}, channel="c.d", encrypt=True)
    mid, kid = frame_ids(codec, frame)
    assert mid == codec.peek_header(frame).message_id
    assert kid == str(codec.peek_header(frame).key_id)
    assert frame_ids(codec, b"garbage") == ("", "")
    assert frame_ids(codec, None) == ("", "")


def test_moved_not_copied() -> None:
    assert observability.SDK_METRICS is hooks.SDK_METRICS
    assert observability.Metrics is hooks.Metrics
    assert observability.NoopMetrics is hooks.NoopMetrics
    assert security.ChannelPolicy is hooks.ChannelPolicy
    catalogue = hooks.SDK_METRICS
    for name in ("messages_acked_total", "messages_reclaimed_total", "publish_errors_total"):
        assert catalogue[name].kind == "counter"


def test_observability_implements_the_hooks() -> None:
    for backend in (
        InMemoryMetrics(),
        PrometheusMetrics(),
        OpenTelemetryMetrics(),
        MultiMetrics(NoopMetrics()),
    ):
        assert isinstance(backend, Metrics), backend
    assert isinstance(OpenTelemetryTracing(), Tracing)


def test_security_implements_the_hooks() -> None:
    for policy in (
        Authorizer([AllowAll()]),
        AllowAll(),
        RolePolicy({}),
        TenantPolicy(),
        TokenPolicy(),
    ):
        assert isinstance(policy, ChannelPolicy), policy

    async def build() -> None:
        async with AsyncClient.from_url(URL) as aclient:
            assert isinstance(AsyncAuditLog(aclient, keys=None), AuditSink)
            assert isinstance(AsyncRateLimiter(aclient, RateLimit(rate=1)), Limiter)

    anyio.run(build)
    with Client.from_url(URL) as client:
        assert isinstance(AuditLog(client, keys=None), SyncAuditSink)
        assert isinstance(RateLimiter(client, RateLimit(rate=1)), SyncLimiter)


@pytest.mark.anyio
async def test_publisher_treats_noop_hooks_as_unset() -> None:
    async with AsyncClient.from_url(URL) as client:
        pub = AsyncPublisher(
            client, metrics=NoopMetrics(), tracing=NoopTracing(), audit=NoopAuditSink()
        )
        assert pub._metrics is None
        assert pub._tracing is None
        assert pub._audit is None
        assert not pub._guarded
