"""One look at a server: INFO, CLIENT LIST, SLOWLOG, LATENCY, MEMORY STATS, Pub/Sub, streams.

The steps are a sans-I/O generator (:func:`snapshot_steps`) that yields commands and receives
replies; :func:`collect_snapshot` (asyncio) and :func:`collect_snapshot_sync` only drive it, so
the two share every line of logic.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis_fintech_sdk.errors import RedisError
from redis_fintech_sdk.observability._info import INFO_SECTIONS, ServerInfo
from redis_fintech_sdk.observability._replies import (
    ClientInfo,
    GroupLag,
    LatencyEvent,
    PubSubStats,
    SlowlogEntry,
    _text,
    parse_client_list,
    parse_latency_latest,
    parse_memory_stats,
    parse_numsub,
    parse_slowlog,
    parse_stream_groups,
)

if TYPE_CHECKING:
    from redis_fintech_sdk.connection import AsyncClient, Client

__all__ = ["ServerSnapshot", "collect_snapshot", "collect_snapshot_sync", "snapshot_steps"]

Command = tuple[Any, ...]
#: What the driver sends back for each yielded command: the reply, or the error it raised.
Reply = Any


@dataclass(frozen=True)
class ServerSnapshot:
    """Everything :func:`collect_snapshot` saw, typed.

    Attributes:
        info: every ``INFO`` section.
        clients: ``CLIENT LIST``.
        slowlog: the newest ``SLOWLOG GET`` entries.
        slowlog_len: ``SLOWLOG LEN``.
        latency: ``LATENCY LATEST``.
        memory: ``MEMORY STATS``.
        pubsub: channels, patterns and shard channels with their subscriber counts.
        streams: ``{stream: length}`` of the streams looked at.
        groups: consumer-group lag of those streams.
        taken_at: Unix time of the snapshot.
        errors: ``{step: reason}`` for steps the server refused (NOPERM, unknown command on
            an older version); the other fields are then left empty.
    """

    info: ServerInfo
    clients: tuple[ClientInfo, ...] = ()
    slowlog: tuple[SlowlogEntry, ...] = ()
    slowlog_len: int = 0
    latency: tuple[LatencyEvent, ...] = ()
    memory: Mapping[str, Any] = field(default_factory=dict)
    pubsub: PubSubStats = field(default_factory=lambda: PubSubStats({}, 0, {}))
    streams: Mapping[str, int] = field(default_factory=dict)
    groups: tuple[GroupLag, ...] = ()
    taken_at: float = 0.0
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def pubsub_clients(self) -> tuple[ClientInfo, ...]:
        """The connections in Pub/Sub mode."""
        return tuple(c for c in self.clients if c.is_pubsub)

    @property
    def pubsub_output_buffer_bytes(self) -> int:
        """Output-buffer memory held for Pub/Sub connections (slow subscribers)."""
        return sum(c.omem for c in self.clients if c.is_pubsub)

    def max_group_lag(self) -> int:
        """The largest ``lag + pending`` over the groups looked at (0 when none)."""
        return max((g.backlog for g in self.groups), default=0)


def snapshot_steps(
    *,
    streams: Sequence[str] | None = None,
    max_streams: int = 20,
    slowlog_count: int = 128,
    scan_rounds: int = 10,
) -> Generator[Command, Reply, ServerSnapshot]:
    """The commands of one snapshot, as a generator (sans-I/O).

    Yields each command as a tuple of arguments; the driver sends back the raw reply, or the
    :class:`RedisError` it raised (the step is then recorded in ``errors`` and skipped).

    Args:
        streams: stream keys to report lag for; ``None`` discovers up to ``max_streams``
            with a bounded ``SCAN … TYPE stream``.
        max_streams: cap on discovered streams.
        slowlog_count: how many slow-log entries to read.
        scan_rounds: cap on ``SCAN`` calls when discovering streams.

    Returns:
        The :class:`ServerSnapshot` (as the generator's return value).
    """
    errors: dict[str, str] = {}
    sections: dict[str, Mapping[str, Any]] = {}
    for section in INFO_SECTIONS:
        reply = yield ("INFO", section)
        if isinstance(reply, RedisError):
            errors[f"info {section}"] = str(reply)
        elif isinstance(reply, Mapping):
            sections[section] = reply
    info = ServerInfo.from_sections(sections)

    def ok(step: str, reply: Any) -> bool:
        if isinstance(reply, RedisError):
            errors[step] = str(reply)
            return False
        return True

    reply = yield ("CLIENT", "LIST")
    clients = tuple(parse_client_list(reply)) if ok("client list", reply) else ()
    reply = yield ("SLOWLOG", "GET", slowlog_count)
    slowlog = tuple(parse_slowlog(reply)) if ok("slowlog get", reply) else ()
    reply = yield ("SLOWLOG", "LEN")
    slowlog_len = int(reply) if ok("slowlog len", reply) else 0
    reply = yield ("LATENCY", "LATEST")
    latency = tuple(parse_latency_latest(reply)) if ok("latency latest", reply) else ()
    reply = yield ("MEMORY", "STATS")
    memory = parse_memory_stats(reply) if ok("memory stats", reply) else {}

    channels: dict[str, int] = {}
    reply = yield ("PUBSUB", "CHANNELS")
    if ok("pubsub channels", reply) and reply:
        names = [_text(c) for c in reply]
        reply = yield ("PUBSUB", "NUMSUB", *names)
        if ok("pubsub numsub", reply):
            channels = parse_numsub(reply)
    reply = yield ("PUBSUB", "NUMPAT")
    patterns = int(reply) if ok("pubsub numpat", reply) else 0
    shard: dict[str, int] = {}
    if info.version_tuple >= (7,):
        reply = yield ("PUBSUB", "SHARDCHANNELS")
        if ok("pubsub shardchannels", reply) and reply:
            names = [_text(c) for c in reply]
            reply = yield ("PUBSUB", "SHARDNUMSUB", *names)
            if ok("pubsub shardnumsub", reply):
                shard = parse_numsub(reply)

    keys: list[str] = list(streams) if streams is not None else []
    if streams is None:
        cursor: Any = 0
        for _ in range(scan_rounds):
            reply = yield ("SCAN", cursor, "COUNT", 1000, "TYPE", "stream")
            if not ok("scan streams", reply):
                break
            cursor, found = reply
            keys.extend(_text(k) for k in found if _text(k) not in keys)
            if len(keys) >= max_streams or _text(cursor) == "0":
                break
        keys = sorted(keys)[:max_streams]
    lengths: dict[str, int] = {}
    groups: list[GroupLag] = []
    for key in keys:
        reply = yield ("XLEN", key)
        if ok(f"xlen {key}", reply):
            lengths[key] = int(reply)
        reply = yield ("XINFO", "GROUPS", key)
        if ok(f"xinfo groups {key}", reply):
            groups.extend(parse_stream_groups(key, reply))

    return ServerSnapshot(
        info=info,
        clients=clients,
        slowlog=slowlog,
        slowlog_len=slowlog_len,
        latency=latency,
        memory=memory,
        pubsub=PubSubStats(channels, patterns, shard),
        streams=lengths,
        groups=tuple(groups),
        taken_at=time.time(),
        errors=errors,
    )


async def collect_snapshot(
    client: AsyncClient,
    *,
    streams: Sequence[str] | None = None,
    max_streams: int = 20,
    slowlog_count: int = 128,
) -> ServerSnapshot:
    """Take a :class:`ServerSnapshot` of the server behind ``client`` (its primary).

    A step the server refuses (missing ACL right, command unknown to an older version) is
    recorded in ``errors``; a connection failure is raised.

    Raises:
        ConnectionFailedError: the server could not be reached.
        RedisTimeoutError: the server did not answer in time.
    """
    steps = snapshot_steps(streams=streams, max_streams=max_streams, slowlog_count=slowlog_count)
    reply: Any = None
    try:
        while True:
            command = steps.send(reply)
            reply = await _run_async(client, command)
    except StopIteration as stop:
        result: ServerSnapshot = stop.value
        return result


def collect_snapshot_sync(
    client: Client,
    *,
    streams: Sequence[str] | None = None,
    max_streams: int = 20,
    slowlog_count: int = 128,
) -> ServerSnapshot:
    """Blocking twin of :func:`collect_snapshot`.

    Raises:
        ConnectionFailedError: the server could not be reached.
        RedisTimeoutError: the server did not answer in time.
    """
    steps = snapshot_steps(streams=streams, max_streams=max_streams, slowlog_count=slowlog_count)
    reply: Any = None
    try:
        while True:
            command = steps.send(reply)
            reply = _run_sync(client, command)
    except StopIteration as stop:
        result: ServerSnapshot = stop.value
        return result


def _is_fatal(exc: RedisError) -> bool:
    from redis_fintech_sdk.errors import ConnectionFailedError, RedisTimeoutError

    return isinstance(exc, ConnectionFailedError | RedisTimeoutError)


async def _run_async(client: AsyncClient, command: Command) -> Any:
    try:
        with client.translate_errors(_text(command[0]).upper()):
            return await client.redis.execute_command(*command)
    except RedisError as exc:
        if _is_fatal(exc):
            raise
        return exc


def _run_sync(client: Client, command: Command) -> Any:
    try:
        with client.translate_errors(_text(command[0]).upper()):
            return client.redis.execute_command(*command)  # type: ignore[no-untyped-call]
    except RedisError as exc:
        if _is_fatal(exc):
            raise
        return exc
