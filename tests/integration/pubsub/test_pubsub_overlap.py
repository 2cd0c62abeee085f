"""A channel subscription and a pattern covering it, on plain and replayable channels.

Redis sends such a subscriber every message twice (``message`` and ``pmessage``). With the
dedup window off, each copy is delivered, tagged with its pattern (a fan-out such as the
gateway routes them to different clients); with the default dedup window the second copy
of a message id is dropped and counted.
"""

from __future__ import annotations

import secrets

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.pubsub import (
    AsyncPublisher,
    AsyncSubscriber,
    ReplayConfig,
    SubscriberConfig,
)
from redis_fintech_sdk.testing import RedisServer

from ._support import Tick, codec

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("replayable", [False, True], ids=["plain", "replayable"])
@pytest.mark.parametrize("dedup", [0, 10_000], ids=["dedup-off", "dedup-default"])
async def test_channel_and_pattern_copies(
    redis_server: RedisServer, replayable: bool, dedup: int
) -> None:
    replay = (
        ReplayConfig(channels=("ov.*",), prefix=f"ovtest:{secrets.token_hex(4)}:")
        if replayable
        else None
    )
    c = codec()
    config = SubscriberConfig(dedup_window=dedup)
    async with (
        AsyncClient.from_url(redis_server.url) as client,
        AsyncSubscriber(client, codec=c, replay=replay, config=config) as sub,
        AsyncPublisher(client, codec=c, replay=replay) as pub,
    ):
        await sub.subscribe("ov.a")
        await sub.psubscribe("ov.*")
        for n in range(3):
            assert await pub.publish(Tick(symbol="A", n=n), "ov.a") == 2  # two subscriptions
        expected = 6 if dedup == 0 else 3
        got = [await sub.get(timeout=5) for _ in range(expected)]
        with pytest.raises(TimeoutError):
            await sub.get(timeout=0.3)  # nothing more
        stats = sub.statistics()
    if dedup == 0:
        assert [d.payload.n for d in got if d.pattern is None] == [0, 1, 2]
        assert [d.payload.n for d in got if d.pattern == "ov.*"] == [0, 1, 2]
        assert stats.duplicates == 0
    else:
        assert sorted(d.payload.n for d in got) == [0, 1, 2]
        assert stats.duplicates == 3
    assert stats.sequences.gaps == 0
