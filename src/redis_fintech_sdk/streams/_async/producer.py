"""AsyncStreamProducer: appends frames to a stream, idempotently, with retention.

This file is the source of truth; ``streams/_sync/producer.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import (
    AuthorizationError,
    ConfigurationError,
    DurabilityError,
    RedisError,
)
from redis_fintech_sdk.hooks import (
    AuditSink,
    ChannelPolicy,
    Metrics,
    Tracing,
    active,
    channel_family,
    frame_ids,
    principal_id,
    with_trace,
)
from redis_fintech_sdk.resilience import RetryPolicy, is_retryable
from redis_fintech_sdk.streams._append import AppendResult
from redis_fintech_sdk.streams._async.admin import AsyncStreamAdmin
from redis_fintech_sdk.streams._codec import FrameCodec, default_codec, frame_message_id
from redis_fintech_sdk.streams._config import FRAME_FIELD, Durability, Retention, TrimPolicy
from redis_fintech_sdk.streams._durability import (
    ReplicaCountCache,
    connected_replicas,
    demoted_while_waiting,
    replicas_to_wait_for,
)
from redis_fintech_sdk.streams._info import ServerFeatures
from redis_fintech_sdk.streams._keys import StreamKeys
from redis_fintech_sdk.streams._scripts import IDEMPOTENT_XADD
from redis_fintech_sdk.streams._stats import ProducerStatistics

__all__ = ["AsyncStreamProducer"]

log = logging.getLogger("redis_fintech_sdk.streams")

_REPLICA_COUNT_TTL = 1.0
"""Seconds a ``Durability(replicas="all")`` count is reused before it is read again."""


@dataclass(frozen=True, slots=True)
class _Item:
    frame: bytes
    iid: str


class AsyncStreamProducer:
    """Appends messages to one stream (``XADD``), safely retried.

    Each append gets an idempotency id before its first attempt — the frame's message id
    when the codec exposes one, else ``<producer id>`` + a sequence number — and keeps it
    on every retry. The server checks it atomically: ``XADD IDMP`` where the server has it
    (Redis 8.6+), a Lua script elsewhere. A retry after an ambiguous failure (a timeout or
    a connection reset after the command was sent) therefore never creates a second entry.

    Args:
        client: the SDK client (not closed by the producer).
        stream: the stream key.
        codec: turns messages into frames; default :func:`default_codec`. ``bytes`` given
            to :meth:`add` are taken as ready frames.
        retention: how much of the stream to keep (default: everything).
        durability: what each append waits for (default: the primary's reply). With
            ``Durability(replicas="all")`` the replica count is re-read at most every
            second and after every shortfall or retried error (see :class:`Durability`).
        idempotent: check idempotency ids on the server (default true).
        producer_id: names this producer in the dedup records (default: random).
        dedup_window: seconds an idempotency id is remembered.
        dedup_max_ids: ids remembered per producer; keep it above the appends one producer
            may have in flight.
        retry: retries of transient failures (only when ``idempotent``).
        metrics: reports ``messages_published_total`` (``kind=stream``),
            ``publish_errors_total`` and ``retries_total``.
        tracing: a PRODUCER span (``send``) around each append; its context goes into
            the envelope header. Ready frames (``bytes``) are appended as they are.
        authorizer: ``check_produce(stream, principal)`` before any I/O.
        principal: who produces (for ``authorizer``; its ``id`` is the audit actor).
        audit: records ``published`` and ``permission_denied`` events. A failing sink is
            logged; it never fails the append.

    Example:
        >>> producer = AsyncStreamProducer(client, "trades")  # doctest: +SKIP
        >>> entry_id = await producer.add(confirmation)  # doctest: +SKIP
    """

    def __init__(
        self,
        client: AsyncClient,
        stream: str,
        *,
        codec: FrameCodec | None = None,
        retention: Retention | None = None,
        durability: Durability | None = None,
        idempotent: bool = True,
        producer_id: str | None = None,
        dedup_window: float = 600.0,
        dedup_max_ids: int = 10_000,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        authorizer: ChannelPolicy | None = None,
        principal: Any = None,
        audit: AuditSink | None = None,
    ) -> None:
        self._client = client
        self._cluster = client.config.cluster is not None
        if (
            self._cluster
            and durability is not None
            and (durability.all_replicas or durability.floor or durability.local_fsync)
        ):
            # WAIT/WAITAOF count the acknowledgements of the calling connection's last write;
            # redis-py's cluster client cannot run them on the connection that wrote, and on
            # a fresh connection they would confirm at once. Refuse rather than pretend.
            raise ConfigurationError(
                "durability", "WAIT/WAITAOF durability is not supported on a Redis Cluster"
            )
        self._keys = StreamKeys.for_stream(stream)
        self.stream = stream
        self.codec = codec if codec is not None else default_codec()
        self.retention = retention
        self.durability = durability
        self.idempotent = idempotent
        self.producer_id = producer_id or uuid.uuid4().hex[:16]
        self._window_ms = max(1, int(dedup_window * 1000))
        self._max_ids = max(1, dedup_max_ids)
        self._retry = retry if retry is not None else RetryPolicy(attempts=5, base=0.05, cap=1.0)
        self._admin = AsyncStreamAdmin(client)
        self._script = client.redis.register_script(IDEMPOTENT_XADD)
        self._dedup_keys = self._keys.idempotent_producer(self.producer_id)
        self._features: ServerFeatures | None = None
        self._seq = 0
        self._since_trim = 0
        self._appended = 0
        self._duplicates = 0
        self._retries = 0
        self._failures = 0
        self._trims = 0
        self._trimmed = 0
        self._durability_skipped = 0
        self._replica_count = ReplicaCountCache(ttl=_REPLICA_COUNT_TTL)
        self._last_append = 0.0
        self._metrics = active(metrics)
        self._tracing = active(tracing)
        self._authorizer = authorizer
        self._principal = principal
        self._audit = active(audit)
        self._labels = {"channel": channel_family(stream), "kind": "stream"}

    # ---------------------------------------------------------------- public

    async def add(self, message: Any, *, idempotency_key: str | None = None) -> str:
        """Append one message; return its entry id.

        Args:
            message: a message for the codec, or a ready frame (``bytes``).
            idempotency_key: overrides the idempotency id (e.g. an outbox row id).

        Raises:
            AuthorizationError: the authorizer (before any I/O) or the server (NOPERM)
                refused; ``.channel`` / ``.key`` names the stream.
            CodecError: the message cannot be encoded.
            DurabilityError: the durability wait fell short.
            RedisError: the append failed after the retries.
        """
        return (await self.append(message, idempotency_key=idempotency_key)).entry_id

    async def append(self, message: Any, *, idempotency_key: str | None = None) -> AppendResult:
        """Append one message; return its entry id and whether it was a duplicate.

        Like :meth:`add`, but says what happened: ``AppendResult.duplicate`` is true when
        the idempotency id (``idempotency_key``, or the frame's message id) was already in
        the stream, so nothing was added (see :class:`AppendResult` for retries).

        Raises:
            AuthorizationError: refused by the authorizer (before any I/O) or the server.
            CodecError: the message cannot be encoded.
            DurabilityError: the durability wait fell short.
            RedisError: the append failed after the retries.
        """
        if self._authorizer is not None:
            await self._admit()
        if self._tracing is None:
            item = self._prepare(message, idempotency_key)
            return (await self._send_with_retry([item]))[0]
        trace: dict[str, str] = {}
        with self._tracing.publish_span(self.stream, trace, operation="send"):
            item = self._prepare(message, idempotency_key, trace)
            return (await self._send_with_retry([item]))[0]

    async def add_many(self, messages: Iterable[Any]) -> list[str]:
        """Append messages in one pipelined round trip; return their entry ids in order.

        Raises:
            AuthorizationError: refused by the authorizer (nothing is sent) or the server.
            CodecError: a message cannot be encoded (nothing is sent then).
            DurabilityError: the durability wait fell short.
            RedisError: the batch failed after the retries.
        """
        return [result.entry_id for result in await self.append_many(messages)]

    async def append_many(self, messages: Iterable[Any]) -> list[AppendResult]:
        """Like :meth:`add_many`, returning an :class:`AppendResult` per message, in order.

        Raises:
            AuthorizationError: refused by the authorizer (nothing is sent) or the server.
            CodecError: a message cannot be encoded (nothing is sent then).
            DurabilityError: the durability wait fell short.
            RedisError: the batch failed after the retries.
        """
        if self._authorizer is not None:
            await self._admit()
        items = [self._prepare_traced(m) for m in messages]
        if not items:
            return []
        return await self._send_with_retry(items)

    def statistics(self) -> ProducerStatistics:
        """Counters since creation."""
        return ProducerStatistics(
            appended=self._appended,
            duplicates_suppressed=self._duplicates,
            retries=self._retries,
            failures=self._failures,
            trims=self._trims,
            trimmed_entries=self._trimmed,
            durability_skipped=self._durability_skipped,
            last_append_at=self._last_append,
        )

    async def features(self) -> ServerFeatures:
        """What the server supports (probed once).

        Raises:
            RedisError: the server cannot be reached.
        """
        if self._features is None:
            self._features = await self._admin.features(self.stream)
            # Startup check, once per producer: say plainly when the server can lose what
            # this producer is told was acknowledged.
            for warning in await self._client.durability_warnings():
                log.warning("stream %s: %s", self.stream, warning)
        return self._features

    # ---------------------------------------------------------------- internals

    async def _admit(self) -> None:
        assert self._authorizer is not None
        try:
            self._authorizer.check_produce(self.stream, self._principal)
        except AuthorizationError as exc:
            if self._metrics is not None:
                self._metrics.inc("authorization_denied_total", 1.0, {"action": "produce"})
            await self._record("permission_denied", "", "denied", f"produce: {type(exc).__name__}")
            raise

    async def _record(
        self, kind: str, frame: Any, outcome: str = "success", reason: str = ""
    ) -> None:
        if self._audit is None:
            return
        mid, kid = frame_ids(self.codec, frame or None)
        try:
            await self._audit.record(
                kind=kind,
                actor=principal_id(self._principal),
                outcome=outcome,
                channel=self.stream,
                message_id=mid,
                key_id=kid,
                reason=reason,
            )
        except Exception as exc:  # auditing must not turn a done append into an error
            log.warning("audit sink failed (%s); %s event not recorded", type(exc).__name__, kind)

    def _prepare_traced(self, message: Any) -> _Item:
        if self._tracing is None:
            return self._prepare(message, None)
        trace: dict[str, str] = {}
        with self._tracing.publish_span(self.stream, trace, operation="send"):
            return self._prepare(message, None, trace)

    def _prepare(self, message: Any, key: str | None, trace: dict[str, str] | None = None) -> _Item:
        if isinstance(message, (bytes, bytearray, memoryview)):
            frame = bytes(message)
        elif trace:
            message, options = with_trace(message, {}, trace)
            codec: Any = self.codec
            frame = bytes(codec.encode(message, channel=self.stream, **options))
        else:
            frame = self.codec.encode(message, channel=self.stream)
        self._seq += 1
        iid = key or frame_message_id(self.codec, frame) or f"s{self._seq}"
        return _Item(frame, iid)

    def _trim_args(self, features: ServerFeatures) -> list[Any]:
        retention = self.retention
        if retention is None:
            return []
        if retention.policy is TrimPolicy.REFUSE and not features.trim_acked:
            return []  # trimmed periodically and safely instead
        mode = "=" if retention.exact or features.trim_acked else "~"
        args: list[Any] = ["ACKED"] if retention.policy is TrimPolicy.REFUSE else []
        if retention.max_length is not None:
            args += ["MAXLEN", mode, retention.max_length]
        else:
            assert retention.max_age is not None
            cut = max(0, int((time.time() - retention.max_age) * 1000))
            args += ["MINID", mode, f"{cut}-0"]
        return args

    async def _send_with_retry(self, items: Sequence[_Item]) -> list[AppendResult]:
        delays = iter(self._retry.delays()) if self.idempotent else iter(())
        attempts = 0
        while True:
            attempts += 1
            try:
                ids = await self._send(items)
                break
            except RedisError as exc:
                delay = next(delays, None)
                if delay is None or not is_retryable(exc):
                    self._failures += 1
                    if self._metrics is not None:
                        labels = {"channel": self._labels["channel"], "error": type(exc).__name__}
                        self._metrics.inc("publish_errors_total", float(len(items)), labels)
                    raise
                self._retries += 1
                if self._metrics is not None:
                    self._metrics.inc("retries_total", 1.0, {"operation": "xadd"})
                log.info("retrying append to %s after %s", self.stream, type(exc).__name__)
                await self._after_failure()
                await anyio.sleep(delay)
        self._appended += len(items)
        self._last_append = time.time()
        if self._metrics is not None:
            self._metrics.inc("messages_published_total", float(len(items)), self._labels)
        if self._audit is not None:
            for item in items:
                await self._record("published", item.frame)
        await self._maybe_trim(len(items))
        return [AppendResult(entry_id, duplicate, attempts) for entry_id, duplicate in ids]

    async def _after_failure(self) -> None:
        """Before a retry: the topology may have changed, so look again.

        The replica count is read afresh, and with Sentinel the primary is re-checked
        (``refresh_primary`` drops idle connections to a demoted one), so a write the old
        primary could not get confirmed is retried on the new one.
        """
        self._replica_count.invalidate()
        if self._client.config.sentinel is not None:
            try:
                await self._client.refresh_primary()
            except RedisError as refresh_error:
                log.debug("primary re-check failed: %s", type(refresh_error).__name__)

    async def _wait_count(self) -> int:
        """How many replicas this append's ``WAIT`` asks for (see :class:`Durability`)."""
        durability = self.durability
        if durability is None:
            return 0
        if not durability.all_replicas:
            return durability.floor
        cached = self._replica_count.get()
        if cached is not None:
            return cached
        views = await self._client.sentinel_replicas()
        info = await self._client.replication_info(self.stream)
        count = replicas_to_wait_for(views, connected_replicas(info), durability.floor)
        self._replica_count.put(count)
        return count

    async def _send(self, items: Sequence[_Item]) -> list[tuple[str, bool | None]]:
        features = await self.features()
        wait_count = await self._wait_count()
        trim = self._trim_args(features)
        stream = self.stream
        if self._cluster and self.idempotent and not features.xadd_idmp:
            return await self._send_scripted(items, trim)
        with self._client.translate_errors("XADD", key=stream):
            async with self._client.redis.pipeline(transaction=False) as pipe:
                for item in items:
                    if not self.idempotent:
                        pipe.execute_command("XADD", stream, *trim, "*", FRAME_FIELD, item.frame)
                    elif features.xadd_idmp:
                        pipe.execute_command(
                            "XADD",
                            stream,
                            "IDMP",
                            self.producer_id,
                            item.iid,
                            *trim,
                            "*",
                            FRAME_FIELD,
                            item.frame,
                        )
                    else:
                        await self._script(
                            keys=[stream, *self._dedup_keys],
                            args=[
                                item.iid,
                                self._window_ms,
                                self._max_ids,
                                FRAME_FIELD,
                                item.frame,
                                len(trim),
                                *trim,
                            ],
                            client=pipe,  # type: ignore[arg-type]
                        )
                waits = self._queue_durability(pipe, features, wait_count)
                # Replies one by one: an append that succeeded and a WAIT that then failed
                # is "applied, not confirmed" (below), not the WAIT's error.
                replies = await pipe.execute(raise_on_error=False)
            for reply in replies[: len(items)]:
                if isinstance(reply, Exception):
                    raise reply
        ids = self._parse_ids(replies[: len(items)], None if features.xadd_idmp else False)
        self._check_durability(replies[len(items) :], waits, wait_count)
        return ids

    async def _send_scripted(
        self, items: Sequence[_Item], trim: Sequence[Any]
    ) -> list[tuple[str, bool | None]]:
        """Cluster: one script call per entry (redis-py refuses EVALSHA in cluster pipelines)."""
        replies: list[Any] = []
        with self._client.translate_errors("XADD", key=self.stream):
            for item in items:
                replies.append(
                    await self._script(
                        keys=[self.stream, *self._dedup_keys],
                        args=[
                            item.iid,
                            self._window_ms,
                            self._max_ids,
                            FRAME_FIELD,
                            item.frame,
                            len(trim),
                            *trim,
                        ],
                    )
                )
        return self._parse_ids(replies, False)

    def _parse_ids(
        self, replies: Sequence[Any], unflagged: bool | None
    ) -> list[tuple[str, bool | None]]:
        # The script replies [added, id]; a plain XADD only the id (``unflagged`` says what
        # that means: never a duplicate without dedup, unknown with XADD IDMP).
        ids: list[tuple[str, bool | None]] = []
        for reply in replies:
            duplicate = unflagged
            if isinstance(reply, (list, tuple)):
                added, entry_id = int(reply[0]), reply[1]
                duplicate = not added
                if duplicate:
                    self._duplicates += 1
            else:
                entry_id = reply
            text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            ids.append((text, duplicate if self.idempotent else False))
        return ids

    def _queue_durability(self, pipe: Any, features: ServerFeatures, wait_count: int) -> list[str]:
        waits: list[str] = []
        durability = self.durability
        if durability is None:
            return waits
        timeout_ms = max(1, int(durability.timeout * 1000))
        if wait_count:
            pipe.execute_command("WAIT", wait_count, timeout_ms)
            waits.append("WAIT")
        if durability.local_fsync:
            if features.waitaof:
                pipe.execute_command("WAITAOF", 1, 0, timeout_ms)
                waits.append("WAITAOF")
            else:
                self._durability_skipped += 1
        return waits

    def _check_durability(
        self, replies: Sequence[Any], waits: Sequence[str], wait_count: int
    ) -> None:
        durability = self.durability
        for kind, reply in zip(waits, replies, strict=False):
            if durability is None:
                return
            if isinstance(reply, Exception):
                if demoted_while_waiting(reply):
                    # The primary became a replica while (or before) waiting — a failover:
                    # the append is not confirmed, and a retry goes to the new primary.
                    raise DurabilityError(
                        f"append not confirmed: the server stopped being the primary ({kind})",
                        command=kind,
                        address=self._client.address,
                    ) from reply
                with self._client.translate_errors(kind, key=self.stream):
                    raise reply
            if kind == "WAIT" and int(reply) < wait_count:
                which = " (every healthy replica)" if durability.all_replicas else ""
                raise DurabilityError(
                    f"append reached {int(reply)} of {wait_count} replicas{which} in time",
                    command="WAIT",
                    address=self._client.address,
                )
            if kind == "WAITAOF" and int(reply[0]) < 1:
                raise DurabilityError(
                    "append was not fsynced to the AOF in time",
                    command="WAITAOF",
                    address=self._client.address,
                )

    async def _maybe_trim(self, count: int) -> None:
        retention = self.retention
        if retention is None or retention.policy is not TrimPolicy.REFUSE:
            return
        features = await self.features()
        if features.trim_acked:
            return
        self._since_trim += count
        if self._since_trim < retention.trim_every:
            return
        self._since_trim = 0
        result = await self._admin.trim(
            self.stream,
            max_length=retention.max_length,
            max_age=retention.max_age,
            policy=TrimPolicy.REFUSE,
        )
        self._trims += 1
        self._trimmed += result.removed
