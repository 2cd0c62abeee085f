"""AsyncSubscriber: resilient Pub/Sub with backpressure, gap detection and replay catch-up."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.channels import Channel, ChannelPattern
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import CodecError, RedisTimeoutError
from redis_fintech_sdk.hooks import AuditSink, ChannelPolicy, Metrics, Tracing

from ._buffer import MessageBuffer, OverflowPolicy
from ._config import SubscriberConfig
from ._events import BadFrame, HandlerFailed, SubscriberEvent, SubscriberStatistics
from ._intake import Intake
from ._observer import SubscriberHooks, authorize, observed, safe_record
from ._replay import ReplayConfig
from ._session import Supervisor
from ._subscriptions import Handler, HandlerRegistry, SubscriptionKind, SubscriptionSet
from ._types import Delivery, FrameCodec, default_codec

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["AsyncSubscriber"]

_log = logging.getLogger("redis_fintech_sdk.pubsub")
Listener = Callable[[SubscriberEvent], None]


class AsyncSubscriber:
    """Subscribes to channels, patterns and shard channels, and survives the network.

    Use it as ``async with AsyncSubscriber(client) as sub:``; then either iterate
    (``async for delivery in sub``) or register handlers (:meth:`add_handler`), not both.
    The connection loop runs in a task group owned by the ``async with``: it reconnects
    with backoff, resubscribes everything, detects half-open connections with a PING
    deadline, and reports what happened to listeners (:meth:`add_listener`). Only errors
    that retrying cannot fix (authentication, authorization) escape the ``async with``.

    Args:
        client: the connection.
        codec: the frame codec (default: a new Codec); ``None`` with ``decode=False``.
        config: buffering, liveness, reconnect and filter settings.
        replay: replayable channels to catch up from their streams after a reconnect.
        metrics: reports ``messages_delivered_total``, ``messages_dropped_total`` (by
            policy), ``sequence_gaps_total``/``messages_missed_total``,
            ``decode_errors_total``, ``reconnects_total``, ``connection_errors_total``
            (``component=subscriber``; without ``metrics`` the client's hook counts them),
            ``handler_duration_seconds`` and ``subscriber_buffer_size`` (by channel
            family, sampled every ``config.buffer_sample_interval`` seconds).
        tracing: a CONSUMER span continuing the producer's trace around each handler
            call (``process``), or at each ``get()`` when iterating (``receive``).
        authorizer: ``check_subscribe(name, principal)`` before every ``SUBSCRIBE``,
            ``PSUBSCRIBE`` and ``SSUBSCRIBE``, and again before each resubscription.
        principal: who subscribes (for ``authorizer``; its ``id`` is the audit actor).
        audit: records ``permission_denied`` and quarantined bad frames (``consumed`` /
            ``failure``). A failing sink is logged, never fatal.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        config: SubscriberConfig | None = None,
        replay: ReplayConfig | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        authorizer: ChannelPolicy | None = None,
        principal: Any = None,
        audit: AuditSink | None = None,
    ) -> None:
        self.client = client
        self._hooks = SubscriberHooks.create(
            metrics=metrics,
            tracing=tracing,
            authorizer=authorizer,
            principal=principal,
            audit=audit,
        )
        self.config = cfg = config or SubscriberConfig()
        self.codec = codec if codec is not None or not cfg.decode else default_codec()
        self._intake = Intake(self.codec, cfg, replay)
        self._replay = replay
        self._buffer: MessageBuffer[Delivery] = MessageBuffer(
            cfg.buffer_capacity, cfg.overflow, key=cfg.conflate_key
        )
        self._wanted = SubscriptionSet()
        self._confirmed: set[tuple[SubscriptionKind, str]] = set()
        self._handlers = HandlerRegistry()
        self._listeners: list[Listener] = []
        self._sentinel = client.config.sentinel is not None
        self._cluster = client.config.cluster is not None
        self._supervisor = Supervisor(self)
        self._tg: TaskGroup | None = None
        self._changed = anyio.Event()
        self._nonempty = anyio.Event()
        self._room = anyio.Event()
        self._reader_blocked = False
        self._closing = False
        self._dispatching = False
        self._delivered = self._handler_errors = self._replayed = 0

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> AsyncSubscriber:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._supervisor.run)
        if self._hooks is not None and self._hooks.metrics is not None:
            tg.start_soon(self._sample_buffer, self._hooks)
        if self._handlers:
            self._dispatching = True
            tg.start_soon(self._dispatch)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        self._closing = True
        self._state_changed()
        if exc is None and self._handlers:
            with anyio.move_on_after(self.config.drain_timeout):
                while len(self._buffer):  # noqa: ASYNC110 - graceful: handlers drain the buffer
                    await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
        try:
            return await tg.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    async def aclose(self) -> None:
        """Stop reading and close the connection (same as leaving the ``async with``)."""
        await self.__aexit__(None, None, None)

    # ---------------------------------------------------------------- subscriptions

    async def subscribe(self, *channels: Channel | str, wait: bool = True) -> None:
        """Subscribe to channels (``SUBSCRIBE``); kept across reconnects.

        Args:
            *channels: channel names.
            wait: when running, wait until Redis confirmed every one.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout`` (still subscribed:
                the next connection applies it).
        """
        await self._add(SubscriptionKind.CHANNEL, [str(c) for c in channels], wait)

    async def psubscribe(self, *patterns: ChannelPattern | str, wait: bool = True) -> None:
        """Subscribe to glob patterns (``PSUBSCRIBE``); see :meth:`subscribe`.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout``.
        """
        await self._add(SubscriptionKind.PATTERN, [str(p) for p in patterns], wait)

    async def ssubscribe(self, *channels: Channel | str, wait: bool = True) -> None:
        """Subscribe to shard channels (``SSUBSCRIBE``, Redis 7+); see :meth:`subscribe`.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout``.
        """
        await self._add(SubscriptionKind.SHARD, [str(c) for c in channels], wait)

    async def unsubscribe(self, *channels: Channel | str) -> None:
        """Stop receiving from channels."""
        await self._remove(SubscriptionKind.CHANNEL, [str(c) for c in channels])

    async def punsubscribe(self, *patterns: ChannelPattern | str) -> None:
        """Stop receiving from patterns."""
        await self._remove(SubscriptionKind.PATTERN, [str(p) for p in patterns])

    async def sunsubscribe(self, *channels: Channel | str) -> None:
        """Stop receiving from shard channels."""
        await self._remove(SubscriptionKind.SHARD, [str(c) for c in channels])

    async def _add(self, kind: SubscriptionKind, names: list[str], wait: bool) -> None:
        if self._hooks is not None:
            await authorize(self._hooks, kind, names)
        new = self._wanted.add(kind, names)
        if self._hooks is not None and self._hooks.audit is not None and self._hooks.authorizer:
            for name in new:  # granted: the access trail (resubscriptions are not repeated)
                record = self._hooks.record("access", name, "success", f"{kind.value} granted")
                await safe_record(self._hooks, record)
        if not new or self._tg is None:
            return
        if kind is SubscriptionKind.SHARD and self._cluster:
            self._supervisor.restart("resubscribe")  # a new shard may live on another node
        elif kind is SubscriptionKind.SHARD:
            await self._supervisor.send(kind, kind.subscribe_command, tuple(new))
        else:
            await self._supervisor.send(kind, kind.subscribe_command, tuple(new))
        if wait:
            await self.wait_subscribed(timeout=self.config.connect_timeout)

    async def _remove(self, kind: SubscriptionKind, names: list[str]) -> None:
        gone = self._wanted.remove(kind, names)
        for name in gone:
            self._confirmed.discard((kind, name))
            if kind is not SubscriptionKind.PATTERN:
                self._intake.tracker.forget(name)
        if gone and self._tg is not None:
            await self._supervisor.send(kind, kind.unsubscribe_command, tuple(gone))

    async def _authorize_wanted(self) -> None:
        """Check every wanted subscription again (before each (re)subscription).

        Raises:
            AuthorizationError: a subscription is no longer allowed.
        """
        if self._hooks is not None:
            for kind in SubscriptionKind:
                await authorize(self._hooks, kind, self._wanted.names(kind))

    def _confirm(self, kind: SubscriptionKind, name: str) -> None:
        self._confirmed.add((kind, name))
        self._state_changed()

    async def wait_subscribed(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until a connection is up and every subscription is confirmed.

        Raises:
            RedisTimeoutError: not within ``timeout`` seconds.
        """
        with anyio.move_on_after(timeout) as scope:
            while not (
                self._supervisor.live and self._wanted.expected_confirmations() <= self._confirmed
            ):
                changed = self._changed
                await changed.wait()
        if scope.cancelled_caught:
            raise RedisTimeoutError(
                "subscriptions not confirmed in time", address=self.client.address
            )

    def _state_changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
        if self._closing:
            self._nonempty.set()  # wake getters so they see the end

    # ---------------------------------------------------------------- handlers & events

    def add_handler(
        self, handler: Handler, *, channel: str | None = None, types: Iterable[str] = ()
    ) -> None:
        """Call ``handler(delivery)`` (sync or async) for matching messages.

        Args:
            handler: the callable; an exception it raises is counted and reported as
                :class:`HandlerFailed`, never fatal.
            channel: a glob over channel names (any channel when ``None``).
            types: globs over message types (any type when empty).
        """
        self._handlers.add(handler, channel=channel, types=types)
        if self._tg is not None and not self._dispatching:
            self._dispatching = True
            self._tg.start_soon(self._dispatch)

    def on(
        self, channel: str | None = None, *, types: Iterable[str] = ()
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add_handler`."""

        def deco(fn: Handler) -> Handler:
            self.add_handler(fn, channel=channel, types=types)
            return fn

        return deco

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every lifecycle event (must not block)."""
        self._listeners.append(listener)

    def _emit(self, event: SubscriberEvent) -> None:
        if self._hooks is not None:
            record = self._hooks.on_event(event)
            if record is not None and self._tg is not None:
                self._tg.start_soon(safe_record, self._hooks, record)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                _log.exception("pubsub event listener %r failed", listener)

    async def _sample_buffer(self, hooks: SubscriberHooks) -> None:
        # Sampled off the data path: the per-message cost stays one counter update.
        try:
            while True:
                hooks.sample_buffer(self._buffer)
                await anyio.sleep(self.config.buffer_sample_interval)
        finally:
            hooks.clear_buffer_gauges()  # a closed subscriber buffers nothing

    # ---------------------------------------------------------------- data path

    async def _intake_message(
        self, channel: str, data: bytes, *, pattern: str | None = None, shard: bool = False
    ) -> None:
        delivery, events = self._intake.accept(channel, data, pattern=pattern, shard=shard)
        for event in events:
            self._emit(event)
        if delivery is not None:
            await self._offer(delivery)

    async def _offer(self, delivery: Delivery) -> None:
        buf = self._buffer
        hooks = self._hooks
        while not (buf.offer(delivery) if hooks is None else hooks.offer(buf, delivery)):
            self._reader_blocked = True
            room = self._room = anyio.Event()
            try:
                await room.wait()
            finally:
                self._reader_blocked = False
        self._nonempty.set()

    def get_nowait(self) -> Delivery:
        """Take the next decoded message without waiting (bad frames are skipped).

        Raises:
            anyio.WouldBlock: nothing is buffered.
        """
        while True:
            try:
                raw = self._buffer.pop()
            except IndexError:
                self._nonempty = anyio.Event()
                raise anyio.WouldBlock from None
            self._room.set()
            try:
                delivery = self._intake.finish(raw)
            except CodecError as exc:
                self._intake.bad_frames += 1
                message_id = raw.header.message_id if raw.header is not None else None
                self._emit(BadFrame(raw.channel, type(exc).__name__, message_id))
                continue
            self._delivered += 1
            if self._hooks is not None:
                self._hooks.delivered(delivery, receive_span=not self._dispatching)
            return delivery

    async def get(self, timeout: float | None = None) -> Delivery:  # noqa: ASYNC109
        """Wait for the next decoded message.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            anyio.EndOfStream: the subscriber is closed and the buffer is empty.
        """
        with anyio.fail_after(timeout):
            while True:
                try:
                    return self.get_nowait()
                except anyio.WouldBlock:
                    if self._closing or (self._tg is None and not len(self._buffer)):
                        raise anyio.EndOfStream from None
                    await self._nonempty.wait()

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self

    async def __anext__(self) -> Delivery:
        try:
            return await self.get()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def _dispatch(self) -> None:
        while True:
            try:
                delivery = await self.get()
            except anyio.EndOfStream:
                return
            for handler in self._handlers.select(delivery.channel, delivery.type):
                try:
                    if self._hooks is None:
                        result = handler(delivery)
                        if inspect.isawaitable(result):
                            await result
                    else:
                        await observed(self._hooks, handler, delivery)
                except Exception as exc:
                    self._handler_errors += 1
                    message_id = delivery.header.message_id if delivery.header else None
                    _log.warning("pubsub handler failed: %s", type(exc).__name__)
                    self._emit(HandlerFailed(delivery.channel, type(exc).__name__, message_id))

    # ---------------------------------------------------------------- inspection

    @property
    def connected(self) -> bool:
        """Whether a connection is up now."""
        return self._supervisor.live

    @property
    def policy(self) -> OverflowPolicy:
        """The buffer's overflow policy."""
        return self._buffer.policy

    def statistics(self) -> SubscriberStatistics:
        """A snapshot of every counter."""
        sv, it = self._supervisor, self._intake
        return SubscriberStatistics(
            connected=sv.live,
            connects=sv.connects,
            disconnects=sv.disconnects,
            half_open_detected=sv.half_open,
            received=it.received,
            delivered=self._delivered,
            filtered=it.filtered,
            duplicates=it.duplicates,
            bad_frames=it.bad_frames,
            handler_errors=self._handler_errors,
            replayed=self._replayed,
            buffer=self._buffer.statistics(),
            sequences=it.tracker.statistics(),
        )

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<AsyncSubscriber {self.client.address} {state} {len(self._wanted)} subscriptions>"
