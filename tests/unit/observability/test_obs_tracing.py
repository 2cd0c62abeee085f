"""A trace started at publish is continued by the consumer (W3C traceparent in the header)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from redis_fintech_sdk.codec import Codec, Message, MessageRegistry, message
from redis_fintech_sdk.observability import (
    consume_span,
    extract,
    get_tracer,
    inject,
    publish_span,
    trace_headers,
)

REGISTRY = MessageRegistry()


@message("test.trace.ping", version=1, classification="public", registry=REGISTRY)
class Ping(Message):
    n: int


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield get_tracer(provider), exporter
    finally:
        provider.shutdown()


def _by_kind(finished: tuple[ReadableSpan, ...], kind: trace.SpanKind) -> ReadableSpan:
    (span,) = [s for s in finished if s.kind is kind]
    return span


def _assert_linked(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ReadableSpan]:
    finished = exporter.get_finished_spans()
    producer = _by_kind(finished, trace.SpanKind.PRODUCER)
    consumer = _by_kind(finished, trace.SpanKind.CONSUMER)
    assert producer.context is not None
    assert consumer.context is not None
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in consumer.links] == [producer.context.span_id]
    assert producer.attributes is not None
    assert producer.attributes["messaging.destination.name"] == "market.price.AAPL"
    return producer, consumer


def test_producer_to_consumer_through_a_header_dict(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    headers: dict[str, str] = {}
    with publish_span("market.price.AAPL", headers, tracer=tracer):
        pass
    assert headers["traceparent"].startswith("00-")
    # ... the dict travels with the message; the consumer is another process:
    received = dict(headers)
    with consume_span("market.price.AAPL", received, tracer=tracer):
        pass
    _assert_linked(exporter)


def test_producer_to_consumer_through_the_codec_envelope(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    producer_codec = Codec(registry=REGISTRY, encrypt=False)
    consumer_codec = Codec(registry=REGISTRY, encrypt=False)
    headers: dict[str, str] = {}
    with publish_span("market.price.AAPL", headers, tracer=tracer):
        frame = producer_codec.encode(
            Ping(n=1),
            channel="market.price.AAPL",
            traceparent=headers.get("traceparent"),
            tracestate=headers.get("tracestate"),
        )
    envelope = consumer_codec.decode(frame, channel="market.price.AAPL")
    assert envelope.traceparent == headers["traceparent"]
    assert trace_headers(consumer_codec.peek_header(frame)) == trace_headers(headers)
    with consume_span("market.price.AAPL", envelope, tracer=tracer):
        pass
    _assert_linked(exporter)


def test_link_only_and_missing_context(spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    headers: dict[str, str] = {}
    with publish_span("c", headers, tracer=tracer):
        pass
    with consume_span("c", headers, tracer=tracer, link_only=True):
        pass
    with consume_span("c", {"traceparent": "garbage"}, tracer=tracer):
        pass
    finished = exporter.get_finished_spans()
    producer = _by_kind(finished, trace.SpanKind.PRODUCER)
    linked, orphan = [s for s in finished if s.kind is trace.SpanKind.CONSUMER]
    assert producer.context is not None
    assert linked.context is not None
    assert linked.context.trace_id != producer.context.trace_id
    assert linked.links[0].context.span_id == producer.context.span_id
    assert orphan.links == () or not list(orphan.links)


def test_inject_and_extract_round_trip(spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    tracer, _ = spans
    carrier: dict[str, str] = {}
    inject(carrier)
    assert carrier == {}  # no active span: nothing to carry
    with tracer.start_as_current_span("outer") as span:
        inject(carrier)
        ctx = extract(carrier)
    restored = trace.get_current_span(ctx).get_span_context()
    assert restored.trace_id == span.get_span_context().trace_id
    assert restored.is_remote
