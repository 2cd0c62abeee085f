"""Typed ``INFO`` (every section), parsed from the raw text or from redis-py's per-section dicts.

Pure: no I/O. :mod:`._collect` fetches the replies.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INFO_SECTIONS",
    "CommandStat",
    "KeyspaceStat",
    "ServerInfo",
    "parse_info_text",
    "parse_info_value",
]

#: Sections asked for one by one (``INFO everything`` would lose the section names in
#: redis-py's parser). A section the server does not know comes back empty.
INFO_SECTIONS: tuple[str, ...] = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "commandstats",
    "latencystats",
)


def parse_info_value(value: str) -> Any:
    """Convert one ``INFO`` value the way redis-py does.

    ``"12"`` → ``12``, ``"1.5"`` → ``1.5``, ``"keys=1,expires=0"`` → a dict, ``"a,b"`` → a list,
    anything else stays a string.
    """
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [parse_info_value(v) for v in value.split(",") if v]
    sub: dict[str, Any] = {}
    for item in value.split(","):
        if not item:
            continue
        if "=" in item:
            k, v = item.rsplit("=", 1)
            sub[k] = parse_info_value(v)
        else:
            sub[item] = True
    return sub


def parse_info_text(text: str | bytes) -> dict[str, dict[str, Any]]:
    """Parse the raw text of ``INFO`` into ``{section: {field: value}}``.

    Section names are lowercased (``# Keyspace`` → ``keyspace``); fields before any header go
    to ``""``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    sections: dict[str, dict[str, Any]] = {}
    current = sections.setdefault("", {})
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("#").strip().lower(), {})
            continue
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        if key == "cmdstat_host":
            key, value = line.rsplit(":", 1)
        if key == "module":
            current.setdefault("modules", []).append(parse_info_value(value))
        else:
            current[key] = parse_info_value(value)
    if not sections[""]:
        del sections[""]
    return sections


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True, slots=True)
class CommandStat:
    """One line of ``INFO commandstats``.

    Attributes:
        command: the command name (``publish``, ``xadd``, ``client|list``).
        calls: number of calls.
        usec: total microseconds spent.
        usec_per_call: mean microseconds per call.
        rejected_calls: calls refused before running (ACL, OOM …).
        failed_calls: calls that ran and returned an error.
    """

    command: str
    calls: int
    usec: int
    usec_per_call: float
    rejected_calls: int = 0
    failed_calls: int = 0


@dataclass(frozen=True, slots=True)
class KeyspaceStat:
    """One database of ``INFO keyspace``.

    Attributes:
        db: the database number.
        keys: number of keys.
        expires: keys with a TTL.
        avg_ttl: mean TTL in milliseconds of the keys with one.
    """

    db: int
    keys: int
    expires: int
    avg_ttl: int


_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


@dataclass(frozen=True)
class ServerInfo:
    """A typed view over every section of ``INFO``.

    The common fields are properties with a sane default when the server does not report
    them; :meth:`get` reaches anything else.

    Attributes:
        sections: ``{section: {field: value}}`` exactly as parsed.
    """

    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str | bytes) -> ServerInfo:
        """Parse the raw text of ``INFO`` / ``INFO everything``."""
        return cls(parse_info_text(text))

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Any]]) -> ServerInfo:
        """Build from ``{section: parsed dict}`` (redis-py's ``info(section)`` replies)."""
        return cls({k.lower(): dict(v) for k, v in sections.items()})

    def section(self, name: str) -> Mapping[str, Any]:
        """One section's fields (empty when absent)."""
        return self.sections.get(name.lower(), _EMPTY)

    def get(self, name: str, default: Any = None) -> Any:
        """A field by name, looked up in every section."""
        for values in self.sections.values():
            if name in values:
                return values[name]
        return default

    def flat(self) -> dict[str, Any]:
        """All fields in one dict (what redis-py's ``info()`` returns)."""
        out: dict[str, Any] = {}
        for values in self.sections.values():
            out.update(values)
        return out

    # -- server / replication --------------------------------------------------------------

    @property
    def version(self) -> str:
        """``redis_version``."""
        return str(self.get("redis_version", ""))

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The version as ints (``(7, 2, 4)``); ``()`` when unknown."""
        return tuple(int(p) for p in self.version.split(".") if p.isdigit())

    @property
    def role(self) -> str:
        """``master`` or ``slave``."""
        return str(self.get("role", ""))

    @property
    def mode(self) -> str:
        """``standalone``, ``sentinel`` or ``cluster``."""
        return str(self.get("redis_mode", "standalone"))

    @property
    def uptime_seconds(self) -> int:
        """Seconds since the server started."""
        return _int(self.get("uptime_in_seconds"))

    @property
    def connected_replicas(self) -> int:
        """Replicas attached to this primary."""
        return _int(self.get("connected_slaves"))

    @property
    def master_link_up(self) -> bool | None:
        """On a replica, whether the link to the primary is up; ``None`` on a primary."""
        status = self.get("master_link_status")
        return None if status is None else status == "up"

    # -- clients ---------------------------------------------------------------------------

    @property
    def connected_clients(self) -> int:
        """Client connections (replicas excluded)."""
        return _int(self.get("connected_clients"))

    @property
    def blocked_clients(self) -> int:
        """Clients in a blocking call (``XREADGROUP BLOCK`` …)."""
        return _int(self.get("blocked_clients"))

    @property
    def pubsub_clients(self) -> int:
        """Clients in Pub/Sub mode (Redis 7.4+; ``0`` when not reported)."""
        return _int(self.get("pubsub_clients"))

    @property
    def maxclients(self) -> int:
        """The ``maxclients`` limit (0 when not reported)."""
        return _int(self.get("maxclients"))

    # -- memory ----------------------------------------------------------------------------

    @property
    def used_memory(self) -> int:
        """Bytes allocated by Redis."""
        return _int(self.get("used_memory"))

    @property
    def used_memory_rss(self) -> int:
        """Resident set size in bytes."""
        return _int(self.get("used_memory_rss"))

    @property
    def used_memory_peak(self) -> int:
        """Peak of ``used_memory``."""
        return _int(self.get("used_memory_peak"))

    @property
    def maxmemory(self) -> int:
        """The ``maxmemory`` limit in bytes (0 means none)."""
        return _int(self.get("maxmemory"))

    @property
    def maxmemory_policy(self) -> str:
        """The eviction policy (``noeviction``, ``allkeys-lru`` …)."""
        return str(self.get("maxmemory_policy", ""))

    @property
    def memory_usage_ratio(self) -> float | None:
        """``used_memory / maxmemory``; ``None`` without a limit."""
        return self.used_memory / self.maxmemory if self.maxmemory else None

    @property
    def fragmentation_ratio(self) -> float:
        """``mem_fragmentation_ratio``."""
        return _float(self.get("mem_fragmentation_ratio"), 1.0)

    @property
    def mem_clients_normal(self) -> int:
        """Bytes used by normal clients' buffers (incl. Pub/Sub output buffers)."""
        return _int(self.get("mem_clients_normal"))

    # -- persistence -----------------------------------------------------------------------

    @property
    def aof_enabled(self) -> bool:
        """Whether the AOF is on."""
        return bool(_int(self.get("aof_enabled")))

    @property
    def aof_last_write_ok(self) -> bool:
        """``aof_last_write_status`` is ``ok`` (true when the AOF is off)."""
        return str(self.get("aof_last_write_status", "ok")) == "ok"

    @property
    def rdb_last_bgsave_ok(self) -> bool:
        """``rdb_last_bgsave_status`` is ``ok``."""
        return str(self.get("rdb_last_bgsave_status", "ok")) == "ok"

    @property
    def rdb_changes_since_last_save(self) -> int:
        """Writes not yet in an RDB snapshot."""
        return _int(self.get("rdb_changes_since_last_save"))

    @property
    def rdb_last_save_time(self) -> int:
        """Unix time of the last successful RDB save."""
        return _int(self.get("rdb_last_save_time"))

    @property
    def loading(self) -> bool:
        """The server is loading its dataset."""
        return bool(_int(self.get("loading")))

    # -- stats -----------------------------------------------------------------------------

    @property
    def total_connections_received(self) -> int:
        """Connections accepted since start."""
        return _int(self.get("total_connections_received"))

    @property
    def rejected_connections(self) -> int:
        """Connections refused because of ``maxclients``."""
        return _int(self.get("rejected_connections"))

    @property
    def total_commands_processed(self) -> int:
        """Commands processed since start."""
        return _int(self.get("total_commands_processed"))

    @property
    def instantaneous_ops_per_sec(self) -> int:
        """Commands per second (server's own sample)."""
        return _int(self.get("instantaneous_ops_per_sec"))

    @property
    def evicted_keys(self) -> int:
        """Keys evicted by ``maxmemory``."""
        return _int(self.get("evicted_keys"))

    @property
    def expired_keys(self) -> int:
        """Keys expired."""
        return _int(self.get("expired_keys"))

    @property
    def pubsub_channels(self) -> int:
        """Channels with at least one subscriber."""
        return _int(self.get("pubsub_channels"))

    @property
    def pubsub_patterns(self) -> int:
        """Patterns with at least one subscriber."""
        return _int(self.get("pubsub_patterns"))

    @property
    def pubsub_shardchannels(self) -> int:
        """Shard channels with at least one subscriber (7.0+)."""
        return _int(self.get("pubsub_shardchannels"))

    @property
    def client_output_buffer_disconnections(self) -> int:
        """Clients closed for passing an output-buffer limit (7.0+: ``client_output_buffer_limit_disconnections``)."""  # noqa: E501
        return _int(self.get("client_output_buffer_limit_disconnections"))

    @property
    def total_error_replies(self) -> int:
        """Error replies sent since start."""
        return _int(self.get("total_error_replies"))

    # -- keyspace / commandstats / errorstats ----------------------------------------------

    @property
    def keyspace(self) -> dict[int, KeyspaceStat]:
        """``{db: KeyspaceStat}``."""
        out: dict[int, KeyspaceStat] = {}
        for name, value in self.section("keyspace").items():
            if name.startswith("db") and isinstance(value, Mapping):
                db = _int(name[2:], -1)
                out[db] = KeyspaceStat(
                    db=db,
                    keys=_int(value.get("keys")),
                    expires=_int(value.get("expires")),
                    avg_ttl=_int(value.get("avg_ttl")),
                )
        return out

    @property
    def total_keys(self) -> int:
        """Keys over every database."""
        return sum(s.keys for s in self.keyspace.values())

    @property
    def command_stats(self) -> dict[str, CommandStat]:
        """``{command: CommandStat}`` from ``INFO commandstats``."""
        out: dict[str, CommandStat] = {}
        for name, value in self.section("commandstats").items():
            if name.startswith("cmdstat_") and isinstance(value, Mapping):
                cmd = name.removeprefix("cmdstat_")
                out[cmd] = CommandStat(
                    command=cmd,
                    calls=_int(value.get("calls")),
                    usec=_int(value.get("usec")),
                    usec_per_call=_float(value.get("usec_per_call")),
                    rejected_calls=_int(value.get("rejected_calls")),
                    failed_calls=_int(value.get("failed_calls")),
                )
        return out

    @property
    def error_stats(self) -> dict[str, int]:
        """``{error prefix: count}`` from ``INFO errorstats`` (``ERR``, ``NOPERM``, ``OOM`` …)."""
        out: dict[str, int] = {}
        for name, value in self.section("errorstats").items():
            if name.startswith("errorstat_") and isinstance(value, Mapping):
                out[name.removeprefix("errorstat_")] = _int(value.get("count"))
        return out
