"""StreamConsumer lifecycle: leaving ``async with`` at once still stops it."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.streams import RawFrameCodec, StreamConsumer, StreamMessage

pytestmark = pytest.mark.anyio


async def _ignore(msg: StreamMessage) -> None:
    return None


async def test_leaving_at_once_stops_the_consumer(aclient: AsyncClient, stream_name: str) -> None:
    # stop() ran before the background task started run(): run() used to make a fresh stop
    # event and consume forever, so the block never exited.
    for _ in range(3):
        consumer = StreamConsumer(
            aclient, stream_name, _ignore, group="g", codec=RawFrameCodec(), block=0.1
        )
        with anyio.fail_after(10):
            async with consumer:
                pass
        assert consumer.statistics().delivered == 0


async def test_run_again_after_a_stop(aclient: AsyncClient, stream_name: str) -> None:
    seen: list[bytes] = []

    async def handler(msg: StreamMessage) -> None:
        seen.append(msg.frame)

    consumer = StreamConsumer(
        aclient, stream_name, handler, group="g", codec=RawFrameCodec(), block=0.1
    )
    for round_no in range(2):
        await aclient.redis.xadd(stream_name, {"f": f"m{round_no}"})
        with anyio.fail_after(10):
            async with consumer:
                while len(seen) <= round_no:  # noqa: ASYNC110 - polling a list
                    await anyio.sleep(0.02)
    assert seen == [b"m0", b"m1"]
