"""Notification deduplication across processes: one ``SET NX PX`` per dedup key."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError

from ._notification import Notification

__all__ = ["DedupVerdict", "Deduplicator", "dedup_fingerprint"]

DedupVerdict = Literal["first", "repeat", "duplicate"]
"""What :meth:`Deduplicator.claim` found."""


def dedup_fingerprint(notification: Notification) -> str:
    """The digest two notifications share when they are duplicates of each other. Pure.

    It covers the tenant, the user and either the explicit ``dedup_key`` or, without one,
    the category, template id and parameters — so the same text sent twice to one user is
    a duplicate, and the same text to two users is not.
    """
    if notification.dedup_key is not None:
        material: object = ["key", notification.dedup_key]
    else:
        params = {k: str(v) for k, v in sorted(notification.params.items())}
        material = ["content", notification.category, notification.template_id, params]
    text = json.dumps([notification.tenant, notification.user_id, material], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class Deduplicator:
    """Remembers dedup fingerprints for ``window`` seconds, in Redis (shared by processes).

    The first notification with a fingerprint wins the key (``SET key <id> NX GET PX``);
    a later one with another notification id inside the window is a duplicate. The *same*
    notification id seen again (a redelivery from the durable queue after a crash) is not
    a duplicate, so a redelivered notification is still delivered.

    Needs Redis 7.0+ (``SET`` with both ``NX`` and ``GET``).

    Args:
        client: the SDK client.
        window: seconds a fingerprint is remembered.
        key_prefix: keys are ``<key_prefix>:dedup:<fingerprint>``.

    Raises:
        ConfigurationError: ``window`` is not positive.
    """

    def __init__(
        self, client: AsyncClient, *, window: float, key_prefix: str = "rfsdk:notify"
    ) -> None:
        if not window > 0:
            raise ConfigurationError("dedup_window", "must be > 0 seconds")
        self._client = client
        self.window = window
        self._prefix = key_prefix

    def key(self, notification: Notification) -> str:
        """The Redis key of the notification's fingerprint."""
        return f"{self._prefix}:dedup:{dedup_fingerprint(notification)}"

    async def claim(self, notification: Notification) -> DedupVerdict:
        """Claim the notification's fingerprint.

        Returns:
            ``"first"`` when it was free, ``"repeat"`` when this same notification id holds
            it (a redelivery), ``"duplicate"`` when another notification holds it.

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.key(notification)
        nid = notification.notification_id
        with self._client.translate_errors("SET", key=key):
            # get=True makes redis-py return the old value instead of a bool.
            previous = await self._client.redis.execute_command(
                "SET", key, nid, "NX", "GET", "PX", max(1, int(self.window * 1000)), get=True
            )
        if previous is None:
            return "first"
        if isinstance(previous, bytes):
            previous = previous.decode()
        return "repeat" if previous == nid else "duplicate"
