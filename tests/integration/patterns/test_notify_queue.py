"""Durable per-priority notification delivery: NotificationQueue + NotificationWorker."""

from __future__ import annotations

import anyio
import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.codec import Codec
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    DeliveryChannel,
    Notification,
    NotificationQueue,
    NotificationRouter,
    NotificationTemplate,
    RenderedNotification,
    RouterConfig,
    StaticPreferences,
    TemplateRegistry,
)

pytestmark = pytest.mark.anyio

TEMPLATES = TemplateRegistry([NotificationTemplate(template_id="t", title="{n}", body="{n}")])


class SlowInbox:
    """Low-priority deliveries are slow (a congested provider); the rest are instant."""

    channel = DeliveryChannel.IN_APP

    def __init__(self) -> None:
        self.order: list[tuple[str, str]] = []

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        if notification.priority is Priority.LOW:
            await anyio.sleep(0.03)
        self.order.append((notification.priority.value, rendered.title))


def note(prefix: str, priority: str, n: int) -> Notification:
    return Notification(
        user_id=f"{prefix}u",
        category="ops",
        priority=Priority(priority),
        template_id="t",
        params={"n": n},
    )


async def test_critical_is_not_stuck_behind_a_low_backlog(
    aclient: AsyncClient, prefix: str
) -> None:
    codec = Codec()
    queue = NotificationQueue(aclient, codec=codec, key_prefix=prefix)
    inbox = SlowInbox()
    router = NotificationRouter(
        aclient,
        sinks=[inbox],
        preferences=StaticPreferences(),
        templates=TEMPLATES,
        config=RouterConfig(key_prefix=prefix),
    )
    lows = [note(prefix, "low", i) for i in range(20)]
    for n in lows:
        await queue.enqueue(n)
    critical = note(prefix, "critical", 999)
    await queue.enqueue(critical)
    # Enqueueing the same notification again leaves one entry (id = idempotency key).
    await queue.enqueue(critical)
    assert await aclient.redis.xlen(queue.stream("critical")) == 1
    assert await aclient.redis.xlen(queue.stream("low")) == 20

    worker = queue.worker(
        router, consumer="w0", concurrency={Priority.LOW: 1}, block=0.2, claim_interval=1.0
    )
    async with worker:
        with anyio.fail_after(20):
            while len(inbox.order) < 21:  # noqa: ASYNC110
                await anyio.sleep(0.02)
    position = inbox.order.index(("critical", "999"))
    assert position < 5, inbox.order  # not behind the 20 slow low-priority ones
    assert sorted(t for p, t in inbox.order if p == "low") == sorted(str(i) for i in range(20))
    stats = worker.statistics()
    assert stats[Priority.CRITICAL].acked == 1
    assert stats[Priority.LOW].acked == 20
    assert all(s.dead_lettered == 0 for s in stats.values())
