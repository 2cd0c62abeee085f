"""Typed parsing of CLIENT LIST, SLOWLOG, LATENCY, MEMORY STATS, PUBSUB and XINFO replies.

Pure functions over the *raw* RESP2 replies (bytes or str, nested lists), which is what
``execute_command("CLIENT", "LIST")`` returns: the two-token form bypasses redis-py's own
callbacks, so the parsing is ours and the same on every redis-py version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClientInfo",
    "GroupLag",
    "LatencyEvent",
    "PubSubStats",
    "SlowlogEntry",
    "SlowlogReport",
    "analyze_slowlog",
    "parse_client_list",
    "parse_latency_latest",
    "parse_memory_stats",
    "parse_pairs",
    "parse_slowlog",
    "parse_stream_groups",
]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_pairs(reply: Any) -> dict[str, Any]:
    """Turn a flat ``[name, value, name, value …]`` reply (or a dict) into a dict.

    Names are decoded to ``str``, numeric texts become numbers; nested lists stay lists.
    """
    if isinstance(reply, Mapping):
        return {_text(k): _value(v) for k, v in reply.items()}
    items = list(reply or [])
    return {_text(items[i]): _value(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return text
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        return parse_pairs(value)
    return value


# --------------------------------------------------------------------------- CLIENT LIST


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One connection from ``CLIENT LIST``.

    Attributes:
        id: client id.
        addr: peer address.
        name: ``CLIENT SETNAME`` name.
        user: ACL user.
        age: seconds connected.
        idle: seconds since the last command.
        flags: client flags (``P`` Pub/Sub, ``S`` replica, ``M`` primary, ``N`` none …).
        db: selected database.
        sub: channel subscriptions.
        psub: pattern subscriptions.
        ssub: shard-channel subscriptions (7.0+).
        cmd: last command.
        qbuf: query buffer length.
        omem: output buffer memory in bytes: what a slow Pub/Sub subscriber piles up
            until ``client-output-buffer-limit pubsub`` closes it.
        tot_mem: total memory of this client.
        fields: every field as text, for anything not above.
    """

    id: int
    addr: str
    name: str
    user: str
    age: int
    idle: int
    flags: str
    db: int
    sub: int
    psub: int
    ssub: int
    cmd: str
    qbuf: int
    omem: int
    tot_mem: int
    fields: Mapping[str, str]

    @property
    def is_pubsub(self) -> bool:
        """Whether the connection is in Pub/Sub mode."""
        return "P" in self.flags or (self.sub + self.psub + self.ssub) > 0

    @property
    def subscriptions(self) -> int:
        """Channel, pattern and shard-channel subscriptions together."""
        return self.sub + self.psub + self.ssub

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> ClientInfo:
        """Build from the ``key=value`` fields of one ``CLIENT LIST`` line."""
        return cls(
            id=_int(fields.get("id")),
            addr=fields.get("addr", ""),
            name=fields.get("name", ""),
            user=fields.get("user", ""),
            age=_int(fields.get("age")),
            idle=_int(fields.get("idle")),
            flags=fields.get("flags", ""),
            db=_int(fields.get("db")),
            sub=_int(fields.get("sub")),
            psub=_int(fields.get("psub")),
            ssub=_int(fields.get("ssub")),
            cmd=fields.get("cmd", ""),
            qbuf=_int(fields.get("qbuf")),
            omem=_int(fields.get("omem")),
            tot_mem=_int(fields.get("tot-mem")),
            fields=dict(fields),
        )


def parse_client_list(reply: str | bytes | Iterable[Mapping[str, Any]]) -> list[ClientInfo]:
    """Parse ``CLIENT LIST`` (raw text, or redis-py's list of dicts) into :class:`ClientInfo`."""
    if isinstance(reply, str | bytes):
        out: list[ClientInfo] = []
        for line in _text(reply).splitlines():
            fields: dict[str, str] = {}
            for token in line.split(" "):
                if "=" in token:
                    key, value = token.split("=", 1)
                    fields[key] = value
            if fields:
                out.append(ClientInfo.from_fields(fields))
        return out
    return [ClientInfo.from_fields({k: _text(v) for k, v in item.items()}) for item in reply]


# --------------------------------------------------------------------------- SLOWLOG


@dataclass(frozen=True, slots=True)
class SlowlogEntry:
    """One ``SLOWLOG GET`` entry.

    Only the command name and the argument count are kept: arguments may hold payloads or
    key names that must not reach logs or dashboards.

    Attributes:
        id: entry id.
        started_at: Unix time the command started.
        duration_us: execution time in microseconds.
        command: command name, upper case (two words for container commands:
            ``CLIENT LIST``, ``XINFO GROUPS``).
        argc: number of arguments (command name included).
        client_addr: client address (``""`` before Redis 4).
        client_name: client name.
    """

    id: int
    started_at: int
    duration_us: int
    command: str
    argc: int
    client_addr: str = ""
    client_name: str = ""


_CONTAINER = frozenset(
    {"CLIENT", "CONFIG", "XINFO", "XGROUP", "PUBSUB", "MEMORY", "SLOWLOG", "LATENCY", "ACL",
     "CLUSTER", "OBJECT", "FUNCTION", "SCRIPT", "COMMAND", "MODULE"}
)  # fmt: skip


def _command_name(args: Sequence[Any]) -> str:
    if not args:
        return ""
    first = _text(args[0]).upper()
    if first in _CONTAINER and len(args) > 1:
        return f"{first} {_text(args[1]).upper()}"
    return first


def parse_slowlog(reply: Iterable[Any]) -> list[SlowlogEntry]:
    """Parse ``SLOWLOG GET`` (raw nested lists, or redis-py's list of dicts)."""
    out: list[SlowlogEntry] = []
    for item in reply:
        if isinstance(item, Mapping):
            raw_cmd = item.get("command", b"")
            args = _text(raw_cmd).split(" ") if raw_cmd else []
            out.append(
                SlowlogEntry(
                    id=_int(item.get("id")),
                    started_at=_int(item.get("start_time")),
                    duration_us=_int(item.get("duration")),
                    command=_command_name(args),
                    argc=len(args),
                    client_addr=_text(item.get("client_address", "")),
                    client_name=_text(item.get("client_name", "")),
                )
            )
            continue
        row = list(item)
        args = list(row[3]) if len(row) > 3 else []
        out.append(
            SlowlogEntry(
                id=_int(row[0]),
                started_at=_int(row[1]),
                duration_us=_int(row[2]),
                command=_command_name(args),
                argc=len(args),
                client_addr=_text(row[4]) if len(row) > 4 else "",
                client_name=_text(row[5]) if len(row) > 5 else "",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class SlowlogReport:
    """What the slow log says, summarised.

    Attributes:
        entries: number of entries looked at.
        top_commands: ``(command, count, total_us, max_us)`` by count, then total time.
        worst: the slowest entries, slowest first.
    """

    entries: int
    top_commands: tuple[tuple[str, int, int, int], ...]
    worst: tuple[SlowlogEntry, ...]


def analyze_slowlog(entries: Sequence[SlowlogEntry], *, top: int = 10) -> SlowlogReport:
    """Summarise slow-log entries: the most frequent slow commands and the worst latencies."""
    counts: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    worst_by_cmd: dict[str, int] = {}
    for entry in entries:
        counts[entry.command] += 1
        totals[entry.command] += entry.duration_us
        worst_by_cmd[entry.command] = max(worst_by_cmd.get(entry.command, 0), entry.duration_us)
    ranked = sorted(counts, key=lambda c: (-counts[c], -totals[c], c))[:top]
    return SlowlogReport(
        entries=len(entries),
        top_commands=tuple((c, counts[c], totals[c], worst_by_cmd[c]) for c in ranked),
        worst=tuple(sorted(entries, key=lambda e: (-e.duration_us, e.id))[:top]),
    )


# --------------------------------------------------------------------------- LATENCY


@dataclass(frozen=True, slots=True)
class LatencyEvent:
    """One ``LATENCY LATEST`` event (needs ``latency-monitor-threshold`` > 0).

    Attributes:
        event: event name (``command``, ``fast-command``, ``fork``, ``aof-fsync-always`` …).
        latest_at: Unix time of the latest spike.
        latest_ms: latest spike in milliseconds.
        max_ms: all-time maximum in milliseconds.
    """

    event: str
    latest_at: int
    latest_ms: int
    max_ms: int


def parse_latency_latest(reply: Iterable[Any]) -> list[LatencyEvent]:
    """Parse ``LATENCY LATEST``."""
    out: list[LatencyEvent] = []
    for row in reply:
        items = list(row)
        if len(items) >= 4:
            out.append(
                LatencyEvent(
                    event=_text(items[0]),
                    latest_at=_int(items[1]),
                    latest_ms=_int(items[2]),
                    max_ms=_int(items[3]),
                )
            )
    return out


# --------------------------------------------------------------------------- MEMORY STATS


def parse_memory_stats(reply: Any) -> dict[str, Any]:
    """Parse ``MEMORY STATS`` into a dict (``db.0`` becomes a nested dict)."""
    stats = parse_pairs(reply)
    for key, value in stats.items():
        if key.startswith("db.") and isinstance(value, list):
            stats[key] = parse_pairs(value)
    return stats


# --------------------------------------------------------------------------- PUBSUB


@dataclass(frozen=True, slots=True)
class PubSubStats:
    """Pub/Sub state of one server.

    Attributes:
        channels: ``{channel: subscribers}`` for channels with a subscriber (``PUBSUB
            CHANNELS`` + ``NUMSUB``).
        patterns: number of distinct subscribed patterns (``PUBSUB NUMPAT``).
        shard_channels: ``{shard channel: subscribers}`` (``SHARDCHANNELS`` +
            ``SHARDNUMSUB``, 7.0+; empty before).
    """

    channels: Mapping[str, int]
    patterns: int
    shard_channels: Mapping[str, int]

    @property
    def subscriptions(self) -> int:
        """Channel and shard-channel subscriptions together (patterns counted once each)."""
        return sum(self.channels.values()) + sum(self.shard_channels.values()) + self.patterns


def parse_numsub(reply: Any) -> dict[str, int]:
    """Parse ``PUBSUB NUMSUB`` / ``SHARDNUMSUB`` (flat ``[channel, n, …]``)."""
    items = list(reply or [])
    return {_text(items[i]): _int(items[i + 1]) for i in range(0, len(items) - 1, 2)}


# --------------------------------------------------------------------------- streams


@dataclass(frozen=True, slots=True)
class GroupLag:
    """How far one consumer group is behind its stream (``XINFO GROUPS``).

    Attributes:
        stream: the stream key.
        group: the group name.
        consumers: consumers in the group.
        pending: entries delivered but not acknowledged (the PEL).
        lag: entries not yet delivered to the group (7.0+; ``None`` when the server cannot
            tell, e.g. after XDEL/XTRIM of undelivered entries).
        last_delivered_id: the group's last delivered id.
    """

    stream: str
    group: str
    consumers: int
    pending: int
    lag: int | None
    last_delivered_id: str

    @property
    def backlog(self) -> int:
        """``lag + pending``: work not yet done (lag counted as 0 when unknown)."""
        return (self.lag or 0) + self.pending


def parse_stream_groups(stream: str, reply: Iterable[Any]) -> list[GroupLag]:
    """Parse ``XINFO GROUPS <stream>`` (raw flat lists or dicts)."""
    out: list[GroupLag] = []
    for item in reply:
        fields = parse_pairs(item)
        lag = fields.get("lag")
        out.append(
            GroupLag(
                stream=stream,
                group=_text(fields.get("name", "")),
                consumers=_int(fields.get("consumers")),
                pending=_int(fields.get("pending")),
                lag=None if lag is None or lag == "" else _int(lag, 0),
                last_delivered_id=_text(fields.get("last-delivered-id", "")),
            )
        )
    return out
