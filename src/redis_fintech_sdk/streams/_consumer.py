"""StreamConsumer: a consumer-group worker with reclaim, retries and dead letters (async).

The I/O shell around the pure decisions of :mod:`._decisions`: one reader task
(``XREADGROUP``), one reclaim task (``XAUTOCLAIM``), one ack task (batched ``XACK``), a
lease renewal task and a lag report task (:mod:`._upkeep`), and at most ``max_in_flight``
handler tasks, all owned by the task groups of :meth:`run`. The circuit breaker gate is
in :mod:`._breaker_gate`, settling in :mod:`._settle`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.hooks import AuditSink, ChannelPolicy, Metrics, Tracing
from redis_fintech_sdk.resilience import Backoff, Permit, is_retryable
from redis_fintech_sdk.streams._async.admin import AsyncStreamAdmin
from redis_fintech_sdk.streams._codec import FrameCodec, default_codec
from redis_fintech_sdk.streams._config import AckPolicy, ConsumerConfig
from redis_fintech_sdk.streams._consumer_hooks import ConsumerHooks
from redis_fintech_sdk.streams._decisions import AckBuffer
from redis_fintech_sdk.streams._errors import is_nogroup
from redis_fintech_sdk.streams._handling import Handling
from redis_fintech_sdk.streams._keys import StreamKeys
from redis_fintech_sdk.streams._message import IdempotencyStore, StreamMessage
from redis_fintech_sdk.streams._reading import entries_of, text
from redis_fintech_sdk.streams._scripts import DEAD_LETTER, EXACTLY_ONCE_COMMIT
from redis_fintech_sdk.streams._stats import ConsumerStatistics
from redis_fintech_sdk.streams._upkeep import Upkeep

__all__ = ["Handler", "StreamConsumer"]

log = logging.getLogger("redis_fintech_sdk.streams")

Handler = Callable[[StreamMessage], Awaitable[None]]
"""An async function handling one message; raising means it failed."""


class StreamConsumer(Handling, Upkeep):
    """Consumes one stream as a member of a consumer group, at-least-once by default.

    Use :meth:`run` (until :meth:`stop`) or ``async with consumer:`` (runs in the
    background; leaving the block stops gracefully: no new reads, in-flight handlers
    finish, their acks are flushed). Errors that cannot be recovered from (permissions,
    configuration) end :meth:`run` and reach the caller; connection errors and a lost
    group (``NOGROUP`` after a flush or a restart without persistence) are recovered
    from with backoff.

    Resilience (see :class:`ConsumerConfig`): ``handler_timeout`` cancels a handler that
    runs too long (a failed attempt); ``renew_leases`` keeps an entry whose handler still
    runs from being reclaimed by another consumer; ``breaker`` pauses reading while a
    downstream is failing, without using up attempts; ``lag_interval`` reports
    ``consumer_lag`` and ``consumer_pending``.

    Args:
        client: the SDK client (not closed by the consumer).
        stream: the stream key.
        handler: ``async def handler(message: StreamMessage) -> None``.
        config: see :class:`ConsumerConfig`; or pass ``group=`` and its other fields as
            keyword arguments.
        codec: decodes frames; default :func:`default_codec`.
        idempotency: enables exactly-once processing (see :class:`IdempotencyStore`).
        metrics: reports ``messages_delivered_total`` (``kind=stream``),
            ``messages_acked_total``, ``messages_reclaimed_total``, ``dead_letters_total``,
            ``decode_errors_total``, ``reconnects_total``, ``handler_duration_seconds``, and
            every ``lag_interval`` the gauges ``consumer_lag`` and ``consumer_pending``.
        tracing: a CONSUMER span around each handler call, continuing the producer's trace.
        authorizer: ``check_consume(stream, principal)`` before the consumer touches Redis.
        principal: who consumes (for ``authorizer``; its ``id`` is the audit actor).
        audit: records ``acked``, ``consumed`` (failed attempts), ``dead_lettered`` and
            ``permission_denied`` events. A failing sink is logged, never fatal.

    Raises:
        ConfigurationError: an invalid option, or a block longer than the client allows.
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        handler: Handler,
        *,
        config: ConsumerConfig | None = None,
        codec: FrameCodec | None = None,
        idempotency: IdempotencyStore | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        authorizer: ChannelPolicy | None = None,
        principal: Any = None,
        audit: AuditSink | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = ConsumerConfig(**options)
        elif options:
            raise ConfigurationError("config", "pass a ConsumerConfig or options, not both")
        client.config.timeouts.check_block(config.block)
        if idempotency is not None and config.ack_policy not in (
            AckPolicy.NACK_ON_ERROR,
            AckPolicy.REJECT_ON_ERROR,
        ):
            raise ConfigurationError("ack_policy", "exactly-once needs an *_ON_ERROR policy")
        self._client = client
        self.stream = stream
        self.config = config
        self.keys = StreamKeys.for_stream(stream, dead_letters=config.dead_letters)
        self._handler = handler
        self.codec = codec if codec is not None else default_codec()
        self.idempotency = idempotency
        self._admin = AsyncStreamAdmin(client)
        self._dead_letter = client.redis.register_script(DEAD_LETTER)
        self._commit = client.redis.register_script(EXACTLY_ONCE_COMMIT)
        self._acks = AckBuffer(config.ack_batch_size)
        self._ack_wakeup = anyio.Event()
        self._stop = anyio.Event()
        self._armed = False
        self._slots = anyio.Semaphore(config.max_in_flight)
        self._bg: TaskGroup | None = None
        self._counts: dict[str, int] = dict.fromkeys(ConsumerStatistics.__slots__, 0)
        self._running: set[str] = set()  # dispatched, not yet settled
        self._leased: dict[str, float] = {}  # handler running since (monotonic): renewed
        self._probes: dict[str, Permit] = {}  # half-open probe permits, by entry
        self._wake = anyio.Event()
        self._paused = False
        self._hooks = ConsumerHooks.create(
            stream=stream,
            group=config.group,
            metrics=metrics,
            tracing=tracing,
            authorizer=authorizer,
            principal=principal,
            audit=audit,
        )

    # ---------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Consume until :meth:`stop` is called; return after a graceful drain.

        Raises:
            AuthorizationError: the authorizer refused (before any I/O) or the server did.
            RedisError: an error that retrying cannot fix.
        """
        if self._armed:
            self._armed = False  # __aenter__ made the event: a stop() since then counts
        else:
            self._stop = anyio.Event()
        if self._hooks is not None:
            await self._hooks.admit()
        await self._ensure_group(
            Backoff(base=self.config.reconnect_base, cap=self.config.reconnect_cap), first=True
        )
        cfg = self.config
        metrics = self._hooks is not None and self._hooks.metrics is not None
        try:
            async with anyio.create_task_group() as service:
                service.start_soon(self._ack_loop)
                if cfg.renew_leases and cfg.ack_policy is not AckPolicy.ACK_FIRST:
                    service.start_soon(self._renew_loop)
                if metrics and cfg.lag_interval is not None:
                    service.start_soon(self._lag_loop)
                async with anyio.create_task_group() as work:
                    work.start_soon(self._reclaim_loop, work)
                    await self._read_loop(work)
                await self._flush_acks(final=True)
                service.cancel_scope.cancel()
        except BaseException as exc:
            raise _unwrap(exc) from None

    def stop(self) -> None:
        """Ask :meth:`run` to stop: no new reads; in-flight entries finish and are acked."""
        self._stop.set()
        self._wake_paused()

    async def __aenter__(self) -> StreamConsumer:
        # The stop event is made here, not when run() starts: leaving the block before the
        # task got to run must still stop it.
        self._stop = anyio.Event()
        self._armed = True
        self._bg = anyio.create_task_group()
        await self._bg.__aenter__()
        self._bg.start_soon(self.run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self.stop()
        assert self._bg is not None
        try:
            return await self._bg.__aexit__(exc_type, exc, tb)
        except BaseException as err:
            raise _unwrap(err) from None
        finally:
            self._bg = None

    def statistics(self) -> ConsumerStatistics:
        """Counters since creation."""
        return ConsumerStatistics(**self._counts)

    # ---------------------------------------------------------------- loops

    async def _read_loop(self, work: TaskGroup) -> None:
        cfg = self.config
        backoff = Backoff(base=cfg.reconnect_base, cap=cfg.reconnect_cap)
        block_ms = int(cfg.block * 1000) or None
        while not self._stop.is_set():
            if self._slots.value == 0:
                await self._slots.acquire()
                self._slots.release()
                continue
            wanted = max(1, min(cfg.batch_size, self._slots.value))
            count, probe = await self._admit(wanted, reader=True)
            if not count:
                continue
            try:
                with self._client.translate_errors("XREADGROUP", key=self.stream):
                    reply = await self._client.blocking.xreadgroup(
                        cfg.group,
                        cfg.consumer,
                        {self.stream: ">"},
                        count=count,
                        block=block_ms if probe is None else None,
                    )
                backoff.reset()
            except RedisError as exc:
                self._release_unused(probe)
                await self._recover(exc, backoff)
                continue
            entries = entries_of(reply)
            if not entries and probe is not None:
                # Nothing new to probe with: leave the probe slots to the reclaim loop.
                self._release_unused(probe)
                await self._pause(cfg.block)
            for entry_id, fields in entries:
                await self._dispatch(work, entry_id, fields, 1, probe)
                probe = None

    async def _reclaim_loop(self, work: TaskGroup) -> None:
        cfg = self.config
        backoff = Backoff(base=cfg.reconnect_base, cap=cfg.reconnect_cap)
        min_idle = int(cfg.visibility_timeout * 1000)
        cursor = "0-0"
        redis = self._client.redis
        while not self._stop.is_set():
            count, probe = await self._admit(max(1, min(cfg.batch_size, self._slots.value)))
            if not count:
                continue
            try:
                with self._client.translate_errors("XAUTOCLAIM", key=self.stream):
                    reply = await redis.xautoclaim(
                        self.stream, cfg.group, cfg.consumer, min_idle, cursor, count=count
                    )
                    cursor = text(reply[0])
                    claimed = [(text(e[0]), e[1]) for e in reply[1] if e and e[1] is not None]
                    gone = len(reply[2]) if len(reply) > 2 else 0
                    gone += sum(1 for e in reply[1] if e and e[1] is None)
                    attempts = await self._delivery_counts([i for i, _ in claimed])
                backoff.reset()
            except RedisError as exc:
                self._release_unused(probe)
                await self._recover(exc, backoff)
                continue
            if not claimed:
                self._release_unused(probe)
            if gone:
                self._counts["deleted_while_pending"] += gone
                log.warning(
                    "%d pending entries of %s were trimmed before processing", gone, self.stream
                )
            self._counts["claimed"] += len(claimed)
            if self._hooks is not None:
                self._hooks.count("messages_reclaimed_total", len(claimed))
            for entry_id, fields in claimed:
                await self._dispatch(work, entry_id, fields, attempts.get(entry_id, 1), probe)
                probe = None
            if cursor == "0-0" or not claimed:
                cursor = "0-0"
                await self._sleep(cfg.effective_claim_interval)

    async def _delivery_counts(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        async with self._client.redis.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xpending_range(self.stream, self.config.group, entry_id, entry_id, 1)
            replies = await pipe.execute()
        counts: dict[str, int] = {}
        for entry_id, rows in zip(ids, replies, strict=True):
            counts[entry_id] = int(rows[0]["times_delivered"]) if rows else 1
        return counts

    async def _recover(self, exc: RedisError, backoff: Backoff) -> None:
        if is_nogroup(exc):
            log.warning(
                "consumer group %s of %s is gone; re-creating it", self.config.group, self.stream
            )
            await self._sleep(backoff.next_delay())
            await self._ensure_group(backoff)
            return
        if not is_retryable(exc):
            raise exc
        self._counts["reconnects"] += 1
        if self._hooks is not None:
            self._hooks.count("reconnects_total")
        log.warning("stream %s: %s; retrying", self.stream, type(exc).__name__)
        await self._sleep(backoff.next_delay())

    async def _ensure_group(self, backoff: Backoff, *, first: bool = False) -> None:
        while True:
            try:
                created = await self._admin.ensure_group(
                    self.stream, self.config.group, start_id=self.config.start_id
                )
                if created and not first:
                    self._counts["group_recreated"] += 1
                return
            except RedisError as exc:
                if not is_retryable(exc):
                    raise
                self._counts["reconnects"] += 1
                await anyio.sleep(backoff.next_delay())

    async def _sleep(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._stop.wait()

    # ---------------------------------------------------------------- one entry

    async def _dispatch(
        self, work: TaskGroup, entry_id: Any, fields: Any, attempt: int, probe: Permit | None
    ) -> None:
        entry = text(entry_id)
        if entry in self._running:
            # Our own reclaim scan found an entry we are still handling (its lease ran
            # out): one handler call at a time per entry; the running one settles it.
            self._release_unused(probe)
            return
        self._running.add(entry)
        if probe is not None:
            self._probes[entry] = probe
        try:
            # The read loop sized its batch to the free slots, so this almost never waits;
            # the non-blocking path also skips a scheduler round trip per message.
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            await self._slots.acquire()
        self._counts["in_flight"] += 1
        self._counts["delivered"] += 1
        if self._hooks is not None:
            self._hooks.count("messages_delivered_total")
        work.start_soon(self._process, entry, fields, attempt)


def _unwrap(exc: BaseException) -> BaseException:
    # anyio task groups wrap errors in (nested) exception groups; one error is re-raised
    # as itself so callers can catch AuthorizationError and friends directly.
    while True:
        inner = getattr(exc, "exceptions", None)
        if not inner or len(inner) != 1:
            return exc
        exc = inner[0]
