"""AsyncNearCache: a process-local read cache that Redis itself keeps honest.

Reference data — instruments, FX fixings, limits, fee schedules — is read far more often
than it changes. The near cache keeps values in process memory and asks the server to say
when they change: ``CLIENT TRACKING ON BCAST PREFIX …`` on a dedicated connection that also
subscribes to ``__redis__:invalidate`` (it redirects the invalidation messages to itself).
Every write to a key under a tracked prefix, by anyone, evicts it here.

Correctness rules, in order of importance:

* While the invalidation connection is not confirmed live (before it is set up, after it
  drops, while reconnecting) nothing is served from or stored in the cache: reads go to
  Redis. On reconnect the cache is emptied first (invalidations may have been missed).
* A value is stored only if no invalidation for its key (or a flush, or a reconnect)
  arrived while it was being fetched, so a write that races a read cannot leave a stale
  value behind.
* ``ttl`` bounds how long any value is served even if an invalidation were lost; the
  liveness PING bounds how long a half-open connection goes unnoticed.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..connection import AsyncClient
from ..errors import ConfigurationError
from ..resilience import Backoff

__all__ = ["AsyncNearCache", "NearCacheStatistics"]

log = logging.getLogger("redis_fintech_sdk.cache")

INVALIDATE = "__redis__:invalidate"
_MISSING = object()


@dataclass(frozen=True, slots=True)
class NearCacheStatistics:
    """Counters of an :class:`AsyncNearCache`.

    Attributes:
        hits: reads served from memory.
        misses: reads that went to Redis.
        invalidations: keys evicted because the server said they changed.
        flushes: times the whole cache was emptied (reconnect, FLUSHDB/FLUSHALL).
        evictions: entries dropped to stay within ``max_entries``.
        not_stored: values read but not cached because their key changed meanwhile.
        reconnects: times the invalidation connection was re-established.
        size: entries held now.
        live: whether the invalidation connection is up (the cache serves reads).
    """

    hits: int
    misses: int
    invalidations: int
    flushes: int
    evictions: int
    not_stored: int
    reconnects: int
    size: int
    live: bool


class AsyncNearCache:
    """Caches ``GET`` and ``HGETALL`` of keys under ``prefixes``, invalidated by the server.

    Use it as ``async with AsyncNearCache(client, prefixes=["ref:"]) as cache:``; the
    invalidation listener runs for the life of the block. Keys outside the prefixes are
    read from Redis every time (never cached).

    Args:
        client: the SDK client (standalone or Sentinel; not Cluster: tracking is per node).
        prefixes: key prefixes to track and cache (``BCAST PREFIX``); at least one.
        max_entries: most entries kept (least recently used dropped first).
        ttl: longest seconds an entry is served (a safety net; ``None``: until invalidated).
        ping_interval: seconds between liveness PINGs on the invalidation connection; it is
            declared dead after three intervals without a reply.

    Raises:
        ConfigurationError: no prefixes, overlapping prefixes, bad sizes or intervals, or a
            Cluster client.

    Example:
        >>> async with AsyncNearCache(client, prefixes=["ref:fx:"]) as cache:  # doctest: +SKIP
        ...     rate = await cache.get("ref:fx:EURUSD")
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        prefixes: Sequence[str],
        max_entries: int = 10_000,
        ttl: float | None = 300.0,
        ping_interval: float = 1.0,
    ) -> None:
        if not prefixes or any(not p for p in prefixes):
            raise ConfigurationError("prefixes", "give at least one non-empty key prefix")
        for a in prefixes:
            for b in prefixes:
                if a != b and b.startswith(a):
                    raise ConfigurationError("prefixes", "prefixes must not overlap")
        if max_entries < 1:
            raise ConfigurationError("max_entries", "must be at least 1")
        if ttl is not None and not ttl > 0:
            raise ConfigurationError("ttl", "must be positive (or None)")
        if not ping_interval > 0:
            raise ConfigurationError("ping_interval", "must be positive")
        if client.config.cluster is not None:
            raise ConfigurationError("client", "the near cache does not support Redis Cluster")
        self._client = client
        self.prefixes = tuple(prefixes)
        self.max_entries = max_entries
        self.ttl = ttl
        self.ping_interval = ping_interval
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, bool] = {}  # key -> changed while being fetched
        self._live = False
        self._up = anyio.Event()
        self._conn: Any = None
        self._last_seen = 0.0
        self._tg: TaskGroup | None = None
        self._hits = self._misses = self._invalidations = self._flushes = 0
        self._evictions = self._not_stored = self._reconnects = 0

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> AsyncNearCache:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._listen)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(*exc_info)
        self._go_dark()
        with anyio.CancelScope(shield=True):
            await self._close_conn()

    async def wait_live(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the invalidation connection is up (the cache serves reads).

        Raises:
            TimeoutError: it did not come up in time.
        """
        with anyio.fail_after(timeout):
            await self._up.wait()

    # ---------------------------------------------------------------- reads

    async def get(self, key: str) -> bytes | None:
        """``GET key``, from memory when it is cached and unchanged.

        Raises:
            RedisError: a miss could not be read from Redis.
        """
        return await self._read(key, "GET")  # type: ignore[no-any-return]

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        """``HGETALL key`` (a copy), from memory when it is cached and unchanged.

        Raises:
            RedisError: a miss could not be read from Redis.
        """
        value: dict[bytes, bytes] = await self._read(key, "HGETALL")
        return dict(value)

    def invalidate(self, key: str) -> None:
        """Drop one key from this process's cache (the next read goes to Redis)."""
        self._evict(key)

    def clear(self) -> None:
        """Empty this process's cache."""
        self._flush()

    def statistics(self) -> NearCacheStatistics:
        """Counters since creation, and the current size."""
        return NearCacheStatistics(
            hits=self._hits,
            misses=self._misses,
            invalidations=self._invalidations,
            flushes=self._flushes,
            evictions=self._evictions,
            not_stored=self._not_stored,
            reconnects=self._reconnects,
            size=len(self._entries),
            live=self._live,
        )

    async def _read(self, key: str, command: str) -> Any:
        cacheable = self._live and key.startswith(self.prefixes)
        if cacheable:
            entry = self._entries.get((command, key))
            if entry is not None:
                expires, value = entry
                if expires > time.monotonic():
                    self._entries.move_to_end((command, key))
                    self._hits += 1
                    return value
                self._entries.pop((command, key), None)
        self._misses += 1
        if not cacheable:
            return await self._fetch(key, command)
        self._inflight.setdefault(key, False)
        try:
            value = await self._fetch(key, command)
            changed = self._inflight.get(key, True)
        finally:
            self._inflight.pop(key, None)
        if changed or not self._live:
            self._not_stored += 1
        else:
            self._store((command, key), value)
        return value

    async def _fetch(self, key: str, command: str) -> Any:
        with self._client.translate_errors(command, key=key):
            if command == "GET":
                return await self._client.redis.get(key)
            return await self._client.redis.hgetall(key)

    def _store(self, slot: tuple[str, str], value: Any) -> None:
        expires = math.inf if self.ttl is None else time.monotonic() + self.ttl
        self._entries[slot] = (expires, value)
        self._entries.move_to_end(slot)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self._evictions += 1

    def _evict(self, key: str) -> None:
        for command in ("GET", "HGETALL"):
            self._entries.pop((command, key), None)
        if key in self._inflight:
            self._inflight[key] = True

    def _flush(self) -> None:
        self._entries.clear()
        for key in self._inflight:
            self._inflight[key] = True
        self._flushes += 1

    def _go_dark(self) -> None:
        # Not live: serve nothing from memory, and forget everything (we may miss news).
        self._live = False
        if self._up.is_set():  # a fresh event only once: waiters on the unset one stay valid
            self._up = anyio.Event()
        self._flush()

    # ---------------------------------------------------------------- invalidations

    async def _listen(self) -> None:
        backoff = Backoff(base=0.05, cap=2.0)
        first = True
        while True:
            try:
                await self._session(first, backoff)
            except Exception as exc:  # raw redis-py connections raise their own classes too
                log.warning("near cache: invalidation connection lost (%s)", type(exc).__name__)
            first = False
            self._go_dark()
            await self._close_conn()
            await anyio.sleep(backoff.next_delay())

    async def _session(self, first: bool, backoff: Backoff) -> None:
        redis: Any = self._client.redis  # standalone or Sentinel (Cluster is refused)
        conn = redis.connection_pool.make_connection()
        self._conn = conn
        # The handshake has a deadline of its own: a request dropped by a half-open link
        # would otherwise wait for a reply forever (the pool may have no socket timeout).
        with anyio.fail_after(1.0 + 3 * self.ping_interval):
            await conn.connect()
            await conn.send_command("CLIENT", "ID")
            client_id = int(await conn.read_response())
            args: list[Any] = ["CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST"]
            for prefix in self.prefixes:
                args += ["PREFIX", prefix]
            await conn.send_command(*args)
            await conn.read_response()
            await conn.send_command("SUBSCRIBE", INVALIDATE)
            await conn.read_response()  # the subscribe confirmation
        if not first:
            self._reconnects += 1
        self._flush()  # anything cached before is suspect now
        self._last_seen = time.monotonic()
        self._live = True
        self._up.set()
        backoff.reset()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._pinger, conn)
            while True:
                message = await conn.read_response(timeout=math.inf)
                self._last_seen = time.monotonic()
                self._on_message(message)

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) < 3:
            return
        kind = message[0].decode() if isinstance(message[0], bytes) else str(message[0])
        if kind != "message":
            return  # pong, subscribe confirmations
        keys = message[2]
        if keys is None:  # FLUSHDB / FLUSHALL
            self._flush()
            return
        for raw in keys:
            self._evict(raw.decode() if isinstance(raw, bytes) else str(raw))
            self._invalidations += 1

    async def _pinger(self, conn: Any) -> None:
        while True:
            await anyio.sleep(self.ping_interval)
            if time.monotonic() - self._last_seen > 3 * self.ping_interval:
                self._go_dark()  # stop serving first, then drop the connection
                await conn.disconnect(nowait=True)  # never wait on a dead link
                return
            await conn.send_command("PING")

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.disconnect(nowait=True)  # never wait on a dead link
            except Exception as exc:  # closing a broken socket: nothing more to do
                log.debug("near cache: close failed (%s)", type(exc).__name__)
