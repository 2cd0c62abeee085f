"""``doctor``: rules that check a live server against the rendered profiles (pure).

:func:`diagnose` takes what was fetched (:class:`DoctorInput`) and returns findings, each
with a severity and the fix. :mod:`._doctor_fetch` gets the input from a server.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis_fintech_sdk.observability import LatencyEvent, ServerInfo, SlowlogEntry
from redis_fintech_sdk.ops._kernel import KernelSettings

__all__ = ["DoctorInput", "DoctorReport", "Finding", "Severity", "diagnose"]


class Severity(str, enum.Enum):
    """How bad a finding is. ``error`` fails CI by default."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error."""
        return ("info", "warning", "error").index(self.value)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor noticed.

    Attributes:
        code: stable id (``persistence.none``), for suppressing or alerting on.
        severity: how bad it is.
        title: one line.
        detail: what was seen (never a secret).
        fix: what to change, as a config line or command where possible.
    """

    code: str
    severity: Severity
    title: str
    detail: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True, kw_only=True)
class DoctorInput:
    """What the rules look at.

    Attributes:
        info: ``INFO`` (every section).
        config: ``CONFIG GET *`` as text values (empty for a Sentinel).
        default_user_flags: flags of ``ACL GETUSER default`` (``on``, ``nopass`` …);
            ``None`` when they could not be read.
        slowlog: slow-log entries.
        latency: ``LATENCY LATEST`` events.
        kernel: local kernel settings; ``None`` when the server is not local.
        tls_connection: the doctor itself connected over TLS.
        has_streams: the keyspace holds streams (makes eviction an error).
        cluster_state: ``CLUSTER INFO`` ``cluster_state`` in cluster mode.
        sentinel_quorum: ``{service: CKQUORUM reply}`` when the server is a Sentinel.
    """

    info: ServerInfo
    config: Mapping[str, str] = field(default_factory=dict)
    default_user_flags: frozenset[str] | None = None
    slowlog: Sequence[SlowlogEntry] = ()
    latency: Sequence[LatencyEvent] = ()
    kernel: KernelSettings | None = None
    tls_connection: bool = False
    has_streams: bool = False
    cluster_state: str | None = None
    sentinel_quorum: Mapping[str, str] | None = None


@dataclass(frozen=True)
class DoctorReport:
    """All findings for one server.

    Attributes:
        address: the server looked at (no secret).
        version: its version.
        findings: most severe first.
    """

    address: str
    version: str
    findings: tuple[Finding, ...]

    def worst(self) -> Severity | None:
        """The highest severity found, ``None`` when nothing was found."""
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def count(self, severity: Severity) -> int:
        """Number of findings of ``severity``."""
        return sum(1 for f in self.findings if f.severity is severity)

    def codes(self, severity: Severity | None = None) -> set[str]:
        """Codes of the findings (of one severity, or all)."""
        return {f.code for f in self.findings if severity is None or f.severity is severity}

    def exit_code(self, fail_on: Severity = Severity.ERROR) -> int:
        """``1`` when a finding is at least ``fail_on``, else ``0`` (for CI)."""
        worst = self.worst()
        return 1 if worst is not None and worst.rank >= fail_on.rank else 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "address": self.address,
            "version": self.version,
            "summary": {s.value: self.count(s) for s in Severity},
            "findings": [f.as_dict() for f in self.findings],
        }


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741
Rule = Callable[[DoctorInput], Iterator[Finding]]
_RULES: list[Rule] = []


def _rule(fn: Rule) -> Rule:
    _RULES.append(fn)
    return fn


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _auth_required(d: DoctorInput) -> bool | None:
    if d.default_user_flags is not None:
        flags = d.default_user_flags
        return not ("on" in flags and "nopass" in flags)
    if "requirepass" in d.config:
        return bool(d.config["requirepass"])
    return None


def _is_data_node(d: DoctorInput) -> bool:
    return d.info.mode != "sentinel"


# ------------------------------------------------------------------------------ persistence


@_rule
def _persistence(d: DoctorInput) -> Iterator[Finding]:
    if not _is_data_node(d) or not d.config:
        return
    aof = d.config.get("appendonly") == "yes"
    rdb = bool(d.config.get("save", "").strip())
    if not aof and not rdb:
        yield Finding(
            "persistence.none", E, "No persistence: a restart loses every stream and key",
            "appendonly no and no RDB save points",
            'appendonly yes; appendfsync everysec; save "3600 1 300 100 60 10000"',
        )  # fmt: skip
    elif not aof:
        yield Finding(
            "persistence.rdb_only", W, "RDB snapshots only: minutes of writes can be lost",
            f"appendonly no, save {d.config.get('save')!r}",
            "appendonly yes; appendfsync everysec",
        )  # fmt: skip
    elif not rdb:
        yield Finding(
            "persistence.aof_only", W, "No RDB snapshots: no point-in-time backups",
            'save ""', 'save "3600 1 300 100 60 10000" (RDB files are what backups copy)',
        )  # fmt: skip
    if aof and d.config.get("appendfsync") == "no":
        yield Finding(
            "persistence.fsync_no", W, "AOF is never fsynced by Redis: the OS decides when",
            "appendfsync no", "appendfsync everysec (or always for ledger-grade durability)",
        )  # fmt: skip
    if d.config.get("stop-writes-on-bgsave-error") == "no":
        yield Finding(
            "persistence.silent_failures", W, "Writes go on when snapshots fail",
            "stop-writes-on-bgsave-error no", "stop-writes-on-bgsave-error yes",
        )  # fmt: skip
    if not d.info.aof_last_write_ok or not d.info.rdb_last_bgsave_ok:
        yield Finding(
            "persistence.write_errors", E, "The last AOF write or RDB save failed",
            f"aof_last_write_status={d.info.get('aof_last_write_status')}, "
            f"rdb_last_bgsave_status={d.info.get('rdb_last_bgsave_status')}",
            "check disk space and permissions of `dir`; see the server log",
        )  # fmt: skip


# ------------------------------------------------------------------------------ security


@_rule
def _auth(d: DoctorInput) -> Iterator[Finding]:
    if not _is_data_node(d):
        return
    if _auth_required(d) is False:
        yield Finding(
            "auth.none", E, "No authentication: anyone who can connect has full access",
            "the default user is on with nopass",
            "requirepass <long random> (dev) or aclfile with `user default off` (production)",
        )  # fmt: skip
    elif _auth_required(d) is None:
        yield Finding(
            "auth.unknown", I, "Could not check authentication",
            "ACL GETUSER / CONFIG GET not permitted for this user",
            "run doctor as a user with +acl|getuser +config|get (the `monitor` role)",
        )  # fmt: skip


@_rule
def _protected_mode(d: DoctorInput) -> Iterator[Finding]:
    if not d.config or d.config.get("protected-mode", "yes") == "yes":
        return
    if _auth_required(d) is False:
        yield Finding(
            "protected_mode.off", E, "protected-mode is off and there is no password",
            "protected-mode no", "protected-mode yes, and set a password",
        )  # fmt: skip
    else:
        yield Finding(
            "protected_mode.off", W, "protected-mode is off",
            "protected-mode no", "protected-mode yes (harmless with auth, a safety net without)",
        )  # fmt: skip


_ANY = {"*", "0.0.0.0", "::", "-::*", "::*", "-*"}  # noqa: S104


@_rule
def _bind(d: DoctorInput) -> Iterator[Finding]:
    if not d.config or "bind" not in d.config:
        return
    addresses = d.config["bind"].split()
    if addresses and not _ANY.intersection(addresses):
        return
    severity = E if _auth_required(d) is False else W
    yield Finding(
        "bind.all_interfaces", severity, "Listening on every network interface",
        f"bind {d.config['bind'] or '(empty)'}",
        "bind only the private interface (bind 10.0.0.5 127.0.0.1) and firewall the port; "
        "in containers keep the port off public networks",
    )  # fmt: skip


@_rule
def _tls(d: DoctorInput) -> Iterator[Finding]:
    if not d.config:
        return
    tls_port = _int(d.config.get("tls-port"), 0)
    if tls_port == 0 and not d.tls_connection:
        yield Finding(
            "tls.off", W, "No TLS: credentials and messages cross the network in clear",
            "tls-port 0", "tls-port 6380; tls-cert-file/tls-key-file/tls-ca-cert-file; "
            "tls-auth-clients yes (rfsdk config render --tls)",
        )  # fmt: skip
        return
    protocols = set(d.config.get("tls-protocols", "").split())
    if protocols & {"TLSv1", "TLSv1.1"}:
        yield Finding(
            "tls.old_protocols", W, "Obsolete TLS versions are allowed",
            f"tls-protocols {' '.join(sorted(protocols))}", 'tls-protocols "TLSv1.2 TLSv1.3"',
        )  # fmt: skip
    if d.config.get("tls-auth-clients") == "no":
        yield Finding(
            "tls.no_client_auth", I, "Client certificates are not required",
            "tls-auth-clients no", "tls-auth-clients yes (mutual TLS)",
        )  # fmt: skip


@_rule
def _debug_command(d: DoctorInput) -> Iterator[Finding]:
    if d.config.get("enable-debug-command") == "yes":
        yield Finding(
            "security.debug_command", W, "DEBUG is allowed from anywhere",
            "enable-debug-command yes", "enable-debug-command no",
        )  # fmt: skip


# ------------------------------------------------------------------------------ memory


@_rule
def _memory(d: DoctorInput) -> Iterator[Finding]:
    if not _is_data_node(d):
        return
    maxmemory = _int(d.config.get("maxmemory"), d.info.maxmemory) if d.config else d.info.maxmemory
    policy = d.config.get("maxmemory-policy") or d.info.maxmemory_policy
    if maxmemory == 0:
        yield Finding(
            "memory.no_limit", E, "No maxmemory: Redis can grow until the OOM killer ends it",
            "maxmemory 0",
            "maxmemory <~75% of the RAM left for Redis>; maxmemory-policy noeviction",
        )  # fmt: skip
    if policy.startswith("allkeys-"):
        yield Finding(
            "memory.evicting_policy", E if d.has_streams else W,
            "The eviction policy may delete streams and dedup keys",
            f"maxmemory-policy {policy}" + (" with streams present" if d.has_streams else ""),
            "maxmemory-policy noeviction (producers then get OOM errors and back off)",
        )  # fmt: skip
    used = d.info.used_memory
    if maxmemory:
        ratio = used / maxmemory
        if ratio >= 0.8:
            yield Finding(
                "memory.near_limit", E if ratio >= 0.95 else W,
                f"Memory at {ratio:.0%} of maxmemory",
                f"used_memory={used} maxmemory={maxmemory}",
                "trim streams (MAXLEN/MINID), raise maxmemory, or shard (Cluster)",
            )  # fmt: skip
    if d.info.evicted_keys:
        yield Finding(
            "memory.evictions", W, "Keys were evicted",
            f"evicted_keys={d.info.evicted_keys}", "maxmemory-policy noeviction, or more memory",
        )  # fmt: skip
    if d.info.fragmentation_ratio > 1.5 and used > 100 * 2**20:
        yield Finding(
            "memory.fragmentation", W, "High memory fragmentation",
            f"mem_fragmentation_ratio={d.info.fragmentation_ratio}",
            "activedefrag yes (jemalloc builds), or restart a replica and fail over",
        )  # fmt: skip


# ------------------------------------------------------------------------------ clients


def _pubsub_limit(config: Mapping[str, str]) -> tuple[str, str, str] | None:
    tokens = config.get("client-output-buffer-limit", "").split()
    for i in range(0, len(tokens) - 3, 4):
        if tokens[i] == "pubsub":
            return (tokens[i + 1], tokens[i + 2], tokens[i + 3])
    return None


@_rule
def _clients(d: DoctorInput) -> Iterator[Finding]:
    if not d.config:
        return
    limit = _pubsub_limit(d.config)
    if limit is not None and _int(limit[0]) == 0 and _int(limit[1]) == 0:
        yield Finding(
            "clients.pubsub_buffer_unbounded", W,
            "A slow Pub/Sub subscriber can use unbounded memory",
            "client-output-buffer-limit pubsub 0 0 0",
            "client-output-buffer-limit pubsub 64mb 16mb 60",
        )  # fmt: skip
    if _int(d.config.get("tcp-keepalive"), 300) == 0:
        yield Finding(
            "clients.no_keepalive", W, "Dead peers are never detected",
            "tcp-keepalive 0", "tcp-keepalive 60",
        )  # fmt: skip
    if _int(d.config.get("timeout"), 0) == 0:
        yield Finding(
            "clients.no_idle_timeout", I, "Idle clients are never closed",
            "timeout 0", "timeout 300 (the SDK's pools send PING health checks more often)",
        )  # fmt: skip
    if d.info.rejected_connections:
        yield Finding(
            "clients.rejected", W, "Connections were refused at maxclients",
            f"rejected_connections={d.info.rejected_connections}",
            "size connection pools (PoolLimits) or raise maxclients",
        )  # fmt: skip


# ------------------------------------------------------------------------------ diagnostics


@_rule
def _latency(d: DoctorInput) -> Iterator[Finding]:
    if d.config and _int(d.config.get("latency-monitor-threshold"), 0) == 0:
        yield Finding(
            "latency.monitor_off", I, "The latency monitor is off",
            "latency-monitor-threshold 0", "latency-monitor-threshold 100",
        )  # fmt: skip
    bad = [e for e in d.latency if e.max_ms >= 100]
    if bad:
        worst = ", ".join(f"{e.event} {e.max_ms} ms" for e in sorted(bad, key=lambda e: -e.max_ms))
        yield Finding(
            "latency.spikes", W, "Latency spikes of 100 ms or more", worst,
            "see LATENCY DOCTOR; usual causes: fork with THP, slow disk fsync, KEYS/big DEL",
        )  # fmt: skip


@_rule
def _slowlog(d: DoctorInput) -> Iterator[Finding]:
    if d.config and _int(d.config.get("slowlog-log-slower-than"), 10000) < 0:
        yield Finding(
            "slowlog.disabled", W, "The slow log is disabled",
            "slowlog-log-slower-than -1", "slowlog-log-slower-than 10000",
        )  # fmt: skip
    slow = [e for e in d.slowlog if e.duration_us >= 100_000]
    if slow:
        names = sorted({e.command for e in slow})
        yield Finding(
            "slowlog.slow_commands", W, f"{len(slow)} command(s) took 100 ms or more",
            "commands: " + ", ".join(names),
            "avoid O(N) commands on big keys; use SCAN, XRANGE with COUNT, UNLINK",
        )  # fmt: skip
    if any(e.command == "KEYS" for e in d.slowlog):
        yield Finding(
            "slowlog.keys_command", W, "KEYS is used in production",
            "KEYS appears in the slow log", "use SCAN with a MATCH pattern",
        )  # fmt: skip


@_rule
def _logging(d: DoctorInput) -> Iterator[Finding]:
    if d.config.get("loglevel") == "debug":
        yield Finding(
            "logging.debug", W, "Debug logging is on", "loglevel debug", "loglevel notice",
        )  # fmt: skip
    if d.config.get("daemonize") == "yes" and d.config.get("logfile", "") == "":
        yield Finding(
            "logging.discarded", W, "A daemonized server logs to /dev/null",
            'daemonize yes, logfile ""', 'logfile "/var/log/redis/redis.log"',
        )  # fmt: skip


# ------------------------------------------------------------------------------ topology


@_rule
def _replication(d: DoctorInput) -> Iterator[Finding]:
    if d.info.role == "slave" and d.info.master_link_up is False:
        yield Finding(
            "replication.link_down", E, "This replica has lost its primary",
            f"master_link_status={d.info.get('master_link_status')}",
            "check masteruser/masterauth and the network; see the replica's log",
        )  # fmt: skip
    if d.cluster_state is not None and d.cluster_state != "ok":
        yield Finding(
            "cluster.state", E, "The cluster is not serving every slot",
            f"cluster_state={d.cluster_state}", "redis-cli --cluster check / fix",
        )  # fmt: skip
    for service, reply in sorted((d.sentinel_quorum or {}).items()):
        if not reply.startswith("OK"):
            yield Finding(
                "sentinel.quorum", E, f"Sentinel cannot fail {service} over",
                reply, "run at least 3 Sentinels on separate hosts; check quorum and auth",
            )  # fmt: skip


@_rule
def _version(d: DoctorInput) -> Iterator[Finding]:
    version = d.info.version_tuple
    if version and version < (7, 0):
        yield Finding(
            "version.old", W, f"Redis {d.info.version} lacks features the SDK uses",
            "sharded Pub/Sub, XAUTOCLAIM deleted-ids and group lag need 7.0+",
            "upgrade to Redis 7.2 or later (see docs/operations/rolling-upgrade.md)",
        )  # fmt: skip


@_rule
def _kernel(d: DoctorInput) -> Iterator[Finding]:
    k = d.kernel
    if k is None:
        return
    if k.overcommit_memory is not None and k.overcommit_memory != 1:
        yield Finding(
            "kernel.overcommit_memory", W, "BGSAVE / AOF rewrite may fail to fork",
            f"vm.overcommit_memory={k.overcommit_memory}",
            "sysctl vm.overcommit_memory=1 (and in /etc/sysctl.d/)",
        )  # fmt: skip
    backlog = _int(d.config.get("tcp-backlog"), 511)
    if k.somaxconn is not None and k.somaxconn < backlog:
        yield Finding(
            "kernel.somaxconn", W, "The kernel caps the listen backlog below tcp-backlog",
            f"net.core.somaxconn={k.somaxconn} < tcp-backlog {backlog}",
            f"sysctl net.core.somaxconn={max(backlog, 1024)}",
        )  # fmt: skip
    if k.transparent_hugepages == "always":
        yield Finding(
            "kernel.transparent_hugepages", W, "Transparent huge pages are always on",
            "/sys/kernel/mm/transparent_hugepage/enabled = always",
            "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or never)",
        )  # fmt: skip


def diagnose(data: DoctorInput, *, address: str = "") -> DoctorReport:
    """Run every rule over ``data``; findings come most severe first."""
    findings = [f for rule in _RULES for f in rule(data)]
    findings.sort(key=lambda f: (-f.severity.rank, f.code))
    return DoctorReport(address=address, version=data.info.version, findings=tuple(findings))
