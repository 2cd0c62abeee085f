"""``append``/``append_many``: the producer says whether an append was a duplicate."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import AppendResult, AsyncStreamProducer, StreamProducer
from redis_fintech_sdk.testing import FaultProxy, RedisServer


def test_added_by_this_call() -> None:
    assert AppendResult("1-0", False, 1).added_by_this_call is True
    assert AppendResult("1-0", False, 3).added_by_this_call is True
    assert AppendResult("1-0", True, 1).added_by_this_call is False
    assert AppendResult("1-0", True, 2).added_by_this_call is None  # maybe our lost reply
    assert AppendResult("1-0", None, 1).added_by_this_call is None  # XADD IDMP: not said


@pytest.mark.anyio
async def test_append_reports_duplicates(aclient: AsyncClient, stream_name: str) -> None:
    producer = AsyncStreamProducer(aclient, stream_name)
    first = await producer.append(b"pay-1", idempotency_key="outbox-1")
    again = await producer.append(b"pay-1 (resent)", idempotency_key="outbox-1")
    other = await producer.append(b"pay-2", idempotency_key="outbox-2")
    assert first == AppendResult(first.entry_id, False, 1)
    assert again == AppendResult(first.entry_id, True, 1)
    assert again.added_by_this_call is False
    assert other.duplicate is False
    assert other.entry_id != first.entry_id
    assert await aclient.redis.xlen(stream_name) == 2
    assert producer.statistics().duplicates_suppressed == 1
    # add() is append() without the flag
    assert await producer.add(b"pay-1", idempotency_key="outbox-1") == first.entry_id


@pytest.mark.anyio
async def test_append_many_flags_each_entry(aclient: AsyncClient, stream_name: str) -> None:
    producer = AsyncStreamProducer(aclient, stream_name)
    frames = [b"a", b"b"]
    keyed = AsyncStreamProducer(aclient, stream_name, producer_id=producer.producer_id)
    first = [await keyed.append(f, idempotency_key=f.decode()) for f in frames]
    results = await producer.append_many([b"x", b"y"])
    assert [r.duplicate for r in results] == [False, False]
    # the same keys again, through the same dedup record: both are duplicates
    again = [await producer.append(f, idempotency_key=f.decode()) for f in frames]
    assert [r.entry_id for r in again] == [r.entry_id for r in first]
    assert [r.duplicate for r in again] == [True, True]
    assert await aclient.redis.xlen(stream_name) == 4
    assert await producer.append_many([]) == []


@pytest.mark.anyio
async def test_a_producer_without_dedup_never_reports_a_duplicate(
    aclient: AsyncClient, stream_name: str
) -> None:
    producer = AsyncStreamProducer(aclient, stream_name, idempotent=False)
    results = [await producer.append(b"same", idempotency_key="k") for _ in range(3)]
    assert [r.duplicate for r in results] == [False, False, False]
    assert len({r.entry_id for r in results}) == 3


def test_a_retry_after_a_lost_reply_is_flagged_as_ambiguous(
    redis_server: RedisServer, stream_name: str
) -> None:
    with (
        FaultProxy(redis_server.address) as proxy,
        Client.from_url(proxy.url, timeouts=Timeouts(command=2.0, max_block=5.0)) as client,
    ):
        producer = StreamProducer(client, stream_name)
        warm = producer.append(b"warm-up")  # loads the script; the next call is cut
        assert warm.duplicate is False
        proxy.cut_after("EVALSHA", nth=1)
        result = producer.append(b"payment-1")
        assert proxy.cut_fired
        # the first attempt was applied and its reply lost: the retry found it
        assert result.attempts == 2
        assert result.duplicate is True
        assert result.added_by_this_call is None
        assert client.redis.xlen(stream_name) == 2
        entries: list[tuple[bytes, object]] = client.redis.xrange(stream_name)  # type: ignore[assignment]
        assert entries[-1][0].decode() == result.entry_id
