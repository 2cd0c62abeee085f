"""AsyncStreamAdmin: groups, XINFO, health, safe trimming and consumer cleanup.

This file is the source of truth; ``streams/_sync/admin.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.connection._async.client import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError, RedisError
from redis_fintech_sdk.streams._config import TrimPolicy
from redis_fintech_sdk.streams._decisions import GroupPosition, TrimPlan, parse_entry_id, plan_trim
from redis_fintech_sdk.streams._errors import is_busygroup, is_unsupported
from redis_fintech_sdk.streams._info import (
    ConsumerInfo,
    GroupHealth,
    GroupInfo,
    ServerFeatures,
    StreamInfo,
)
from redis_fintech_sdk.streams._keys import StreamKeys
from redis_fintech_sdk.streams._scripts import LENGTH_CUT, SAFE_DELCONSUMER

__all__ = ["AsyncStreamAdmin", "TrimResult"]

log = logging.getLogger("redis_fintech_sdk.streams")


def _s(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class TrimResult:
    """What a trim did.

    Attributes:
        removed: entries removed.
        plan: the cut that was asked for and the one applied (``None`` with ``ACKED``
            trimming, where the server protects unacknowledged entries itself).
        server_side_acked: the server's ``ACKED`` option did the protecting.
    """

    removed: int
    plan: TrimPlan | None
    server_side_acked: bool


class AsyncStreamAdmin:
    """Administration and monitoring of streams and consumer groups.

    Args:
        client: the SDK client (not closed by the admin).

    Example:
        >>> admin = AsyncStreamAdmin(client)  # doctest: +SKIP
        >>> health = await admin.group_health("trades", "settlement")  # doctest: +SKIP
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._features: ServerFeatures | None = None
        self._length_cut = client.redis.register_script(LENGTH_CUT)
        self._delconsumer = client.redis.register_script(SAFE_DELCONSUMER)

    # ---------------------------------------------------------------- capabilities

    async def features(self, stream: str = "rfsdk:features") -> ServerFeatures:
        """Probe what the server supports (cached after the first call).

        The probes never create a key: they run against ``{stream}:probe`` with options
        that leave a missing key alone.

        Args:
            stream: a stream whose hash slot the probes use (matters on a cluster).

        Raises:
            RedisError: the server cannot be reached.
        """
        if self._features is not None:
            return self._features
        probe = StreamKeys.for_stream(stream).probe()
        results = []
        for argv in (
            ("XADD", probe, "NOMKSTREAM", "IDMP", "p", "i", "*", "f", "v"),
            ("WAITAOF", 0, 0, 0),
            ("XACKDEL", probe, "g", "IDS", 1, "0-1"),
            ("XTRIM", probe, "MAXLEN", 0, "ACKED"),
        ):
            results.append(await self._probe(*argv))
        self._features = ServerFeatures(
            xadd_idmp=results[0], waitaof=results[1], xackdel=results[2], trim_acked=results[3]
        )
        return self._features

    async def _probe(self, *argv: Any) -> bool:
        try:
            with self._client.translate_errors(str(argv[0])):
                await self._client.redis.execute_command(*argv)
        except RedisError as exc:
            if is_unsupported(exc) or "NOPERM" in str(exc):
                return False
            raise
        return True

    # ---------------------------------------------------------------- groups

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> bool:
        """Create ``group`` on ``stream`` (and the stream) unless it exists.

        Args:
            stream: the stream key.
            group: the consumer group.
            start_id: where a new group starts (``"0"``: all entries, ``"$"``: new ones).

        Returns:
            Whether the group was created now.

        Raises:
            RedisError: any error but "group exists".
        """
        try:
            with self._client.translate_errors("XGROUP", key=stream):
                await self._client.redis.xgroup_create(stream, group, start_id, mkstream=True)
        except RedisError as exc:
            if is_busygroup(exc):
                return False
            raise
        return True

    async def delete_group(self, stream: str, group: str) -> bool:
        """Destroy a consumer group and its pending entries list.

        Raises:
            RedisError: the server refused.
        """
        with self._client.translate_errors("XGROUP", key=stream):
            return bool(await self._client.redis.xgroup_destroy(stream, group))

    async def remove_dead_consumers(
        self, stream: str, group: str, *, idle_for: float, claim_to: str
    ) -> list[str]:
        """Delete consumers idle for ``idle_for`` seconds after moving their entries.

        Each dead consumer's pending entries are first claimed by ``claim_to`` (ownership
        moves, the delivery counter does not change), and the consumer is deleted only if
        it then owns nothing: ``XGROUP DELCONSUMER`` would drop them otherwise (redis#9745).

        Args:
            stream: the stream key.
            group: the consumer group.
            idle_for: seconds a consumer must have been idle.
            claim_to: a live consumer that takes over the pending entries.

        Returns:
            The consumers deleted.

        Raises:
            RedisError: the server refused.
        """
        removed: list[str] = []
        redis = self._client.redis
        for consumer in await self.consumers(stream, group):
            if consumer.name == claim_to or consumer.idle_ms < idle_for * 1000:
                continue
            with self._client.translate_errors("XCLAIM", key=stream):
                while True:
                    rows = await redis.xpending_range(
                        stream, group, "-", "+", 500, consumername=consumer.name
                    )
                    if not rows:
                        break
                    ids: list[Any] = [row["message_id"] for row in rows]
                    await redis.xclaim(stream, group, claim_to, 0, ids, justid=True)
            with self._client.translate_errors("XGROUP", key=stream):
                result = await self._delconsumer(keys=[stream], args=[group, consumer.name])
            if int(result) >= 0:
                removed.append(consumer.name)
        return removed

    # ---------------------------------------------------------------- info

    async def stream_info(self, stream: str) -> StreamInfo:
        """``XINFO STREAM`` as a typed record.

        Raises:
            ResponseError: the stream does not exist.
        """
        with self._client.translate_errors("XINFO", key=stream):
            return StreamInfo.parse(await self._client.redis.xinfo_stream(stream))

    async def groups(self, stream: str) -> list[GroupInfo]:
        """``XINFO GROUPS`` as typed records.

        Raises:
            ResponseError: the stream does not exist.
        """
        with self._client.translate_errors("XINFO", key=stream):
            return [GroupInfo.parse(g) for g in await self._client.redis.xinfo_groups(stream)]

    async def consumers(self, stream: str, group: str) -> list[ConsumerInfo]:
        """``XINFO CONSUMERS`` as typed records.

        Raises:
            ResponseError: the stream or group does not exist.
        """
        with self._client.translate_errors("XINFO", key=stream):
            rows = await self._client.redis.xinfo_consumers(stream, group)
        return [ConsumerInfo.parse(c) for c in rows]

    async def memory_usage(self, stream: str) -> int:
        """Bytes the stream uses (``MEMORY USAGE ... SAMPLES 0``, exact); 0 when missing.

        Raises:
            RedisError: the server refused.
        """
        with self._client.translate_errors("MEMORY", key=stream):
            used = await self._client.redis.memory_usage(stream, samples=0)
        return int(used or 0)

    async def group_health(
        self, stream: str, group: str, *, idle_threshold: float = 60.0
    ) -> GroupHealth:
        """Lag, pending count, oldest pending age, idle consumers and dead-letter depth.

        Args:
            stream: the stream key.
            group: the consumer group.
            idle_threshold: seconds after which a consumer counts as idle.

        Raises:
            ResponseError: the stream or group does not exist.
        """
        info = next((g for g in await self.groups(stream) if g.name == group), None)
        if info is None:
            raise RedisError(f"no group {group!r} on stream {stream!r}")
        consumers = await self.consumers(stream, group)
        with self._client.translate_errors("XPENDING", key=stream):
            summary = await self._client.redis.xpending(stream, group)
        oldest = summary.get("min") if isinstance(summary, dict) else None
        oldest_id = _s(oldest) if oldest else None
        age = None
        if oldest_id is not None:
            age = max(0, int(time.time() * 1000) - parse_entry_id(oldest_id)[0])
        dlq = StreamKeys.for_stream(stream).dead_letters
        with self._client.translate_errors("XLEN", key=dlq):
            depth = int(await self._client.redis.xlen(dlq))
        return GroupHealth(
            stream=stream,
            group=group,
            lag=info.lag,
            pending=info.pending,
            oldest_pending_id=oldest_id,
            oldest_pending_age_ms=age,
            consumers=len(consumers),
            idle_consumers=tuple(c.name for c in consumers if c.idle_ms >= idle_threshold * 1000),
            dead_letters=depth,
        )

    # ---------------------------------------------------------------- trimming

    async def group_positions(self, stream: str) -> list[GroupPosition]:
        """Where every group of ``stream`` is: cursor and oldest pending id.

        Raises:
            RedisError: the server refused.
        """
        positions = []
        for group in await self.groups(stream):
            oldest: str | None = None
            if group.pending:
                with self._client.translate_errors("XPENDING", key=stream):
                    summary = await self._client.redis.xpending(stream, group.name)
                raw = summary.get("min") if isinstance(summary, dict) else None
                oldest = _s(raw) if raw else None
            positions.append(GroupPosition(group.name, group.last_delivered_id, oldest))
        return positions

    async def trim(
        self,
        stream: str,
        *,
        max_length: int | None = None,
        max_age: float | None = None,
        minid: str | None = None,
        policy: TrimPolicy = TrimPolicy.REFUSE,
    ) -> TrimResult:
        """Trim ``stream`` without silently dropping entries a group has not acknowledged.

        With ``REFUSE`` the server's ``ACKED`` option is used where it exists (Redis 8.2+);
        elsewhere the cut is clamped to the oldest entry any group still needs. ``WARN``
        trims as asked and logs how far past the safe point it went; ``FORCE`` is plain
        ``XTRIM``.

        Args:
            stream: the stream key.
            max_length: keep at most this many entries.
            max_age: drop entries older than this many seconds.
            minid: drop entries with a smaller id.
            policy: see :class:`TrimPolicy`.

        Raises:
            ConfigurationError: no limit was given.
            RedisError: the server refused.
        """
        if max_length is None and max_age is None and minid is None:
            raise ConfigurationError("trim", "give max_length, max_age or minid")
        cuts: list[str] = []
        if minid is not None:
            cuts.append(minid)
        if max_age is not None:
            cuts.append(f"{max(0, int((time.time() - max_age) * 1000))}-0")
        redis = self._client.redis
        features = await self.features(stream)
        if policy is TrimPolicy.REFUSE and features.trim_acked:
            removed = 0
            with self._client.translate_errors("XTRIM", key=stream):
                if max_length is not None:
                    removed += int(
                        await redis.execute_command(
                            "XTRIM", stream, "MAXLEN", "=", max_length, "ACKED"
                        )
                    )
                for cut in cuts:
                    removed += int(
                        await redis.execute_command("XTRIM", stream, "MINID", "=", cut, "ACKED")
                    )
            return TrimResult(removed=removed, plan=None, server_side_acked=True)
        if max_length is not None:
            with self._client.translate_errors("EVALSHA", key=stream):
                cut_by_length = await self._length_cut(keys=[stream], args=[max_length])
            if cut_by_length:
                cuts.append(_s(cut_by_length))
        if not cuts:
            return TrimResult(removed=0, plan=None, server_side_acked=False)
        requested = max(cuts, key=parse_entry_id)
        plan = plan_trim(requested, await self.group_positions(stream), policy)
        if plan.clamped and policy is TrimPolicy.WARN:
            log.warning(
                "trim of stream %s drops entries group %s has not acknowledged",
                stream,
                plan.blocking_group,
            )
        if plan.minid is None:
            return TrimResult(removed=0, plan=plan, server_side_acked=False)
        with self._client.translate_errors("XTRIM", key=stream):
            removed = int(await redis.xtrim(stream, minid=plan.minid, approximate=False))
        return TrimResult(removed=removed, plan=plan, server_side_acked=False)
