"""AsyncPublisher: typed messages to channels, auto-pipelined, behind a circuit breaker.

This file is the source of truth; ``pubsub/_sync/publisher.py`` is generated from it by
``scripts/unasync.py``. Edit here, then run ``python scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from redis_fintech_sdk.channels import Channel, RoutingTable
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.connection.errormap import map_redis_error
from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError, SDKError
from redis_fintech_sdk.hooks import (
    AuditSink,
    ChannelPolicy,
    Limiter,
    Metrics,
    Tracing,
    active,
    frame_ids,
    with_trace,
)
from redis_fintech_sdk.hooks import principal_id as _principal_id
from redis_fintech_sdk.pubsub._hooks import (
    BreakerGauge,
    LabelCache,
    message_view,
    rate_subject_for,
)
from redis_fintech_sdk.pubsub._replay import PUBLISH_SCRIPT, ReplayConfig
from redis_fintech_sdk.pubsub._senders import AutoPipeliner, Command, SenderStatistics
from redis_fintech_sdk.pubsub._types import FrameCodec, default_codec
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerStatistics

__all__ = ["AsyncPublisher", "PublisherStatistics"]

_log = logging.getLogger("redis_fintech_sdk.pubsub")

#: Seconds between asking the sentinels where the primary is (Sentinel topologies only).
PRIMARY_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class PublisherStatistics:
    """A snapshot of a publisher.

    Attributes:
        published: messages Redis accepted.
        failed: messages that failed (Redis error, breaker open, codec error).
        receivers: total receiver count Redis reported.
        unrouted: messages the routing table sent nowhere.
        sender: round-trip counters (how well publishes were coalesced).
        breaker: the circuit breaker's counters.
        refused: publishes refused before any I/O (authorizer or rate limiter).
    """

    published: int
    failed: int
    receivers: int
    unrouted: int
    sender: SenderStatistics
    breaker: CircuitBreakerStatistics
    refused: int = 0


class AsyncPublisher:
    """Publishes typed messages; use it as ``async with AsyncPublisher(client) as pub:``.

    Inside the ``async with`` concurrent :meth:`publish` calls are coalesced into pipelines
    (auto-pipelining; ``linger`` adds auto-batching). Every round trip goes through the
    circuit breaker: while Redis is down, calls fail fast with :class:`CircuitOpenError`
    and the breaker probes again after its open interval.

    Args:
        client: the connection.
        codec: the frame codec (default: a new :class:`~redis_fintech_sdk.codec.Codec`);
            it assigns per-(producer, channel) sequence numbers.
        routing: routes messages published without an explicit channel.
        deployment: which routing-table deployment this client is (``None``: targets
            without a deployment).
        sharded: use ``SPUBLISH``; default: on a Cluster.
        replay: channels that are also written to a capped stream (replayable topics).
        breaker: the circuit breaker (default: a new one named ``publisher``).
        max_batch: most commands per pipeline.
        linger: seconds to wait for more publishes before sending a pipeline.
        metrics: reports ``messages_published_total``, ``publish_errors_total``,
            ``publish_duration_seconds`` (by channel family), ``circuit_breaker_state`` and
            ``connection_errors_total`` (``component=publisher``; without ``metrics``
            the client's hook counts them).
        tracing: a PRODUCER span around each publish; its context goes into the envelope
            header (``traceparent``/``tracestate``).
        authorizer: ``check_publish(channel, principal)`` before any I/O.
        principal: who publishes (passed to ``authorizer``; its ``id`` is the audit actor).
        limiter: ``acquire(rate_subject)`` before each publish.
        rate_subject: the limiter subject: a string, a function of the channel, or
            ``None`` for ``publish:<principal id>``.
        audit: records ``published``, ``permission_denied`` and ``rate_limited`` events
            (identifiers only). A failing sink is logged; it never fails the publish.

    Raises:
        ConfigurationError: invalid batching settings, or ``replay`` with ``sharded``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        routing: RoutingTable | None = None,
        deployment: str | None = None,
        sharded: bool | None = None,
        replay: ReplayConfig | None = None,
        breaker: CircuitBreaker | None = None,
        max_batch: int = 512,
        linger: float = 0.0,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        authorizer: ChannelPolicy | None = None,
        principal: Any = None,
        limiter: Limiter | None = None,
        rate_subject: str | Callable[[str], str] | None = None,
        audit: AuditSink | None = None,
    ) -> None:
        self._client = client
        self._primary_check_at: float | None = 0.0 if client.config.sentinel is not None else None
        self.codec: FrameCodec = codec if codec is not None else default_codec()
        self._routing = routing
        self._deployment = deployment
        self._sharded = client.config.cluster is not None if sharded is None else sharded
        if replay is not None and self._sharded:
            raise ConfigurationError("replay", "replayable topics use PUBLISH, not SPUBLISH")
        self._replay = replay
        self.breaker = breaker if breaker is not None else CircuitBreaker("publisher")
        self._sender = AutoPipeliner(self._execute, max_batch=max_batch, linger=linger)
        self._published = self._failed = self._receivers = self._unrouted = self._refused = 0
        self._metrics = active(metrics)
        self._tracing = active(tracing)
        self._authorizer = authorizer
        self._principal = principal
        self._actor = _principal_id(principal)
        self._limiter = active(limiter)
        self._subject = rate_subject_for(rate_subject, principal)
        self._audit = active(audit)
        self._guarded = authorizer is not None or self._limiter is not None
        self._pub_labels = LabelCache("kind", "pubsub")
        self._err_labels: dict[tuple[str, str], Mapping[str, str]] = {}
        if self._metrics is not None:
            self.breaker.add_listener(BreakerGauge(self._metrics, self.breaker))

    async def __aenter__(self) -> AsyncPublisher:
        await self._sender.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._sender.__aexit__(exc_type, exc, tb)

    # ---------------------------------------------------------------- publishing

    async def publish(
        self, message: Any, channel: Channel | str | None = None, **options: Any
    ) -> int:
        """Encode ``message`` and publish it to ``channel`` (or wherever routing sends it).

        Args:
            message: a registered :class:`~redis_fintech_sdk.codec.Message` or an Envelope.
            channel: the channel; ``None`` asks the routing table. A ``str`` is used as is.
            **options: codec options (``headers``, ``tenant``, ``correlation_id`` …).

        Returns:
            How many subscribers received it (summed over routed channels).

        Raises:
            AuthorizationError: the authorizer (before any I/O) or the server (NOPERM)
                refused; ``.channel`` names the channel.
            RateLimitedError: the limiter refused; ``retry_after`` says when to retry.
            CircuitOpenError: the breaker is open; nothing was sent.
            ConfigurationError: no channel and no routing table.
            CodecError: the message could not be encoded.
            RedisError: Redis refused or could not be reached.
        """
        names = self._targets(message, channel, options)
        if self._guarded:
            for name in names:
                await self._admit(name)
        total = 0
        for name in names:
            if self._tracing is not None:
                total += await self._publish_traced(message, name, options)
            else:
                total += await self._send(name, self._encode(message, name, options))
        return total

    async def publish_frame(self, channel: Channel | str, frame: bytes) -> int:
        """Publish an already encoded frame.

        Raises:
            AuthorizationError: refused by the authorizer or the server.
            RateLimitedError: the limiter refused.
            CircuitOpenError: the breaker is open; nothing was sent.
            RedisError: Redis refused or could not be reached.
        """
        name = str(channel)
        if self._guarded:
            await self._admit(name)
        return await self._send(name, frame)

    async def _send(self, name: str, frame: bytes) -> int:
        started = time.perf_counter() if self._metrics is not None else 0.0
        try:
            reply = await self._sender.submit(self._command(name, frame))
        except BaseException as exc:
            self._fail(name, exc)
            raise
        n = self._count(reply, name)
        if self._metrics is not None:
            labels = {"channel": self._pub_labels(name)["channel"]}
            self._metrics.observe("publish_duration_seconds", time.perf_counter() - started, labels)
        if self._audit is not None:
            await self._record("published", name, frame=frame)
        return n

    async def _publish_traced(self, message: Any, name: str, options: Mapping[str, Any]) -> int:
        assert self._tracing is not None
        trace: dict[str, str] = {}
        with self._tracing.publish_span(name, trace):
            return await self._send(name, self._encode(message, name, options, trace))

    async def publish_many(
        self, items: Iterable[tuple[Channel | str, Any]], **options: Any
    ) -> list[int]:
        """Publish many ``(channel, message)`` pairs in one pipeline.

        Returns:
            The receiver count of each message, in order.

        Raises:
            AuthorizationError: a channel was refused (nothing was sent).
            RateLimitedError: the limiter refused (nothing was sent).
            CircuitOpenError: the breaker is open; nothing was sent.
            CodecError: a message could not be encoded; nothing was sent.
            RedisError: the first error Redis returned (the others were still sent).
        """
        pairs = [(str(ch), m) for ch, m in items]
        if self._guarded:
            for name, _ in pairs:
                await self._admit(name)
        frames = [(name, self._encode_one(m, name, options)) for name, m in pairs]
        commands = [self._command(name, frame) for name, frame in frames]
        if not commands:
            return []
        try:
            results = await self._execute(commands)
        except BaseException as exc:
            for name, _ in frames:
                self._fail(name, exc)
            raise
        counts: list[int] = []
        first_error: BaseException | None = None
        for (name, frame), reply in zip(frames, results, strict=True):
            if isinstance(reply, BaseException):
                self._fail(name, reply)
                first_error = first_error or reply
                counts.append(0)
            else:
                counts.append(self._count(reply, name))
                if self._audit is not None:
                    await self._record("published", name, frame=frame)
        if first_error is not None:
            raise first_error
        return counts

    def _encode_one(self, message: Any, name: str, options: Mapping[str, Any]) -> bytes:
        if self._tracing is None:
            return self._encode(message, name, options)
        trace: dict[str, str] = {}
        with self._tracing.publish_span(name, trace):  # the span covers encoding only
            return self._encode(message, name, options, trace)

    # ---------------------------------------------------------------- hooks

    async def _admit(self, name: str) -> None:
        """Authorizer, then limiter: before any I/O for ``name``."""
        if self._authorizer is not None:
            try:
                self._authorizer.check_publish(name, self._principal)
            except AuthorizationError as exc:
                await self._refuse(name, exc, "permission_denied")
                raise
        if self._limiter is not None:
            try:
                await self._limiter.acquire(self._subject(name))
            except SDKError as exc:  # RateLimitedError, or the limiter's own Redis error
                await self._refuse(name, exc, "rate_limited")
                raise

    async def _refuse(self, name: str, exc: BaseException, kind: str) -> None:
        self._refused += 1
        if self._metrics is not None:
            if isinstance(exc, AuthorizationError):
                self._metrics.inc("authorization_denied_total", 1.0, {"action": "publish"})
            self._metrics.inc("publish_errors_total", 1.0, self._error_labels(name, exc))
        if self._audit is not None:
            reason = f"publish: {type(exc).__name__}"
            await self._record(kind, name, outcome="denied", reason=reason)

    async def _record(
        self, kind: str, name: str, *, outcome: str = "success", frame: bytes | None = None,
        reason: str = "",
    ) -> None:  # fmt: skip
        assert self._audit is not None
        mid, kid = frame_ids(self.codec, frame)
        try:
            await self._audit.record(
                kind=kind,
                actor=self._actor,
                outcome=outcome,
                channel=name,
                message_id=mid,
                key_id=kid,
                reason=reason,
            )
        except Exception as exc:  # auditing must not turn a done publish into an error
            _log.warning("audit sink failed (%s); %s event not recorded", type(exc).__name__, kind)

    def _fail(self, name: str, exc: BaseException) -> None:
        self._failed += 1
        if self._metrics is not None:
            self._metrics.inc("publish_errors_total", 1.0, self._error_labels(name, exc))

    def _error_labels(self, name: str, exc: BaseException) -> Mapping[str, str]:
        family = self._pub_labels(name)["channel"]
        key = (family, type(exc).__name__)
        labels = self._err_labels.get(key)
        if labels is None:
            labels = self._err_labels[key] = {"channel": family, "error": key[1]}
        return labels

    # ---------------------------------------------------------------- internals

    def _targets(
        self, message: Any, channel: Channel | str | None, options: Mapping[str, Any]
    ) -> list[str]:
        if channel is not None:
            return [str(channel)]
        if self._routing is None:
            raise ConfigurationError("channel", "no channel given and no routing table set")
        decision = self._routing.route(message_view(message, options, self.codec))
        names = [
            t.channel.name
            for t in decision.targets
            if t.deployment is None or t.deployment == self._deployment
        ]
        if not names:
            self._unrouted += 1
        return list(dict.fromkeys(names))

    def _encode(
        self,
        message: Any,
        channel: str,
        options: Mapping[str, Any],
        trace: Mapping[str, str] | None = None,
    ) -> bytes:
        try:
            if trace:
                message, options = with_trace(message, options, trace)
            if options:
                codec: Any = self.codec
                return bytes(codec.encode(message, channel=channel, **options))
            return self.codec.encode(message, channel=channel)
        except BaseException as exc:
            self._fail(channel, exc)
            raise

    def _command(self, channel: str, frame: bytes) -> Command:
        if self._replay is not None and self._replay.applies_to(channel):
            key = self._replay.stream_key(channel)
            return ("EVAL", PUBLISH_SCRIPT, 1, key, channel, frame, self._replay.maxlen, "PUBLISH")
        return ("SPUBLISH" if self._sharded else "PUBLISH", channel, frame)

    def _count(self, reply: Any, name: str) -> int:
        n = int(reply[0]) if isinstance(reply, list) else int(reply)
        self._published += 1
        self._receivers += n
        if self._metrics is not None:
            self._metrics.inc("messages_published_total", 1.0, self._pub_labels(name))
        return n

    async def _execute(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip under the breaker; per-command errors are mapped, not raised."""
        permit = self.breaker.acquire()
        try:
            results = await self._round_trip(commands)
        except BaseException as exc:
            self.breaker.release(permit, exc)
            raise
        errors = [r for r in results if isinstance(r, BaseException)]
        self.breaker.release(permit, errors[0] if errors else None)
        return results

    async def _round_trip(self, commands: Sequence[Command]) -> list[Any]:
        if self._primary_check_at is not None and time.monotonic() >= self._primary_check_at:
            # Sentinel: a demoted primary still takes PUBLISH (0 receivers, no error).
            self._primary_check_at = time.monotonic() + PRIMARY_CHECK_INTERVAL
            await self._client.refresh_primary()
        first = commands[0]
        channel = str(first[4] if first[0] == "EVAL" else first[1])
        with self._client.translate_errors(
            str(first[0]), channel=channel, component="publisher", metrics=self._metrics
        ):
            redis = self._client.redis
            if len(commands) == 1:
                try:
                    return [await redis.execute_command(*first)]
                except SDKError:
                    raise
                except Exception as exc:
                    if _is_connection_error(exc):
                        raise
                    return [self._map(exc, first)]
            pipe = redis.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute(raise_on_error=False)
        return [
            self._map(r, c) if isinstance(r, Exception) else r
            for r, c in zip(replies, commands, strict=True)
        ]

    def _map(self, exc: Exception, command: Command) -> BaseException:
        channel = str(command[4] if command[0] == "EVAL" else command[1])
        return map_redis_error(
            exc, address=self._client.address, command=str(command[0]), channel=channel
        )

    def statistics(self) -> PublisherStatistics:
        """A snapshot of the counters."""
        return PublisherStatistics(
            published=self._published,
            failed=self._failed,
            receivers=self._receivers,
            unrouted=self._unrouted,
            sender=self._sender.statistics(),
            breaker=self.breaker.statistics(),
            refused=self._refused,
        )

    async def aclose(self) -> None:
        """Stop auto-pipelining; commands still queued fail with :class:`RedisError`."""
        await self._sender.__aexit__(None, None, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._client.address}>"


def _is_connection_error(exc: BaseException) -> bool:
    import redis.exceptions as rexc

    return isinstance(exc, (rexc.ConnectionError, rexc.TimeoutError, OSError))
