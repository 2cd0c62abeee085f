"""NotificationRouter: templates, deduplication, preferences, sinks, tracking, escalation."""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError

from ._dedup import Deduplicator
from ._escalation import Escalator
from ._notification import DeliveryChannel, Notification, RenderedNotification, priority_rank
from ._preference_store import PreferenceSource
from ._preferences import plan_delivery
from ._sinks import Sink
from ._templates import TemplateRegistry
from ._tracking import DeliveryState, DeliveryStatus, DeliveryTracker

__all__ = ["RouterConfig", "RouterStatistics", "SendResult", "SendStatus", "NotificationRouter"]


@dataclass(frozen=True, kw_only=True)
class RouterConfig:
    """Settings of a :class:`NotificationRouter`.

    Attributes:
        dedup_window: seconds within which a duplicate (same fingerprint, see
            :func:`dedup_fingerprint`) is not delivered again.
        tracking_ttl: seconds delivery records are kept after their last change.
        sink_timeout: seconds one sink may take for one notification (a webhook sink's
            retries included); past it the delivery is recorded as failed.
        key_prefix: prefix of every Redis key the router writes.
        run_escalations: ``async with router`` runs the escalator's poll loop.

    Raises:
        ConfigurationError: a value is out of range; ``field`` names it.
    """

    dedup_window: float = 300.0
    tracking_ttl: float = 7 * 24 * 3600.0
    sink_timeout: float = 30.0
    key_prefix: str = "rfsdk:notify"
    run_escalations: bool = True

    def __post_init__(self) -> None:
        for name in ("dedup_window", "tracking_ttl", "sink_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, "must be > 0 seconds")
        if not self.key_prefix:
            raise ConfigurationError("key_prefix", "must not be empty")


class SendStatus(str, enum.Enum):
    """What :meth:`NotificationRouter.send` did."""

    DELIVERED = "delivered"  # every planned sink delivered
    PARTIAL = "partial"  # some sinks delivered, some failed
    FAILED = "failed"  # every planned sink failed
    DUPLICATE = "duplicate"  # a duplicate within the dedup window: nothing delivered
    SUPPRESSED = "suppressed"  # preferences allow no channel: nothing delivered


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one notification.

    Attributes:
        notification_id: the notification.
        status: the overall outcome.
        deliveries: channel -> final state, for every sink tried (or delivered earlier).
        errors: channel -> error class, for failed sinks.
        skipped: channel -> reason (``quiet_hours``, ``no_sink``) for preferred channels
            that were not used.
        reason: why nothing was delivered (``SUPPRESSED``: the plan's reason).
        escalation_started: an escalation was registered by this call.
    """

    notification_id: str
    status: SendStatus
    deliveries: Mapping[DeliveryChannel, DeliveryState] = field(default_factory=dict)
    errors: Mapping[DeliveryChannel, str] = field(default_factory=dict)
    skipped: Mapping[DeliveryChannel, str] = field(default_factory=dict)
    reason: str | None = None
    escalation_started: bool = False


@dataclass(frozen=True)
class RouterStatistics:
    """Counters of a router since creation.

    Attributes:
        sent: :meth:`NotificationRouter.send` calls that got past templating.
        duplicates: notifications dropped as duplicates.
        suppressed: notifications the preferences suppressed.
        delivered: successful sink deliveries.
        failed: failed sink deliveries.
        escalations_started: escalations registered.
    """

    sent: int
    duplicates: int
    suppressed: int
    delivered: int
    failed: int
    escalations_started: int


def _error_text(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    name = type(exc).__name__
    return f"{name}:{reason}" if isinstance(reason, str) else name


class NotificationRouter:
    """Routes notifications to the sinks each user's preferences choose.

    For each notification :meth:`send` renders the template (a missing parameter fails
    before any I/O), drops duplicates across processes, applies the preferences (category,
    minimum priority, quiet hours), registers the escalation of a critical notification
    with a policy, delivers to every chosen sink concurrently, and records each sink's
    outcome in the :class:`DeliveryTracker`. Use it as ``async with router:`` to also run
    the escalator's poll loop (its errors surface when the block exits).

    Args:
        client: the SDK client.
        sinks: one sink per delivery channel.
        preferences: where user preferences come from.
        templates: the templates.
        escalator: enables escalation policies.
        config: windows, TTLs and timeouts.
        clock: epoch seconds (injectable for tests).

    Raises:
        ConfigurationError: two sinks serve the same channel, or a bad config.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        sinks: Iterable[Sink],
        preferences: PreferenceSource,
        templates: TemplateRegistry,
        escalator: Escalator | None = None,
        config: RouterConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or RouterConfig()
        self._sinks: dict[DeliveryChannel, Sink] = {}
        for sink in sinks:
            channel = DeliveryChannel(sink.channel)
            if channel in self._sinks:
                raise ConfigurationError("sinks", f"two sinks serve {channel.value}")
            self._sinks[channel] = sink
        self._preferences = preferences
        self.templates = templates
        self.escalator = escalator
        self._clock = clock
        cfg = self.config
        self.dedup = Deduplicator(client, window=cfg.dedup_window, key_prefix=cfg.key_prefix)
        self.tracker = DeliveryTracker(
            client, ttl=cfg.tracking_ttl, key_prefix=cfg.key_prefix, clock=clock
        )
        self._tg: TaskGroup | None = None
        self._counts = dict.fromkeys(RouterStatistics.__dataclass_fields__, 0)

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> NotificationRouter:
        if self.escalator is not None and self.config.run_escalations:
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
            self._tg.start_soon(self.escalator.run, self.send)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        tg.cancel_scope.cancel()
        try:
            return await tg.__aexit__(exc_type, exc, tb)
        except BaseException as err:
            raise _unwrap(err) from None

    # ---------------------------------------------------------------- sending

    async def send(self, notification: Notification) -> SendResult:
        """Deliver one notification as its recipient's preferences say.

        Sink failures do not raise: they are in the result and the tracker.

        Raises:
            TemplateError: unknown template or a missing parameter (before any I/O).
            ConfigurationError: a non-critical notification names an escalation policy,
                or a policy is named and the router has no escalator / no such policy.
            RedisError: Redis could not be reached (dedup, preferences or tracking).
        """
        rendered = self.templates.render(notification)
        escalate = self._check_escalation(notification)
        nid = notification.notification_id
        self._counts["sent"] += 1
        verdict = await self.dedup.claim(notification)
        if verdict == "duplicate":
            self._counts["duplicates"] += 1
            return SendResult(nid, SendStatus.DUPLICATE, reason="duplicate")
        started = False
        if escalate:
            assert self.escalator is not None
            started = await self.escalator.start(notification)
            self._counts["escalations_started"] += int(started)
        prefs = await self._preferences.get(notification.user_id)
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.timezone.utc)
        plan = plan_delivery(notification, prefs, now=now)
        skipped = dict(plan.skipped)
        if plan.suppressed is not None:
            self._counts["suppressed"] += 1
            return SendResult(
                nid,
                SendStatus.SUPPRESSED,
                skipped=skipped,
                reason=plan.suppressed,
                escalation_started=started,
            )
        todo: list[DeliveryChannel] = []
        for channel in plan.channels:
            if channel in self._sinks:
                todo.append(channel)
            else:
                skipped[channel] = "no_sink"
        done: dict[DeliveryChannel, DeliveryState] = {}
        if verdict == "repeat":
            # A redelivery (durable queue, escalation retry): skip sinks that already have it.
            done = await self._already_delivered(nid)
            todo = [c for c in todo if c not in done]
        return await self._deliver(notification, rendered, todo, done, skipped, started)

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
        """Send several notifications, highest priority first; results in input order.

        Raises:
            TemplateError: a template problem (notifications before it were sent).
            ConfigurationError: see :meth:`send`.
            RedisError: Redis could not be reached.
        """
        items = list(enumerate(notifications))
        items.sort(key=lambda pair: -priority_rank(pair[1].priority))
        results: dict[int, SendResult] = {}
        for index, notification in items:
            results[index] = await self.send(notification)
        return [results[i] for i in range(len(items))]

    def _check_escalation(self, notification: Notification) -> bool:
        name = notification.escalation_policy
        if name is None:
            return False
        if notification.priority is not Priority.CRITICAL:
            raise ConfigurationError("escalation_policy", "only critical notifications escalate")
        if self.escalator is None:
            raise ConfigurationError("escalation_policy", "the router has no escalator")
        self.escalator.policy(name)  # raises for an unknown policy, before any I/O
        return True

    async def _already_delivered(self, nid: str) -> dict[DeliveryChannel, DeliveryState]:
        status = await self.tracker.status(nid)
        out: dict[DeliveryChannel, DeliveryState] = {}
        for name, record in (status.sinks if status is not None else {}).items():
            if record.state in (DeliveryState.DELIVERED, DeliveryState.ACKNOWLEDGED):
                out[DeliveryChannel(name)] = record.state
        return out

    async def _deliver(
        self,
        notification: Notification,
        rendered: RenderedNotification,
        todo: list[DeliveryChannel],
        done: dict[DeliveryChannel, DeliveryState],
        skipped: dict[DeliveryChannel, str],
        started: bool,
    ) -> SendResult:
        nid = notification.notification_id
        meta = {"user_id": notification.user_id, "root_id": notification.root_id}
        if todo:
            await self.tracker.mark(
                nid, [(c.value, DeliveryState.PENDING, None) for c in todo], **meta
            )
        errors: dict[DeliveryChannel, str] = {}

        async def one(channel: DeliveryChannel) -> None:
            try:
                with anyio.fail_after(self.config.sink_timeout):
                    await self._sinks[channel].deliver(notification, rendered)
            except Exception as exc:  # a sink's failure is recorded, never raised
                errors[channel] = _error_text(exc)

        async with anyio.create_task_group() as tg:
            for channel in todo:
                tg.start_soon(one, channel)
        states = {c: DeliveryState.FAILED if c in errors else DeliveryState.DELIVERED for c in todo}
        if todo:
            await self.tracker.mark(
                nid, [(c.value, s, errors.get(c)) for c, s in states.items()], **meta
            )
        self._counts["delivered"] += len(todo) - len(errors)
        self._counts["failed"] += len(errors)
        states.update(done)
        ok = sum(1 for s in states.values() if s is not DeliveryState.FAILED)
        if not states:
            status = SendStatus.SUPPRESSED
        elif ok == len(states):
            status = SendStatus.DELIVERED
        else:
            status = SendStatus.PARTIAL if ok else SendStatus.FAILED
        reason = "no_sink" if not states else None
        return SendResult(nid, status, states, errors, skipped, reason, started)

    # ---------------------------------------------------------------- queries

    async def acknowledge(self, notification_id: str, *, by: str = "") -> bool:
        """Acknowledge a notification and stop its escalation.

        Its delivered sinks become ``acknowledged``, and the escalation of the original
        (this notification, or the one an escalated copy was made from) stops. Returns
        ``False`` when nothing is known under that id.

        Raises:
            RedisError: Redis could not be reached.
        """
        status = await self.tracker.status(notification_id)
        root = status.root_id if status is not None else notification_id
        found = await self.tracker.acknowledge(notification_id, by=by)
        if self.escalator is not None:
            found = await self.escalator.acknowledge(root, by=by) or found
        return found

    async def status(self, notification_id: str) -> DeliveryStatus | None:
        """The delivery record of one notification, or ``None``.

        Raises:
            RedisError: Redis could not be reached.
        """
        return await self.tracker.status(notification_id)

    def statistics(self) -> RouterStatistics:
        """Counters since creation."""
        return RouterStatistics(**self._counts)


def _unwrap(exc: BaseException) -> BaseException:
    # anyio wraps task errors in exception groups; a single error is re-raised as itself.
    while True:
        inner = getattr(exc, "exceptions", None)
        if not inner or len(inner) != 1:
            return exc
        exc = inner[0]
