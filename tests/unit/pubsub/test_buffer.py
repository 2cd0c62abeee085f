# ruff: noqa: PT018
"""The backpressure buffer: every policy, counted exactly; conflate keeps memory flat."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.pubsub import MessageBuffer, OverflowPolicy


def test_conflate_one_million_ticks_flat_memory_latest_price() -> None:
    buf: MessageBuffer[tuple[int, int]] = MessageBuffer(
        100, OverflowPolicy.CONFLATE, key=lambda t: t[0]
    )
    latest: dict[int, int] = {}
    seen: dict[int, int] = {}
    for i in range(1_000_000):
        tick = (i % 100, i)
        buf.offer(tick)
        latest[tick[0]] = i
        if i % 10_000 == 0:  # a slow consumer takes one now and then
            sym, price = buf.pop()
            seen[sym] = price
        if i % 50_000 == 0:
            assert len(buf) <= 100
    while len(buf):
        sym, price = buf.pop()
        seen[sym] = price
    stats = buf.statistics()
    assert seen == latest  # the latest price of every symbol
    assert stats.high_watermark == 100
    assert stats.dropped_oldest == stats.dropped_newest == 0
    assert stats.conflated == 1_000_000 - stats.delivered


@given(st.lists(st.integers(), max_size=200), st.integers(1, 20))
def test_drop_policies_count_exactly(items: list[int], cap: int) -> None:
    oldest: MessageBuffer[int] = MessageBuffer(cap, "drop_oldest")
    newest: MessageBuffer[int] = MessageBuffer(cap, "drop_newest")
    for x in items:
        assert oldest.offer(x) and newest.offer(x)
    kept_old = [oldest.pop() for _ in range(len(oldest))]
    kept_new = [newest.pop() for _ in range(len(newest))]
    assert kept_old == items[-cap:] if items else kept_old == []
    assert kept_new == items[:cap]
    dropped = max(0, len(items) - cap)
    assert oldest.statistics().dropped_oldest == dropped
    assert newest.statistics().dropped_newest == dropped


def test_block_refuses_when_full() -> None:
    buf: MessageBuffer[int] = MessageBuffer(2, OverflowPolicy.BLOCK)
    assert buf.offer(1) and buf.offer(2)
    assert not buf.offer(3)
    assert buf.pop() == 1
    assert buf.offer(3)
    s = buf.statistics()
    assert (s.offered, s.accepted, s.refused, s.delivered) == (3, 3, 1, 1)


def test_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        MessageBuffer(0)
    with pytest.raises(ConfigurationError):
        MessageBuffer(1, "nope")
    with pytest.raises(ConfigurationError):
        MessageBuffer(1, "conflate")
