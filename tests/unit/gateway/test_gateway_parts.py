"""Sans-I/O parts of the gateway: config, client queues, JSON and SSE rendering."""

from __future__ import annotations

import json

import pytest

from redis_fintech_sdk.codec import Message, message
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.gateway import GatewayConfig, GatewayMessage, Notice
from redis_fintech_sdk.gateway._client import ClientQueue
from redis_fintech_sdk.gateway._hub import check_names
from redis_fintech_sdk.gateway._messages import jsonable
from redis_fintech_sdk.gateway._streams import sse_frame
from redis_fintech_sdk.pubsub import OverflowPolicy, SubscriptionKind


def _msg(channel: str, seq: int) -> GatewayMessage:
    return GatewayMessage.build(
        channel=channel,
        pattern=None,
        message_id="ab" * 16,
        sequence=seq,
        producer_id="p1",
        type="t",
        payload={"n": seq},
    )


def test_config_refuses_block_and_bad_values() -> None:
    with pytest.raises(ConfigurationError, match="overflow"):
        GatewayConfig(overflow="block")
    with pytest.raises(ConfigurationError, match="client_queue"):
        GatewayConfig(client_queue=0)
    with pytest.raises(ConfigurationError, match="heartbeat"):
        GatewayConfig(heartbeat_interval=0)
    assert GatewayConfig(overflow="conflate").policy is OverflowPolicy.CONFLATE


def test_queue_drop_oldest_counts_and_reports_once() -> None:
    q = ClientQueue("sse", "u", capacity=2, policy=OverflowPolicy.DROP_OLDEST)
    for i in range(5):
        q.offer(_msg("a.b", i))
    assert q.dropped == 3
    notice = q.drop_notice()
    assert notice is not None
    assert notice.data == {"dropped": 3, "total": 3}
    assert q.drop_notice() is None
    got = [q.get_nowait(), q.get_nowait(), q.get_nowait()]
    assert [m.sequence for m in got if isinstance(m, GatewayMessage)] == [3, 4]
    assert got[2] is None


def test_queue_conflate_keeps_latest_per_channel() -> None:
    q = ClientQueue("ws", "u", capacity=10, policy=OverflowPolicy.CONFLATE)
    for i in range(3):
        q.offer(_msg("a.x", i))
        q.offer(_msg("a.y", i))
    stats = q.statistics()
    assert (stats.queued, stats.conflated, stats.dropped) == (2, 4, 0)
    first = q.get_nowait()
    assert isinstance(first, GatewayMessage)
    assert (first.channel, first.sequence) == ("a.x", 2)


def test_sse_frame_and_json() -> None:
    m = _msg("a.b", 7)
    frame = sse_frame(m)
    assert frame.startswith(f"id: p1:7:{'ab' * 16}\nevent: message\ndata: ")
    assert frame.endswith("\n\n")
    data = json.loads(frame.split("data: ", 1)[1])
    assert data == {
        "op": "message",
        "channel": "a.b",
        "pattern": None,
        "message_id": "ab" * 16,
        "sequence": 7,
        "producer_id": "p1",
        "type": "t",
        "payload": {"n": 7},
    }
    gap = sse_frame(Notice("gap", {"missed": 2}))
    assert gap == 'event: gap\ndata: {"op":"gap","missed":2}\n\n'
    raw = GatewayMessage.build(
        channel="a.b",
        pattern=None,
        message_id=None,
        sequence=None,
        producer_id=None,
        type=None,
        payload="hi",
    )
    assert sse_frame(raw).startswith("event: message\n")  # no id for a non-SDK frame


@message("test.gateway.quote", version=1)
class Quote(Message):
    symbol: str
    px: float


def test_jsonable() -> None:
    assert jsonable(Quote(symbol="A", px=1.5)) == {"symbol": "A", "px": 1.5}
    assert jsonable(b"\x00\x01") == {"base64": "AAE="}
    assert jsonable({"a": 1}) == {"a": 1}


def test_check_names_classifies() -> None:
    assert check_names(["a.b", "a.*"]) == [
        (SubscriptionKind.CHANNEL, "a.b"),
        (SubscriptionKind.PATTERN, "a.*"),
    ]
    with pytest.raises(ConfigurationError):
        check_names([""])
