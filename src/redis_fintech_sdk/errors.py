"""The one exception hierarchy of redis_fintech_sdk.

Every error the SDK raises is an :class:`SDKError`. Errors that describe bad input also
subclass the matching builtin, so ``except ValueError`` keeps working for callers who do not
know the SDK. No error text ever contains a password, a key, a token or payload bytes: errors
carry *context* (``channel``, ``stream``, ``message_id``, ``address``, ``field``) instead.

::

    SDKError
    ├── ConfigurationError (ValueError)          bad setting, names the field
    ├── MissingExtraError (ImportError)          optional integration not installed
    ├── RedisError                               anything that went wrong talking to Redis
    │   ├── ConnectionFailedError (ConnectionError)  refused, reset, DNS, TLS handshake
    │   │   └── TLSError                         certificate / handshake failure
    │   ├── RedisTimeoutError (TimeoutError)     a deadline passed
    │   │   └── DurabilityError                  WAIT / WAITAOF confirmed too few copies
    │   ├── AuthenticationError                  WRONGPASS / no password / bad user
    │   ├── AuthorizationError (PermissionError) NOPERM: not allowed, names channel/key/command
    │   │   └── TokenError                       an access token was refused (has .reason)
    │   ├── ReadOnlyError                        wrote to a replica
    │   ├── BackpressureError                    -OOM, buffers full: slow down and retry
    │   ├── ClusterError                         MOVED/ASK/CLUSTERDOWN not resolved
    │   ├── ResponseError                        any other error reply from the server
    │   └── PreflightError                       the configured user lacks declared rights
    ├── CircuitOpenError                         the breaker is open: failing fast
    ├── RateLimitedError                         a limiter refused; carries retry_after
    ├── TemplateError (ValueError)               a notification template is bad or misses a param
    ├── WebhookSignatureError (ValueError)       a webhook signature header was refused (.reason)
    ├── WebhookDeliveryError                     a webhook was not delivered (dead-lettered)
    ├── RequestError                             a Pub/Sub request got no usable reply
    │   ├── NoRespondersError                    nobody was subscribed to the request channel
    │   ├── RequestTimeoutError (TimeoutError)   no reply in time
    │   └── RemoteHandlerError                   the responder's handler raised (.error_type)
    └── CodecError (ValueError)                  a frame could not be built or read
        ├── FrameError                           malformed / truncated / oversize frame
        ├── UnsupportedVersionError              unknown magic or format version
        ├── SchemaError                          unknown type, bad schema, failed validation
        ├── DecompressionError                   bad zstd data or past the size cap
        ├── PolicyError                          e.g. a confidential type without encryption
        ├── DecryptionError                      any crypto failure, deliberately opaque
        │   └── UnknownKeyError                  the frame's key id is not in the keyring
        └── SignatureError                       an Ed25519 signature did not verify

Foreign exceptions (redis-py, ``ssl``, ``OSError``) are translated only by
:func:`redis_fintech_sdk.connection.map_redis_error` — one place, most specific match first.
This module itself imports nothing from redis, so the sans-I/O layers can use it.
"""

from __future__ import annotations

import builtins
import re

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BackpressureError",
    "CircuitOpenError",
    "ClusterError",
    "CodecError",
    "ConfigurationError",
    "ConnectionFailedError",
    "DecompressionError",
    "DecryptionError",
    "DurabilityError",
    "FrameError",
    "MissingExtraError",
    "PolicyError",
    "PreflightError",
    "NoRespondersError",
    "RateLimitedError",
    "ReadOnlyError",
    "RedisError",
    "RedisTimeoutError",
    "RemoteHandlerError",
    "RequestError",
    "RequestTimeoutError",
    "ResponseError",
    "SDKError",
    "SchemaError",
    "SignatureError",
    "TemplateError",
    "TLSError",
    "TokenError",
    "UnknownKeyError",
    "UnsupportedVersionError",
    "WebhookDeliveryError",
    "WebhookSignatureError",
    "redact",
]


class SDKError(Exception):
    """Base class of every error raised by redis_fintech_sdk."""


class ConfigurationError(SDKError, ValueError):
    """A configuration value is invalid. ``field`` names the offending setting.

    Raised at construction time, before any socket is opened.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class MissingExtraError(SDKError, ImportError):
    """An optional integration is used but its extra is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{module} is needed for this feature: pip install 'redis-fintech-sdk[{extra}]'"
        )


class RedisError(SDKError):
    """Something went wrong talking to Redis.

    Attributes:
        address: ``host:port`` (or socket path) of the server, when known.
        command: the command name (never its arguments), when known.
    """

    def __init__(
        self, message: str, *, address: str | None = None, command: str | None = None
    ) -> None:
        self.address = address
        self.command = command
        parts = [message]
        if command:
            parts.append(f"command={command}")
        if address:
            parts.append(f"server={address}")
        super().__init__(message if len(parts) == 1 else f"{message} ({', '.join(parts[1:])})")


class ConnectionFailedError(RedisError, builtins.ConnectionError):
    """The server could not be reached, or the connection broke."""


class TLSError(ConnectionFailedError):
    """The TLS handshake failed (certificate refused, hostname mismatch, protocol)."""


class RedisTimeoutError(RedisError, builtins.TimeoutError):
    """A deadline passed before Redis answered."""


class DurabilityError(RedisTimeoutError):
    """A write was applied but not confirmed durable in time (``WAIT``/``WAITAOF`` shortfall).

    The write may still survive; it is not *confirmed* to survive a failover or crash.
    """


class AuthenticationError(RedisError):
    """Redis refused the credentials (``WRONGPASS``, missing password, disabled user)."""


class AuthorizationError(RedisError, PermissionError):
    """The authenticated user may not run this command or touch this key/channel.

    Attributes:
        channel: the channel that was refused, when known.
        key: the key that was refused, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        address: str | None = None,
        command: str | None = None,
        channel: str | None = None,
        key: str | None = None,
    ) -> None:
        self.channel = channel
        self.key = key
        extra = ""
        if channel:
            extra = f" channel={channel}"
        elif key:
            extra = f" key={key}"
        super().__init__(message + extra, address=address, command=command)


class TokenError(AuthorizationError):
    """An access token was refused. Never carries the token itself.

    Attributes:
        reason: why (``expired``, ``unknown_key``, ``bad_signature``, ``scope``, …).
        channel: the channel the token was presented for, when known.
    """

    def __init__(self, reason: str, detail: str, *, channel: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"access token refused: {detail}", channel=channel)


class ReadOnlyError(RedisError):
    """A write reached a read-only replica (typically mid-failover)."""


class BackpressureError(RedisError):
    """Redis (or an SDK buffer) is full: ``-OOM`` under ``noeviction``. Slow down and retry."""


class ClusterError(RedisError):
    """A cluster redirection or CLUSTERDOWN state could not be resolved."""


class ResponseError(RedisError):
    """Any other error reply from the server."""


class PreflightError(RedisError):
    """The configured user lacks a permission the application declared it needs.

    Attributes:
        missing: human-readable list of what is missing (``"PUBLISH on channel x"``).
    """

    def __init__(self, missing: list[str], *, user: str | None = None, address: str | None = None):
        self.missing = list(missing)
        self.user = user
        who = f"user {user!r}" if user else "the configured user"
        super().__init__(
            f"{who} lacks {len(missing)} permission(s): " + "; ".join(missing), address=address
        )


class CircuitOpenError(SDKError):
    """The circuit breaker is open; the call was refused without touching Redis.

    Attributes:
        name: the breaker's name.
        retry_after: seconds until the breaker lets a probe through.
    """

    def __init__(self, name: str, retry_after: float) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.3f}s")


class RateLimitedError(SDKError):
    """A rate limiter refused the call.

    Attributes:
        retry_after: seconds after which the same call would be allowed.
    """

    def __init__(self, subject: str, retry_after: float) -> None:
        self.subject = subject
        self.retry_after = retry_after
        super().__init__(f"rate limit reached for {subject}; retry in {retry_after:.3f}s")


class CodecError(SDKError, ValueError):
    """A frame could not be encoded or decoded.

    Attributes:
        channel: the channel or stream the frame was bound to, when known.
        message_id: the message id from the header, when it could be read.
    """

    def __init__(
        self, message: str, *, channel: str | None = None, message_id: str | None = None
    ) -> None:
        self.channel = channel
        self.message_id = message_id
        super().__init__(message)


class FrameError(CodecError):
    """The frame is malformed: truncated, oversize, bad lengths or bad header."""


class UnsupportedVersionError(CodecError):
    """The frame has an unknown magic or wire-format version."""


class SchemaError(CodecError):
    """Unknown message type, unknown schema version, or the payload failed validation."""


class DecompressionError(CodecError):
    """The compressed body is invalid or would exceed the decompressed-size cap."""


class PolicyError(CodecError):
    """The message violates a codec policy (e.g. a confidential type sent unencrypted)."""


class DecryptionError(CodecError):
    """The frame failed authentication or decryption.

    Deliberately opaque: the reason (wrong key, tampered byte, wrong channel) is not
    disclosed, as with Fernet's ``InvalidToken``.
    """

    def __init__(
        self,
        message: str = "frame failed authentication",
        *,
        channel: str | None = None,
        message_id: str | None = None,
    ) -> None:
        super().__init__(message, channel=channel, message_id=message_id)


class UnknownKeyError(DecryptionError):
    """The frame names a key id that the keyring does not hold (or holds destroyed)."""

    def __init__(self, key_id: int | str, *, channel: str | None = None) -> None:
        self.key_id = key_id
        super().__init__(f"unknown key id {key_id}", channel=channel)


class SignatureError(CodecError):
    """An Ed25519 signature is missing or does not verify."""


class TemplateError(SDKError, ValueError):
    """A notification template is invalid, unknown, or a parameter is missing.

    Attributes:
        template_id: the template concerned.
        fields: the parameter names that are missing or refused (never their values).
    """

    def __init__(self, template_id: str, message: str, *, fields: tuple[str, ...] = ()) -> None:
        self.template_id = template_id
        self.fields = fields
        super().__init__(f"template {template_id!r}: {message}")


class WebhookSignatureError(SDKError, ValueError):
    """A webhook's signature header was refused by :func:`verify_webhook`.

    Attributes:
        reason: ``malformed`` (unparseable header), ``stale`` (timestamp outside the
            tolerance) or ``mismatch`` (no signature matched any key).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"webhook signature refused ({reason}): {message}")


class WebhookDeliveryError(SDKError):
    """A webhook could not be delivered after its last attempt (it was dead-lettered).

    Attributes:
        endpoint: the endpoint's name.
        event_id: the event id sent as ``Idempotency-Key``.
        attempts: attempts made.
        status: the last HTTP status, or ``None`` when no response came back.
        reason: ``http_<status>``, ``transport:<ErrorClass>`` or ``circuit_open``.
        dead_letter_id: the dead-letter stream entry id, when one was written.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        event_id: str,
        attempts: int,
        status: int | None,
        reason: str,
        dead_letter_id: str | None,
    ) -> None:
        self.endpoint = endpoint
        self.event_id = event_id
        self.attempts = attempts
        self.status = status
        self.reason = reason
        self.dead_letter_id = dead_letter_id
        super().__init__(
            f"webhook {event_id} to endpoint {endpoint!r} not delivered after "
            f"{attempts} attempt(s): {reason}"
        )


class RequestError(SDKError):
    """A request/reply call (``AsyncRequester.request``) got no usable reply.

    Attributes:
        channel: the request channel.
    """

    def __init__(self, message: str, *, channel: str) -> None:
        self.channel = channel
        super().__init__(message)


class NoRespondersError(RequestError):
    """Nobody was subscribed to the request channel: the request reached no responder."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"no responder is subscribed to {channel!r}", channel=channel)


class RequestTimeoutError(RequestError, builtins.TimeoutError):
    """No reply came in time. A responder may still handle (or have handled) the request."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"no reply to a request on {channel!r} in time", channel=channel)


class RemoteHandlerError(RequestError):
    """The responder's handler raised. Only the exception's class name crosses the wire.

    Attributes:
        error_type: the class name of the exception the handler raised.
    """

    def __init__(self, error_type: str, *, channel: str = "") -> None:
        self.error_type = error_type
        super().__init__(f"the responder's handler raised {error_type}", channel=channel)


_SECRETISH = re.compile(r"(?i)\b(password|passwd|pass|secret|token|api_key|key)(\s*[=:]\s*)\S+")
_URL_PASSWORD = re.compile(r"(?i)(\w+://[^:/@\s]*:)[^@\s]+@")


def redact(text: str) -> str:
    """Remove ``password=…`` fragments and URL passwords from a piece of text."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _SECRETISH.sub(r"\1\2***", text)
