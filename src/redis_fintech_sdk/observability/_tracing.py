"""W3C trace context in the envelope header: producer → consumer spans.

The producer calls :func:`publish_span` (which injects ``traceparent``/``tracestate`` into a
header dict that goes into the :class:`~redis_fintech_sdk.codec.Envelope`); the consumer
calls :func:`consume_span` with the received headers (or the envelope), so its span
continues the producer's trace. Needs the ``otel`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import MissingExtraError

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from redis_fintech_sdk.codec import Envelope, FrameHeader

__all__ = [
    "TRACE_HEADERS",
    "OpenTelemetryTracing",
    "consume_span",
    "extract",
    "get_tracer",
    "inject",
    "publish_span",
    "trace_headers",
]

#: The header names carried in the envelope (the W3C Trace Context names).
TRACE_HEADERS: tuple[str, str] = ("traceparent", "tracestate")


def _otel() -> Any:
    try:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError as exc:
        raise MissingExtraError("otel", "opentelemetry-api") from exc
    return trace, TraceContextTextMapPropagator()


def get_tracer(tracer_provider: Any = None) -> Tracer:
    """The SDK's tracer from ``tracer_provider`` (the global one by default).

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """
    from redis_fintech_sdk._version import __version__

    trace, _ = _otel()
    tracer: Tracer = trace.get_tracer("redis_fintech_sdk", __version__, tracer_provider)
    return tracer


def inject(headers: MutableMapping[str, str], *, context: Context | None = None) -> None:
    """Write the current (or ``context``'s) span as ``traceparent``/``tracestate``.

    Nothing is written when there is no valid span.

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """
    _, propagator = _otel()
    propagator.inject(headers, context=context)


def extract(headers: Mapping[str, Any] | Envelope | FrameHeader) -> Context:
    """The context carried by ``headers`` (an envelope's or a plain dict).

    Unknown or malformed values give an empty context (a new trace then starts).

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """
    _, propagator = _otel()
    return propagator.extract(carrier=trace_headers(headers))  # type: ignore[no-any-return]


def trace_headers(source: Mapping[str, Any] | Envelope | FrameHeader) -> dict[str, str]:
    """Just the trace headers of ``source`` (a dict, an Envelope or a FrameHeader).

    Useful as keyword arguments: ``Envelope(..., **trace_headers(carrier))``.
    """
    out: dict[str, str] = {}
    for name in TRACE_HEADERS:
        value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value:
            out[name] = value
    return out


@contextmanager
def publish_span(
    channel: str,
    headers: MutableMapping[str, str],
    *,
    tracer: Tracer | None = None,
    system: str = "redis",
    operation: str = "publish",
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A PRODUCER span around a publish; injects its context into ``headers``.

    Args:
        channel: channel or stream name (becomes ``messaging.destination.name``).
        headers: the dict that travels with the message; ``traceparent`` is written here.
        tracer: the tracer (:func:`get_tracer` by default).
        system: ``messaging.system``.
        operation: ``publish`` (Pub/Sub) or ``send`` (XADD).
        attributes: further span attributes (never payload data).

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """
    trace, _ = _otel()
    tracer = tracer or get_tracer()
    attrs = {
        "messaging.system": system,
        "messaging.operation.type": operation,
        "messaging.destination.name": channel,
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        f"{operation} {channel}", kind=trace.SpanKind.PRODUCER, attributes=attrs
    ) as span:
        inject(headers)
        yield span


@contextmanager
def consume_span(
    channel: str,
    headers: Mapping[str, Any] | Envelope | FrameHeader,
    *,
    tracer: Tracer | None = None,
    system: str = "redis",
    operation: str = "process",
    link_only: bool = False,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A CONSUMER span around handling one message, continuing the producer's trace.

    Args:
        channel: channel or stream the message came from.
        headers: the received headers, or the decoded envelope.
        tracer: the tracer (:func:`get_tracer` by default).
        system: ``messaging.system``.
        operation: ``process`` or ``receive``.
        link_only: start a new trace that *links* to the producer's span instead of being
            its child (for fan-out to very many subscribers or batch processing).
        attributes: further span attributes (never payload data).

    Raises:
        MissingExtraError: opentelemetry-api is not installed.
    """
    trace, _ = _otel()
    tracer = tracer or get_tracer()
    parent = extract(headers)
    producer = trace.get_current_span(parent).get_span_context()
    links = [trace.Link(producer)] if producer.is_valid else []
    attrs = {
        "messaging.system": system,
        "messaging.operation.type": operation,
        "messaging.destination.name": channel,
        **(attributes or {}),
    }
    with tracer.start_as_current_span(
        f"{operation} {channel}",
        context=None if link_only or not producer.is_valid else parent,
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes=attrs,
    ) as span:
        yield span


class OpenTelemetryTracing:
    """The :class:`~redis_fintech_sdk.hooks.Tracing` hook on OpenTelemetry.

    Pass it as ``tracing=`` to publishers, subscribers, stream producers and consumers: each
    publish runs in a PRODUCER span whose context travels in the envelope header, and each
    handled message in a CONSUMER span that continues (or, with ``link_only``, links to)
    the producer's trace.

    Args:
        tracer_provider: where spans go (the global provider by default).
        link_only: consumer spans start new traces linked to the producer's span.
        system: ``messaging.system`` attribute.

    Raises:
        MissingExtraError: opentelemetry-api is not installed.

    Example:
        >>> pub = AsyncPublisher(client, tracing=OpenTelemetryTracing())  # doctest: +SKIP
    """

    def __init__(
        self, tracer_provider: Any = None, *, link_only: bool = False, system: str = "redis"
    ) -> None:
        self.tracer = get_tracer(tracer_provider)
        self.link_only = link_only
        self.system = system

    def publish_span(
        self, channel: str, headers: MutableMapping[str, str], *, operation: str = "publish"
    ) -> AbstractContextManager[object]:
        """A PRODUCER span; writes ``traceparent``/``tracestate`` into ``headers`` on entry."""
        return publish_span(
            channel, headers, tracer=self.tracer, system=self.system, operation=operation
        )

    def consume_span(
        self, channel: str, carrier: Any, *, operation: str = "process"
    ) -> AbstractContextManager[object]:
        """A CONSUMER span continuing the trace in ``carrier`` (envelope, header or dict)."""
        return consume_span(
            channel,
            carrier if carrier is not None else {},
            tracer=self.tracer,
            system=self.system,
            operation=operation,
            link_only=self.link_only,
        )
