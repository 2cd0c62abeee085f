"""AsyncDelayedQueue: scheduled appends, once each, by the server's clock."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import Timeouts
from redis_fintech_sdk.streams import AsyncDelayedQueue
from redis_fintech_sdk.testing import FaultProxy, RedisServer

pytestmark = pytest.mark.anyio


async def _frames(client: AsyncClient, stream: str) -> list[bytes]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await client.redis.xrange(stream)  # type: ignore[assignment]
    return [fields[b"f"] for _, fields in entries]


async def test_entries_are_appended_when_due_in_due_order(
    aclient: AsyncClient, stream_name: str
) -> None:
    codec = Codec()
    async with AsyncDelayedQueue(aclient, stream_name, codec=codec, poll_interval=0.05) as q:
        await q.schedule(codec_raw(codec, stream_name, "late"), delay=0.4)
        await q.schedule(codec_raw(codec, stream_name, "early"), delay=0.1)
        await q.schedule(codec_raw(codec, stream_name, "middle"), delay=0.25)
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
        await q.schedule(codec_raw(codec, stream_name, "overdue"), at=past)
        with anyio.fail_after(10):
            while await aclient.redis.xlen(stream_name) < 4:  # noqa: ASYNC110
                await anyio.sleep(0.02)
        assert await q.waiting() == 0
    names = [
        codec.decode(f, channel=stream_name, validate=False).payload
        for f in await _frames(aclient, stream_name)
    ]
    assert names == ["overdue", "early", "middle", "late"]
    stats = q.statistics()
    assert (stats.scheduled, stats.moved, stats.duplicates) == (4, 4, 0)


def codec_raw(codec: Codec, stream: str, name: str) -> bytes:
    return codec.encode_raw("test.delayed", name, channel=stream)


async def test_nothing_moves_before_it_is_due(aclient: AsyncClient, stream_name: str) -> None:
    q = AsyncDelayedQueue(aclient, stream_name)
    await q.schedule(b"frame", delay=2.0)
    moved, wait = await q.move_due()
    assert moved == 0
    assert wait is not None
    assert 1.0 < wait <= 2.0
    assert await aclient.redis.xlen(stream_name) == 0
    assert await q.waiting() == 1


async def test_schedule_is_idempotent_and_cancellable(
    aclient: AsyncClient, stream_name: str
) -> None:
    q = AsyncDelayedQueue(aclient, stream_name)
    assert await q.schedule(b"retry-1", delay=0, key="pay-7") == "pay-7"
    assert await q.schedule(b"retry-1 again", delay=0, key="pay-7") == "pay-7"
    await q.schedule(b"retry-2", delay=0, key="pay-8")
    assert await q.cancel("pay-8") is True
    assert await q.cancel("pay-8") is False
    assert await q.move_due() == (1, None)
    assert await _frames(aclient, stream_name) == [b"retry-1"]
    stats = q.statistics()
    assert (stats.scheduled, stats.duplicates, stats.cancelled) == (2, 1, 1)


async def test_concurrent_movers_append_each_entry_once(
    aclient: AsyncClient, stream_name: str
) -> None:
    q = AsyncDelayedQueue(aclient, stream_name, batch=7)
    for i in range(300):
        await q.schedule(f"m{i}".encode(), delay=0, key=f"k{i}")
    movers = [AsyncDelayedQueue(aclient, stream_name, batch=7) for _ in range(4)]

    async def drain(mover: AsyncDelayedQueue) -> None:
        while (await mover.move_due())[0]:
            pass

    async with anyio.create_task_group() as tg:
        for mover in movers:
            tg.start_soon(drain, mover)
    frames = await _frames(aclient, stream_name)
    assert len(frames) == 300
    assert set(frames) == {f"m{i}".encode() for i in range(300)}
    assert sum(m.statistics().moved for m in movers) == 300
    assert await q.waiting() == 0


async def test_a_lost_reply_neither_loses_nor_repeats(
    redis_server: RedisServer, stream_name: str
) -> None:
    with FaultProxy(redis_server.address) as proxy:
        async with AsyncClient.from_url(
            proxy.url, timeouts=Timeouts(command=2.0, max_block=5.0)
        ) as client:
            q = AsyncDelayedQueue(client, stream_name, poll_interval=0.05)
            await q.schedule(b"warm", delay=0)
            await q.move_due()  # the script is loaded; the next EVALSHA is cut
            await q.schedule(b"payment", delay=0)
            proxy.cut_after("EVALSHA", nth=1)
            async with q:
                with anyio.fail_after(10):
                    while not proxy.cut_fired or await q.waiting():  # noqa: ASYNC110
                        await anyio.sleep(0.02)
                    await anyio.sleep(0.2)  # a few more rounds: nothing left to move
            assert await _frames(client, stream_name) == [b"warm", b"payment"]
            assert q.statistics().errors >= 1


async def test_bad_settings_name_the_field(aclient: AsyncClient, stream_name: str) -> None:
    with pytest.raises(ConfigurationError, match="poll_interval"):
        AsyncDelayedQueue(aclient, stream_name, poll_interval=0)
    with pytest.raises(ConfigurationError, match="batch"):
        AsyncDelayedQueue(aclient, stream_name, batch=0)
    with pytest.raises(ConfigurationError, match="max_length"):
        AsyncDelayedQueue(aclient, stream_name, max_length=0)
    q = AsyncDelayedQueue(aclient, stream_name)
    with pytest.raises(ConfigurationError, match="delay"):
        await q.schedule(b"x")
    with pytest.raises(ConfigurationError, match="delay"):
        await q.schedule(b"x", delay=1, at=dt.datetime.now(dt.timezone.utc))
    with pytest.raises(ConfigurationError, match="at"):
        await q.schedule(b"x", at=dt.datetime(2030, 1, 1))  # naive
    with pytest.raises(ConfigurationError, match="delay"):
        await q.schedule(b"x", delay=-1)
    assert await q.waiting() == 0
