"""AsyncPublisher: typed messages to channels, auto-pipelined, behind a circuit breaker.

This file is the source of truth; ``pubsub/_sync/publisher.py`` is generated from it by
``scripts/unasync.py``. Edit here, then run ``python scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from redis_fintech_sdk.channels import Channel, MessageView, RoutingTable
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.connection.errormap import map_redis_error
from redis_fintech_sdk.errors import ConfigurationError, SDKError
from redis_fintech_sdk.pubsub._replay import PUBLISH_SCRIPT, ReplayConfig
from redis_fintech_sdk.pubsub._senders import AutoPipeliner, Command, SenderStatistics
from redis_fintech_sdk.pubsub._types import FrameCodec, default_codec
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerStatistics

__all__ = ["AsyncPublisher", "PublisherStatistics"]


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
    """

    published: int
    failed: int
    receivers: int
    unrouted: int
    sender: SenderStatistics
    breaker: CircuitBreakerStatistics


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
    ) -> None:
        self._client = client
        self.codec: FrameCodec = codec if codec is not None else default_codec()
        self._routing = routing
        self._deployment = deployment
        self._sharded = client.config.cluster is not None if sharded is None else sharded
        if replay is not None and self._sharded:
            raise ConfigurationError("replay", "replayable topics use PUBLISH, not SPUBLISH")
        self._replay = replay
        self.breaker = breaker if breaker is not None else CircuitBreaker("publisher")
        self._sender = AutoPipeliner(self._execute, max_batch=max_batch, linger=linger)
        self._published = self._failed = self._receivers = self._unrouted = 0

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
            CircuitOpenError: the breaker is open; nothing was sent.
            ConfigurationError: no channel and no routing table.
            CodecError: the message could not be encoded.
            RedisError: Redis refused or could not be reached.
        """
        total = 0
        for name in self._targets(message, channel, options):
            frame = self._encode(message, name, options)
            total += await self.publish_frame(name, frame)
        return total

    async def publish_frame(self, channel: Channel | str, frame: bytes) -> int:
        """Publish an already encoded frame.

        Raises:
            CircuitOpenError: the breaker is open; nothing was sent.
            RedisError: Redis refused or could not be reached.
        """
        name = str(channel)
        try:
            reply = await self._sender.submit(self._command(name, frame))
        except BaseException:
            self._failed += 1
            raise
        return self._count(reply)

    async def publish_many(
        self, items: Iterable[tuple[Channel | str, Any]], **options: Any
    ) -> list[int]:
        """Publish many ``(channel, message)`` pairs in one pipeline.

        Returns:
            The receiver count of each message, in order.

        Raises:
            CircuitOpenError: the breaker is open; nothing was sent.
            CodecError: a message could not be encoded; nothing was sent.
            RedisError: the first error Redis returned (the others were still sent).
        """
        commands = [self._command(str(ch), self._encode(m, str(ch), options)) for ch, m in items]
        if not commands:
            return []
        results = await self._execute(commands)
        counts: list[int] = []
        first_error: BaseException | None = None
        for reply in results:
            if isinstance(reply, BaseException):
                self._failed += 1
                first_error = first_error or reply
                counts.append(0)
            else:
                counts.append(self._count(reply))
        if first_error is not None:
            raise first_error
        return counts

    # ---------------------------------------------------------------- internals

    def _targets(
        self, message: Any, channel: Channel | str | None, options: Mapping[str, Any]
    ) -> list[str]:
        if channel is not None:
            return [str(channel)]
        if self._routing is None:
            raise ConfigurationError("channel", "no channel given and no routing table set")
        decision = self._routing.route(self._view(message, options))
        names = [
            t.channel.name
            for t in decision.targets
            if t.deployment is None or t.deployment == self._deployment
        ]
        if not names:
            self._unrouted += 1
        return list(dict.fromkeys(names))

    def _view(self, message: Any, options: Mapping[str, Any]) -> MessageView:
        headers = options.get("headers") or {}
        if isinstance(getattr(message, "type", None), str):  # an Envelope
            return MessageView(
                type=message.type,
                headers={**message.headers, **headers},
                tenant=options.get("tenant", message.tenant),
                classification=options.get("classification", message.classification),
            )
        from redis_fintech_sdk.codec import default_registry

        registry: Any = getattr(getattr(self.codec, "config", None), "registry", default_registry)
        spec = registry.spec_for(type(message))
        return MessageView(
            type=spec.type_name,
            headers=headers,
            tenant=options.get("tenant"),
            classification=options.get("classification", spec.classification),
        )

    def _encode(self, message: Any, channel: str, options: Mapping[str, Any]) -> bytes:
        try:
            if options:
                codec: Any = self.codec
                return bytes(codec.encode(message, channel=channel, **options))
            return self.codec.encode(message, channel=channel)
        except BaseException:
            self._failed += 1
            raise

    def _command(self, channel: str, frame: bytes) -> Command:
        if self._replay is not None and self._replay.applies_to(channel):
            key = self._replay.stream_key(channel)
            return ("EVAL", PUBLISH_SCRIPT, 1, key, channel, frame, self._replay.maxlen, "PUBLISH")
        return ("SPUBLISH" if self._sharded else "PUBLISH", channel, frame)

    def _count(self, reply: Any) -> int:
        n = int(reply[0]) if isinstance(reply, list) else int(reply)
        self._published += 1
        self._receivers += n
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
        first = commands[0]
        channel = str(first[4] if first[0] == "EVAL" else first[1])
        with self._client.translate_errors(str(first[0]), channel=channel):
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
        )

    async def aclose(self) -> None:
        """Stop auto-pipelining; commands still queued fail with :class:`RedisError`."""
        await self._sender.__aexit__(None, None, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._client.address}>"


def _is_connection_error(exc: BaseException) -> bool:
    import redis.exceptions as rexc

    return isinstance(exc, (rexc.ConnectionError, rexc.TimeoutError, OSError))
