"""NotificationRouter against a real redis-server: dedup, preferences, sinks, tracking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import anyio
import pytest

from redis_fintech_sdk.channels import Priority, user_notifications
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.patterns import (
    CallbackSink,
    CategoryPreference,
    DeliveryChannel,
    DeliveryState,
    InAppSink,
    Notification,
    NotificationRouter,
    NotificationTemplate,
    QuietHours,
    RedisPreferenceStore,
    RenderedNotification,
    RouterConfig,
    SendStatus,
    Sink,
    StaticPreferences,
    TemplateError,
    TemplateRegistry,
    UserPreferences,
)
from redis_fintech_sdk.pubsub import AsyncPublisher, AsyncSubscriber

pytestmark = pytest.mark.anyio

TEMPLATES = TemplateRegistry(
    [NotificationTemplate(template_id="alert", title="{title}", body="{account}: {text}")]
)
IN_APP, EMAIL, SMS = DeliveryChannel.IN_APP, DeliveryChannel.EMAIL, DeliveryChannel.SMS


class Recorder:
    """A sink that records deliveries (and can be told to fail)."""

    def __init__(self, channel: DeliveryChannel, *, fail: bool = False) -> None:
        self.channel = channel
        self.fail = fail
        self.got: list[RenderedNotification] = []

    async def deliver(self, notification: Notification, rendered: RenderedNotification) -> None:
        if self.fail:
            raise RuntimeError("provider down")
        self.got.append(rendered)


def note(user: str, priority: Priority = Priority.NORMAL, **kw: object) -> Notification:
    params = {"title": "Margin", "account": "A-1", "text": "below maintenance"}
    data: dict[str, object] = {
        "user_id": user,
        "category": "risk",
        "priority": priority,
        "template_id": "alert",
        "params": params,
    }
    data.update(kw)
    return Notification.model_validate(data)


def router(
    client: AsyncClient,
    prefix: str,
    sinks: Sequence[Sink],
    prefs: StaticPreferences | RedisPreferenceStore | None = None,
    **cfg: object,
) -> NotificationRouter:
    return NotificationRouter(
        client,
        sinks=sinks,
        preferences=prefs or StaticPreferences(),
        templates=TEMPLATES,
        config=RouterConfig(key_prefix=prefix, **cfg),  # type: ignore[arg-type]
    )


async def test_dedup_holds_across_two_router_processes(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    sink = Recorder(IN_APP)
    a = router(aclient, prefix, [sink], dedup_window=30.0)
    b = router(aclient2, prefix, [sink], dedup_window=30.0)
    results = []

    async def send(r: NotificationRouter) -> None:
        results.append(await r.send(note(f"{prefix}u1")))  # new id, same content

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(send, a if i % 2 else b)
    statuses = sorted(r.status.value for r in results)
    assert statuses == ["delivered"] + ["duplicate"] * 9
    assert len(sink.got) == 1
    assert a.statistics().duplicates + b.statistics().duplicates == 9
    # Another user, or an explicit distinct dedup key, is not a duplicate.
    assert (await a.send(note(f"{prefix}u2"))).status is SendStatus.DELIVERED
    assert (await b.send(note(f"{prefix}u1", dedup_key="other"))).status is SendStatus.DELIVERED
    assert len(sink.got) == 3


async def test_dedup_window_expires(
    aclient: AsyncClient, aclient2: AsyncClient, prefix: str
) -> None:
    sink = Recorder(IN_APP)
    a = router(aclient, prefix, [sink], dedup_window=0.5)
    b = router(aclient2, prefix, [sink], dedup_window=0.5)
    assert (await a.send(note(f"{prefix}u"))).status is SendStatus.DELIVERED
    assert (await b.send(note(f"{prefix}u"))).status is SendStatus.DUPLICATE
    await anyio.sleep(0.6)
    assert (await b.send(note(f"{prefix}u"))).status is SendStatus.DELIVERED
    assert len(sink.got) == 2


async def test_delivery_tracking_states_and_acknowledgement(
    aclient: AsyncClient, prefix: str
) -> None:
    user = f"{prefix}u"
    email = Recorder(EMAIL, fail=True)
    async with (
        AsyncPublisher(aclient) as publisher,
        AsyncSubscriber(aclient) as sub,
    ):
        await sub.subscribe(user_notifications(user))
        prefs = StaticPreferences(
            {
                user: UserPreferences(
                    user_id=user, default=CategoryPreference(channels=frozenset({IN_APP, EMAIL}))
                )
            }
        )
        r = router(aclient, prefix, [InAppSink(publisher), email], prefs, tracking_ttl=60.0)
        n = note(user, Priority.HIGH)
        result = await r.send(n)
        with anyio.fail_after(5):
            delivery = await sub.get()
    assert result.status is SendStatus.PARTIAL
    assert result.deliveries == {IN_APP: DeliveryState.DELIVERED, EMAIL: DeliveryState.FAILED}
    assert result.errors == {EMAIL: "RuntimeError"}
    got = delivery.payload
    assert isinstance(got, RenderedNotification)
    assert (got.notification_id, got.title, got.body) == (
        n.notification_id,
        "Margin",
        "A-1: below maintenance",
    )
    assert delivery.header is not None
    assert delivery.header.headers.get("priority") == "high"

    status = await r.status(n.notification_id)
    assert status is not None
    assert status.user_id == user
    assert status.root_id == n.notification_id
    assert status.sinks["in_app"].state is DeliveryState.DELIVERED
    assert status.sinks["in_app"].attempts == 1
    assert status.sinks["email"].state is DeliveryState.FAILED
    assert status.sinks["email"].error == "RuntimeError"
    assert status.state is DeliveryState.DELIVERED
    ttl = await aclient.redis.pttl(r.tracker.key(n.notification_id))
    assert 0 < ttl <= 60_000

    assert await r.acknowledge(n.notification_id, by=user) is True
    acked = await r.status(n.notification_id)
    assert acked is not None
    assert acked.sinks["in_app"].state is DeliveryState.ACKNOWLEDGED
    assert acked.sinks["email"].state is DeliveryState.FAILED  # never delivered there
    assert acked.acknowledged_by == user
    assert acked.acknowledged_at is not None
    assert acked.state is DeliveryState.ACKNOWLEDGED
    # A late "delivered" report cannot move an acknowledged sink backwards.
    await r.tracker.mark(n.notification_id, [("in_app", DeliveryState.PENDING, None)])
    again = await r.status(n.notification_id)
    assert again is not None
    assert again.sinks["in_app"].state is DeliveryState.ACKNOWLEDGED

    assert await r.acknowledge("no-such-id") is False
    assert await r.status("no-such-id") is None


async def test_redis_preferences_and_quiet_hours(aclient: AsyncClient, prefix: str) -> None:
    user = f"{prefix}u"
    store = RedisPreferenceStore(aclient, key_prefix=prefix)
    await store.set(
        UserPreferences(
            user_id=user,
            default=CategoryPreference(channels=frozenset({IN_APP, SMS})),
            quiet_hours=QuietHours(start=dt.time(22), end=dt.time(7)),
        )
    )
    assert (await store.get(user)).quiet_hours is not None
    night = dt.datetime(2024, 6, 3, 23, 30, tzinfo=dt.timezone.utc).timestamp()
    in_app, sms = Recorder(IN_APP), Recorder(SMS)
    r = NotificationRouter(
        aclient,
        sinks=[in_app, sms],
        preferences=store,
        templates=TEMPLATES,
        config=RouterConfig(key_prefix=prefix),
        clock=lambda: night,
    )
    quiet = await r.send(note(user, Priority.HIGH))
    assert quiet.status is SendStatus.DELIVERED
    assert set(quiet.deliveries) == {IN_APP}
    assert quiet.skipped == {SMS: "quiet_hours"}
    loud = await r.send(note(user, Priority.CRITICAL, dedup_key="c"))
    assert set(loud.deliveries) == {IN_APP, SMS}
    assert (len(in_app.got), len(sms.got)) == (2, 1)
    # A user with nothing stored gets the default: in-app only.
    await store.delete(user)
    plain = await r.send(note(user, Priority.CRITICAL, dedup_key="d"))
    assert set(plain.deliveries) == {IN_APP}


async def test_suppression_missing_sink_and_template_errors(
    aclient: AsyncClient, prefix: str
) -> None:
    user = f"{prefix}u"
    sink = Recorder(IN_APP)
    prefs = StaticPreferences(
        {
            user: UserPreferences(
                user_id=user,
                categories={
                    "risk": CategoryPreference(channels=frozenset({IN_APP, SMS})),
                    "promo": CategoryPreference(enabled=False),
                },
            )
        }
    )
    r = router(aclient, prefix, [sink], prefs)
    off = await r.send(note(user, category="promo"))
    assert off.status is SendStatus.SUPPRESSED
    assert off.reason == "category_disabled"
    assert await r.status(off.notification_id) is None
    partial = await r.send(note(user))
    assert partial.status is SendStatus.DELIVERED
    assert partial.skipped == {SMS: "no_sink"}
    # A missing parameter fails before any I/O: the dedup key is not taken.
    broken = note(user, dedup_key="k", params={"title": "x"})
    with pytest.raises(TemplateError) as info:
        await r.send(broken)
    assert info.value.fields == ("account", "text")
    assert (await r.send(note(user, dedup_key="k"))).status is SendStatus.DELIVERED
    assert len(sink.got) == 2


async def test_a_redelivered_notification_only_reaches_sinks_that_missed_it(
    aclient: AsyncClient, prefix: str
) -> None:
    user = f"{prefix}u"
    in_app, email = Recorder(IN_APP), Recorder(EMAIL, fail=True)
    prefs = StaticPreferences(
        {
            user: UserPreferences(
                user_id=user, default=CategoryPreference(channels=frozenset({IN_APP, EMAIL}))
            )
        }
    )
    r = router(aclient, prefix, [in_app, email], prefs)
    n = note(user)
    assert (await r.send(n)).status is SendStatus.PARTIAL
    email.fail = False
    again = await r.send(n)  # same notification id: a redelivery, not a duplicate
    assert again.status is SendStatus.DELIVERED
    assert (len(in_app.got), len(email.got)) == (1, 1)
    status = await r.status(n.notification_id)
    assert status is not None
    assert status.sinks["email"].state is DeliveryState.DELIVERED
    assert status.sinks["email"].attempts == 2


async def test_send_many_delivers_critical_first(aclient: AsyncClient, prefix: str) -> None:
    order: list[str] = []

    async def record(rendered: RenderedNotification) -> None:
        order.append(rendered.priority.value)

    r = router(aclient, prefix, [CallbackSink(IN_APP, record)])
    priorities = ["low", "normal", "critical", "high", "low"]
    results = await r.send_many(
        note(f"{prefix}u", Priority(p), dedup_key=str(i)) for i, p in enumerate(priorities)
    )
    assert order == ["critical", "high", "normal", "low", "low"]
    assert [res.status for res in results] == [SendStatus.DELIVERED] * 5
