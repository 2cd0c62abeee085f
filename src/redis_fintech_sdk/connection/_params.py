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
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import redis.exceptions as rexc
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.driver_info import DriverInfo
from redis.retry import Retry

from redis_fintech_sdk._version import __version__
from redis_fintech_sdk.connection.credentials import provider_for
from redis_fintech_sdk.settings import ConnectionConfig

Profile = Literal["command", "blocking", "pubsub"]

#: Errors the connection level may retry: transient network trouble only.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    ConnectionRefusedError,
    ConnectionResetError,
    BrokenPipeError,
)

T = TypeVar("T")

# A failure is "before send" when it happened while dialling, or when the server refused the
# command without applying it (a demoted Sentinel primary answers READONLY, which redis-py
# turns into this ConnectionError). Re-sending such a command cannot apply it twice.
_BEFORE_SEND = ("connecting to", "Timeout connecting", "previous master is now a slave")


def failed_before_send(error: BaseException) -> bool:
    """Whether ``error`` proves the command never reached (or was refused by) the server."""
    if isinstance(error, ConnectionRefusedError):
        return True
    text = str(error)
    return any(marker in text for marker in _BEFORE_SEND)


def _only_before_send(
    inner: Callable[[Exception], bool] | None,
) -> Callable[[Exception], bool]:
    def check(error: Exception) -> bool:
        return failed_before_send(error) and (inner is None or inner(error))

    return check


class SafeRetry(Retry):
    """A redis-py ``Retry`` that never re-sends a command that may have been applied.

    Unless ``resend`` is set, only failures that happened before the command could reach the
    server are retried — never a timeout or reset after sending, which would re-apply a
    non-idempotent write (redis-py#3554, #261).
    """

    def __init__(self, backoff: Any, retries: int, *, resend: bool) -> None:
        super().__init__(backoff, retries, supported_errors=RETRYABLE_ERRORS)
        self.resend = resend

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Any,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do`` with retries (see the class docstring for which failures qualify)."""
        if not self.resend:
            is_retryable = _only_before_send(is_retryable)
        return super().call_with_retry(do, fail, is_retryable, with_failure_count)


class SafeAsyncRetry(AsyncRetry):
    """The asyncio twin of :class:`SafeRetry` (redis.asyncio needs its own Retry class)."""

    def __init__(self, backoff: Any, retries: int, *, resend: bool) -> None:
        super().__init__(backoff, retries, supported_errors=RETRYABLE_ERRORS)  # type: ignore[arg-type]
        self.resend = resend

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Any,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do`` with retries (see :class:`SafeRetry`)."""
        if not self.resend:
            is_retryable = _only_before_send(is_retryable)
        return await super().call_with_retry(do, fail, is_retryable, with_failure_count)


def socket_timeout(config: ConnectionConfig, profile: Profile) -> float | None:
    """The socket timeout of a connection profile."""
    if profile == "pubsub":
        return None
    if profile == "blocking":
        return config.timeouts.blocking_socket_timeout
    return config.timeouts.command


def make_retry(config: ConnectionConfig, *, is_async: bool) -> Retry | AsyncRetry:
    """A redis-py retry with exponential backoff and jitter from ``config.retry``.

    ``is_async`` picks the class redis.asyncio connections need.
    """
    backoff = ExponentialWithJitterBackoff(
        base=config.retry.backoff_base, cap=config.retry.backoff_cap
    )
    cls = SafeAsyncRetry if is_async else SafeRetry
    return cls(backoff, config.retry.attempts, resend=config.retry.resend_after_failure)


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


def node_kwargs(config: ConnectionConfig, profile: Profile, *, is_async: bool) -> dict[str, Any]:
    """Keyword arguments shared by every kind of redis-py client/connection."""
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout(config, profile),
        "socket_connect_timeout": config.timeouts.connect,
        "socket_keepalive": config.keepalive,
        "retry": make_retry(config, is_async=is_async),
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


def standalone_kwargs(
    config: ConnectionConfig, profile: Profile, *, is_async: bool
) -> dict[str, Any]:
    """Keyword arguments for ``Redis(...)`` against one server."""
    kwargs = node_kwargs(config, profile, is_async=is_async)
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


def sentinel_kwargs(config: ConnectionConfig, *, is_async: bool) -> dict[str, Any]:
    """Keyword arguments for the connections to the sentinels themselves."""
    assert config.sentinel is not None
    sentinel_config = config.replace(
        credentials=config.sentinel.credentials or config.credentials,
    )
    kwargs = node_kwargs(sentinel_config, "command", is_async=is_async)
    if config.sentinel.credentials is None:
        # Sentinels usually run without ACLs even when the data nodes use them.
        kwargs.pop("credential_provider", None)
    return kwargs
