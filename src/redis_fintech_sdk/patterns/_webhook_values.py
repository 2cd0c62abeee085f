"""The values of the webhook layer: endpoints, settings, results, dead letters."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.resilience import CircuitBreakerConfig, RetryPolicy
from redis_fintech_sdk.security import HmacKeySet

from ._webhook_signing import SIGNATURE_HEADER

__all__ = [
    "RETRY_STATUSES",
    "WebhookConfig",
    "WebhookDeadLetter",
    "WebhookEndpoint",
    "WebhookResult",
    "WebhookStatistics",
]

_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_RESERVED = frozenset(
    h.lower()
    for h in (
        "Content-Type",
        "Content-Length",
        "Idempotency-Key",
        "Rfsdk-Event-Id",
        "Rfsdk-Event-Type",
        SIGNATURE_HEADER,
        "Host",
    )
)
RETRY_STATUSES = frozenset({408, 425, 429})
"""HTTP statuses retried besides 5xx."""


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    """One receiver of webhooks.

    Attributes:
        name: identifies the endpoint (its breaker, dead letters, logs).
        url: an ``http`` or ``https`` URL, without credentials in it.
        keys: the HMAC keys shared with the receiver (the primary signs).
        timeout: seconds one request may take.
        headers: extra request headers (not the ones the dispatcher sets).

    Raises:
        ConfigurationError: a bad name, URL, timeout or header.
    """

    name: str
    url: str = field(repr=False)
    keys: HmacKeySet
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or _NAME.fullmatch(self.name) is None:
            raise ConfigurationError("endpoint.name", "1-64 characters of [A-Za-z0-9_.:-]")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("endpoint.url", "must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError("endpoint.url", "must not contain credentials")
        if not isinstance(self.keys, HmacKeySet):
            raise ConfigurationError("endpoint.keys", "must be an HmacKeySet")
        if not self.timeout > 0:
            raise ConfigurationError("endpoint.timeout", "must be > 0 seconds")
        bad = sorted(h for h in self.headers if h.lower() in _RESERVED)
        if bad:
            raise ConfigurationError("endpoint.headers", f"set by the dispatcher: {bad}")

    @property
    def display_url(self) -> str:
        """The URL without its query and fragment (which may hold tokens), for logs."""
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    """Retries, breaker and dead letters of a :class:`WebhookDispatcher`.

    Attributes:
        retry: attempts and backoff per event (default 4 attempts, 0.5 s doubling to 30 s).
        breaker: thresholds of each endpoint's breaker (default: open after 5
            consecutive failed attempts, probe again after 30 s).
        dead_letters: the dead-letter stream key.
        dead_letter_maxlen: approximate entries the dead-letter stream keeps.
        store_body: keep the JSON body in the dead letter (needed by
            :meth:`WebhookDispatcher.redeliver`). It is the same data the receiver
            would have got; switch it off when that data must not rest in Redis.
        max_retry_after: the longest ``Retry-After`` honoured, seconds.

    Raises:
        ConfigurationError: a value is out of range.
    """

    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=4, base=0.5, cap=30.0))
    breaker: CircuitBreakerConfig = field(
        default_factory=lambda: CircuitBreakerConfig(consecutive_failures=5, open_interval=30.0)
    )
    dead_letters: str = "rfsdk:webhooks:dlq"
    dead_letter_maxlen: int = 100_000
    store_body: bool = True
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not self.dead_letters:
            raise ConfigurationError("dead_letters", "must not be empty")
        if self.dead_letter_maxlen < 1:
            raise ConfigurationError("dead_letter_maxlen", "must be >= 1")
        if self.max_retry_after < 0:
            raise ConfigurationError("max_retry_after", "must be >= 0 seconds")


@dataclass(frozen=True)
class WebhookResult:
    """What happened to one event.

    Attributes:
        endpoint: the endpoint's name.
        event_id: the event id.
        delivered: a 2xx response came back.
        attempts: requests made.
        status: the last HTTP status (``None``: no response).
        reason: why it was not delivered (``http_500``, ``transport:TimeoutError``,
            ``circuit_open``, ``cancelled``), or ``None``.
        dead_letter_id: the dead-letter entry written, if any.
    """

    endpoint: str
    event_id: str
    delivered: bool
    attempts: int
    status: int | None = None
    reason: str | None = None
    dead_letter_id: str | None = None


@dataclass(frozen=True)
class WebhookDeadLetter:
    """An event that was not delivered, as stored in the dead-letter stream.

    Attributes:
        entry_id: the stream entry id.
        endpoint: the endpoint's name.
        url: the endpoint URL without query (for people; posts use the endpoint's URL).
        event_id: the event id.
        event_type: the event type.
        attempts: requests made.
        status: the last HTTP status, or ``None``.
        reason: why it failed.
        failed_at: when (epoch seconds).
        body: the JSON body, when ``store_body`` was on.
    """

    entry_id: str
    endpoint: str
    url: str
    event_id: str
    event_type: str
    attempts: int
    status: int | None
    reason: str
    failed_at: float
    body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WebhookStatistics:
    """Counters of a :class:`WebhookDispatcher` since creation.

    Attributes:
        delivered: events delivered (redeliveries included).
        dead_lettered: events written to the dead-letter stream.
        attempts: requests made.
        open_breakers: names of endpoints whose breaker is open now.
    """

    delivered: int
    dead_lettered: int
    attempts: int
    open_breakers: tuple[str, ...]
