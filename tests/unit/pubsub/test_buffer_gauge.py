"""``subscriber_buffer_size``: one pass over the buffer per sample, per channel family."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.observability import InMemoryMetrics
from redis_fintech_sdk.pubsub import Delivery, MessageBuffer, OverflowPolicy, SubscriberConfig
from redis_fintech_sdk.pubsub._observer import SubscriberHooks


def _d(channel: str) -> Delivery:
    return Delivery(channel, None, None)


def _hooks(metrics: InMemoryMetrics) -> SubscriberHooks:
    hooks = SubscriberHooks.create(
        metrics=metrics, tracing=None, authorizer=None, principal=None, audit=None
    )
    assert hooks is not None
    return hooks


def test_count_by_counts_fifo_and_conflated_buffers() -> None:
    fifo: MessageBuffer[Delivery] = MessageBuffer(10, OverflowPolicy.DROP_OLDEST)
    for ch in ("market.price.A", "market.price.B", "notify.user.1", "market.price.A"):
        fifo.offer(_d(ch))
    assert fifo.count_by(lambda d: d.channel) == {
        "market.price.A": 2,
        "market.price.B": 1,
        "notify.user.1": 1,
    }
    conflated: MessageBuffer[Delivery] = MessageBuffer(
        10, OverflowPolicy.CONFLATE, key=lambda d: d.channel
    )
    for ch in ("market.price.A", "market.price.A", "market.price.B"):
        conflated.offer(_d(ch))
    # Conflation replaced the first A: what is buffered now is what is counted.
    assert conflated.count_by(lambda d: d.channel) == {"market.price.A": 1, "market.price.B": 1}
    assert MessageBuffer[Delivery](1).count_by(lambda d: d.channel) == {}


def test_sample_sets_gauge_per_family_and_zeroes_emptied_families() -> None:
    metrics = InMemoryMetrics()
    hooks = _hooks(metrics)
    buf: MessageBuffer[Delivery] = MessageBuffer(10, OverflowPolicy.BLOCK)
    for ch in ("market.price.AAPL", "market.price.MSFT", "tenant:acme:notify.user.7"):
        buf.offer(_d(ch))

    hooks.sample_buffer(buf)
    assert metrics.value("subscriber_buffer_size", channel="market.price") == 2
    assert metrics.value("subscriber_buffer_size", channel="notify.user") == 1

    buf.pop()  # one market.price left, notify.user still there
    buf.pop()
    buf.pop()
    buf.offer(_d("risk.alert.x"))
    hooks.sample_buffer(buf)
    assert metrics.value("subscriber_buffer_size", channel="market.price") == 0
    assert metrics.value("subscriber_buffer_size", channel="notify.user") == 0
    assert metrics.value("subscriber_buffer_size", channel="risk.alert") == 1

    hooks.clear_buffer_gauges()  # what a closing subscriber does
    assert metrics.value("subscriber_buffer_size", channel="risk.alert") == 0


def test_sample_without_metrics_reports_nothing() -> None:
    hooks = SubscriberHooks(metrics=None, tracing=None, authorizer=None, principal=None, audit=None)
    buf: MessageBuffer[Delivery] = MessageBuffer(2, OverflowPolicy.BLOCK)
    buf.offer(_d("market.price.A"))
    hooks.sample_buffer(buf)  # must not fail on the missing hook
    hooks.clear_buffer_gauges()


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_buffer_sample_interval_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigurationError, match="buffer_sample_interval"):
        SubscriberConfig(buffer_sample_interval=bad)
