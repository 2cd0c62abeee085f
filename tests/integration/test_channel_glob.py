"""glob_match agrees with a real server's PSUBSCRIBE on thousands of generated pairs.

Runs once per available redis-server binary (7.0 and 8.x). Names and patterns are drawn
from a small alphabet rich in glob syntax (``* ? [ ] ^ - \\``) and high bytes, so edge
cases (unterminated classes, trailing backslashes, reversed ranges, signed chars, the empty
name) come up constantly.
"""

from __future__ import annotations

import random

from redis_fintech_sdk.channels import glob_match
from redis_fintech_sdk.testing import RedisServer

_NAME_BYTES = b"ab.-]^\\[*?c\x80\xff"
_PATTERN_BYTES = b"ab*?[]^-\\.c\x80\xff"
_DONE = b"zz-glob-test-done"


def _generate(seed: int, names: int, patterns: int) -> tuple[list[bytes], list[bytes]]:
    rng = random.Random(seed)
    name_set = {b""}
    while len(name_set) < names:
        length = rng.randint(1, 7)
        name_set.add(bytes(rng.choice(_NAME_BYTES) for _ in range(length)))
    pattern_set: set[bytes] = set()
    while len(pattern_set) < patterns:
        length = rng.randint(1, 7)
        pattern_set.add(bytes(rng.choice(_PATTERN_BYTES) for _ in range(length)))
    return sorted(name_set), sorted(pattern_set)


def _delivered(
    server: RedisServer, names: list[bytes], patterns: list[bytes]
) -> set[tuple[bytes, bytes]]:
    subscriber = server.client()
    publisher = server.client()
    try:
        pubsub = subscriber.pubsub()  # type: ignore[no-untyped-call]
        pubsub.subscribe(_DONE)
        pubsub.psubscribe(*patterns)
        confirmations = 0
        while confirmations < len(patterns) + 1:
            message = pubsub.get_message(timeout=5.0)
            assert message is not None, "subscription not confirmed"
            if message["type"] in ("subscribe", "psubscribe"):
                confirmations += 1
        pipe = publisher.pipeline(transaction=False)
        for name in names:
            pipe.publish(name, b"x")
        pipe.publish(_DONE, b"done")
        pipe.execute()
        wanted = set(names)
        got: set[tuple[bytes, bytes]] = set()
        while True:
            message = pubsub.get_message(timeout=10.0)
            assert message is not None, "publications not delivered"
            if message["type"] == "message" and message["channel"] == _DONE:
                break  # one connection delivers in order: everything before has arrived
            if message["type"] == "pmessage" and message["channel"] in wanted:
                got.add((message["pattern"], message["channel"]))
        pubsub.close()
        return got
    finally:
        subscriber.close()
        publisher.close()


def test_glob_match_agrees_with_psubscribe(redis_server: RedisServer) -> None:
    names, patterns = _generate(seed=20240611, names=1200, patterns=60)
    delivered = _delivered(redis_server, names, patterns)
    expected = {(p, n) for p in patterns for n in names if glob_match(p, n)}
    assert delivered, "the generator should produce matches"
    missing = sorted(expected - delivered)[:10]
    extra = sorted(delivered - expected)[:10]
    assert not missing, f"glob_match says match, Redis did not deliver: {missing}"
    assert not extra, f"Redis delivered, glob_match says no match: {extra}"


def test_glob_match_agrees_with_channel_like_patterns(redis_server: RedisServer) -> None:
    rng = random.Random(7)
    symbols = ["AAPL", "MSFT", "BRK-B", "X", "AA"]
    names = sorted(
        {
            f"{domain}.{kind}.{rng.choice(symbols)}".encode()
            for domain in ("market", "risk", "tenant:1:market")
            for kind in ("price", "depth", "trades", "alert")
            for _ in range(20)
        }
    )
    patterns = [
        b"market.*",
        b"*.price.*",
        b"market.price.?",
        b"market.[pd]*.AA*",
        b"market.[^p]*",
        b"tenant:1:*",
        b"*AAPL",
        b"risk.alert.[A-M]*",
        b"market.price.AA\\PL",
        b"*.*.*.*",
    ]
    delivered = _delivered(redis_server, names, patterns)
    expected = {(p, n) for p in patterns for n in names if glob_match(p, n)}
    assert delivered == expected
