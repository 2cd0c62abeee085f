"""redis.conf, sentinel.conf and ACL files for the dev, production, sentinel, cluster profiles.

Pure functions: values in, text out. Every path, address and port is a parameter, so the
same production config that ships in a container (``dir /data``, ``bind 0.0.0.0``) can be
rendered for ``127.0.0.1``, a free port and a temp dir in a test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from redis_fintech_sdk.errors import ConfigurationError

__all__ = [
    "ACL_ROLES",
    "PROFILES",
    "AclUser",
    "Profile",
    "RedisConfOptions",
    "SentinelConfOptions",
    "TLSPaths",
    "profile_options",
    "render_acl_file",
    "render_redis_conf",
    "render_sentinel_conf",
]

Profile = Literal["dev", "production", "sentinel", "cluster"]
PROFILES: tuple[Profile, ...] = ("dev", "production", "sentinel", "cluster")
EvictionPolicy = Literal[
    "noeviction",
    "volatile-lru",
    "volatile-lfu",
    "volatile-ttl",
    "volatile-random",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
]
AppendFsync = Literal["always", "everysec", "no"]

#: ACL rules per role. ``default`` is switched off in every profile but ``dev``.
ACL_ROLES: Mapping[str, str] = {
    "admin": "~* &* +@all",
    # Applications: data and Pub/Sub, none of the server-administration commands.
    "app": "~* &* +@all -@admin -@dangerous +info +client|setname +client|id",
    # What `rfsdk doctor` / `rfsdk monitor` / exporters need, and nothing that writes data.
    "monitor": (
        "resetchannels -@all +@connection +info +config|get +slowlog|get +slowlog|len"
        " +latency|latest +memory|stats +client|list +pubsub +xinfo +xlen +scan +type"
        " +acl|getuser +cluster|info"
    ),
    "healthcheck": "resetchannels -@all +ping",
    # Replication link (masteruser on replicas).
    "replica": "resetchannels -@all +psync +replconf +ping",
    # What Sentinel needs on data nodes (redis.io "Redis Sentinel" ACL recipe).
    "sentinel": (
        "allchannels -@all +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite"
        " +role +publish +info +client|setname +client|kill +script|kill"
    ),
}


@dataclass(frozen=True)
class AclUser:
    """One ACL user: a name, a password (stored hashed) and rules.

    Args:
        name: user name.
        password: plain password; only its SHA-256 goes into the ACL file.
        rules: ACL rules; by default those of the role with the same name.
    """

    name: str
    password: str = field(repr=False)
    rules: str = ""

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ConfigurationError("acl_users", f"bad user name {self.name!r}")
        if len(self.password) < 16:
            raise ConfigurationError("acl_users", f"password of {self.name!r} is too short")
        if not self.rules and self.name not in ACL_ROLES:
            raise ConfigurationError("acl_users", f"no rules for {self.name!r}")

    def line(self) -> str:
        """The ``user …`` line, with ``#<sha256>`` instead of the password."""
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return f"user {self.name} on #{digest} {self.rules or ACL_ROLES[self.name]}"


def render_acl_file(users: Sequence[AclUser], *, default_user_off: bool = True) -> str:
    """The text of an ACL file (``aclfile``) holding ``users``.

    Args:
        users: the users; passwords are stored as SHA-256 hashes.
        default_user_off: switch the ``default`` user off (no unauthenticated access).
    """
    # ACL files take no comments: every line must be a `user` line.
    lines = [u.line() for u in users]
    if default_user_off:
        lines.append("user default off resetkeys resetchannels -@all")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TLSPaths:
    """Certificate files a server listens with.

    Args:
        cert_file: server certificate (PEM).
        key_file: its private key.
        ca_file: the CA that signs client certificates.
        auth_clients: ``yes`` (mutual TLS), ``optional`` or ``no``.
    """

    cert_file: str
    key_file: str
    ca_file: str
    auth_clients: Literal["yes", "no", "optional"] = "yes"


@dataclass(frozen=True, kw_only=True)
class RedisConfOptions:
    """Everything a rendered redis.conf depends on. Build one with :func:`profile_options`.

    Attributes:
        profile: which profile the defaults came from.
        bind: addresses to listen on (``-`` prefix: optional address).
        port: plaintext port; ``0`` with TLS means TLS only.
        dir: working directory (AOF, RDB, cluster file).
        logfile: log file; ``""`` logs to stdout (containers).
        loglevel: ``debug``, ``verbose``, ``notice`` or ``warning``.
        requirepass: password of the default user (dev profile); mutually exclusive with
            ``aclfile``.
        aclfile: path of the ACL file (production profiles).
        protected_mode: refuse non-loopback clients when there is no password.
        maxmemory: limit, e.g. ``"2gb"``.
        maxmemory_policy: eviction policy; ``noeviction`` keeps streams and dedup keys safe.
        appendonly: AOF on.
        appendfsync: ``always`` (every write), ``everysec`` (≤ 1 s loss) or ``no``.
        save: RDB snapshot points (``"3600 1 300 100 60 10000"``); ``""`` disables them.
        timeout: seconds before an idle client is closed (0: never).
        tcp_keepalive: TCP keepalive seconds.
        tcp_backlog: listen backlog (needs ``net.core.somaxconn`` at least as large).
        pubsub_buffer_limit: ``client-output-buffer-limit pubsub`` hard, soft, seconds.
        slowlog_slower_than_us: slow-log threshold in microseconds.
        slowlog_max_len: slow-log length.
        latency_monitor_ms: latency-monitor threshold in milliseconds.
        maxclients: connection limit.
        tls: listen with TLS on ``tls_port`` when set.
        tls_port: the TLS port.
        replicaof: ``(host, port)`` of the primary, for a replica.
        masteruser: user a replica authenticates as.
        masterauth: that user's password.
        cluster: cluster mode.
        cluster_node_timeout_ms: ``cluster-node-timeout``.
        extra: further directives, one per item.
    """

    profile: Profile = "production"
    bind: tuple[str, ...] = ("127.0.0.1", "-::1")
    port: int = 6379
    dir: str = "/data"
    logfile: str = ""
    loglevel: Literal["debug", "verbose", "notice", "warning"] = "notice"
    requirepass: str | None = field(default=None, repr=False)
    aclfile: str | None = None
    protected_mode: bool = True
    maxmemory: str = "2gb"
    maxmemory_policy: EvictionPolicy = "noeviction"
    appendonly: bool = True
    appendfsync: AppendFsync = "everysec"
    save: str = "3600 1 300 100 60 10000"
    timeout: int = 300
    tcp_keepalive: int = 60
    tcp_backlog: int = 511
    pubsub_buffer_limit: tuple[str, str, int] = ("64mb", "16mb", 60)
    slowlog_slower_than_us: int = 10_000
    slowlog_max_len: int = 1024
    latency_monitor_ms: int = 100
    maxclients: int = 10_000
    tls: TLSPaths | None = None
    tls_port: int = 6380
    replicaof: tuple[str, int] | None = None
    masteruser: str | None = None
    masterauth: str | None = field(default=None, repr=False)
    cluster: bool = False
    cluster_node_timeout_ms: int = 5000
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.requirepass and self.aclfile:
            raise ConfigurationError("requirepass", "use requirepass or aclfile, not both")
        if self.requirepass is not None and len(self.requirepass) < 16:
            raise ConfigurationError("requirepass", "use at least 16 characters")
        if self.cluster and self.replicaof is not None:
            raise ConfigurationError("replicaof", "cluster replicas are assigned by the cluster")
        if self.port == 0 and self.tls is None:
            raise ConfigurationError("port", "port 0 needs TLS")
        if not self.bind:
            raise ConfigurationError("bind", "give at least one address")
        for line in self.extra:
            if "\n" in line or "\r" in line:
                raise ConfigurationError("extra", "one directive per item")


def profile_options(profile: Profile, **overrides: object) -> RedisConfOptions:
    """The defaults of a profile, with ``overrides`` applied.

    * ``dev``: loopback only, ``requirepass``, AOF ``everysec`` + RDB, 256 MB, verbose log.
    * ``production``: ACL file (default user off), AOF ``everysec`` + RDB, ``noeviction``,
      bounded Pub/Sub output buffers, slow log and latency monitor on.
    * ``sentinel``: ``production`` for the data nodes of a Sentinel deployment.
    * ``cluster``: ``production`` plus cluster mode.

    Raises:
        ConfigurationError: unknown profile or an invalid override.
    """
    base: dict[str, object]
    if profile == "dev":
        base = {
            "profile": "dev",
            "maxmemory": "256mb",
            "loglevel": "verbose",
            "timeout": 0,
            "pubsub_buffer_limit": ("32mb", "8mb", 60),
            "slowlog_slower_than_us": 5_000,
        }
    elif profile in ("production", "sentinel"):
        base = {"profile": profile, "aclfile": "/usr/local/etc/redis/users.acl"}
    elif profile == "cluster":
        base = {"profile": "cluster", "aclfile": "/usr/local/etc/redis/users.acl", "cluster": True}
    else:
        raise ConfigurationError("profile", f"unknown profile {profile!r}; one of {PROFILES}")
    try:
        return replace(RedisConfOptions(**base), **overrides)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigurationError("profile", str(exc)) from None


def _q(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_redis_conf(options: RedisConfOptions) -> str:
    """The text of a redis.conf for ``options`` (Redis 7.0+)."""
    o = options
    hard, soft, seconds = o.pubsub_buffer_limit
    out = [
        f"# redis.conf rendered by `rfsdk config render {o.profile}` (redis_fintech_sdk)",
        "",
        "# --- network",
        f"bind {' '.join(o.bind)}",
        f"protected-mode {'yes' if o.protected_mode else 'no'}",
        f"port {o.port}",
        f"tcp-backlog {o.tcp_backlog}",
        f"timeout {o.timeout}",
        f"tcp-keepalive {o.tcp_keepalive}",
        f"maxclients {o.maxclients}",
    ]
    if o.tls is not None:
        out += [
            "",
            "# --- TLS",
            f"tls-port {o.tls_port}",
            f"tls-cert-file {_q(o.tls.cert_file)}",
            f"tls-key-file {_q(o.tls.key_file)}",
            f"tls-ca-cert-file {_q(o.tls.ca_file)}",
            f"tls-auth-clients {o.tls.auth_clients}",
            'tls-protocols "TLSv1.2 TLSv1.3"',
            "tls-prefer-server-ciphers yes",
        ]
        if o.replicaof is not None:
            out.append("tls-replication yes")
        if o.cluster:
            out.append("tls-cluster yes")
    out += ["", "# --- authentication"]
    if o.aclfile:
        out.append(f"aclfile {_q(o.aclfile)}")
    elif o.requirepass:
        out.append(f"requirepass {_q(o.requirepass)}")
    out += [
        "",
        "# --- general and logging",
        "daemonize no",
        f"loglevel {o.loglevel}",
        f"logfile {_q(o.logfile)}",
        "enable-debug-command no",
        "enable-module-command no",
        "",
        "# --- persistence: RDB snapshots for point-in-time recovery, AOF for durability",
        f"dir {_q(o.dir)}",
        f"save {_q(o.save)}",
        "stop-writes-on-bgsave-error yes",
        "rdbcompression yes",
        "rdbchecksum yes",
        'dbfilename "dump.rdb"',
        f"appendonly {'yes' if o.appendonly else 'no'}",
        'appendfilename "appendonly.aof"',
        'appenddirname "appendonlydir"',
        f"appendfsync {o.appendfsync}",
        "no-appendfsync-on-rewrite no",
        "auto-aof-rewrite-percentage 100",
        "auto-aof-rewrite-min-size 64mb",
        "aof-use-rdb-preamble yes",
        "aof-load-truncated yes",
        "",
        "# --- memory",
        f"maxmemory {o.maxmemory}",
        f"maxmemory-policy {o.maxmemory_policy}",
        "",
        "# --- clients: a slow Pub/Sub subscriber is cut off instead of eating the memory",
        "client-output-buffer-limit normal 0 0 0",
        "client-output-buffer-limit replica 256mb 64mb 60",
        f"client-output-buffer-limit pubsub {hard} {soft} {seconds}",
        "",
        "# --- diagnostics",
        f"slowlog-log-slower-than {o.slowlog_slower_than_us}",
        f"slowlog-max-len {o.slowlog_max_len}",
        f"latency-monitor-threshold {o.latency_monitor_ms}",
    ]
    if o.replicaof is not None:
        host, port = o.replicaof
        out += ["", "# --- replication", f"replicaof {host} {port}", "replica-read-only yes"]
    elif o.profile == "sentinel" or o.masteruser:
        out += ["", "# --- replication", "replica-read-only yes"]
    if o.masteruser:
        out.append(f"masteruser {_q(o.masteruser)}")
    if o.masterauth:
        out.append(f"masterauth {_q(o.masterauth)}")
    if o.cluster:
        out += [
            "",
            "# --- cluster",
            "cluster-enabled yes",
            'cluster-config-file "nodes.conf"',
            f"cluster-node-timeout {o.cluster_node_timeout_ms}",
            "cluster-require-full-coverage yes",
            "cluster-allow-reads-when-down no",
        ]
    if o.extra:
        out += ["", "# --- extra", *o.extra]
    return "\n".join(out) + "\n"


@dataclass(frozen=True, kw_only=True)
class SentinelConfOptions:
    """What a rendered sentinel.conf depends on.

    Attributes:
        primary: ``(host, port)`` of the monitored primary (a hostname needs
            ``resolve_hostnames``).
        service_name: the name clients ask Sentinel for.
        quorum: Sentinels that must agree the primary is down.
        port: Sentinel's port.
        bind: addresses to listen on.
        dir: working directory.
        logfile: log file; ``""`` for stdout.
        down_after_ms: ``down-after-milliseconds``.
        failover_timeout_ms: ``failover-timeout``.
        parallel_syncs: replicas re-syncing at once after a failover.
        auth_user: the user Sentinel authenticates to data nodes as.
        auth_pass: its password.
        requirepass: password clients must give to Sentinel itself.
        resolve_hostnames: allow hostnames (containers).
        extra: further directives.
    """

    primary: tuple[str, int]
    service_name: str = "mymaster"
    quorum: int = 2
    port: int = 26379
    bind: tuple[str, ...] = ("127.0.0.1", "-::1")
    dir: str = "/data"
    logfile: str = ""
    down_after_ms: int = 5000
    failover_timeout_ms: int = 60_000
    parallel_syncs: int = 1
    auth_user: str | None = None
    auth_pass: str | None = field(default=None, repr=False)
    requirepass: str | None = field(default=None, repr=False)
    resolve_hostnames: bool = False
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.quorum < 1:
            raise ConfigurationError("quorum", "must be at least 1")
        if not self.service_name or any(c.isspace() for c in self.service_name):
            raise ConfigurationError("service_name", "must be one word")


def render_sentinel_conf(options: SentinelConfOptions) -> str:
    """The text of a sentinel.conf (Sentinel rewrites it: mount it writable)."""
    o = options
    name = o.service_name
    host, port = o.primary
    out = [
        "# sentinel.conf rendered by `rfsdk config render sentinel` (redis_fintech_sdk)",
        f"bind {' '.join(o.bind)}",
        f"port {o.port}",
        "daemonize no",
        f"dir {_q(o.dir)}",
        f"logfile {_q(o.logfile)}",
        "protected-mode yes" if o.requirepass else "protected-mode no",
    ]
    if o.requirepass:
        # Sentinels talk to each other too: they all share this password.
        out += [f"requirepass {_q(o.requirepass)}", f"sentinel sentinel-pass {_q(o.requirepass)}"]
    if o.resolve_hostnames:
        out += ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"]
    out += [
        f"sentinel monitor {name} {host} {port} {o.quorum}",
        f"sentinel down-after-milliseconds {name} {o.down_after_ms}",
        f"sentinel failover-timeout {name} {o.failover_timeout_ms}",
        f"sentinel parallel-syncs {name} {o.parallel_syncs}",
    ]
    if o.auth_user:
        out.append(f"sentinel auth-user {name} {o.auth_user}")
    if o.auth_pass:
        out.append(f"sentinel auth-pass {name} {_q(o.auth_pass)}")
    out += list(o.extra)
    return "\n".join(out) + "\n"
