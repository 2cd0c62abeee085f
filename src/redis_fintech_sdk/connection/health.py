"""Health reports and preflight permission checks (the pure part).

:class:`HealthReport` is built from ``INFO`` and a timed ``PING``. :class:`Requirement`
declares what an application will do (publish to a channel, consume a stream …); the client
turns each into an ``ACL DRYRUN`` call — or, when the user may not run ``ACL DRYRUN``, into
a harmless live probe — and :class:`PreflightReport` says what is missing before the first
``NOPERM`` happens in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["HealthReport", "PreflightReport", "Requirement", "durability_findings"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HealthReport:
    """What a health check saw.

    Attributes:
        reachable: the server answered PING.
        address: where we looked (never contains a secret).
        topology: ``standalone``, ``sentinel`` or ``cluster``.
        latency_ms: PING round-trip time in milliseconds.
        role: ``master`` / ``slave`` (as INFO says) of the node answering.
        version: server version string (``7.0.15``).
        used_memory: bytes in use.
        maxmemory: the configured limit in bytes (0 means none).
        connected_clients: clients connected to that node.
        nodes: number of nodes looked at (cluster: the primaries).
        error: why the server was unreachable, without secrets.
    """

    reachable: bool
    address: str
    topology: str
    latency_ms: float | None = None
    role: str | None = None
    version: str | None = None
    used_memory: int | None = None
    maxmemory: int | None = None
    connected_clients: int | None = None
    nodes: int = 1
    error: str | None = None

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The server version as a tuple of ints, ``()`` when unknown."""
        if not self.version:
            return ()
        return tuple(int(p) for p in self.version.split(".") if p.isdigit())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the report."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def health_from_info(
    info: Mapping[str, Any], *, address: str, topology: str, latency_ms: float, nodes: int = 1
) -> HealthReport:
    """Build a :class:`HealthReport` from a parsed ``INFO`` reply."""
    return HealthReport(
        reachable=True,
        address=address,
        topology=topology,
        latency_ms=round(latency_ms, 3),
        role=str(info.get("role")) if info.get("role") is not None else None,
        version=str(info.get("redis_version")) if info.get("redis_version") else None,
        used_memory=_int(info.get("used_memory")),
        maxmemory=_int(info.get("maxmemory")),
        connected_clients=_int(info.get("connected_clients")),
        nodes=nodes,
    )


Action = Literal[
    "command", "publish", "subscribe", "psubscribe", "read_key", "write_key", "produce", "consume"
]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing the application will need to do. Build with the class methods.

    Example:
        >>> Requirement.publish("market.price.AAPL").describe()
        'PUBLISH on channel market.price.AAPL'
    """

    action: Action
    target: str = ""
    extra: str = ""

    @classmethod
    def command(cls, name: str) -> Requirement:
        """Run a keyless command such as ``PING`` or ``INFO``."""
        return cls("command", name.upper())

    @classmethod
    def publish(cls, channel: str) -> Requirement:
        """Publish to ``channel``."""
        return cls("publish", channel)

    @classmethod
    def subscribe(cls, channel: str) -> Requirement:
        """Subscribe to ``channel``."""
        return cls("subscribe", channel)

    @classmethod
    def psubscribe(cls, pattern: str) -> Requirement:
        """Pattern-subscribe to ``pattern`` (Redis requires a literal grant of the pattern)."""
        return cls("psubscribe", pattern)

    @classmethod
    def read_key(cls, key: str) -> Requirement:
        """Read ``key``."""
        return cls("read_key", key)

    @classmethod
    def write_key(cls, key: str) -> Requirement:
        """Write ``key``."""
        return cls("write_key", key)

    @classmethod
    def produce(cls, stream: str) -> Requirement:
        """Append to the stream ``stream`` (XADD)."""
        return cls("produce", stream)

    @classmethod
    def consume(cls, stream: str, group: str) -> Requirement:
        """Consume ``stream`` in consumer group ``group`` (XREADGROUP + XACK)."""
        return cls("consume", stream, group)

    def describe(self) -> str:
        """A short human text: what is required, on what."""
        return {
            "command": f"command {self.target}",
            "publish": f"PUBLISH on channel {self.target}",
            "subscribe": f"SUBSCRIBE on channel {self.target}",
            "psubscribe": f"PSUBSCRIBE on pattern {self.target}",
            "read_key": f"read access to key {self.target}",
            "write_key": f"write access to key {self.target}",
            "produce": f"XADD on stream {self.target}",
            "consume": f"XREADGROUP/XACK on stream {self.target} group {self.extra}",
        }[self.action]

    def dryrun_commands(self) -> list[list[str]]:
        """The command lines ``ACL DRYRUN`` is asked about for this requirement."""
        t = self.target
        return {
            "command": [[t]],
            "publish": [["PUBLISH", t, "x"]],
            "subscribe": [["SUBSCRIBE", t]],
            "psubscribe": [["PSUBSCRIBE", t]],
            "read_key": [["GET", t]],
            "write_key": [["SET", t, "x"]],
            "produce": [["XADD", t, "*", "f", "v"]],
            "consume": [
                ["XREADGROUP", "GROUP", self.extra, "c", "COUNT", "1", "STREAMS", t, ">"],
                ["XACK", t, self.extra, "0-1"],
            ],
        }[self.action]


@dataclass(frozen=True, kw_only=True, slots=True)
class PreflightReport:
    """The result of a preflight check.

    Attributes:
        user: the user the checks were made for.
        method: ``dryrun`` (ACL DRYRUN) or ``probe`` (harmless live commands).
        granted: requirements that are allowed.
        missing: requirements that would fail with NOPERM, each with the server's reason.
        unverified: requirements that could not be checked without ACL DRYRUN rights.
    """

    user: str
    method: Literal["dryrun", "probe"]
    granted: tuple[Requirement, ...] = ()
    missing: tuple[tuple[Requirement, str], ...] = field(default=())
    unverified: tuple[Requirement, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is missing."""
        return not self.missing

    def missing_descriptions(self) -> list[str]:
        """One line per missing permission, naming what and why."""
        return [f"{req.describe()} ({reason})" for req, reason in self.missing]


def durability_findings(config: Mapping[str, str]) -> list[str]:
    """Server settings (from ``CONFIG GET``) that can lose or evict acknowledged data.

    Args:
        config: values of ``appendonly``, ``appendfsync``, ``save`` and
            ``maxmemory-policy`` (missing keys are not judged).

    Returns:
        One human-readable warning per risky setting; empty when durable.
    """
    out: list[str] = []
    aof = config.get("appendonly")
    fsync = config.get("appendfsync")
    if aof == "no":
        snap = (
            "and RDB snapshots are off"
            if config.get("save", "x") == ""
            else "since the last RDB snapshot"
        )
        out.append(
            f"appendonly is off: a server crash loses every acknowledged write {snap}; "
            "set appendonly yes with appendfsync always for financial streams"
        )
    elif aof == "yes" and fsync == "everysec":
        out.append(
            "appendfsync everysec: a server crash can lose about the last second of "
            "acknowledged writes; use appendfsync always (or WAITAOF) where that matters"
        )
    elif aof == "yes" and fsync == "no":
        out.append(
            "appendfsync no: the OS decides when writes reach disk; a crash can lose "
            "tens of seconds of acknowledged writes"
        )
    policy = config.get("maxmemory-policy")
    if policy is not None and policy != "noeviction":
        out.append(
            f"maxmemory-policy {policy} can evict streams, consumer-group state and "
            "idempotency markers under memory pressure; use noeviction"
        )
    return out
