"""Audit stream naming, retention periods and compliance summaries (sans-I/O)."""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError

from ._acl import tenant_namespace
from ._audit_chain import ChainReport

__all__ = [
    "AuditSummary",
    "RetentionPolicy",
    "audit_stream_key",
    "day_of_stream_key",
    "summarize",
    "utc_day",
]

_DAY_NS = 86_400 * 1_000_000_000


def utc_day(ns: int) -> _dt.date:
    """The UTC calendar day of an instant given in nanoseconds since the epoch."""
    return _dt.date(1970, 1, 1) + _dt.timedelta(days=ns // _DAY_NS)


def audit_stream_key(day: _dt.date, *, tenant: str | None = None, prefix: str = "audit") -> str:
    """The stream holding ``tenant``'s audit events of ``day``.

    ``audit:{2024-05-01}`` without a tenant, ``tenant:acme:audit:{acme.2024-05-01}`` with
    one. The hash tag keeps the stream and its head record (``<key>:head``) in one cluster
    slot, and spreads tenants and days over the slots.

    Raises:
        ConfigurationError: an invalid tenant id or prefix.
    """
    if not prefix or any(c in prefix for c in " {}*?[]"):
        raise ConfigurationError("prefix", "must be a non-empty name without glob or braces")
    tag = f"{tenant}.{day.isoformat()}" if tenant else day.isoformat()
    return f"{tenant_namespace(tenant)}{prefix}:{{{tag}}}"


def day_of_stream_key(key: str) -> _dt.date | None:
    """The day encoded in an audit stream key, or ``None`` for another key."""
    if not key.endswith("}") or "{" not in key:
        return None
    tag = key[key.rindex("{") + 1 : -1]
    try:
        return _dt.date.fromisoformat(tag[-10:])
    except ValueError:
        return None


@dataclass(frozen=True)
class RetentionPolicy:
    """How long audit events are kept, aligned with a legal requirement.

    Attributes:
        days: events older than this many days are removed (whole days by ``DEL``, the
            boundary day by ``XTRIM MINID``), leaving an anchor so the rest verifies.
        name: the requirement it implements, shown in reports.

    Raises:
        ConfigurationError: ``days`` < 1.
    """

    days: int
    name: str = "custom"

    def __post_init__(self) -> None:
        if not isinstance(self.days, int) or self.days < 1:
            raise ConfigurationError("retention.days", "must be an int >= 1")

    @classmethod
    def pci_dss(cls) -> RetentionPolicy:
        """PCI DSS v4.0 Req. 10.5.1: at least 12 months (the last 3 immediately available)."""
        return cls(366, "PCI DSS v4.0 10.5.1")

    @classmethod
    def mifid_ii(cls) -> RetentionPolicy:
        """MiFID II Art. 16(7) / Art. 25: records kept for 5 years."""
        return cls(5 * 365 + 2, "MiFID II Art. 16(7)")

    @classmethod
    def sec_17a_4(cls) -> RetentionPolicy:
        """SEC Rule 17a-4: the longest period (6 years) of the rule's record classes."""
        return cls(6 * 365 + 2, "SEC Rule 17a-4")

    def cutoff_ns(self, now_ns: int) -> int:
        """The instant before which events are removed."""
        return now_ns - self.days * _DAY_NS


@dataclass(frozen=True)
class AuditSummary:
    """A compliance report over audit streams.

    Attributes:
        streams: streams looked at.
        entries: events counted.
        by_kind: events per kind.
        by_outcome: events per outcome.
        by_actor: events per actor.
        denied: the denied / failed events (ts, actor, kind, channel, reason), oldest first.
        chains_ok: streams whose chain verified.
        problems: every chain problem, as ``stream: detail`` lines.
    """

    streams: int
    entries: int
    by_kind: Mapping[str, int] = field(default_factory=dict)
    by_outcome: Mapping[str, int] = field(default_factory=dict)
    by_actor: Mapping[str, int] = field(default_factory=dict)
    denied: tuple[tuple[str, str, str, str, str], ...] = ()
    chains_ok: int = 0
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "streams": self.streams,
            "entries": self.entries,
            "by_kind": dict(self.by_kind),
            "by_outcome": dict(self.by_outcome),
            "by_actor": dict(self.by_actor),
            "denied": [list(d) for d in self.denied],
            "chains_ok": self.chains_ok,
            "problems": list(self.problems),
        }


def _iso(ts_us: str) -> str:
    try:
        instant = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(
            microseconds=int(ts_us)
        )
    except (ValueError, OverflowError):
        return ts_us
    return instant.isoformat().replace("+00:00", "Z")


def summarize(
    chains: Mapping[str, Sequence[tuple[str, Mapping[str, str]]]],
    reports: Mapping[str, ChainReport],
) -> AuditSummary:
    """Count events by kind, outcome and actor, list refusals and chain problems.

    Args:
        chains: stream → its entries.
        reports: stream → its verification report.
    """
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    actors: Counter[str] = Counter()
    denied: list[tuple[str, str, str, str, str]] = []
    total = 0
    for entries in chains.values():
        for _, f in entries:
            total += 1
            kinds[f.get("kind", "?")] += 1
            outcomes[f.get("outcome", "?")] += 1
            actors[f.get("actor", "?")] += 1
            if f.get("outcome") in ("denied", "failure"):
                row = (_iso(f.get("ts", "")), f.get("actor", ""), f.get("kind", ""))
                denied.append((*row, f.get("channel", ""), f.get("reason", "")))
    problems = tuple(
        f"{stream}: {p.kind} at {p.entry_id or 'end'} ({p.detail})"
        for stream, report in reports.items()
        for p in report.problems
    )
    return AuditSummary(
        streams=len(chains),
        entries=total,
        by_kind=dict(sorted(kinds.items())),
        by_outcome=dict(sorted(outcomes.items())),
        by_actor=dict(sorted(actors.items())),
        denied=tuple(sorted(denied)),
        chains_ok=sum(1 for r in reports.values() if r.ok),
        problems=problems,
    )
