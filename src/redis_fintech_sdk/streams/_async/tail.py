"""AsyncStreamTail: read a stream without a group (XREAD), resuming after reconnects.

This file is the source of truth; ``streams/_sync/tail.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import anyio

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.resilience import Backoff, is_retryable
from redis_fintech_sdk.streams._config import FRAME_FIELD
from redis_fintech_sdk.streams._reading import entries_of, text

__all__ = ["AsyncStreamTail"]

log = logging.getLogger("redis_fintech_sdk.streams")


class AsyncStreamTail:
    """Follows a stream with ``XREAD``: every reader sees every entry, nothing is acked.

    The position is the last entry id handed out (:attr:`last_id`); after a connection
    error the tail waits with backoff and resumes right after it, so nothing still in the
    stream is skipped or repeated. Save :attr:`last_id` to resume after a restart.

    Args:
        client: the SDK client (not closed by the tail).
        stream: the stream key.
        last_id: start after this id (``"$"``: only new entries, ``"0"``: from the start).
        block: seconds one ``XREAD`` blocks.
        count: entries per read.
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        *,
        last_id: str = "$",
        block: float = 1.0,
        count: int = 100,
    ) -> None:
        client.config.timeouts.check_block(block)
        self._client = client
        self.stream = stream
        self.last_id = last_id
        self.block = block
        self.count = count
        self.reconnects = 0
        self._started = time.monotonic()

    async def read(self) -> list[tuple[str, bytes | None]]:
        """One blocking read: ``(entry id, frame)`` pairs after :attr:`last_id`.

        Raises:
            RedisError: the read failed (nothing was consumed; call again).
        """
        if self.last_id == "$":
            # Pin "$" to a concrete id first so a reconnect cannot skip entries.
            with self._client.translate_errors("XINFO", key=self.stream):
                rows = await self._client.redis.xrevrange(self.stream, count=1)
            self.last_id = text(rows[0][0]) if rows else "0-0"
        with self._client.translate_errors("XREAD", key=self.stream):
            reply = await self._client.blocking.xread(
                {self.stream: self.last_id}, count=self.count, block=int(self.block * 1000) or None
            )
        out = []
        for entry_id, fields in entries_of(reply):
            self.last_id = text(entry_id)
            out.append((self.last_id, (fields or {}).get(FRAME_FIELD)))
        return out

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes | None]]:
        """Yield ``(entry id, frame)`` forever, reconnecting with backoff.

        Raises:
            RedisError: an error retrying cannot fix (e.g. permissions).
        """
        backoff = Backoff(base=0.05, cap=5.0)
        while True:
            try:
                batch = await self.read()
                backoff.reset()
            except RedisError as exc:
                if not is_retryable(exc):
                    raise
                self.reconnects += 1
                log.warning("tail of %s: %s; resuming", self.stream, type(exc).__name__)
                await anyio.sleep(backoff.next_delay())
                continue
            for item in batch:
                yield item
