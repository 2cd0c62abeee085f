"""Delivery confirmation tracking: per notification and sink, in a Redis hash with a TTL.

One hash per notification, ``<prefix>:delivery:<notification id>``::

    user        the recipient
    root        the original notification's id (for an escalated copy)
    created     creation time, ms
    s:<sink>    {"state": ..., "attempts": n, "updated": ms, "error": "ClassName"}
    ack_by      who acknowledged, ack_at: when (ms)

States only move forward: ``pending``/``failed`` -> ``delivered`` -> ``acknowledged`` (a
retry may turn ``failed`` back into ``pending``). A Lua script applies each change, so two
processes reporting on one notification never move a state backwards. Every write renews
the TTL; error text is the exception class (and HTTP status) only, never payload.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["DeliveryState", "DeliveryStatus", "DeliveryTracker", "SinkDelivery"]


class DeliveryState(str, enum.Enum):
    """Where one notification stands on one sink."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"


# KEYS: record hash.  ARGV: ttl_ms, now_ms, user, root, n, (sink, state, error)...
# The rank check makes the order of concurrent reports irrelevant: a state never regresses.
_MARK = """
local rank = {pending = 0, failed = 0, delivered = 1, acknowledged = 2}
redis.call('HSETNX', KEYS[1], 'user', ARGV[3])
redis.call('HSETNX', KEYS[1], 'root', ARGV[4])
redis.call('HSETNX', KEYS[1], 'created', ARGV[2])
local changed = 0
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local sink, state, err = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local field = 's:' .. sink
  local cur = redis.call('HGET', KEYS[1], field)
  local attempts = 0
  local ok = true
  if cur then
    local old = cjson.decode(cur)
    attempts = old['attempts']
    if rank[old['state']] > rank[state] then ok = false end
  end
  if ok then
    if state == 'delivered' or state == 'failed' then attempts = attempts + 1 end
    redis.call('HSET', KEYS[1], field, cjson.encode(
      {state = state, attempts = attempts, updated = tonumber(ARGV[2]), error = err}))
    changed = changed + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return changed
"""

# KEYS: record hash.  ARGV: ttl_ms, now_ms, by.  Returns 0 for an unknown record.
_ACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  if string.sub(f, 1, 2) == 's:' then
    local v = cjson.decode(all[i + 1])
    if v['state'] == 'delivered' then
      v['state'] = 'acknowledged'
      v['updated'] = tonumber(ARGV[2])
      redis.call('HSET', KEYS[1], f, cjson.encode(v))
    end
  end
end
redis.call('HSETNX', KEYS[1], 'ack_by', ARGV[3])
redis.call('HSETNX', KEYS[1], 'ack_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class SinkDelivery:
    """One sink's record for one notification.

    Attributes:
        state: the current state.
        attempts: deliveries that ended (delivered or failed).
        updated_at: when the state last changed (epoch seconds).
        error: the last error's class (and status), when it failed.
    """

    state: DeliveryState
    attempts: int
    updated_at: float
    error: str | None = None


@dataclass(frozen=True)
class DeliveryStatus:
    """Everything tracked about one notification.

    Attributes:
        notification_id: the notification.
        user_id: its recipient.
        root_id: the original notification's id (differs for escalated copies).
        created_at: when tracking began (epoch seconds).
        sinks: sink name -> its record.
        acknowledged_by: who acknowledged it, if anyone.
        acknowledged_at: when (epoch seconds).
    """

    notification_id: str
    user_id: str
    root_id: str
    created_at: float
    sinks: Mapping[str, SinkDelivery] = field(default_factory=dict)
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None

    @property
    def state(self) -> DeliveryState:
        """The overall state.

        Acknowledged, else delivered on any sink, else failed on every sink, else pending.
        """
        states = {s.state for s in self.sinks.values()}
        if self.acknowledged_at is not None or DeliveryState.ACKNOWLEDGED in states:
            return DeliveryState.ACKNOWLEDGED
        if DeliveryState.DELIVERED in states:
            return DeliveryState.DELIVERED
        if states and states == {DeliveryState.FAILED}:
            return DeliveryState.FAILED
        return DeliveryState.PENDING


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DeliveryTracker:
    """Records and answers "was notification X delivered on sink Y, and acknowledged?".

    Args:
        client: the SDK client.
        ttl: seconds a record is kept after its last change.
        key_prefix: records are ``<key_prefix>:delivery:<notification id>``.
        clock: epoch seconds (injectable for tests).

    Raises:
        ConfigurationError: ``ttl`` is not positive.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        ttl: float = 7 * 24 * 3600.0,
        key_prefix: str = "rfsdk:notify",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError("tracking_ttl", "must be > 0 seconds")
        self._client = client
        self.ttl = ttl
        self._prefix = key_prefix
        self._clock = clock
        self._mark = client.redis.register_script(_MARK)
        self._ack = client.redis.register_script(_ACK)

    def key(self, notification_id: str) -> str:
        """The Redis key of one notification's record."""
        return f"{self._prefix}:delivery:{notification_id}"

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def mark(
        self,
        notification_id: str,
        updates: Iterable[tuple[str, DeliveryState, str | None]],
        *,
        user_id: str = "",
        root_id: str | None = None,
    ) -> int:
        """Set the state of one or more sinks; return how many changed.

        A change that would move a sink backwards (``delivered`` -> ``pending``) is ignored.

        Args:
            notification_id: the notification.
            updates: ``(sink, state, error class or None)`` triples.
            user_id: the recipient (recorded on the first write).
            root_id: the original's id for an escalated copy (default: this id).

        Raises:
            RedisError: Redis could not be reached.
        """
        args: list[Any] = []
        count = 0
        for sink, state, error in updates:
            args += [sink, DeliveryState(state).value, error or ""]
            count += 1
        key = self.key(notification_id)
        with self._client.translate_errors("EVALSHA", key=key):
            changed = await self._mark(
                keys=[key],
                args=[
                    int(self.ttl * 1000),
                    self._now_ms(),
                    user_id,
                    root_id or notification_id,
                    count,
                    *args,
                ],
            )
        return int(changed)

    async def acknowledge(self, notification_id: str, *, by: str = "") -> bool:
        """Mark every delivered sink of the notification acknowledged.

        The first acknowledgement's ``by`` and time are kept. Returns ``False`` when
        nothing is tracked under that id (never sent, or expired).

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.key(notification_id)
        with self._client.translate_errors("EVALSHA", key=key):
            found = await self._ack(keys=[key], args=[int(self.ttl * 1000), self._now_ms(), by])
        return bool(found)

    async def status(self, notification_id: str) -> DeliveryStatus | None:
        """What is tracked about one notification, or ``None``.

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.key(notification_id)
        with self._client.translate_errors("HGETALL", key=key):
            raw = await self._client.redis.hgetall(key)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        sinks: dict[str, SinkDelivery] = {}
        for name, value in fields.items():
            if name.startswith("s:"):
                doc = json.loads(value)
                sinks[name[2:]] = SinkDelivery(
                    state=DeliveryState(doc["state"]),
                    attempts=int(doc["attempts"]),
                    updated_at=float(doc["updated"]) / 1000,
                    error=doc.get("error") or None,
                )
        ack_at = fields.get("ack_at")
        return DeliveryStatus(
            notification_id=notification_id,
            user_id=fields.get("user", ""),
            root_id=fields.get("root", notification_id),
            created_at=float(fields.get("created", "0")) / 1000,
            sinks=sinks,
            acknowledged_by=fields.get("ack_by") or None if ack_at is not None else None,
            acknowledged_at=float(ack_at) / 1000 if ack_at is not None else None,
        )
