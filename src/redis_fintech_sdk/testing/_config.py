"""Rendering of the redis.conf a launched server runs with (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from redis_fintech_sdk.errors import ConfigurationError

AppendFsync = Literal["always", "everysec", "no"]
TLSAuthClients = Literal["yes", "no", "optional"]


@dataclass(frozen=True)
class TLSFiles:
    """Certificate files a server listens with (a subset of ``TLSMaterial``)."""

    cert_file: Path
    key_file: Path
    ca_file: Path


@dataclass(frozen=True)
class ServerOptions:
    """Everything that goes into the config file, validated at construction."""

    password: str | None = None
    acl_users: tuple[str, ...] = ()
    acl_file: Path | None = None
    tls: TLSFiles | None = None
    tls_auth_clients: TLSAuthClients = "yes"
    appendonly: bool = False
    appendfsync: AppendFsync = "everysec"
    save: str = ""
    replica_of: tuple[str, int] | None = None
    primary_auth: tuple[str, str] | None = None
    cluster: bool = False
    cluster_node_timeout_ms: int = 2000
    debug_command: bool = True
    sentinel: bool = False
    extra_config: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.acl_users and self.acl_file is not None:
            raise ConfigurationError(
                "acl_users", "use acl_users or acl_file, not both (redis refuses the mix)"
            )
        if self.appendfsync not in ("always", "everysec", "no"):
            raise ConfigurationError("appendfsync", "must be 'always', 'everysec' or 'no'")
        if self.tls_auth_clients not in ("yes", "no", "optional"):
            raise ConfigurationError("tls_auth_clients", "must be 'yes', 'no' or 'optional'")
        if self.sentinel and (self.cluster or self.appendonly or self.replica_of):
            raise ConfigurationError(
                "sentinel", "a sentinel cannot use cluster, appendonly or replica_of"
            )
        if self.cluster and self.replica_of is not None:
            raise ConfigurationError("replica_of", "cluster replicas are set up by the cluster")
        for line in self.extra_config:
            if "\n" in line or "\r" in line:
                raise ConfigurationError("extra_config", "one directive per item, no newlines")

    def acl_rules(self) -> list[str]:
        """The ACL users as full ``user <name> ...`` lines."""
        return [
            r if r.lstrip().startswith("user ") else f"user {r.strip()}" for r in self.acl_users
        ]

    def secrets(self) -> list[str]:
        """Every password that appears in the config (to scrub from logs and errors)."""
        found = [s for s in (self.password,) if s]
        if self.primary_auth:
            found.append(self.primary_auth[1])
        for rule in self.acl_rules():
            found.extend(tok[1:] for tok in rule.split() if tok.startswith(">") and len(tok) > 1)
        return found

    def users(self) -> dict[str, str]:
        """``{username: password}``: each ACL user's first password, and ``default``'s."""
        found: dict[str, str] = {}
        if self.password:
            found["default"] = self.password
        for rule in self.acl_rules():
            tokens = rule.split()
            passwords = [t[1:] for t in tokens[2:] if t.startswith(">") and len(t) > 1]
            if len(tokens) >= 2 and passwords:
                found.setdefault(tokens[1], passwords[0])
        return found

    def admin_credentials(self) -> tuple[str, str] | None:
        """Credentials with all rights derived from the options, if any are obvious."""
        if self.password:
            return ("default", self.password)
        for rule in self.acl_rules():
            tokens = rule.split()
            if len(tokens) < 2:
                continue
            rights = set(tokens[2:])
            passwords = [t[1:] for t in tokens[2:] if t.startswith(">") and len(t) > 1]
            if "on" in rights and passwords and rights & {"+@all", "allcommands"}:
                return (tokens[1], passwords[0])
        return None


def quote(value: str) -> str:
    """Quote a config value the way redis.conf parses double-quoted strings."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render(
    options: ServerOptions,
    *,
    host: str,
    port: int,
    directory: Path,
    version: tuple[int, int, int],
) -> str:
    """Return the text of the config file for one server."""
    lines: list[str] = [
        "# written by redis_fintech_sdk.testing - a private throw-away server",
        f"bind {host}",
        "daemonize no",
        f"dir {quote(str(directory))}",
        'logfile ""',
    ]
    if options.tls is not None:
        lines += [
            "port 0",
            f"tls-port {port}",
            f"tls-cert-file {quote(str(options.tls.cert_file))}",
            f"tls-key-file {quote(str(options.tls.key_file))}",
            f"tls-ca-cert-file {quote(str(options.tls.ca_file))}",
            f"tls-auth-clients {options.tls_auth_clients}",
        ]
    else:
        lines.append(f"port {port}")
    if options.password:
        lines.append(f"requirepass {quote(options.password)}")
    if options.acl_users:
        lines.append(f"aclfile {quote(str(directory / 'users.acl'))}")
    elif options.acl_file is not None:
        lines.append(f"aclfile {quote(str(options.acl_file))}")
    if not options.sentinel:
        lines += _data_lines(options, version)
    lines += list(options.extra_config)
    return "\n".join(lines) + "\n"


def _data_lines(options: ServerOptions, version: tuple[int, int, int]) -> list[str]:
    lines = [
        f"save {quote(options.save)}",
        f"appendonly {'yes' if options.appendonly else 'no'}",
        f"appendfsync {options.appendfsync}",
        # Start a full sync at once instead of after the default 5 s batching delay.
        "repl-diskless-sync-delay 0",
    ]
    if options.debug_command and version >= (7, 0, 0):
        lines.append("enable-debug-command local")
    if options.replica_of is not None:
        primary_host, primary_port = options.replica_of
        lines.append(f"replicaof {primary_host} {primary_port}")
        if options.primary_auth is not None:
            user, password = options.primary_auth
            if user != "default":
                lines.append(f"masteruser {quote(user)}")
            lines.append(f"masterauth {quote(password)}")
        if options.tls is not None:
            lines.append("tls-replication yes")
    if options.cluster:
        lines += [
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {options.cluster_node_timeout_ms}",
        ]
        if options.tls is not None:
            lines.append("tls-cluster yes")
    return lines
