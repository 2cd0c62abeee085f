"""AsyncDeadLetterQueue: list, inspect, replay and purge a stream's dead letters.

This file is the source of truth; ``streams/_sync/dead_letters.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.streams._config import FRAME_FIELD
from redis_fintech_sdk.streams._deadletter import DeadLetter
from redis_fintech_sdk.streams._keys import StreamKeys
from redis_fintech_sdk.streams._reading import text
from redis_fintech_sdk.streams._scripts import REPLAY

__all__ = ["AsyncDeadLetterQueue"]


class AsyncDeadLetterQueue:
    """The dead-letter stream of one source stream (see docs/operations/dead-letters.md).

    Args:
        client: the SDK client (not closed by this object).
        stream: the source stream.
        dead_letters: the dead-letter stream, when not the default ``{stream}:dlq``.
    """

    def __init__(self, client: AsyncClient, stream: str, *, dead_letters: str | None = None):
        self._client = client
        self.stream = stream
        self.key = StreamKeys.for_stream(stream, dead_letters=dead_letters).dead_letters
        self._replay = client.redis.register_script(REPLAY)

    async def depth(self) -> int:
        """Entries in the dead-letter stream.

        Raises:
            RedisError: the server refused.
        """
        with self._client.translate_errors("XLEN", key=self.key):
            return int(await self._client.redis.xlen(self.key))

    async def entries(self, *, start: str = "-", count: int = 100) -> list[DeadLetter]:
        """Dead letters from ``start`` (oldest first), at most ``count``.

        Raises:
            RedisError: the server refused.
        """
        with self._client.translate_errors("XRANGE", key=self.key):
            rows: Any = await self._client.redis.xrange(self.key, min=start, count=count)
        return [DeadLetter.from_entry(text(entry_id), fields) for entry_id, fields in rows]

    async def get(self, dead_letter_id: str) -> DeadLetter | None:
        """One dead letter by its id, or ``None``.

        Raises:
            RedisError: the server refused.
        """
        rows = await self.entries(start=dead_letter_id, count=1)
        return rows[0] if rows and rows[0].id == dead_letter_id else None

    async def replay(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[str]:
        """Append dead letters' frames to their source stream again, then delete them.

        Each move is atomic (one script). The frame gets a new entry id in the source
        stream, so every group of that stream sees it again; consumers with an
        :class:`IdempotencyStore` skip the groups that had processed it already.

        Args:
            ids: the dead letters to replay; default the oldest ``limit`` ones.
            limit: how many to replay when ``ids`` is not given.

        Returns:
            The new entry ids in the source stream.

        Raises:
            RedisError: the server refused.
        """
        if ids is None:
            ids = [d.id for d in await self.entries(count=limit)]
        new_ids: list[str] = []
        for dead_letter_id in ids:
            with self._client.translate_errors("EVALSHA", key=self.key):
                result = await self._replay(
                    keys=[self.key, self.stream], args=[dead_letter_id, FRAME_FIELD]
                )
            if isinstance(result, (bytes, str)):
                new_ids.append(text(result))
        return new_ids

    async def purge(self, ids: Sequence[str] | None = None) -> int:
        """Delete the given dead letters, or all of them; return how many went.

        Raises:
            RedisError: the server refused.
        """
        with self._client.translate_errors("XDEL", key=self.key):
            if ids is None:
                count = int(await self._client.redis.xlen(self.key))
                await self._client.redis.delete(self.key)
                return count
            if not ids:
                return 0
            return int(await self._client.redis.xdel(self.key, *ids))
