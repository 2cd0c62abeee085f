"""Configuration: small frozen, keyword-only objects validated at construction.

A bad value raises :class:`~redis_fintech_sdk.errors.ConfigurationError` naming the field,
before any socket opens. :class:`RedisSettings` loads the same objects from ``RFSDK_*``
environment variables (pydantic-settings).

The objects::

    ConnectionConfig
    ├── url / host / port / db / unix_socket_path
    ├── tls:         TLSConfig
    ├── credentials: Credentials
    ├── pool:        PoolLimits
    ├── timeouts:    Timeouts
    ├── retry:       RetryConfig
    ├── sentinel:    SentinelConfig | None
    └── cluster:     ClusterConfig | None
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from redis_fintech_sdk.errors import ConfigurationError

__all__ = [
    "ClusterConfig",
    "ConnectionConfig",
    "CredentialSource",
    "Credentials",
    "PoolLimits",
    "RedisSettings",
    "RetryConfig",
    "Secret",
    "SentinelConfig",
    "TLSConfig",
    "Timeouts",
]

TLSVersionName = Literal["TLSv1.2", "TLSv1.3"]
#: A callable returning ``(username, password)``; called on every new connection so that a
#: rotated password is picked up without a restart.
CredentialSource = Callable[[], "tuple[str | None, str]"]


class Secret:
    """A string that never shows itself: ``repr``/``str`` give ``***`` and pickling fails.

    Call :meth:`reveal` to get the value where it is really needed (the AUTH command).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _fail(field_name: str, message: str) -> NoReturn:
    raise ConfigurationError(field_name, message)


def _check_number(
    field_name: str,
    value: float | None,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    allow_none: bool = False,
) -> None:
    if value is None:
        if not allow_none:
            _fail(field_name, "must be set")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(field_name, f"must be a number, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value):
        _fail(field_name, "must be finite")
    if strict and value <= minimum:
        _fail(field_name, f"must be > {minimum}, got {value}")
    if not strict and value < minimum:
        _fail(field_name, f"must be >= {minimum}, got {value}")


def _check_file(field_name: str, path: str | None) -> None:
    if path is not None and not os.path.isfile(path):
        _fail(field_name, f"file not found: {path}")


def _check_port(field_name: str, port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        _fail(field_name, f"must be an integer in 1..65535, got {port!r}")


def _check_address(field_name: str, address: tuple[str, int]) -> None:
    if not (isinstance(address, tuple) and len(address) == 2 and isinstance(address[0], str)):
        _fail(field_name, "each entry must be a (host, port) pair")
    if not address[0]:
        _fail(field_name, "host must not be empty")
    _check_port(field_name, address[1])


@dataclass(frozen=True, kw_only=True, slots=True)
class TLSConfig:
    """TLS and mutual-TLS settings.

    Attributes:
        enabled: use TLS (implied by a ``rediss://`` URL).
        ca_file: PEM bundle of CAs that sign the server certificate.
        ca_path: directory of hashed CA certificates.
        cert_file: client certificate (mTLS).
        key_file: client private key (mTLS); required together with ``cert_file``.
        key_password: password of an encrypted ``key_file``.
        check_hostname: verify the server certificate names the host we dialled.
        verify: verify the server certificate at all. Turning this off is refused unless
            ``check_hostname`` is off too, and is only for tests.
        min_version: lowest TLS protocol version accepted.
        ciphers: OpenSSL cipher string for TLS 1.2 (TLS 1.3 suites are not configurable).
    """

    enabled: bool = False
    ca_file: str | None = None
    ca_path: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: Secret | None = None
    check_hostname: bool = True
    verify: bool = True
    min_version: TLSVersionName = "TLSv1.2"
    ciphers: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_password", _secret(self.key_password))
        _check_file("tls.ca_file", self.ca_file)
        if self.ca_path is not None and not os.path.isdir(self.ca_path):
            _fail("tls.ca_path", f"directory not found: {self.ca_path}")
        _check_file("tls.cert_file", self.cert_file)
        _check_file("tls.key_file", self.key_file)
        if (self.cert_file is None) != (self.key_file is None):
            _fail("tls.key_file", "cert_file and key_file must be given together")
        if self.min_version not in ("TLSv1.2", "TLSv1.3"):
            _fail("tls.min_version", f"must be 'TLSv1.2' or 'TLSv1.3', got {self.min_version!r}")
        if not self.verify and self.check_hostname:
            _fail("tls.check_hostname", "cannot check the hostname when verify is off")
        if not self.enabled and (self.ca_file or self.cert_file or self.ca_path):
            object.__setattr__(self, "enabled", True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Credentials:
    """ACL credentials.

    Give either a static ``username``/``password`` or a ``source`` callable that returns
    ``(username, password)``; the callable is asked on every new connection, so a rotated
    password is picked up without restarting the process.

    Attributes:
        username: ACL user name (``None`` means ``default``).
        password: password, stored as a :class:`Secret`.
        source: a callable returning ``(username, password)``.
    """

    username: str | None = None
    password: Secret | None = None
    source: CredentialSource | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "password", _secret(self.password))
        if self.source is not None and (self.password is not None or self.username is not None):
            _fail("credentials.source", "give either a source or a username/password, not both")
        if self.source is not None and not callable(self.source):
            _fail("credentials.source", "must be callable")
        if self.username is not None and (not self.username or " " in self.username):
            _fail("credentials.username", "must be a non-empty name without spaces")

    def __repr__(self) -> str:
        pw = "'***'" if self.password is not None else "None"
        src = "<callable>" if self.source is not None else "None"
        return f"Credentials(username={self.username!r}, password={pw}, source={src})"


@dataclass(frozen=True, kw_only=True, slots=True)
class PoolLimits:
    """Connection pool limits.

    Attributes:
        max_connections: most connections the command pool opens.
        wait_timeout: seconds to wait for a free connection when the pool is exhausted
            (``None`` raises at once, as redis-py's non-blocking pool does).
    """

    max_connections: int = 50
    wait_timeout: float | None = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int):
            _fail("pool.max_connections", "must be an integer")
        if self.max_connections < 1:
            _fail("pool.max_connections", f"must be >= 1, got {self.max_connections}")
        _check_number("pool.wait_timeout", self.wait_timeout, strict=True, allow_none=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Timeouts:
    """Timeouts that stay coherent.

    Ordinary commands use ``command`` as their socket timeout. Blocking commands (``XREADGROUP
    BLOCK``, ``BLPOP``) go through a separate pool whose socket timeout is
    ``max_block + command``, so a permitted block is never cut short (redis-py#4098) and a
    dead server is still noticed. Pub/Sub connections have no socket timeout at all; their
    liveness is checked by PING with a deadline every ``health_check_interval``.

    Attributes:
        connect: seconds to establish a TCP (+TLS) connection.
        command: socket timeout for ordinary commands.
        max_block: the longest block a blocking command may ask for, in seconds.
        health_check_interval: seconds between liveness checks of idle connections.
    """

    connect: float = 5.0
    command: float = 5.0
    max_block: float = 60.0
    health_check_interval: float = 15.0

    def __post_init__(self) -> None:
        _check_number("timeouts.connect", self.connect, strict=True)
        _check_number("timeouts.command", self.command, strict=True)
        _check_number("timeouts.max_block", self.max_block, strict=True)
        _check_number("timeouts.health_check_interval", self.health_check_interval)

    @property
    def blocking_socket_timeout(self) -> float:
        """Socket timeout of the blocking pool: the longest block plus a command's margin."""
        return self.max_block + self.command

    def check_block(self, seconds: float) -> None:
        """Refuse a block longer than :attr:`max_block`.

        Raises:
            ConfigurationError: the block would outlast the blocking pool's socket timeout.
        """
        if seconds < 0 or seconds > self.max_block:
            _fail("timeouts.max_block", f"a block of {seconds}s exceeds {self.max_block}s")


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryConfig:
    """Connection-level retries of transient errors (exponential backoff with jitter).

    By default only failures that prove the command never reached the server are retried
    (refused or timed-out connects, a demoted Sentinel primary). A timeout or reset *after*
    a command was sent is ambiguous — the server may have applied it — so it is raised to
    the caller instead of re-sent: re-sending would apply a non-idempotent write twice
    (redis-py#3554). The SDK's own writers are idempotent and retry on their own.

    Attributes:
        attempts: retries after the first try (0 disables retrying).
        backoff_base: first delay in seconds.
        backoff_cap: largest delay in seconds.
        resend_after_failure: also re-send after ambiguous failures (at-least-once; only
            for workloads whose writes are all idempotent).
    """

    attempts: int = 3
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    resend_after_failure: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            _fail("retry.attempts", "must be an integer")
        if self.attempts < 0:
            _fail("retry.attempts", f"must be >= 0, got {self.attempts}")
        _check_number("retry.backoff_base", self.backoff_base, strict=True)
        _check_number("retry.backoff_cap", self.backoff_cap, strict=True)
        if self.backoff_cap < self.backoff_base:
            _fail("retry.backoff_cap", "must be >= backoff_base")


@dataclass(frozen=True, kw_only=True, slots=True)
class SentinelConfig:
    """Redis Sentinel topology.

    Attributes:
        sentinels: ``(host, port)`` of each sentinel.
        service_name: the monitored primary's name (``mymaster``).
        credentials: credentials for the sentinels themselves, if they differ.
        read_from_replicas: serve read-only helpers from replicas.
    """

    sentinels: tuple[tuple[str, int], ...]
    service_name: str = "mymaster"
    credentials: Credentials | None = None
    read_from_replicas: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sentinels", tuple(tuple(s) for s in self.sentinels))
        if not self.sentinels:
            _fail("sentinel.sentinels", "needs at least one (host, port)")
        for s in self.sentinels:
            _check_address("sentinel.sentinels", s)
        if not self.service_name:
            _fail("sentinel.service_name", "must not be empty")


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterConfig:
    """Redis Cluster topology.

    Attributes:
        startup_nodes: ``(host, port)`` of one or more nodes; the rest are discovered.
        read_from_replicas: send read-only commands to replicas (round robin).
        require_full_coverage: refuse to work while any slot is unserved.
    """

    startup_nodes: tuple[tuple[str, int], ...]
    read_from_replicas: bool = False
    require_full_coverage: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "startup_nodes", tuple(tuple(s) for s in self.startup_nodes))
        if not self.startup_nodes:
            _fail("cluster.startup_nodes", "needs at least one (host, port)")
        for s in self.startup_nodes:
            _check_address("cluster.startup_nodes", s)


_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionConfig:
    """Everything needed to connect: where, how securely, as whom, how patiently.

    Build it directly, with :meth:`from_url`, or from the environment with
    :meth:`RedisSettings.to_config`.

    Attributes:
        host: server host (standalone).
        port: server port (standalone).
        db: database number (standalone and Sentinel; Cluster has only db 0).
        unix_socket_path: connect over a Unix socket instead of TCP.
        tls: TLS settings.
        credentials: ACL credentials.
        pool: pool limits.
        timeouts: connect/command/blocking timeouts.
        retry: connection-level retry policy.
        sentinel: Sentinel topology (exclusive with ``cluster``).
        cluster: Cluster topology (exclusive with ``sentinel``).
        client_name: ``CLIENT SETNAME`` for every connection (shows in ``CLIENT LIST``).
        keepalive: enable TCP keepalive (idle 30 s, interval 5 s, 3 probes).
        protocol: RESP version, 2 or 3.
    """

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    unix_socket_path: str | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)
    credentials: Credentials = field(default_factory=Credentials)
    pool: PoolLimits = field(default_factory=PoolLimits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryConfig = field(default_factory=RetryConfig)
    sentinel: SentinelConfig | None = None
    cluster: ClusterConfig | None = None
    client_name: str | None = "rfsdk"
    keepalive: bool = True
    protocol: Literal[2, 3] = 2

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            _fail("host", "must be a non-empty string")
        _check_port("port", self.port)
        if isinstance(self.db, bool) or not isinstance(self.db, int) or not 0 <= self.db <= 10_000:
            _fail("db", f"must be an integer >= 0, got {self.db!r}")
        for name, typ in (
            ("tls", TLSConfig),
            ("credentials", Credentials),
            ("pool", PoolLimits),
            ("timeouts", Timeouts),
            ("retry", RetryConfig),
        ):
            if not isinstance(getattr(self, name), typ):
                _fail(name, f"must be a {typ.__name__}")
        if self.sentinel is not None and self.cluster is not None:
            _fail("sentinel", "sentinel and cluster cannot both be set")
        if self.sentinel is not None and not isinstance(self.sentinel, SentinelConfig):
            _fail("sentinel", "must be a SentinelConfig")
        if self.cluster is not None and not isinstance(self.cluster, ClusterConfig):
            _fail("cluster", "must be a ClusterConfig")
        if self.cluster is not None and self.db != 0:
            _fail("db", "Redis Cluster only has database 0")
        if self.unix_socket_path is not None and (self.sentinel or self.cluster):
            _fail("unix_socket_path", "cannot be combined with sentinel or cluster")
        if self.unix_socket_path is not None and self.tls.enabled:
            _fail("unix_socket_path", "TLS over a Unix socket is not supported")
        if self.protocol not in (2, 3):
            _fail("protocol", f"must be 2 or 3, got {self.protocol!r}")
        if self.client_name is not None and (" " in self.client_name or not self.client_name):
            _fail("client_name", "must be a non-empty name without spaces")

    @property
    def topology(self) -> Literal["standalone", "sentinel", "cluster"]:
        """Which kind of deployment this config describes."""
        if self.sentinel is not None:
            return "sentinel"
        if self.cluster is not None:
            return "cluster"
        return "standalone"

    @property
    def address(self) -> str:
        """``host:port`` (or the socket path) for messages; never contains a secret."""
        if self.unix_socket_path:
            return self.unix_socket_path
        if self.sentinel is not None:
            return f"sentinel:{self.sentinel.service_name}"
        if self.cluster is not None:
            host, port = self.cluster.startup_nodes[0]
            return f"cluster:{host}:{port}"
        return f"{self.host}:{self.port}"

    def replace(self, **changes: Any) -> ConnectionConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> ConnectionConfig:
        """Parse ``redis://``, ``rediss://`` or ``unix://`` URLs.

        ``redis://[user[:password]@]host[:port][/db][?client_name=x&protocol=3]`` — the
        password is percent-decoded and wrapped in a :class:`Secret`. Keyword ``overrides``
        replace fields after parsing (e.g. ``tls=TLSConfig(...)``).

        Raises:
            ConfigurationError: unknown scheme, bad port, bad db, bad query value.
        """
        if not isinstance(url, str):
            _fail("url", "must be a string")
        try:
            parts = urlsplit(url)
            port_value = parts.port
        except ValueError:
            _fail("url", "port must be an integer in 1..65535")
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            _fail("url", f"unknown scheme {scheme!r}; use one of redis://, rediss://, unix://")
        kwargs: dict[str, Any] = {}
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if username or password is not None:
            kwargs["credentials"] = Credentials(
                username=username or None, password=Secret(password) if password else None
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if scheme == "unix":
            if not parts.path:
                _fail("url", "unix:// needs a socket path")
            kwargs["unix_socket_path"] = parts.path
            db_text = query.pop("db", "0")
        else:
            kwargs["host"] = parts.hostname or "127.0.0.1"
            kwargs["port"] = port_value or 6379
            db_text = parts.path.lstrip("/") or query.pop("db", "0")
            if scheme == "rediss":
                kwargs["tls"] = TLSConfig(enabled=True)
        try:
            kwargs["db"] = int(db_text)
        except ValueError:
            _fail("db", f"must be an integer, got {db_text!r}")
        if "client_name" in query:
            kwargs["client_name"] = query.pop("client_name")
        if "protocol" in query:
            proto = query.pop("protocol")
            if proto not in ("2", "3"):
                _fail("protocol", f"must be 2 or 3, got {proto!r}")
            kwargs["protocol"] = int(proto)
        if query:
            _fail("url", f"unknown query parameter(s): {', '.join(sorted(query))}")
        kwargs.update(overrides)
        return cls(**kwargs)


# --------------------------------------------------------------------------------------------
# Environment loader
# --------------------------------------------------------------------------------------------


def _parse_addresses(field_name: str, text: str | None) -> tuple[tuple[str, int], ...]:
    if not text:
        return ()
    out: list[tuple[str, int]] = []
    for item in text.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not port.isdigit():
            _fail(field_name, f"entries must look like host:port, got {item.strip()!r}")
        out.append((host, int(port)))
    return tuple(out)


class RedisSettings(BaseSettings):
    """Load a :class:`ConnectionConfig` from ``RFSDK_*`` environment variables.

    ``RFSDK_URL``, ``RFSDK_USERNAME``, ``RFSDK_PASSWORD``, ``RFSDK_TLS_CA_FILE``,
    ``RFSDK_TLS_CERT_FILE``, ``RFSDK_TLS_KEY_FILE``, ``RFSDK_TLS_CHECK_HOSTNAME``,
    ``RFSDK_TLS_MIN_VERSION``, ``RFSDK_POOL_MAX_CONNECTIONS``, ``RFSDK_CONNECT_TIMEOUT``,
    ``RFSDK_COMMAND_TIMEOUT``, ``RFSDK_MAX_BLOCK``, ``RFSDK_HEALTH_CHECK_INTERVAL``,
    ``RFSDK_RETRY_ATTEMPTS``, ``RFSDK_SENTINELS`` (``host:port,host:port``),
    ``RFSDK_SENTINEL_SERVICE``, ``RFSDK_CLUSTER_NODES`` (``host:port,…``),
    ``RFSDK_READ_FROM_REPLICAS``, ``RFSDK_CLIENT_NAME``.

    Example:
        >>> config = RedisSettings().to_config()  # doctest: +SKIP
    """

    model_config = SettingsConfigDict(env_prefix="RFSDK_", extra="ignore", frozen=True)

    url: str = "redis://127.0.0.1:6379/0"
    username: str | None = None
    password: SecretStr | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_check_hostname: bool = True
    tls_min_version: str = "TLSv1.2"
    pool_max_connections: int = 50
    connect_timeout: float = 5.0
    command_timeout: float = 5.0
    max_block: float = 60.0
    health_check_interval: float = 15.0
    retry_attempts: int = 3
    sentinels: str | None = None
    sentinel_service: str = "mymaster"
    cluster_nodes: str | None = None
    read_from_replicas: bool = False
    client_name: str | None = Field(default="rfsdk")

    def to_config(self) -> ConnectionConfig:
        """Build the validated :class:`ConnectionConfig`.

        Raises:
            ConfigurationError: a value is invalid; the message names the field.
        """
        base = ConnectionConfig.from_url(self.url)
        creds = base.credentials
        if self.username is not None or self.password is not None:
            creds = Credentials(
                username=self.username or creds.username,
                password=Secret(self.password.get_secret_value())
                if self.password is not None
                else creds.password,
            )
        tls = base.tls
        if self.tls_ca_file or self.tls_cert_file or self.tls_key_file:
            tls = TLSConfig(
                enabled=True,
                ca_file=self.tls_ca_file,
                cert_file=self.tls_cert_file,
                key_file=self.tls_key_file,
                check_hostname=self.tls_check_hostname,
                min_version=self.tls_min_version,  # type: ignore[arg-type]
            )
        elif tls.enabled:
            tls = TLSConfig(
                enabled=True,
                check_hostname=self.tls_check_hostname,
                min_version=self.tls_min_version,  # type: ignore[arg-type]
            )
        sentinels = _parse_addresses("sentinels", self.sentinels)
        nodes = _parse_addresses("cluster_nodes", self.cluster_nodes)
        return base.replace(
            credentials=creds,
            tls=tls,
            pool=PoolLimits(max_connections=self.pool_max_connections),
            timeouts=Timeouts(
                connect=self.connect_timeout,
                command=self.command_timeout,
                max_block=self.max_block,
                health_check_interval=self.health_check_interval,
            ),
            retry=RetryConfig(attempts=self.retry_attempts),
            sentinel=SentinelConfig(
                sentinels=sentinels,
                service_name=self.sentinel_service,
                read_from_replicas=self.read_from_replicas,
            )
            if sentinels
            else None,
            cluster=ClusterConfig(startup_nodes=nodes, read_from_replicas=self.read_from_replicas)
            if nodes
            else None,
            client_name=self.client_name,
        )
