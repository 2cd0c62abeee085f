# ruff: noqa: PT018
"""Header filters, subscription bookkeeping, intake and the replay prefix."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.codec import Codec, Message, message
from redis_fintech_sdk.errors import FrameError
from redis_fintech_sdk.pubsub import HeaderFilter, SubscriberConfig, SubscriptionKind
from redis_fintech_sdk.pubsub._intake import Intake
from redis_fintech_sdk.pubsub._replay import split_replay, stream_id_key
from redis_fintech_sdk.pubsub._subscriptions import HandlerRegistry, SubscriptionSet


@message("test.unit.pubsub", version=1)
class Note(Message):
    """A test message."""

    n: int


def test_filter_on_header_without_decrypting() -> None:
    codec = Codec()
    frame = codec.encode(Note(n=1), channel="c.x", headers={"venue": "XNAS"})
    header = codec.peek_header(frame)
    assert HeaderFilter(types=("test.unit.*",), headers={"venue": "XN*"}).matches(header)
    assert not HeaderFilter(headers={"venue": "XLON"}).matches(header)
    assert not HeaderFilter(headers={"missing": "*"}).matches(header)
    assert not HeaderFilter(producers=frozenset({"other"})).matches(header)
    assert HeaderFilter(predicate=lambda h: h.sequence == 1).matches(header)


def test_subscription_set_replays_everything_grouped_by_slot() -> None:
    s = SubscriptionSet()
    assert s.add(SubscriptionKind.CHANNEL, ["a", "b", "a"]) == ["a", "b"]
    s.add(SubscriptionKind.PATTERN, ["p.*"])
    s.add(SubscriptionKind.SHARD, ["x.{1}", "y.{1}", "z.{2}"])
    cmds = s.commands()
    assert cmds[:2] == [("SUBSCRIBE", ("a", "b")), ("PSUBSCRIBE", ("p.*",))]
    assert sorted(cmds[2:]) == [("SSUBSCRIBE", ("x.{1}", "y.{1}")), ("SSUBSCRIBE", ("z.{2}",))]
    assert s.remove(SubscriptionKind.CHANNEL, ["a", "q"]) == ["a"]
    assert len(s.expected_confirmations()) == 5


def test_handler_registry_selects_by_channel_and_type() -> None:
    r = HandlerRegistry()

    def h1(_: object) -> None: ...
    def h2(_: object) -> None: ...

    r.add(h1, channel="md.*")
    r.add(h2, types=["trade.*"])
    assert r.select("md.a", "x") == [h1]
    assert r.select("other", "trade.exec") == [h2]
    assert r.remove(h1) == 1 and r.select("md.a", "x") == []


def test_intake_counts_bad_frames_and_gaps_and_decodes_late() -> None:
    codec = Codec()
    intake = Intake(codec, SubscriberConfig(), None)
    frames = [codec.encode(Note(n=i), channel="c") for i in range(1, 6)]
    d, ev = intake.accept("c", frames[0])
    assert d is not None and d.envelope is None and not ev  # not decoded yet
    assert intake.finish(d).payload == Note(n=1)
    d, ev = intake.accept("c", frames[3])
    assert d is not None and len(ev) == 1 and ev[0].gap.missed == 2  # type: ignore[union-attr]
    assert intake.accept("c", frames[3])[0] is None  # duplicate
    d, ev = intake.accept("c", b"junk")
    assert d is None and type(ev[0]).__name__ == "BadFrame"
    assert intake.bad_frames == 1 and intake.duplicates == 1


def test_replay_prefix() -> None:
    assert split_replay(b"\xc1\x52\x031-0frame") == ("1-0", b"frame")
    assert split_replay(b"\xc1\x46rest") == (None, b"\xc1\x46rest")
    with pytest.raises(FrameError):
        split_replay(b"\xc1\x52\x09ab")
    assert stream_id_key("10-2") > stream_id_key("9-99")
