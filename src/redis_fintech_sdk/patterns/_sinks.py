"""Delivery sinks: the small protocol the router delivers through, and two sinks.

* :class:`InAppSink` publishes the rendered notification on the user's personal Pub/Sub
  channel (``notify.user.<id>``, see :func:`~redis_fintech_sdk.channels.user_notifications`).
* :class:`CallbackSink` adapts any ``async def send(rendered)`` (an e-mail, SMS or push
  provider's client) to the protocol.

The webhook sink lives in :mod:`._webhooks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from redis_fintech_sdk.channels import Channel, user_notifications
from redis_fintech_sdk.pubsub import AsyncPublisher

from ._notification import DeliveryChannel, Notification, RenderedNotification

__all__ = ["CallbackSink", "InAppSink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Delivers rendered notifications on one :class:`DeliveryChannel`.

    ``deliver`` returns when the notification was handed over and raises when it was not;
    the router records the outcome (the exception's class, never its text) and never lets
    one sink's failure stop another sink.
    """

    @property
    def channel(self) -> DeliveryChannel:
        """The delivery channel this sink serves."""
        ...

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        """Deliver one notification.

        Raises:
            Exception: any failure; the router records it as ``failed``.
        """
        ...


class InAppSink:
    """Publishes on the recipient's personal channel, with routing headers in clear.

    The frame's header carries ``priority`` and ``category`` so a client can filter
    (:class:`~redis_fintech_sdk.pubsub.HeaderFilter`) without decrypting. Pub/Sub is
    at-most-once: an offline user misses the message unless the publisher has a
    :class:`~redis_fintech_sdk.pubsub.ReplayConfig` covering ``notify.user.*`` (then a
    reconnecting client catches up from the capped stream).

    Args:
        publisher: an open :class:`~redis_fintech_sdk.pubsub.AsyncPublisher`.
        sharded: hash-tag the user id in the channel name (Redis Cluster).
        require_receiver: count a publish that reached no subscriber as a failure.
    """

    def __init__(
        self, publisher: AsyncPublisher, *, sharded: bool = False, require_receiver: bool = False
    ) -> None:
        self._publisher = publisher
        self._sharded = sharded
        self._require_receiver = require_receiver

    @property
    def channel(self) -> DeliveryChannel:
        """Always :attr:`DeliveryChannel.IN_APP`."""
        return DeliveryChannel.IN_APP

    def channel_for(self, notification: Notification) -> Channel:
        """The Pub/Sub channel of the notification's recipient.

        Raises:
            ConfigurationError: the user id or tenant is not a valid channel segment.
        """
        return user_notifications(
            notification.user_id, tenant=notification.tenant, sharded=self._sharded
        )

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        """Publish ``rendered`` on the recipient's channel.

        Raises:
            LookupError: ``require_receiver`` is set and nobody was subscribed.
            RedisError: the publish failed.
        """
        receivers = await self._publisher.publish(
            rendered,
            self.channel_for(notification),
            headers={"priority": rendered.priority.value, "category": rendered.category},
        )
        if self._require_receiver and receivers == 0:
            raise LookupError("no subscriber on the user's channel")


class CallbackSink:
    """Wraps ``async def send(rendered)`` as a sink for ``channel``.

    Args:
        channel: the delivery channel served (``email``, ``sms``, ``push`` …).
        send: delivers one rendered notification; raises on failure.
    """

    def __init__(
        self,
        channel: DeliveryChannel | str,
        send: Callable[[RenderedNotification], Awaitable[object]],
    ) -> None:
        self._channel = DeliveryChannel(channel)
        self._send = send

    @property
    def channel(self) -> DeliveryChannel:
        """The delivery channel served."""
        return self._channel

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        """Call ``send(rendered)``.

        Raises:
            Exception: whatever ``send`` raises.
        """
        await self._send(rendered)
