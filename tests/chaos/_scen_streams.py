"""Streams pieces of the issue-8 scenarios: the SIGKILL victim consumer and read-back helpers."""

from __future__ import annotations

import textwrap
from typing import Any

from redis_fintech_sdk.testing import RedisServer
from redis_fintech_sdk.testing.checker import History

# A consumer in its own process. Every entry gets a side effect first; odd entries then hang
# (killed mid-batch after the effect), even ones return (acked in the next XACK batch).
# mode "alo": the effect is a plain RPUSH (at-least-once: a redelivery repeats it);
# mode "eo": the effect is recorded with the IdempotencyStore and committed with the ack.
VICTIM = textwrap.dedent(
    """
    import sys, anyio
    from redis_fintech_sdk.connection import AsyncClient
    from redis_fintech_sdk.settings import Timeouts
    from redis_fintech_sdk.streams import IdempotencyStore, RawFrameCodec, StreamConsumer

    URL, STREAM, MODE, EFFECTS = sys.argv[1:5]

    async def main():
        async with AsyncClient.from_url(URL, timeouts=Timeouts(max_block=5.0)) as client:
            async def handler(msg):
                tag = b"victim:" + msg.frame
                if MODE == "eo":
                    msg.effects.call("RPUSH", EFFECTS, tag)
                else:
                    await client.redis.rpush(EFFECTS, tag)
                if int(msg.frame) % 2:
                    await anyio.sleep(3600)  # killed here, after its side effect

            extra = {"idempotency": IdempotencyStore(ttl=600)} if MODE == "eo" else {}
            await StreamConsumer(
                client, STREAM, handler, group="g", consumer="victim", codec=RawFrameCodec(),
                max_in_flight=50, batch_size=50, visibility_timeout=60.0, **extra,
            ).run()

    anyio.run(main)
    """
)


def effects_by_frame(server: RedisServer, key: str) -> dict[bytes, list[str]]:
    """``{frame: [who, ...]}`` from the effects list (``who:frame`` items)."""
    out: dict[bytes, list[str]] = {}
    with server.client() as raw:
        items: Any = raw.lrange(key, 0, -1)
    for item in items:
        who, _, frame = bytes(item).partition(b":")
        out.setdefault(frame, []).append(who.decode())
    return out


def record_effects(history: History, effects: dict[bytes, list[str]], mid: Any) -> None:
    """One history side effect per effects-list item."""
    for frame, whos in effects.items():
        history.effect(mid(frame), len(whos))


def stream_frames(server: RedisServer, stream: str) -> dict[str, bytes]:
    """``{entry id: frame}`` of every entry still in ``stream``."""
    with server.client() as raw:
        entries: Any = raw.xrange(stream)
    return {
        (eid.decode() if isinstance(eid, bytes) else str(eid)): fields[b"f"]
        for eid, fields in entries
    }
