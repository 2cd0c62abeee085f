"""Subscriber: the thread-backed sync wrapper of :class:`AsyncSubscriber` for sync apps.

An event loop runs in a helper thread (an anyio blocking portal) and owns the async
subscriber; sync calls hop into it. Handlers run on that thread, so they must not block
for long (or the buffer fills and the overflow policy applies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from redis_fintech_sdk.channels import Channel, ChannelPattern
from redis_fintech_sdk.connection import AsyncClient, Client
from redis_fintech_sdk.hooks import AuditSink, ChannelPolicy, Metrics, Tracing
from redis_fintech_sdk.settings import ConnectionConfig

from ._config import SubscriberConfig
from ._events import SubscriberEvent, SubscriberStatistics
from ._replay import ReplayConfig
from ._subscriber import AsyncSubscriber
from ._types import Delivery, FrameCodec

__all__ = ["Subscriber"]


class Subscriber:
    """Sync subscriber: ``with Subscriber(client) as sub: sub.subscribe("x"); sub.get()``.

    Args:
        client: a sync :class:`Client` or a :class:`ConnectionConfig`; the wrapper opens
            its own async connection with the same settings in its thread.
        codec: the frame codec (default: a new Codec).
        config: subscriber settings.
        replay: replayable channels.
        metrics: see :class:`AsyncSubscriber` (called on the subscriber's thread).
        tracing: see :class:`AsyncSubscriber`.
        authorizer: see :class:`AsyncSubscriber`.
        principal: see :class:`AsyncSubscriber`.
        audit: an *async* :class:`~redis_fintech_sdk.hooks.AuditSink` bound to the
            subscriber's event loop, or one without I/O; see :class:`AsyncSubscriber`.
    """

    def __init__(
        self,
        client: Client | ConnectionConfig,
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
        self._config = client.config if isinstance(client, Client) else client
        self._kwargs: dict[str, Any] = {
            "codec": codec,
            "config": config,
            "replay": replay,
            "metrics": metrics,
            "tracing": tracing,
            "authorizer": authorizer,
            "principal": principal,
            "audit": audit,
        }
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._sub: AsyncSubscriber | None = None
        self._pending: list[Callable[[AsyncSubscriber], None]] = []

    def __enter__(self) -> Subscriber:
        stack = ExitStack()
        try:
            portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
            aclient = portal.call(AsyncClient, self._config)
            stack.callback(portal.call, aclient.aclose)
            sub = AsyncSubscriber(aclient, **self._kwargs)
            for setup in self._pending:
                setup(sub)
            cm: AbstractContextManager[AsyncSubscriber] = portal.wrap_async_context_manager(sub)
            stack.enter_context(cm)
        except BaseException:
            stack.close()
            raise
        self._stack, self._portal, self._sub = stack, portal, sub
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the subscriber and its thread (drains handlers first). Safe to call twice."""
        stack, self._stack = self._stack, None
        self._portal = self._sub = None
        if stack is not None:
            stack.close()

    def _run(self) -> tuple[BlockingPortal, AsyncSubscriber]:
        if self._portal is None or self._sub is None:
            raise RuntimeError("use the Subscriber inside a `with` block")
        return self._portal, self._sub

    def subscribe(self, *channels: Channel | str) -> None:
        """Subscribe to channels and wait for confirmation.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout``.
        """
        portal, sub = self._run()
        portal.call(lambda: sub.subscribe(*channels))

    def psubscribe(self, *patterns: ChannelPattern | str) -> None:
        """Subscribe to patterns and wait for confirmation.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout``.
        """
        portal, sub = self._run()
        portal.call(lambda: sub.psubscribe(*patterns))

    def ssubscribe(self, *channels: Channel | str) -> None:
        """Subscribe to shard channels and wait for confirmation.

        Raises:
            RedisTimeoutError: not confirmed within ``connect_timeout``.
        """
        portal, sub = self._run()
        portal.call(lambda: sub.ssubscribe(*channels))

    def unsubscribe(self, *channels: Channel | str) -> None:
        """Stop receiving from channels."""
        portal, sub = self._run()
        portal.call(lambda: sub.unsubscribe(*channels))

    def add_handler(
        self,
        handler: Callable[[Delivery], None],
        *,
        channel: str | None = None,
        types: Iterable[str] = (),
    ) -> None:
        """Register a sync handler (runs on the subscriber's thread); see AsyncSubscriber."""
        if self._sub is None:
            self._pending.append(lambda s: s.add_handler(handler, channel=channel, types=types))
        else:
            portal, sub = self._run()
            portal.call(lambda: _sync_call(sub.add_handler, handler, channel=channel, types=types))

    def add_listener(self, listener: Callable[[SubscriberEvent], None]) -> None:
        """Receive lifecycle events (called on the subscriber's thread)."""
        if self._sub is None:
            self._pending.append(lambda s: s.add_listener(listener))
        else:
            self._sub.add_listener(listener)

    def get(self, timeout: float | None = None) -> Delivery:
        """Wait for the next message.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        portal, sub = self._run()
        return portal.call(sub.get, timeout)

    def __iter__(self) -> Iterator[Delivery]:
        while self._sub is not None:
            yield self.get()

    def statistics(self) -> SubscriberStatistics:
        """A snapshot of every counter.

        Raises:
            RuntimeError: outside the ``with`` block.
        """
        _, sub = self._run()
        return sub.statistics()


async def _sync_call(fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    fn(*args, **kwargs)
