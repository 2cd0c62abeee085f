# ruff: noqa: SIM117, ASYNC110, PT012
"""Observability and security wired into Pub/Sub and Streams, against real redis-servers.

Metrics scraped through the health server match the components' own ``statistics()``;
a trace started at publish is continued by the subscriber and the stream consumer; the
SDK's authorizer refuses before any byte is sent; a server NOPERM surfaces as the same
``AuthorizationError`` and is not retried; the rate limiter guards the publish path.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from redis_fintech_sdk.codec import Codec, Message, default_registry, message
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import AuthorizationError, RateLimitedError
from redis_fintech_sdk.observability import HealthServer, OpenTelemetryTracing, PrometheusMetrics
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber, Delivery, SubscriberConfig
from redis_fintech_sdk.security import (
    AsyncAuditLog,
    AsyncRateLimiter,
    Authorizer,
    ChannelGrant,
    Principal,
    RateLimit,
    RolePolicy,
)
from redis_fintech_sdk.settings import ConnectionConfig, Credentials, Secret, Timeouts
from redis_fintech_sdk.streams import AckPolicy, AsyncStreamProducer, StreamConsumer, StreamMessage
from redis_fintech_sdk.testing import FaultProxy, RedisServer

pytestmark = pytest.mark.anyio

if default_registry.get("test.wiring.tick") is None:

    @message("test.wiring.tick", version=1)
    class Tick(Message):
        """A test tick."""

        symbol: str
        n: int

else:  # pragma: no cover - re-imported under another module name
    Tick = default_registry.get("test.wiring.tick").model  # type: ignore[union-attr,misc]

TIMEOUTS = Timeouts(connect=2.0, command=2.0, max_block=5.0)


def _token() -> str:
    return secrets.token_hex(4)


async def _until(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(10):
        while not predicate():
            await anyio.sleep(0.01)


Scraped = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(server: HealthServer) -> Scraped:
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as reply:
        text = reply.read().decode()
    out: Scraped = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _sample(scraped: Scraped, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------- (1) metrics


async def test_prometheus_scrape_equals_statistics(redis_server: RedisServer) -> None:
    metrics = PrometheusMetrics()
    codec = Codec()
    n = 120
    channel = f"wiring.scrape{_token()}.AAPL"
    family = channel.rsplit(".", 1)[0]
    config = SubscriberConfig(buffer_capacity=7, overflow="drop_newest")
    with HealthServer(metrics=metrics) as health:
        async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as client:
            async with AsyncSubscriber(client, codec=codec, config=config, metrics=metrics) as sub:
                await sub.subscribe(channel)
                async with AsyncPublisher(client, codec=codec, metrics=metrics) as pub:
                    for i in range(n):
                        await pub.publish(Tick(symbol="AAPL", n=i), channel)
                await _until(lambda: sub.statistics().received == n)
                got = [await sub.get(timeout=5) for _ in range(config.buffer_capacity)]
                sub_stats, pub_stats = sub.statistics(), pub.statistics()
        scraped = await anyio.to_thread.run_sync(_scrape, health)

    published = _sample(scraped, "rfsdk_messages_published_total", channel=family, kind="pubsub")
    delivered = _sample(scraped, "rfsdk_messages_delivered_total", channel=family, kind="pubsub")
    dropped = _sample(scraped, "rfsdk_messages_dropped_total", channel=family, policy="drop_newest")
    assert len(got) == sub_stats.delivered == config.buffer_capacity
    assert published == pub_stats.published == n
    assert delivered == sub_stats.delivered
    assert dropped == sub_stats.buffer.dropped_newest > 0
    assert n == delivered + dropped
    assert _sample(scraped, "rfsdk_circuit_breaker_state", breaker="publisher") == 0.0
    assert _sample(scraped, "rfsdk_publish_duration_seconds_count", channel=family) == n


async def test_prometheus_scrape_stream_with_a_dead_letter(redis_server: RedisServer) -> None:
    metrics = PrometheusMetrics()
    codec = Codec()
    stream, group, n, poison = f"wiring.trades{_token()}", "settle", 20, 7

    async def handler(msg: StreamMessage) -> None:
        if msg.envelope.payload.n == poison:
            raise ValueError("cannot settle")

    with HealthServer(metrics=metrics) as health:
        async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as client:
            producer = AsyncStreamProducer(client, stream, codec=codec, metrics=metrics)
            await producer.add_many(Tick(symbol="MSFT", n=i) for i in range(n))
            consumer = StreamConsumer(
                client,
                stream,
                handler,
                codec=codec,
                metrics=metrics,
                group=group,
                consumer="c1",
                block=0.1,
                ack_policy=AckPolicy.REJECT_ON_ERROR,
            )
            async with consumer:
                await _until(lambda: consumer.statistics().acked == n - 1)
                await _until(lambda: consumer.statistics().dead_lettered == 1)
            c_stats, p_stats = consumer.statistics(), producer.statistics()
        scraped = await anyio.to_thread.run_sync(_scrape, health)

    labels = {"stream": stream, "group": group}
    published = _sample(scraped, "rfsdk_messages_published_total", channel=stream, kind="stream")
    delivered = _sample(scraped, "rfsdk_messages_delivered_total", channel=stream, kind="stream")
    assert published == p_stats.appended == n
    assert delivered == c_stats.delivered == n
    assert _sample(scraped, "rfsdk_messages_acked_total", **labels) == c_stats.acked == n - 1
    assert _sample(scraped, "rfsdk_dead_letters_total", **labels) == c_stats.dead_lettered == 1
    assert _sample(scraped, "rfsdk_handler_duration_seconds_count", channel=stream) == n


# ---------------------------------------------------------------- (2) tracing


@pytest.fixture
def tracing() -> Iterator[tuple[OpenTelemetryTracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield OpenTelemetryTracing(provider), exporter
    finally:
        provider.shutdown()


def _continued(exporter: InMemorySpanExporter, operation: str) -> tuple[ReadableSpan, ReadableSpan]:
    finished = exporter.get_finished_spans()
    (producer,) = [s for s in finished if s.kind is trace.SpanKind.PRODUCER]
    consumers = [
        s
        for s in finished
        if s.kind is trace.SpanKind.CONSUMER and s.name.startswith(operation + " ")
    ]
    assert len(consumers) == 1, [s.name for s in finished]
    (consumer,) = consumers
    assert producer.context is not None
    assert consumer.context is not None
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in consumer.links] == [producer.context.span_id]
    return producer, consumer


async def test_trace_continues_from_publish_to_subscriber_handler(
    redis_server: RedisServer, tracing: tuple[OpenTelemetryTracing, InMemorySpanExporter]
) -> None:
    hook, exporter = tracing
    codec = Codec()
    channel = f"wiring.trace{_token()}.AAPL"
    handled: list[Delivery] = []
    async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as client:
        async with AsyncSubscriber(client, codec=codec, tracing=hook) as sub:
            sub.add_handler(handled.append)
            await sub.subscribe(channel)
            async with AsyncPublisher(client, codec=codec, tracing=hook) as pub:
                await pub.publish(Tick(symbol="AAPL", n=1), channel)
            await _until(lambda: len(handled) == 1)
    producer, consumer = _continued(exporter, "process")
    assert handled[0].envelope.traceparent is not None
    assert producer.attributes is not None
    assert producer.attributes["messaging.destination.name"] == channel
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.destination.name"] == channel


async def test_trace_continues_from_stream_producer_to_consumer(
    redis_server: RedisServer, tracing: tuple[OpenTelemetryTracing, InMemorySpanExporter]
) -> None:
    hook, exporter = tracing
    codec = Codec()
    stream = f"wiring.tracestream{_token()}"
    seen: list[StreamMessage] = []

    async def handler(msg: StreamMessage) -> None:
        seen.append(msg)

    async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as client:
        producer = AsyncStreamProducer(client, stream, codec=codec, tracing=hook)
        await producer.add(Tick(symbol="IBM", n=1))
        consumer = StreamConsumer(
            client, stream, handler, codec=codec, tracing=hook, group="g", block=0.1
        )
        async with consumer:
            await _until(lambda: len(seen) == 1)
    producer_span, _ = _continued(exporter, "process")
    assert producer_span.name == f"send {stream}"


# ---------------------------------------------------------------- (3) SDK authorization


async def _ignore(msg: StreamMessage) -> None:
    return None


async def test_authorizer_refuses_before_any_io_and_audits(redis_server: RedisServer) -> None:
    policy = RolePolicy(
        {
            "md-reader": [
                ChannelGrant.of("market.*", ["subscribe"]),
                ChannelGrant.of("wiring-fills-*", ["consume"]),
            ]
        }
    )
    principal = Principal(id="svc-md", roles=frozenset({"md-reader"}))
    authorizer = Authorizer([policy])
    prefix = f"wiring-audit-{_token()}"
    with FaultProxy(redis_server.address) as proxy:
        async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as admin:
            audit = AsyncAuditLog(admin, keys=None, prefix=prefix)
            async with AsyncClient.from_url(proxy.url, timeouts=TIMEOUTS) as client:
                pub = AsyncPublisher(
                    client, authorizer=authorizer, principal=principal, audit=audit
                )
                before = dict(proxy.statistics().commands)
                with pytest.raises(AuthorizationError) as refused_pub:
                    await pub.publish(Tick(symbol="X", n=1), "orders.new")
                sub = AsyncSubscriber(
                    client, authorizer=authorizer, principal=principal, audit=audit
                )
                with pytest.raises(AuthorizationError) as refused_sub:
                    async with sub:
                        await sub.psubscribe("orders.*")
                await sub.subscribe("market.price.AAPL", wait=False)  # inside the role
                after = dict(proxy.statistics().commands)
                consumer = StreamConsumer(
                    client,
                    f"wiring-fills-{prefix}",
                    _ignore,
                    group="g",
                    block=0.1,
                    authorizer=authorizer,
                    principal=principal,
                    audit=audit,
                )
                async with consumer:  # granted: an access event, then it reads
                    pass
            entries = await audit.entries(_dt.datetime.now(_dt.timezone.utc).date())
    assert refused_pub.value.channel == "orders.new"
    assert refused_sub.value.channel == "orders.*"
    for command in ("PUBLISH", "SPUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "EVALSHA"):
        assert after.get(command, 0) == before.get(command, 0), command
    assert pub.statistics().refused == 1
    assert pub.statistics().published == 0
    denied = [f for _, f in entries if f["kind"] == "permission_denied"]
    assert [(f["channel"], f["actor"], f["outcome"]) for f in denied] == [
        ("orders.new", "svc-md", "denied"),
        ("orders.*", "svc-md", "denied"),
    ]
    assert authorizer.statistics().denied == 2
    granted = [(f["channel"], f["actor"], f["reason"]) for _, f in entries if f["kind"] == "access"]
    assert granted == [
        ("market.price.AAPL", "svc-md", "channel granted"),
        (f"wiring-fills-{prefix}", "svc-md", "consume granted"),
    ]


# ---------------------------------------------------------------- (4) server NOPERM


def _as(server: RedisServer, user: str, port: int | None = None) -> ConnectionConfig:
    return ConnectionConfig(
        host=server.host,
        port=port or server.port,
        credentials=Credentials(username=user, password=Secret(server.users[user])),
        timeouts=TIMEOUTS,
    )


async def test_server_noperm_on_subscribe_is_authorization_error_not_retried(
    redis_acl_server: RedisServer,
) -> None:
    with FaultProxy(redis_acl_server.address) as proxy:
        async with AsyncClient(_as(redis_acl_server, "reader", proxy.port)) as client:
            with pytest.raises(AuthorizationError) as info:
                async with AsyncSubscriber(client) as sub:
                    await sub.subscribe("orders.fills")
                    await anyio.sleep(2)  # a retry loop would resubscribe meanwhile
            await anyio.sleep(0.5)
            commands = proxy.statistics().commands
    assert info.value.channel == "orders.fills"
    assert info.value.command == "SUBSCRIBE"
    assert commands.get("SUBSCRIBE", 0) == 1


async def test_server_noperm_on_xadd_is_authorization_error_not_retried(
    redis_acl_server: RedisServer,
) -> None:
    stream = f"md:wiring:{_token()}"  # the writer may write orders:* only
    with FaultProxy(redis_acl_server.address) as proxy:
        async with AsyncClient(_as(redis_acl_server, "writer", proxy.port)) as client:
            for idempotent in (False, True):
                producer = AsyncStreamProducer(client, stream, idempotent=idempotent)
                await producer.features()  # probes (refused probes are fine) before counting
                before: dict[str, Any] = dict(proxy.statistics().commands)
                with pytest.raises(AuthorizationError) as info:
                    await producer.add(b"frame")
                after = proxy.statistics().commands
                assert info.value.key == stream
                assert producer.statistics().retries == 0
                assert producer.statistics().failures == 1
                sent = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                assert sum(sent.get(k, 0) for k in ("XADD", "EVALSHA", "EVAL")) <= 1, sent


# ---------------------------------------------------------------- (5) rate limit


async def test_rate_limiter_guards_the_publish_path(redis_server: RedisServer) -> None:
    async with AsyncClient.from_url(redis_server.url, timeouts=TIMEOUTS) as client:
        limiter = AsyncRateLimiter(client, RateLimit(rate=1, period=60.0, burst=1))
        subject = f"wiring-{_token()}"
        async with AsyncPublisher(client, limiter=limiter, rate_subject=subject) as pub:
            assert await pub.publish(Tick(symbol="A", n=1), "wiring.rl.A") == 0
            with pytest.raises(RateLimitedError) as info:
                await pub.publish(Tick(symbol="A", n=2), "wiring.rl.A")
    assert info.value.retry_after > 0
    assert info.value.subject == subject
    assert pub.statistics().published == 1
    assert pub.statistics().refused == 1
