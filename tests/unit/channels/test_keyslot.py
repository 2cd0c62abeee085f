from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from redis_fintech_sdk.channels import Channel, crc16, hash_tag, keyslot


def test_known_values() -> None:
    assert crc16(b"123456789") == 0x31C3
    assert keyslot("foo") == 12182
    assert keyslot("{user1000}.following") == keyslot("{user1000}.followers")


def test_hash_tag_rule() -> None:
    assert hash_tag("a{b}c") == b"b"
    assert hash_tag("a{}c{d}") == b"a{}c{d}"  # empty tag: whole name
    assert hash_tag("a{b") == b"a{b"
    assert hash_tag("a}b{c}") == b"c"
    assert hash_tag("{a}{b}") == b"a"  # only the first tag counts


@given(st.binary(max_size=40))
def test_agrees_with_redis_py(name: bytes) -> None:
    assert keyslot(name) == key_slot(name)


@given(st.text(alphabet="ab{}c.", max_size=12))
def test_agrees_with_redis_py_on_braces(name: str) -> None:
    assert keyslot(name) == key_slot(name.encode())


def test_sharded_channels_share_a_slot() -> None:
    depth = Channel("market.depth.XNAS.AAPL").sharded()
    trades = Channel("market.trades.AAPL").sharded()
    assert str(depth) == "market.depth.XNAS.{AAPL}"
    assert depth.keyslot() == trades.keyslot() == keyslot("AAPL")
