"""FanoutHub: one shared Redis subscription per channel/pattern, fanned out to many clients.

The hub owns one :class:`~redis_fintech_sdk.pubsub.AsyncSubscriber` (one Redis connection)
in raw mode and decodes each frame once, whatever the number of clients. Subscriptions are
reference-counted: the first client on a channel or pattern subscribes it in Redis, the last
one to leave unsubscribes it. A client's queue never blocks the loop: its overflow policy
drops or conflates, and counts.

Raw mode matters: with both ``market.price.AAPL`` and ``market.price.*`` subscribed, Redis
delivers a message twice (``message`` and ``pmessage``), and each copy belongs to other
clients — the subscriber's own dedup and sequence tracking would discard the second one.
The hub tracks sequences per subscription instead, and reports gaps to the clients of it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.channels import Channel, ChannelPattern, has_glob_meta
from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, SDKError
from redis_fintech_sdk.pubsub import (
    AsyncSubscriber,
    Delivery,
    FrameCodec,
    SequenceStatus,
    SequenceTracker,
    SubscriberConfig,
    SubscriptionKind,
)

from ._client import ClientQueue, SubKey
from ._config import GatewayConfig
from ._messages import GatewayMessage, Notice, jsonable

__all__ = ["FanoutHub", "GatewayFullError", "HubStatistics", "subscription_key"]

_log = logging.getLogger("redis_fintech_sdk.gateway")


class GatewayFullError(SDKError):
    """The gateway already serves ``max_clients`` clients, or a client holds too many names."""


def subscription_key(name: str) -> SubKey:
    """Classify and validate a requested name: a glob is a pattern, else a channel.

    Raises:
        ConfigurationError: not a valid channel name or pattern.
    """
    if has_glob_meta(name):
        return SubscriptionKind.PATTERN, str(ChannelPattern(name))
    return SubscriptionKind.CHANNEL, str(Channel(name))


@dataclass(frozen=True)
class HubStatistics:
    """Counters of a :class:`FanoutHub`.

    Attributes:
        clients: clients connected now.
        subscriptions: (kind, name) → clients holding it.
        received: messages read from Redis.
        fanned_out: messages queued to clients (one per client).
        dropped: messages dropped by client queue policies (clients connected now and gone).
        bad_frames: SDK frames that failed to decode (skipped).
        gaps: messages Redis never delivered, by per-producer sequence gaps.
        upstream_connected: the shared Redis subscription is connected.
    """

    clients: int
    subscriptions: dict[SubKey, int]
    received: int
    fanned_out: int
    dropped: int
    bad_frames: int
    gaps: int
    upstream_connected: bool


class FanoutHub:
    """Shares Redis subscriptions between clients. Use as ``async with FanoutHub(...)``.

    Args:
        client: the Redis connection.
        codec: decodes SDK frames (the same keys/registry as the producers).
        config: limits and client queue policy.
    """

    def __init__(self, client: AsyncClient, codec: FrameCodec, config: GatewayConfig) -> None:
        self.client = client
        self.codec = codec
        self.config = config
        self._subscriber = AsyncSubscriber(
            client,
            codec=None,
            config=SubscriberConfig(
                decode=False, dedup_window=0, buffer_capacity=config.upstream_buffer
            ),
        )
        self._routes: dict[SubKey, set[ClientQueue]] = {}
        self._clients: set[ClientQueue] = set()
        self._lock = anyio.Lock()
        # Per subscription, forgotten when it is released: messages published while nobody
        # held it were never owed to anyone, so a later holder must not hear of a gap.
        self._trackers: dict[SubKey, SequenceTracker] = {}
        self._tg: TaskGroup | None = None
        self._received = self._fanned_out = self._bad = self._gaps = 0
        self._dropped_gone = 0

    async def __aenter__(self) -> FanoutHub:
        await self._subscriber.__aenter__()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        for queue in self._clients:
            queue.close()
        try:
            if tg is not None:
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
        finally:
            await self._subscriber.__aexit__(exc_type, exc, tb)

    # ---------------------------------------------------------------- clients

    def attach(self, transport: str, subject: str) -> ClientQueue:
        """Register a new client.

        Raises:
            GatewayFullError: ``max_clients`` are connected already.
        """
        if len(self._clients) >= self.config.max_clients:
            raise GatewayFullError("the gateway is at max_clients")
        queue = ClientQueue(
            transport, subject, capacity=self.config.client_queue, policy=self.config.policy
        )
        self._clients.add(queue)
        return queue

    async def detach(self, queue: ClientQueue) -> None:
        """Unregister a client and release everything it held."""
        try:
            await self.unsubscribe(queue, list(queue.subscriptions))
        finally:
            if queue in self._clients:
                self._clients.discard(queue)
                self._dropped_gone += queue.dropped

    async def subscribe(self, queue: ClientQueue, keys: Iterable[SubKey]) -> None:
        """Add subscriptions for a client; the first holder subscribes in Redis.

        Raises:
            GatewayFullError: past ``max_channels_per_client``.
            RedisTimeoutError: Redis did not confirm in time (nothing is kept).
        """
        wanted = [k for k in dict.fromkeys(keys) if k not in queue.subscriptions]
        if len(queue.subscriptions) + len(wanted) > self.config.max_channels_per_client:
            raise GatewayFullError("too many channels for one client")
        async with self._lock:
            fresh: list[SubKey] = []
            for key in wanted:
                holders = self._routes.setdefault(key, set())
                if not holders:
                    fresh.append(key)
                holders.add(queue)
                queue.subscriptions.add(key)
            try:
                await self._redis_subscribe(fresh)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._release(queue, wanted)
                raise

    async def unsubscribe(self, queue: ClientQueue, keys: Iterable[SubKey]) -> None:
        """Remove subscriptions of a client; the last holder unsubscribes in Redis."""
        with anyio.CancelScope(shield=True):  # a disconnect must never leak a subscription
            async with self._lock:
                await self._release(queue, [k for k in keys if k in queue.subscriptions])

    async def _release(self, queue: ClientQueue, keys: list[SubKey]) -> None:
        gone: list[SubKey] = []
        for key in keys:
            queue.subscriptions.discard(key)
            holders = self._routes.get(key)
            if holders is None:
                continue
            holders.discard(queue)
            if not holders:
                del self._routes[key]
                self._trackers.pop(key, None)
                gone.append(key)
        channels = [n for k, n in gone if k is SubscriptionKind.CHANNEL]
        patterns = [n for k, n in gone if k is SubscriptionKind.PATTERN]
        try:
            if channels:
                await self._subscriber.unsubscribe(*channels)
            if patterns:
                await self._subscriber.punsubscribe(*patterns)
        except SDKError as exc:  # the connection is down: it resubscribes only what is wanted
            _log.warning("gateway unsubscribe failed: %s", type(exc).__name__)

    async def _redis_subscribe(self, keys: list[SubKey]) -> None:
        channels = [n for k, n in keys if k is SubscriptionKind.CHANNEL]
        patterns = [n for k, n in keys if k is SubscriptionKind.PATTERN]
        if channels:
            await self._subscriber.subscribe(*channels)
        if patterns:
            await self._subscriber.psubscribe(*patterns)

    # ---------------------------------------------------------------- data path

    async def _run(self) -> None:
        async for delivery in self._subscriber:
            self._received += 1
            self.fan_out(delivery)

    def fan_out(self, delivery: Delivery) -> None:
        """Decode one delivery once and queue it to every client of its subscription."""
        if delivery.pattern is not None:
            key: SubKey = (SubscriptionKind.PATTERN, delivery.pattern)
        else:
            key = (SubscriptionKind.CHANNEL, delivery.channel)
        holders = self._routes.get(key)
        if not holders:
            return  # arrived just after the last client left
        message = self.decode(
            delivery.channel, delivery.data, pattern=delivery.pattern, stream_id=delivery.stream_id
        )
        if message is None:
            return
        notice = self._track(key, message)
        for queue in holders:
            if notice is not None:
                queue.offer(notice)
            queue.offer(message)
        self._fanned_out += len(holders)

    def _track(self, key: SubKey, message: GatewayMessage) -> Notice | None:
        if message.producer_id is None or message.sequence is None:
            return None
        # Per subscription: a message seen via a channel and a pattern is two streams.
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = self._trackers[key] = SequenceTracker(max_streams=10_000)
        status, gap = tracker.observe(message.producer_id, message.channel, message.sequence)
        if status is not SequenceStatus.GAP or gap is None:
            return None
        self._gaps += gap.missed
        return Notice(
            "gap",
            {
                "channel": message.channel,
                "producer_id": gap.producer_id,
                "first_missing": gap.first_missing,
                "last_missing": gap.last_missing,
                "missed": gap.missed,
            },
        )

    def decode(
        self, channel: str, data: bytes, *, pattern: str | None = None, stream_id: str | None = None
    ) -> GatewayMessage | None:
        """Decode one frame (live or replayed) for clients; ``None`` for a bad SDK frame.

        A non-SDK payload is forwarded as text (or base64). An SDK frame that fails
        authentication, decryption or validation is counted in ``bad_frames`` and skipped.
        """
        try:
            header = self.codec.peek_header(data)
        except Exception:  # not an SDK frame: forward it as text (or base64)
            payload: Any
            try:
                payload = data.decode("utf-8")
            except UnicodeDecodeError:
                payload = {"base64": base64.b64encode(data).decode("ascii")}
            return GatewayMessage.build(
                channel=channel,
                pattern=pattern,
                message_id=None,
                sequence=None,
                producer_id=None,
                type=None,
                payload=payload,
            )
        try:
            if isinstance(self.codec, Codec):
                # Plain data is all JSON needs; it also forwards types this process never
                # registered. Authentication and decryption still run.
                envelope = self.codec.decode(data, channel=channel, validate=False)
            else:
                envelope = self.codec.decode(data, channel=channel)
            payload = jsonable(envelope.payload)
        except Exception as exc:  # an SDK frame that fails auth/decrypt/validation: skip it
            self._bad += 1
            _log.warning("gateway skipped a bad frame on %s: %s", channel, type(exc).__name__)
            return None
        return GatewayMessage.build(
            channel=channel,
            pattern=pattern,
            message_id=header.message_id,
            sequence=header.sequence,
            producer_id=header.producer_id,
            type=header.type,
            payload=payload,
            stream_id=stream_id,
        )

    # ---------------------------------------------------------------- inspection

    @property
    def running(self) -> bool:
        """Whether the hub has been entered and not left."""
        return self._tg is not None

    def clients(self) -> list[ClientQueue]:
        """The connected clients."""
        return sorted(self._clients, key=lambda q: q.id)

    def statistics(self) -> HubStatistics:
        """A snapshot of every counter."""
        return HubStatistics(
            clients=len(self._clients),
            subscriptions={k: len(v) for k, v in sorted(self._routes.items())},
            received=self._received,
            fanned_out=self._fanned_out,
            dropped=self._dropped_gone + sum(q.dropped for q in self._clients),
            bad_frames=self._bad,
            gaps=self._gaps,
            upstream_connected=self._subscriber.connected,
        )


def check_names(names: Iterable[str]) -> list[SubKey]:
    """Validate requested names.

    Raises:
        ConfigurationError: a name is empty or not a valid channel / pattern.
    """
    keys = []
    for name in names:
        if not name:
            raise ConfigurationError("channels", "empty channel name")
        keys.append(subscription_key(name))
    return keys
