"""Durable, priority-separated notification delivery over Redis Streams.

:meth:`NotificationQueue.enqueue` appends a notification to the stream of its priority
(``<prefix>:queue:critical`` … ``:low``); a :class:`NotificationWorker` runs one consumer
group reader per priority and hands each entry to :meth:`NotificationRouter.send`. Each
priority has its own stream and its own concurrency budget, so a backlog of low-priority
mail never delays a critical alert: critical entries are read by their own reader with the
largest budget. What the streams guarantee (at-least-once, retries, dead letters after
``max_attempts``) is the consumer group's; the router's deduplication (which lets a
redelivery of the *same* notification id through) makes a redelivered entry reach only
the sinks that do not have it yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, SchemaError
from redis_fintech_sdk.streams import (
    AsyncStreamProducer,
    ConsumerConfig,
    ConsumerStatistics,
    FrameCodec,
    Retention,
    StreamConsumer,
    StreamMessage,
)

from ._notification import Notification
from ._router import NotificationRouter

__all__ = ["DEFAULT_CONCURRENCY", "NotificationQueue", "NotificationWorker"]

DEFAULT_CONCURRENCY: Mapping[Priority, int] = {
    Priority.CRITICAL: 32,
    Priority.HIGH: 16,
    Priority.NORMAL: 8,
    Priority.LOW: 2,
}
"""Notifications handled at once per priority by a :class:`NotificationWorker`."""

_ORDER = (Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW)


class NotificationQueue:
    """Appends notifications to one durable stream per priority.

    The notification id is the idempotency key, shared by every process that enqueues
    (one producer id), so enqueueing the same notification twice within
    ``dedup_window`` leaves one entry.

    Args:
        client: the SDK client.
        codec: frames the notifications (default: the SDK codec).
        key_prefix: streams are ``<key_prefix>:queue:<priority>``.
        retention: how much of each stream to keep (default: everything).
        dedup_window: seconds an enqueued notification id is remembered.

    Raises:
        ConfigurationError: an empty ``key_prefix``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        codec: FrameCodec | None = None,
        key_prefix: str = "rfsdk:notify",
        retention: Retention | None = None,
        dedup_window: float = 3600.0,
    ) -> None:
        if not key_prefix:
            raise ConfigurationError("key_prefix", "must not be empty")
        self._client = client
        self._prefix = key_prefix
        self.codec = codec
        self._producers = {
            p: AsyncStreamProducer(
                client,
                self.stream(p),
                codec=codec,
                retention=retention,
                producer_id="notify-queue",
                dedup_window=dedup_window,
            )
            for p in _ORDER
        }

    def stream(self, priority: Priority | str) -> str:
        """The stream key of one priority.

        Raises:
            ConfigurationError: not a priority.
        """
        return f"{self._prefix}:queue:{Priority.parse(priority).value}"

    async def enqueue(self, notification: Notification) -> str:
        """Append ``notification`` to its priority's stream; return the entry id.

        Raises:
            CodecError: the notification cannot be encoded.
            RedisError: the append failed after retries.
        """
        producer = self._producers[Priority.parse(notification.priority)]
        return await producer.add(notification, idempotency_key=notification.notification_id)

    def worker(
        self,
        router: NotificationRouter,
        *,
        group: str = "notify",
        consumer: str = "",
        concurrency: Mapping[Priority, int] | None = None,
        **options: Any,
    ) -> NotificationWorker:
        """A worker draining these streams into ``router`` (see :class:`NotificationWorker`).

        Raises:
            ConfigurationError: a bad consumer option.
        """
        return NotificationWorker(
            self, router, group=group, consumer=consumer, concurrency=concurrency, **options
        )


class NotificationWorker:
    """Runs one consumer-group reader per priority; use ``async with worker:``.

    Leaving the block stops every reader gracefully (in-flight notifications finish and
    are acknowledged). An error no retry can fix (permissions) surfaces when the block
    exits.

    Args:
        queue: the queue whose streams are read.
        router: delivers each notification.
        group: the consumer group (shared by all workers).
        consumer: this worker's name (stable across restarts); default from the host.
        concurrency: notifications handled at once per priority (default
            :data:`DEFAULT_CONCURRENCY`).
        **options: other :class:`~redis_fintech_sdk.streams.ConsumerConfig` fields
            (``max_attempts``, ``visibility_timeout``, ``block`` …).

    Raises:
        ConfigurationError: a bad option.
    """

    def __init__(
        self,
        queue: NotificationQueue,
        router: NotificationRouter,
        *,
        group: str = "notify",
        consumer: str = "",
        concurrency: Mapping[Priority, int] | None = None,
        **options: Any,
    ) -> None:
        budget = dict(DEFAULT_CONCURRENCY)
        budget.update({Priority.parse(k): v for k, v in (concurrency or {}).items()})
        base = ConsumerConfig(group=group, consumer=consumer, **options)
        self._router = router
        self.consumers: dict[Priority, StreamConsumer] = {
            p: StreamConsumer(
                queue._client,
                queue.stream(p),
                self._handle,
                config=dataclasses.replace(base, max_in_flight=budget[p]),
                codec=queue.codec,
            )
            for p in _ORDER
        }
        self._entered: list[StreamConsumer] = []

    async def _handle(self, message: StreamMessage) -> None:
        payload = getattr(message.envelope, "payload", None)
        if not isinstance(payload, Notification):
            raise SchemaError("not a rfsdk.notification entry")
        await self._router.send(payload)

    async def __aenter__(self) -> NotificationWorker:
        try:
            for consumer in self.consumers.values():  # critical first
                await consumer.__aenter__()
                self._entered.append(consumer)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for consumer in self._entered:
            consumer.stop()
        first: BaseException | None = None
        while self._entered:
            consumer = self._entered.pop()
            try:
                await consumer.__aexit__(exc_type, exc, tb)
            except BaseException as err:  # stop every reader, then report the first error
                first = first or err
        if first is not None:
            raise first

    def statistics(self) -> dict[Priority, ConsumerStatistics]:
        """Each priority reader's counters."""
        return {p: c.statistics() for p, c in self.consumers.items()}
