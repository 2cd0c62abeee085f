"""Escalation of unacknowledged critical notifications, against a real redis-server."""

from __future__ import annotations

import time

import anyio
import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.patterns import (
    DeliveryChannel,
    EscalationConfig,
    EscalationPolicy,
    EscalationTier,
    Escalator,
    Notification,
    NotificationRouter,
    NotificationTemplate,
    RenderedNotification,
    RouterConfig,
    SendStatus,
    StaticPreferences,
    TemplateRegistry,
)

pytestmark = pytest.mark.anyio

TEMPLATES = TemplateRegistry(
    [
        NotificationTemplate(template_id="margin", title="Margin call", body="{account}"),
        NotificationTemplate(template_id="esc", title="ESCALATED", body="{account} unanswered"),
    ]
)


class Clock:
    def __init__(self, at: float = 1_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class Inbox:
    """An in-app sink that records who got what."""

    channel = DeliveryChannel.IN_APP

    def __init__(self) -> None:
        self.got: list[RenderedNotification] = []

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        self.got.append(rendered)

    def users(self) -> list[str]:
        return [r.user_id for r in self.got]


def policies(prefix: str, first: float = 60.0, second: float = 120.0) -> list[EscalationPolicy]:
    return [
        EscalationPolicy(
            name="margin",
            tiers=(
                EscalationTier(after=first, recipients=(f"{prefix}oncall",)),
                EscalationTier(
                    after=second, recipients=(f"{prefix}head", f"{prefix}cro"), template_id="esc"
                ),
            ),
        ),
        EscalationPolicy(
            name="slow", tiers=(EscalationTier(after=1.0, recipients=(f"{prefix}never",)),)
        ),
    ]


def build(
    client: AsyncClient,
    prefix: str,
    clock: Clock | None = None,
    *,
    first: float = 60.0,
    poll: float = 1.0,
) -> tuple[NotificationRouter, Escalator, Inbox]:
    kw = {} if clock is None else {"clock": clock}
    escalator = Escalator(
        client,
        policies(prefix, first=first),
        config=EscalationConfig(key_prefix=prefix, poll_interval=poll, lease=5.0),
        **kw,
    )
    inbox = Inbox()
    router = NotificationRouter(
        client,
        sinks=[inbox],
        preferences=StaticPreferences(),
        templates=TEMPLATES,
        escalator=escalator,
        config=RouterConfig(key_prefix=prefix),
        **kw,
    )
    return router, escalator, inbox


def alert(prefix: str, policy: str | None = "margin", **kw: object) -> Notification:
    data: dict[str, object] = {
        "user_id": f"{prefix}trader",
        "category": "risk",
        "priority": Priority.CRITICAL,
        "template_id": "margin",
        "params": {"account": "A-1"},
        "escalation_policy": policy,
    }
    data.update(kw)
    return Notification.model_validate(data)


async def test_missed_ack_escalates_tier_by_tier(aclient: AsyncClient, prefix: str) -> None:
    clock = Clock()
    router, escalator, inbox = build(aclient, prefix, clock)
    n = alert(prefix)
    result = await router.send(n)
    assert result.status is SendStatus.DELIVERED
    assert result.escalation_started
    assert inbox.users() == [f"{prefix}trader"]

    assert await escalator.process_due(router.send) == 0  # nothing due yet
    clock.at += 59
    assert await escalator.process_due(router.send) == 0
    clock.at += 2  # 61 s: tier 1
    assert await escalator.process_due(router.send) == 1
    assert inbox.users()[1:] == [f"{prefix}oncall"]
    copy = inbox.got[1]
    assert copy.escalation_of == n.notification_id
    assert copy.escalation_tier == 1
    assert copy.priority is Priority.CRITICAL
    assert copy.title == "Margin call"
    state = await escalator.state(n.notification_id)
    assert state is not None
    assert state.next_tier == 1
    assert state.next_due == pytest.approx(clock.at + 120, abs=0.01)

    clock.at += 100
    assert await escalator.process_due(router.send) == 0
    clock.at += 21  # 121 s after tier 1 fired: tier 2, two recipients, its own template
    assert await escalator.process_due(router.send) == 1
    assert sorted(inbox.users()[2:]) == sorted([f"{prefix}head", f"{prefix}cro"])
    assert {r.title for r in inbox.got[2:]} == {"ESCALATED"}

    clock.at += 10_000
    assert await escalator.process_due(router.send) == 0  # exhausted
    state = await escalator.state(n.notification_id)
    assert state is not None
    assert state.exhausted
    assert state.next_due is None
    assert len(inbox.got) == 4


async def test_no_escalation_after_an_ack(aclient: AsyncClient, prefix: str) -> None:
    clock = Clock()
    router, escalator, inbox = build(aclient, prefix, clock)
    n = alert(prefix)
    await router.send(n)
    clock.at += 30
    assert await router.acknowledge(n.notification_id, by=f"{prefix}trader") is True
    for _ in range(3):
        clock.at += 500
        assert await escalator.process_due(router.send) == 0
    assert inbox.users() == [f"{prefix}trader"]
    state = await escalator.state(n.notification_id)
    assert state is not None
    stats = escalator.statistics()
    assert (stats.started, stats.acknowledged, stats.fired) == (1, 1, 0)
    assert state.acknowledged_by == f"{prefix}trader"
    assert state.next_due is None


async def test_acknowledging_an_escalated_copy_stops_the_chain(
    aclient: AsyncClient, prefix: str
) -> None:
    clock = Clock()
    router, escalator, inbox = build(aclient, prefix, clock)
    n = alert(prefix)
    await router.send(n)
    clock.at += 61
    assert await escalator.process_due(router.send) == 1
    copy_id = inbox.got[1].notification_id
    assert await router.acknowledge(copy_id, by=f"{prefix}oncall") is True
    clock.at += 1000
    assert await escalator.process_due(router.send) == 0
    assert len(inbox.got) == 2
    copy_status = await router.status(copy_id)
    assert copy_status is not None
    assert copy_status.root_id == n.notification_id
    assert copy_status.state.value == "acknowledged"


async def test_escalation_survives_a_restart_and_fires_once_across_escalators(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    clock = Clock()
    router, escalator, _ = build(aclient, prefix, clock)
    await router.send(alert(prefix))
    del router, escalator  # the process "restarts": only Redis remembers

    clock.at += 61
    router_b, esc_b, inbox_b = build(aclient2, prefix, clock)
    router_c, esc_c, inbox_c = build(aclient, prefix, clock)
    fired: list[int] = []

    async def poll(esc: Escalator, r: NotificationRouter) -> None:
        fired.append(await esc.process_due(r.send))

    async with anyio.create_task_group() as tg:
        tg.start_soon(poll, esc_b, router_b)
        tg.start_soon(poll, esc_c, router_c)
    assert sorted(fired) == [0, 1]
    assert inbox_b.users() + inbox_c.users() == [f"{prefix}oncall"]


async def test_start_is_idempotent_and_policy_errors_are_early(
    aclient: AsyncClient, prefix: str
) -> None:
    clock = Clock()
    router, escalator, inbox = build(aclient, prefix, clock)
    n = alert(prefix)
    assert await escalator.start(n) is True
    assert await escalator.start(n) is False
    with pytest.raises(ConfigurationError, match="only critical"):
        await router.send(alert(prefix, priority=Priority.HIGH))
    with pytest.raises(ConfigurationError, match="unknown policy"):
        await router.send(alert(prefix, policy="nope"))
    assert inbox.got == []
    assert await escalator.acknowledge("never-started") is False


async def test_router_runs_the_escalation_loop(aclient: AsyncClient, prefix: str) -> None:
    router, escalator, inbox = build(aclient, prefix, first=0.3, poll=0.05)
    async with router:
        missed = alert(prefix)
        acked = alert(prefix, user_id=f"{prefix}calm", escalation_policy="slow")
        sent = time.monotonic()
        await router.send(missed)
        await router.send(acked)
        assert await router.acknowledge(acked.notification_id) is True
        with anyio.fail_after(10):
            while f"{prefix}oncall" not in inbox.users():  # noqa: ASYNC110
                await anyio.sleep(0.02)
        assert time.monotonic() - sent >= 0.25  # not before the tier was due
        while time.monotonic() - sent < 1.3:  # noqa: ASYNC110 - past the acked one's due time
            await anyio.sleep(0.05)
    assert f"{prefix}never" not in inbox.users()
    assert inbox.users().count(f"{prefix}oncall") == 1
    assert escalator.statistics().fired == 1
