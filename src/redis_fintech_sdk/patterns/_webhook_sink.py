"""WebhookSink: notifications delivered as signed webhooks."""

from __future__ import annotations

from collections.abc import Callable

from ._errors import WebhookDeliveryError
from ._notification import DeliveryChannel, Notification, RenderedNotification
from ._webhook_values import WebhookEndpoint
from ._webhooks import WebhookDispatcher

__all__ = ["WebhookSink"]

EndpointFor = Callable[[Notification], "WebhookEndpoint | None"]


class WebhookSink:
    """Posts each rendered notification to a webhook endpoint (event type ``notification``).

    The event id is the notification id, so a receiver can drop the repeats a retry or a
    redelivery produces.

    Args:
        dispatcher: signs, retries, breaks and dead-letters.
        endpoint: one endpoint for every notification, or a function choosing the
            endpoint per notification (``None``: this user has no webhook; that counts
            as a failed delivery with ``LookupError``).
    """

    def __init__(
        self,
        dispatcher: WebhookDispatcher,
        endpoint: WebhookEndpoint | EndpointFor,
    ) -> None:
        self._dispatcher = dispatcher
        self._endpoint = endpoint

    @property
    def channel(self) -> DeliveryChannel:
        """Always :attr:`DeliveryChannel.WEBHOOK`."""
        return DeliveryChannel.WEBHOOK

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        """Post ``rendered``.

        Raises:
            WebhookDeliveryError: not delivered after the last attempt (dead-lettered).
            LookupError: no endpoint for this notification.
            RedisError: the dead letter could not be written.
        """
        endpoint = (
            self._endpoint
            if isinstance(self._endpoint, WebhookEndpoint)
            else self._endpoint(notification)
        )
        if endpoint is None:
            raise LookupError("no webhook endpoint for this user")
        result = await self._dispatcher.post(
            endpoint,
            rendered,
            event_type="notification",
            event_id=notification.notification_id,
        )
        if not result.delivered:
            raise WebhookDeliveryError(
                endpoint=result.endpoint,
                event_id=result.event_id,
                attempts=result.attempts,
                status=result.status,
                reason=result.reason or "unknown",
                dead_letter_id=result.dead_letter_id,
            )
