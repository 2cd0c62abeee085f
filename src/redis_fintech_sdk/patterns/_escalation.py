"""The escalator: durable escalation of unacknowledged critical notifications.

State lives in Redis, so a restart loses nothing (with AOF persistence):

* ``{<prefix>:esc}:due`` — a sorted set: notification id, scored by when its next tier is
  due (epoch ms);
* ``{<prefix>:esc}:n:<id>`` — a hash: policy, next tier, the original notification (JSON),
  and ``acked`` once acknowledged.

One hash tag keeps both in one cluster slot, so every step is one atomic Lua script. A poll
*claims* due ids by pushing their score ``lease`` seconds ahead (so two escalators never
fire one step twice at once, and a crashed one's claim expires), delivers the tier, then
*advances* the record — unless it was acknowledged meanwhile. A crash between delivery and
advance repeats the step after the lease; the repeat has the same notification ids and
dedup key, so the router does not deliver it twice within the dedup window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.resilience import Backoff, is_retryable

from ._escalation_policy import EscalationPolicy
from ._notification import Notification

__all__ = ["EscalationConfig", "EscalationState", "EscalationStatistics", "Escalator"]

log = logging.getLogger("redis_fintech_sdk.patterns")

Deliver = Callable[[Notification], Awaitable[object]]

# KEYS: due zset, record.  ARGV: id, policy, notification json, due ms, ttl ms
_START = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'policy', ARGV[2], 'tier', 0, 'notification', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
"""

# KEYS: due zset.  ARGV: now ms, lease ms, limit
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
end
return ids
"""

# KEYS: due zset, record.  ARGV: id, fired tier, next due ms (-1: none)
# Returns 1 when advanced, 0 when acknowledged meanwhile, -1 when another escalator
# advanced it first.
_ADVANCE = """
if redis.call('HEXISTS', KEYS[2], 'acked') == 1 or redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if redis.call('HGET', KEYS[2], 'tier') ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[2], 'tier', tonumber(ARGV[2]) + 1)
if tonumber(ARGV[3]) >= 0 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], 'exhausted', 1)
end
return 1
"""

# KEYS: due zset, record.  ARGV: id, by, now ms
_ACK = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], 'acked', ARGV[2])
redis.call('HSETNX', KEYS[2], 'acked_at', ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True, kw_only=True)
class EscalationConfig:
    """How the escalator polls and how long it keeps records.

    Attributes:
        poll_interval: seconds between polls of the due set in :meth:`Escalator.run`.
        lease: seconds a claimed step is reserved before another escalator may retry it;
            longer than the slowest delivery of a tier.
        batch: most steps claimed per poll.
        record_ttl: seconds a record is kept after the policy's last tier is due.
        key_prefix: key prefix (the keys are hash-tagged ``{<key_prefix>:esc}``).

    Raises:
        ConfigurationError: a value is out of range; ``field`` names it.
    """

    poll_interval: float = 1.0
    lease: float = 30.0
    batch: int = 100
    record_ttl: float = 7 * 24 * 3600.0
    key_prefix: str = "rfsdk:notify"

    def __post_init__(self) -> None:
        for name in ("poll_interval", "lease", "record_ttl"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"escalation.{name}", "must be > 0 seconds")
        if isinstance(self.batch, bool) or self.batch < 1:
            raise ConfigurationError("escalation.batch", "must be >= 1")
        if not self.key_prefix or "{" in self.key_prefix or "}" in self.key_prefix:
            raise ConfigurationError("escalation.key_prefix", "must be non-empty, without braces")


@dataclass(frozen=True)
class EscalationState:
    """Where one escalation stands.

    Attributes:
        notification_id: the original notification.
        policy: the policy's name.
        next_tier: the tier that fires next (0-based; ``len(tiers)`` when exhausted).
        next_due: when it fires (epoch seconds), or ``None`` when nothing is scheduled.
        acknowledged_by: who acknowledged, or ``None``.
        exhausted: every tier has fired.
    """

    notification_id: str
    policy: str
    next_tier: int
    next_due: float | None
    acknowledged_by: str | None
    exhausted: bool


@dataclass(frozen=True)
class EscalationStatistics:
    """Counters of an :class:`Escalator` since creation.

    Attributes:
        started: escalations registered.
        acknowledged: escalations stopped by an acknowledgement.
        fired: tier steps fired.
        failed: tier steps whose delivery raised (retried after the lease).
    """

    started: int
    acknowledged: int
    fired: int
    failed: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Escalator:
    """Escalates critical notifications that nobody acknowledges, tier by tier.

    :meth:`start` registers a notification (the router does this for critical
    notifications with an ``escalation_policy``); :meth:`acknowledge` stops it;
    :meth:`run` (or :meth:`process_due` from a scheduler) fires due tiers through
    ``deliver`` — normally :meth:`NotificationRouter.send`.

    Args:
        client: the SDK client.
        policies: the known policies.
        config: polling and retention settings.
        clock: epoch seconds (injectable for tests).

    Raises:
        ConfigurationError: two policies share a name.
    """

    def __init__(
        self,
        client: AsyncClient,
        policies: Iterable[EscalationPolicy],
        *,
        config: EscalationConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or EscalationConfig()
        self._policies: dict[str, EscalationPolicy] = {}
        for policy in policies:
            if policy.name in self._policies:
                raise ConfigurationError("escalation.name", f"{policy.name!r} given twice")
            self._policies[policy.name] = policy
        self._client = client
        self._clock = clock
        tag = "{" + self.config.key_prefix + ":esc}"
        self._due_key = f"{tag}:due"
        self._record_prefix = f"{tag}:n:"
        redis = client.redis
        self._start = redis.register_script(_START)
        self._claim = redis.register_script(_CLAIM)
        self._advance = redis.register_script(_ADVANCE)
        self._ack = redis.register_script(_ACK)
        self._started = self._acknowledged = self._fired = self._failed = 0

    def policy(self, name: str) -> EscalationPolicy:
        """The policy called ``name``.

        Raises:
            ConfigurationError: unknown policy.
        """
        found = self._policies.get(name)
        if found is None:
            raise ConfigurationError("escalation_policy", f"unknown policy {name!r}")
        return found

    def _record(self, notification_id: str) -> str:
        return self._record_prefix + notification_id

    async def start(self, notification: Notification) -> bool:
        """Schedule the first tier of the notification's policy.

        Idempotent: starting a notification that is already registered does nothing and
        returns ``False``.

        Raises:
            ConfigurationError: the notification has no or an unknown policy.
            RedisError: Redis could not be reached.
        """
        if notification.escalation_policy is None:
            raise ConfigurationError("escalation_policy", "the notification names no policy")
        policy = self.policy(notification.escalation_policy)
        now = self._clock()
        due = policy.next_due(-1, now)
        assert due is not None  # a policy has at least one tier
        ttl = policy.span + self.config.lease + self.config.record_ttl
        nid = notification.notification_id
        with self._client.translate_errors("EVALSHA", key=self._due_key):
            started = await self._start(
                keys=[self._due_key, self._record(nid)],
                args=[
                    nid,
                    policy.name,
                    notification.model_dump_json(),
                    int(due * 1000),
                    int(ttl * 1000),
                ],
            )
        self._started += int(started)
        return bool(started)

    async def acknowledge(self, notification_id: str, *, by: str = "") -> bool:
        """Stop the escalation of ``notification_id`` (the original's id).

        Returns ``False`` when no escalation is registered under that id.

        Raises:
            RedisError: Redis could not be reached.
        """
        now_ms = int(self._clock() * 1000)
        with self._client.translate_errors("EVALSHA", key=self._due_key):
            found = await self._ack(
                keys=[self._due_key, self._record(notification_id)],
                args=[notification_id, by or "-", now_ms],
            )
        self._acknowledged += int(found)
        return bool(found)

    async def state(self, notification_id: str) -> EscalationState | None:
        """Where the escalation of ``notification_id`` stands, or ``None``.

        Raises:
            RedisError: Redis could not be reached.
        """
        redis = self._client.redis
        with self._client.translate_errors("HGETALL", key=self._record(notification_id)):
            raw = await redis.hgetall(self._record(notification_id))
            score = await redis.zscore(self._due_key, notification_id)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return EscalationState(
            notification_id=notification_id,
            policy=fields.get("policy", ""),
            next_tier=int(fields.get("tier", "0")),
            next_due=None if score is None else float(score) / 1000,
            acknowledged_by=fields.get("acked"),
            exhausted="exhausted" in fields,
        )

    async def process_due(self, deliver: Deliver) -> int:
        """Fire every tier that is due now; return how many steps fired.

        A step whose delivery raises is logged and retried after ``lease``.

        Raises:
            RedisError: Redis could not be reached while claiming.
        """
        now = self._clock()
        cfg = self.config
        with self._client.translate_errors("EVALSHA", key=self._due_key):
            claimed = await self._claim(
                keys=[self._due_key],
                args=[int(now * 1000), int(cfg.lease * 1000), cfg.batch],
            )
        fired = 0
        for raw_id in claimed:
            nid = _text(raw_id)
            try:
                fired += await self._fire(nid, deliver)
            except Exception as exc:  # one bad step must not stop the others
                self._failed += 1
                log.warning(
                    "escalation of %s failed (%s); retried after the lease",
                    nid,
                    type(exc).__name__,
                )
        self._fired += fired
        return fired

    def statistics(self) -> EscalationStatistics:
        """Counters since creation."""
        return EscalationStatistics(
            started=self._started,
            acknowledged=self._acknowledged,
            fired=self._fired,
            failed=self._failed,
        )

    async def _fire(self, nid: str, deliver: Deliver) -> int:
        record = self._record(nid)
        with self._client.translate_errors("HGETALL", key=record):
            raw = await self._client.redis.hgetall(record)
        fields = {_text(k): _text(v) for k, v in raw.items()}
        policy = self._policies.get(fields.get("policy", ""))
        tier = int(fields.get("tier", "0"))
        if not fields or "acked" in fields or policy is None or tier >= len(policy.tiers):
            if fields and policy is None:
                log.warning("escalation %s names an unknown policy; dropped", nid)
            with self._client.translate_errors("ZREM", key=self._due_key):
                await self._client.redis.zrem(self._due_key, nid)
            return 0
        original = Notification.model_validate_json(fields["notification"])
        for recipient in policy.tiers[tier].recipients:
            await deliver(policy.escalate(original, tier, recipient))
        next_due = policy.next_due(tier, self._clock())
        with self._client.translate_errors("EVALSHA", key=self._due_key):
            advanced = await self._advance(
                keys=[self._due_key, record],
                args=[nid, tier, -1 if next_due is None else int(next_due * 1000)],
            )
        return 1 if int(advanced) == 1 else 0

    async def run(self, deliver: Deliver) -> None:
        """Poll every ``poll_interval`` and fire due tiers, until cancelled.

        Transient Redis errors are retried with backoff.

        Raises:
            RedisError: an error retrying cannot fix (permissions, a bad script).
        """
        backoff = Backoff(base=0.05, cap=max(0.05, min(5.0, self.config.poll_interval * 10)))
        while True:
            try:
                await self.process_due(deliver)
            except RedisError as exc:
                if not is_retryable(exc):
                    raise
                log.warning("escalation poll failed (%s); retrying", type(exc).__name__)
                await anyio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            await anyio.sleep(self.config.poll_interval)
