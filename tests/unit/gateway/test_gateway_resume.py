"""Last-Event-ID bookkeeping without Redis: gap events, the replay floor, stream ids."""

from __future__ import annotations

import json

import pytest

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.gateway import GatewayConfig, GatewayMessage, create_app
from redis_fintech_sdk.gateway._client import ClientQueue
from redis_fintech_sdk.gateway._hub import subscription_key
from redis_fintech_sdk.gateway._messages import stream_position
from redis_fintech_sdk.pubsub import OverflowPolicy, ReplayConfig

from .gw_tokens import VERIFIER

pytestmark = pytest.mark.anyio


def _message(channel: str, stream_id: str | None, n: int) -> GatewayMessage:
    return GatewayMessage.build(
        channel=channel,
        pattern=None,
        message_id=f"m{n}",
        sequence=n,
        producer_id="p",
        type="t",
        payload={"n": n},
        stream_id=stream_id,
    )


def _queue(capacity: int = 100) -> ClientQueue:
    return ClientQueue("sse", "u", capacity=capacity, policy=OverflowPolicy.DROP_OLDEST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000000-0", (1700000000000, 0)),
        ("5-12", (5, 12)),
        ("p:1:m1", None),
        ("5", None),
        ("-1-0", None),
        ("\uff11-0", None),  # a fullwidth digit is not a stream id
        ("5-0\n", None),
    ],
)
def test_stream_position(text: str, expected: tuple[int, int] | None) -> None:
    assert stream_position(text) == expected


def test_replay_floor_skips_live_copies_once() -> None:
    q = _queue()
    q.set_floor("a.b", "100-1")
    q.offer(_message("a.b", "100-0", 1))  # replayed already: skipped
    q.offer(_message("a.b", "100-1", 2))  # the floor itself: skipped
    q.offer(_message("c.d", "99-0", 3))  # another channel: kept
    q.offer(_message("a.b", "100-2", 4))  # past the floor: kept, and the floor is gone
    q.offer(_message("a.b", "100-0", 5))  # (would only come from a misbehaving producer)
    assert [m.sequence for m in q.take_all() if isinstance(m, GatewayMessage)] == [3, 4, 5]


def test_take_all_is_not_counted_as_delivered() -> None:
    q = _queue()
    for n in range(3):
        q.offer(_message("a.b", None, n))
    taken = q.take_all()
    for item in taken:
        q.offer(item)
    assert q.statistics().delivered == 0
    assert q.get_nowait() is taken[0]
    assert q.statistics().delivered == 1


async def test_resume_without_replay_says_so_before_live_messages() -> None:
    app = create_app(AsyncClient.from_url("redis://127.0.0.1:1/0"), tokens=VERIFIER)
    q = _queue()
    q.offer(_message("a.b", None, 1))  # arrived live while the client was being set up
    keys = [subscription_key("a.b"), subscription_key("c.*")]
    await app.resumer.resume(q, keys, "1700000000000-0")
    first, second = q.take_all()
    assert json.loads(first.json) == {
        "op": "gap",
        "reason": "replay_unavailable",
        "channels": ["a.b", "c.*"],
        "detail": "messages since Last-Event-ID cannot be replayed and may be lost",
    }
    assert isinstance(second, GatewayMessage)
    assert second.sequence == 1
    assert app.resumer.statistics().gaps == {"replay_unavailable": 1}


async def test_an_id_that_is_no_stream_id_cannot_be_replayed() -> None:
    # With replay configured, but a Last-Event-ID of a non-replayable message: no Redis I/O.
    app = create_app(
        AsyncClient.from_url("redis://127.0.0.1:1/0"),
        tokens=VERIFIER,
        config=GatewayConfig(),
        replay=ReplayConfig(channels=("a.*",)),
    )
    q = _queue()
    await app.resumer.resume(q, [subscription_key("a.b")], "producer:7:m7")
    (notice,) = q.take_all()
    assert json.loads(notice.json)["reason"] == "replay_unavailable"
    assert app.resumer.statistics().resumes == 1
