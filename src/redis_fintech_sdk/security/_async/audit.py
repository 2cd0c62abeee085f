"""The audit trail in Redis: one hash-chained stream per tenant and UTC day.

This file is the source of truth; ``security/_sync/audit.py`` is generated from it by
``scripts/unasync.py``.

Appends are optimistic: the writer seals the event against the head it knows, and a Lua
script appends it only if the head is still that one (else it returns the current head and
the writer re-seals), so concurrent writers never fork the chain. The audit key never leaves
the process: Redis sees only the sealed fields.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, cast

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import RedisError

from .._audit_chain import (
    GENESIS,
    AuditEvent,
    AuditKind,
    AuditOutcome,
    ChainProblem,
    ChainReport,
    entry_to_json,
    seal_entry,
    verify_chain,
)
from .._audit_policy import (
    AuditSummary,
    RetentionPolicy,
    audit_stream_key,
    day_of_stream_key,
    summarize,
    utc_day,
)
from .._hmac_keys import HmacKeySet

__all__ = ["AuditLog", "RetentionReport"]

Entries = list[tuple[str, dict[str, str]]]

# KEYS: stream, head. ARGV: seq, prev, mac, field, value, ...
_APPEND = (
    """
local h = redis.call('HMGET', KEYS[2], 'seq', 'mac')
local seq = tonumber(h[1]) or 0
local mac = h[2] or '"""
    + GENESIS
    + """'
if seq + 1 ~= tonumber(ARGV[1]) or mac ~= ARGV[2] then
  return {0, tostring(seq), mac}
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'mac', ARGV[3])
return {1, id}
"""
)

# KEYS: stream, head. ARGV: minid. Records the last removed entry as the anchor, then trims.
_TRIM = """
local last = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1], '-', 'COUNT', 1)
if #last == 0 then return 0 end
local f = last[1][2]
local seq, mac
for i = 1, #f, 2 do
  if f[i] == 'seq' then seq = f[i + 1] elseif f[i] == 'mac' then mac = f[i + 1] end
end
redis.call('HSET', KEYS[2], 'anchor_seq', seq, 'anchor_mac', mac)
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
"""


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run removed.

    Attributes:
        policy: the policy applied.
        days_deleted: whole days removed.
        entries_removed: events removed (whole days and the trimmed boundary day).
    """

    policy: RetentionPolicy
    days_deleted: tuple[_dt.date, ...] = ()
    entries_removed: int = 0


class AuditLog:
    """Append, read, verify, export and expire one tenant's audit trail.

    It is also an :class:`~redis_fintech_sdk.hooks.AuditSink`: pass it as ``audit=`` to a
    publisher, subscriber, stream producer or consumer and they :meth:`record` their
    ``published`` / ``permission_denied`` / ``acked`` … events into it.

    Args:
        client: the connection. Appending needs the ``audit-writer`` role; reading and
            verifying the ``auditor`` role; retention an admin.
        keys: the audit HMAC keys (the primary seals new entries). ``None`` chains with
            plain SHA-256, which detects accidents but not a forger with write access.
        tenant: whose trail this is (``None``: the deployment's own).
        prefix: key prefix of the streams.
        clock: nanoseconds since the epoch, UTC (injectable for tests).
        max_attempts: appends retried on a concurrent writer before giving up.

    Example:
        >>> keys = HmacKeySet.from_env("RFSDK_AUDIT_KEYS")  # doctest: +SKIP
        >>> log = AsyncAuditLog(client, keys=keys)  # doctest: +SKIP
        >>> await log.append(AuditEvent(kind="acked", actor="svc"))  # doctest: +SKIP
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        keys: HmacKeySet | None,
        tenant: str | None = None,
        prefix: str = "audit",
        clock: Callable[[], int] = time.time_ns,
        max_attempts: int = 100,
    ) -> None:
        self._client = client
        self._keys = keys
        self._tenant = tenant
        self._prefix = prefix
        self._clock = clock
        self._max_attempts = max_attempts
        self._heads: dict[str, tuple[int, str]] = {}
        audit_stream_key(_dt.date(2000, 1, 1), tenant=tenant, prefix=prefix)  # validates
        self._append = client.redis.register_script(_APPEND)
        self._trim = client.redis.register_script(_TRIM)

    @property
    def tenant(self) -> str | None:
        """The tenant whose trail this is."""
        return self._tenant

    def stream_key(self, day: _dt.date) -> str:
        """The stream of ``day``."""
        return audit_stream_key(day, tenant=self._tenant, prefix=self._prefix)

    # ------------------------------------------------------------------ writing

    async def append(self, event: AuditEvent) -> str:
        """Append ``event`` to today's chain (UTC); return the stream entry id.

        Raises:
            AuthorizationError: the user may not write audit streams.
            RedisError: the server cannot be reached, or other writers kept winning for
                ``max_attempts`` rounds.
        """
        key = self.stream_key(utc_day(self._clock()))
        head_key = key + ":head"
        head = self._heads.get(key)
        for _ in range(self._max_attempts):
            if head is None:
                head = await self._read_head(head_key)
            now = self._clock()
            fields = seal_entry(
                event,
                seq=head[0] + 1,
                prev=head[1],
                ts_us=now // 1000,
                tenant=self._tenant,
                keys=self._keys,
            )
            flat = [part for pair in fields.items() for part in pair]
            args = [fields["seq"], fields["prev"], fields["mac"], *flat]
            with self._client.translate_errors("EVALSHA", key=key):
                reply = await self._append(keys=[key, head_key], args=args)
            if int(reply[0]) == 1:
                if len(self._heads) > 8:
                    self._heads.clear()
                self._heads[key] = (int(fields["seq"]), fields["mac"])
                return _s(reply[1])
            head = (int(_s(reply[1])), _s(reply[2]))
        raise RedisError("audit append lost the race too many times", command="EVALSHA")

    async def record(
        self,
        *,
        kind: str,
        actor: str,
        outcome: str = "success",
        channel: str = "",
        message_id: str = "",
        key_id: str = "",
        reason: str = "",
    ) -> None:
        """Append one event given as fields (the :class:`~redis_fintech_sdk.hooks.AuditSink` hook).

        Raises:
            ConfigurationError: unknown kind or outcome, or a field longer than 256 characters.
            AuthorizationError: the user may not write audit streams.
            RedisError: the server cannot be reached.
        """
        event = AuditEvent(
            kind=cast(AuditKind, kind),
            actor=actor[:256],
            outcome=cast(AuditOutcome, outcome),
            channel=channel[:256],
            message_id=message_id[:256],
            key_id=key_id[:256],
            reason=reason[:256],
        )
        await self.append(event)

    async def _read_head(self, head_key: str) -> tuple[int, str]:
        with self._client.translate_errors("HMGET", key=head_key):
            seq, mac = await self._client.redis.hmget(head_key, ["seq", "mac"])
        return (int(seq), _s(mac)) if seq is not None and mac is not None else (0, GENESIS)

    # ------------------------------------------------------------------ reading

    async def entries(self, day: _dt.date, *, page: int = 1000) -> Entries:
        """Every entry of ``day`` in stream order, as ``(entry_id, fields)``.

        Raises:
            AuthorizationError: the user may not read audit streams.
            RedisError: the server cannot be reached.
        """
        key = self.stream_key(day)
        out: Entries = []
        start = "-"
        while True:
            with self._client.translate_errors("XRANGE", key=key):
                batch: Any = await self._client.redis.xrange(key, start, "+", count=page)
            for entry_id, fields in batch:
                out.append((_s(entry_id), {_s(k): _s(v) for k, v in fields.items()}))
            if len(batch) < page:
                return out
            start = "(" + out[-1][0]

    async def verify(self, day: _dt.date) -> ChainReport:
        """Verify ``day``'s chain against its head record and retention anchor.

        Raises:
            AuthorizationError: the user may not read audit streams.
            RedisError: the server cannot be reached.
        """
        entries = await self.entries(day)
        head_key = self.stream_key(day) + ":head"
        with self._client.translate_errors("HGETALL", key=head_key):
            raw = await self._client.redis.hgetall(head_key)
        head = {_s(k): _s(v) for k, v in raw.items()}
        anchor = None
        if "anchor_seq" in head and "anchor_mac" in head:
            anchor = (int(head["anchor_seq"]), head["anchor_mac"])
        recorded = (int(head["seq"]), head["mac"]) if "seq" in head and "mac" in head else None
        report = verify_chain(entries, keys=self._keys, anchor=anchor, head=recorded)
        if recorded is None and entries:
            missing = ChainProblem(-1, "", "truncated", "the head record is missing")
            report = dataclasses.replace(report, problems=(*report.problems, missing))
        return report

    async def days(self) -> list[_dt.date]:
        """The days that have a stream, oldest first (``SCAN``; needs ``+scan``).

        Raises:
            AuthorizationError: the user may not run SCAN.
            RedisError: the server cannot be reached.
        """
        pattern = audit_stream_key(_dt.date(2000, 1, 1), tenant=self._tenant, prefix=self._prefix)
        pattern = pattern.replace("2000-01-01", "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")
        found: set[_dt.date] = set()
        with self._client.translate_errors("SCAN"):
            async for raw in self._client.redis.scan_iter(match=pattern, count=1000):
                day = day_of_stream_key(_s(raw))
                if day is not None:
                    found.add(day)
        return sorted(found)

    async def export(self, days: Iterable[_dt.date], out: TextIO) -> int:
        """Write the entries of ``days`` as JSON Lines to ``out``; return how many.

        Raises:
            AuthorizationError: the user may not read audit streams.
            RedisError: the server cannot be reached.
        """
        count = 0
        for day in days:
            key = self.stream_key(day)
            for entry_id, fields in await self.entries(day):
                out.write(entry_to_json(key, entry_id, fields) + "\n")
                count += 1
        return count

    async def report(self, days: Sequence[_dt.date]) -> AuditSummary:
        """Verify and summarise ``days``: counts per kind/outcome/actor, refusals, problems.

        Raises:
            AuthorizationError: the user may not read audit streams.
            RedisError: the server cannot be reached.
        """
        chains = {self.stream_key(day): await self.entries(day) for day in days}
        reports = {self.stream_key(day): await self.verify(day) for day in days}
        return summarize(chains, reports)

    # ------------------------------------------------------------------ retention

    async def apply_retention(
        self, policy: RetentionPolicy, *, actor: str = "retention"
    ) -> RetentionReport:
        """Remove events older than ``policy`` allows, and audit the removal.

        Whole days before the cutoff are deleted; the boundary day is trimmed with
        ``XTRIM MINID`` after its last removed entry is recorded as the chain's anchor, so
        the remaining entries still verify. Each removal is appended to today's chain as a
        ``retention`` event (evidence that the deletion was the policy's, not an attacker's).

        Raises:
            AuthorizationError: the user may not delete or trim audit streams.
            RedisError: the server cannot be reached.
        """
        cutoff_ns = policy.cutoff_ns(self._clock())
        cutoff_day = utc_day(cutoff_ns)
        deleted: list[_dt.date] = []
        removed = 0
        for day in await self.days():
            key = self.stream_key(day)
            if day < cutoff_day:
                with self._client.translate_errors("DEL", key=key):
                    n = int(await self._client.redis.xlen(key))
                    await self._client.redis.delete(key, key + ":head")
                deleted.append(day)
            elif day == cutoff_day:
                minid = f"{cutoff_ns // 1_000_000}-0"
                with self._client.translate_errors("XTRIM", key=key):
                    n = int(await self._trim(keys=[key, key + ":head"], args=[minid]))
            else:
                continue
            removed += n
            if n:
                self._heads.pop(key, None)
                reason = f"{policy.name}: removed {n} entries of {day.isoformat()}"
                await self.append(AuditEvent(kind="retention", actor=actor, reason=reason))
        return RetentionReport(policy, tuple(deleted), removed)
