"""Translate a :class:`ConnectionConfig` into redis-py keyword arguments (shared sync/async).

The one place that knows redis-py's 50-odd constructor arguments. Three socket-timeout
profiles come out of it:

* ``command`` — ordinary commands: ``timeouts.command``.
* ``blocking`` — XREADGROUP BLOCK and friends: ``timeouts.max_block + timeouts.command``.
* ``pubsub`` — subscriber connections: no socket timeout; liveness is checked by PING with a
  deadline (redis-py 8's 5 s default breaks ``listen()``, redis-py#4098).
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

import redis.exceptions as rexc
from redis.backoff import ExponentialWithJitterBackoff
from redis.driver_info import DriverInfo
from redis.retry import Retry

from redis_fintech_sdk._version import __version__
from redis_fintech_sdk.connection.credentials import provider_for
from redis_fintech_sdk.settings import ConnectionConfig

Profile = Literal["command", "blocking", "pubsub"]

#: Errors retried at the connection level: transient network trouble only. Timeouts are
#: retried too — every SDK write that is retried is either idempotent or deduplicated.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    ConnectionResetError,
    BrokenPipeError,
)


def socket_timeout(config: ConnectionConfig, profile: Profile) -> float | None:
    """The socket timeout of a connection profile."""
    if profile == "pubsub":
        return None
    if profile == "blocking":
        return config.timeouts.blocking_socket_timeout
    return config.timeouts.command


def make_retry(config: ConnectionConfig) -> Retry:
    """A redis-py ``Retry`` with exponential backoff and jitter from ``config.retry``."""
    return Retry(
        ExponentialWithJitterBackoff(base=config.retry.backoff_base, cap=config.retry.backoff_cap),
        config.retry.attempts,
        supported_errors=RETRYABLE_ERRORS,
    )


def tls_kwargs(config: ConnectionConfig) -> dict[str, Any]:
    """``ssl_*`` keyword arguments (empty when TLS is off)."""
    tls = config.tls
    if not tls.enabled:
        return {}
    kwargs: dict[str, Any] = {
        "ssl": True,
        "ssl_cert_reqs": "required" if tls.verify else "none",
        "ssl_check_hostname": tls.check_hostname,
        "ssl_min_version": ssl.TLSVersion.TLSv1_3
        if tls.min_version == "TLSv1.3"
        else ssl.TLSVersion.TLSv1_2,
    }
    if tls.ca_file:
        kwargs["ssl_ca_certs"] = tls.ca_file
    if tls.ca_path:
        kwargs["ssl_ca_path"] = tls.ca_path
    if tls.cert_file:
        kwargs["ssl_certfile"] = tls.cert_file
        kwargs["ssl_keyfile"] = tls.key_file
    if tls.key_password is not None:
        kwargs["ssl_password"] = tls.key_password.reveal()
    if tls.ciphers:
        kwargs["ssl_ciphers"] = tls.ciphers
    return kwargs


def node_kwargs(config: ConnectionConfig, profile: Profile) -> dict[str, Any]:
    """Keyword arguments shared by every kind of redis-py client/connection."""
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout(config, profile),
        "socket_connect_timeout": config.timeouts.connect,
        "socket_keepalive": config.keepalive,
        "retry": make_retry(config),
        "health_check_interval": int(config.timeouts.health_check_interval),
        "client_name": config.client_name,
        "driver_info": DriverInfo().add_upstream_driver("redis-fintech-sdk", __version__),
        "protocol": config.protocol,
    }
    provider = provider_for(config.credentials)
    if provider is not None:
        kwargs["credential_provider"] = provider
    kwargs.update(tls_kwargs(config))
    return kwargs


def standalone_kwargs(config: ConnectionConfig, profile: Profile) -> dict[str, Any]:
    """Keyword arguments for ``Redis(...)`` against one server."""
    kwargs = node_kwargs(config, profile)
    kwargs["db"] = config.db
    if config.unix_socket_path:
        kwargs["unix_socket_path"] = config.unix_socket_path
    else:
        kwargs["host"] = config.host
        kwargs["port"] = config.port
    return kwargs


def pool_kwargs(config: ConnectionConfig) -> dict[str, Any]:
    """Keyword arguments for a blocking connection pool's limits."""
    return {"max_connections": config.pool.max_connections, "timeout": config.pool.wait_timeout}


def sentinel_kwargs(config: ConnectionConfig) -> dict[str, Any]:
    """Keyword arguments for the connections to the sentinels themselves."""
    assert config.sentinel is not None
    sentinel_config = config.replace(
        credentials=config.sentinel.credentials or config.credentials,
    )
    kwargs = node_kwargs(sentinel_config, "command")
    if config.sentinel.credentials is None:
        # Sentinels usually run without ACLs even when the data nodes use them.
        kwargs.pop("credential_provider", None)
    return kwargs
