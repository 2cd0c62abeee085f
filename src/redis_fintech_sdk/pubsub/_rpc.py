"""Request/reply over Pub/Sub: :class:`AsyncRequester` and :class:`AsyncResponder`.

A request is an ordinary frame published to the service's channel, with a fresh correlation
id and a ``rfsdk-reply-to`` header naming the requester's private inbox channel. A responder
handles it and publishes the reply to that inbox with the same correlation id (and the
request's message id as causation id). The requester waits for the first *authentic* reply
(decoded by its codec, so a forged or tampered frame is counted and ignored, never taken as
the answer) and raises a typed error when nobody listens, nobody answers in time, or the
responder's handler failed.

Like every Pub/Sub exchange this is at-most-once: a request published while no responder
is subscribed fails at once (:class:`NoRespondersError`, from ``PUBLISH``'s receiver count),
and one lost on a reconnect times out. Every subscribed responder answers; the first reply
wins and later ones are counted as ``late_replies``. For work that must not be lost or done
twice, put requests on a stream (``StreamProducer`` + ``StreamConsumer``) instead.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..channels import Channel
from ..connection import AsyncClient
from ..errors import (
    CodecError,
    ConfigurationError,
    NoRespondersError,
    RemoteHandlerError,
    RequestTimeoutError,
    SDKError,
)
from ._async.publisher import AsyncPublisher
from ._config import SubscriberConfig
from ._subscriber import AsyncSubscriber
from ._types import Delivery, FrameCodec, default_codec

__all__ = ["AsyncRequester", "AsyncResponder", "RequesterStatistics", "ResponderStatistics"]

REPLY_TO = "rfsdk-reply-to"
"""Free header naming the channel a reply goes to."""
ERROR = "rfsdk-error"
"""Free header of an error reply: the class name of the exception the handler raised."""
ERROR_TYPE = "rfsdk.rpc.error"
"""Message type of an error reply (its body is empty)."""

_log = logging.getLogger("redis_fintech_sdk.pubsub")

ReplyHandler = Callable[[Delivery], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class RequesterStatistics:
    """Counters of an :class:`AsyncRequester`.

    Attributes:
        requests: requests published.
        replies: requests answered.
        timeouts: requests that got no reply in time.
        no_responders: requests nobody was subscribed to receive.
        remote_errors: replies saying the responder's handler failed.
        late_replies: authentic replies to a request already answered or given up.
        bad_replies: frames on the inbox that failed to decode (forged, tampered, unknown).
    """

    requests: int
    replies: int
    timeouts: int
    no_responders: int
    remote_errors: int
    late_replies: int
    bad_replies: int


@dataclass(frozen=True, slots=True)
class ResponderStatistics:
    """Counters of an :class:`AsyncResponder`.

    Attributes:
        requests: requests received (messages with a reply-to header).
        replies: replies published.
        errors: requests whose handler raised (an error reply was sent).
        ignored: messages on the request channel without a reply-to header.
    """

    requests: int
    replies: int
    errors: int
    ignored: int


class _Pending:
    __slots__ = ("channel", "done", "error", "reply")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.done = anyio.Event()
        self.reply: Delivery | None = None
        self.error: SDKError | None = None


class _Stacked:
    """``async with`` over an exit stack that a subclass fills in ``_setup``."""

    _stack: AsyncExitStack | None = None

    async def _enter(self, setup: Callable[[AsyncExitStack], Awaitable[None]]) -> None:
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await setup(stack)
        except BaseException:
            await stack.__aexit__(None, None, None)
            raise
        self._stack = stack

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)


class AsyncRequester(_Stacked):
    """Sends requests and waits for their replies; use as ``async with AsyncRequester(c)``.

    Args:
        client: the connection.
        codec: encodes requests and decodes replies (default: a new Codec); give the same
            keyring as the responders when messages are encrypted.
        timeout: default seconds :meth:`request` waits for a reply.
        inbox_prefix: the private reply channel is ``<inbox_prefix>.<random hex>``; grant
            the requester's ACL user ``&<inbox_prefix>.*`` and the responders' publish
            rights on it.
        subscriber_config: settings of the inbox subscriber (``decode`` is forced off: the
            requester decodes replies itself).

    Raises:
        ConfigurationError: ``timeout`` is not positive.

    Example:
        >>> async with AsyncRequester(client, codec=codec) as rpc:  # doctest: +SKIP
        ...     reply = await rpc.request(QuoteRequest(symbol="AAPL"), "rpc.pricing")
        ...     print(reply.payload)
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        timeout: float = 5.0,
        inbox_prefix: str = "_inbox",
        subscriber_config: SubscriberConfig | None = None,
    ) -> None:
        if not timeout > 0:
            raise ConfigurationError("timeout", "must be a positive number of seconds")
        self.client = client
        self.codec = codec if codec is not None else default_codec()
        self.timeout = timeout
        self.inbox = f"{inbox_prefix}.{uuid.uuid4().hex}"
        cfg = subscriber_config if subscriber_config is not None else SubscriberConfig()
        self._subscriber = AsyncSubscriber(
            client, codec=None, config=dataclasses.replace(cfg, decode=False)
        )
        self._publisher = AsyncPublisher(client, codec=self.codec)
        self._sharded = client.config.cluster is not None
        self._pending: dict[str, _Pending] = {}
        self._requests = self._replies = self._timeouts = self._no_responders = 0
        self._remote_errors = self._late = self._bad = 0

    async def __aenter__(self) -> AsyncRequester:
        await self._enter(self._setup)
        return self

    async def _setup(self, stack: AsyncExitStack) -> None:
        await stack.enter_async_context(self._subscriber)
        self._subscriber.add_handler(self._on_reply)
        if self._sharded:
            await self._subscriber.ssubscribe(self.inbox)
        else:
            await self._subscriber.subscribe(self.inbox)
        await stack.enter_async_context(self._publisher)

    async def request(
        self,
        message: Any,
        channel: Channel | str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request default, like httpx
        **options: Any,
    ) -> Delivery:
        """Publish ``message`` to ``channel`` and return the first authentic reply.

        Args:
            message: the request (a registered message or an envelope).
            channel: the service's request channel.
            timeout: seconds to wait (default: the requester's).
            **options: codec options (``headers``, ``tenant`` …); ``correlation_id`` is
                set by the requester.

        Returns:
            The reply's delivery (``.payload``, ``.envelope``; ``.channel`` is the inbox).

        Raises:
            NoRespondersError: nobody is subscribed to ``channel`` (nothing was handled).
            RequestTimeoutError: no reply in time (the request may still be handled).
            RemoteHandlerError: the responder's handler raised; ``.error_type`` names it.
            CodecError: the request could not be encoded.
            RedisError: the publish failed.
            CircuitOpenError: the publisher's breaker is open.
        """
        if self._stack is None:
            raise RuntimeError("use the requester inside 'async with'")
        name = str(channel)
        cid = uuid.uuid4().hex
        headers = dict(options.pop("headers", None) or {})
        headers[REPLY_TO] = self.inbox
        pending = self._pending[cid] = _Pending(name)
        try:
            self._requests += 1
            receivers = await self._publisher.publish(
                message, name, headers=headers, correlation_id=cid, **options
            )
            if receivers == 0:
                self._no_responders += 1
                raise NoRespondersError(name)
            with anyio.move_on_after(self.timeout if timeout is None else timeout):
                await pending.done.wait()
        finally:
            del self._pending[cid]
        if pending.error is not None:
            self._remote_errors += 1
            raise pending.error
        if pending.reply is None:
            self._timeouts += 1
            raise RequestTimeoutError(name)
        self._replies += 1
        return pending.reply

    def _on_reply(self, delivery: Delivery) -> None:
        # Authenticate first, then route by the (now trusted) correlation id.
        codec: Any = self.codec
        try:
            header = codec.peek_header(delivery.data)
            error = header.headers.get(ERROR)
            if error is not None:  # the body is empty and its type unregistered
                envelope = codec.decode(delivery.data, channel=delivery.channel, validate=False)
            else:
                envelope = codec.decode(delivery.data, channel=delivery.channel)
        except CodecError as exc:
            self._bad += 1
            _log.warning("request inbox: reply refused (%s)", type(exc).__name__)
            return
        pending = self._pending.get(envelope.correlation_id or "")
        if pending is None or pending.done.is_set():
            self._late += 1
            return
        if error is not None:
            pending.error = RemoteHandlerError(error, channel=pending.channel)
        else:
            pending.reply = Delivery(
                delivery.channel,
                envelope,
                header,
                shard=delivery.shard,
                data=delivery.data,
            )
        pending.done.set()

    def statistics(self) -> RequesterStatistics:
        """Counters since creation."""
        return RequesterStatistics(
            requests=self._requests,
            replies=self._replies,
            timeouts=self._timeouts,
            no_responders=self._no_responders,
            remote_errors=self._remote_errors,
            late_replies=self._late,
            bad_replies=self._bad,
        )


class AsyncResponder(_Stacked):
    """Answers requests on channels; use as ``async with AsyncResponder(client, …)``.

    ``handler(delivery)`` returns the reply message (sync or async). Requests are handled
    concurrently, at most ``max_concurrency`` at a time. If the handler raises, the
    requester gets a :class:`RemoteHandlerError` naming the exception class (never its
    text, which may hold payload data), and the responder logs the class name.

    Args:
        client: the connection.
        channels: request channels to subscribe (patterns with ``pattern=True``).
        handler: turns a request delivery into the reply message.
        codec: decodes requests and encodes replies (default: a new Codec).
        pattern: subscribe ``channels`` as glob patterns (``PSUBSCRIBE``).
        max_concurrency: requests handled at once.
        subscriber_config: settings of the request subscriber.

    Raises:
        ConfigurationError: no channels, or ``max_concurrency`` below 1.
    """

    def __init__(
        self,
        client: AsyncClient,
        channels: list[Channel | str] | tuple[Channel | str, ...],
        handler: Callable[[Delivery], Any],
        *,
        codec: FrameCodec | None = None,
        pattern: bool = False,
        max_concurrency: int = 16,
        subscriber_config: SubscriberConfig | None = None,
    ) -> None:
        if not channels:
            raise ConfigurationError("channels", "give at least one request channel")
        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency", "must be at least 1")
        self.client = client
        self.channels = [str(c) for c in channels]
        self.codec = codec if codec is not None else default_codec()
        self._handler = handler
        self._pattern = pattern
        self._limit = anyio.CapacityLimiter(max_concurrency)
        self._subscriber = AsyncSubscriber(client, codec=self.codec, config=subscriber_config)
        self._publisher = AsyncPublisher(client, codec=self.codec)
        self._sharded = client.config.cluster is not None
        self._tg: TaskGroup | None = None
        self._requests = self._replies = self._errors = self._ignored = 0

    async def __aenter__(self) -> AsyncResponder:
        await self._enter(self._setup)
        return self

    async def _setup(self, stack: AsyncExitStack) -> None:
        await stack.enter_async_context(self._subscriber)
        await stack.enter_async_context(self._publisher)
        self._tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(self._tg.cancel_scope.cancel)
        self._subscriber.add_handler(self._on_request)
        if self._pattern:
            await self._subscriber.psubscribe(*self.channels)
        elif self._sharded:
            await self._subscriber.ssubscribe(*self.channels)
        else:
            await self._subscriber.subscribe(*self.channels)

    def _on_request(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        reply_to = None if envelope is None else envelope.headers.get(REPLY_TO)
        if reply_to is None or self._tg is None:
            self._ignored += 1
            return
        self._requests += 1
        self._tg.start_soon(self._serve, delivery, reply_to)

    async def _serve(self, delivery: Delivery, reply_to: str) -> None:
        envelope = delivery.envelope
        options = {"correlation_id": envelope.correlation_id, "causation_id": envelope.message_id}
        async with self._limit:
            try:
                reply = self._handler(delivery)
                if inspect.isawaitable(reply):
                    reply = await reply
            except Exception as exc:
                self._errors += 1
                _log.warning("request handler failed: %s", type(exc).__name__)
                await self._send_error(reply_to, type(exc).__name__, options)
                return
            try:
                await self._publisher.publish(reply, reply_to, **options)
                self._replies += 1
            except SDKError as exc:
                # A reply that cannot be encoded or sent: the requester times out; say so.
                self._errors += 1
                _log.warning("reply to a request not sent: %s", type(exc).__name__)
                if isinstance(exc, CodecError):
                    await self._send_error(reply_to, type(exc).__name__, options)

    async def _send_error(self, reply_to: str, error_type: str, options: dict[str, Any]) -> None:
        codec: Any = self.codec
        try:
            frame = codec.encode_raw(
                ERROR_TYPE, None, channel=reply_to, headers={ERROR: error_type}, **options
            )
            await self._publisher.publish_frame(reply_to, frame)
        except SDKError as exc:
            _log.warning("error reply not sent: %s", type(exc).__name__)

    def statistics(self) -> ResponderStatistics:
        """Counters since creation."""
        return ResponderStatistics(
            requests=self._requests,
            replies=self._replies,
            errors=self._errors,
            ignored=self._ignored,
        )
