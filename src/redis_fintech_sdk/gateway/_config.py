"""GatewayConfig: frozen, keyword-only settings of the gateway, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.pubsub import OverflowPolicy

__all__ = ["GatewayConfig"]


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """How the gateway buffers, limits and authorizes its HTTP clients.

    Attributes:
        client_queue: messages held per connected client before its policy applies.
        overflow: what a full client queue does: ``drop_oldest``, ``drop_newest`` or
            ``conflate`` (latest message per channel). ``block`` is refused: one slow
            client must never stall the shared Redis subscription.
        heartbeat_interval: seconds between SSE comment lines / WebSocket pings (``{"op":
            "heartbeat"}``) on an idle connection.
        max_clients: connected SSE + WebSocket clients at once (more get 503 / close 1013).
        max_channels_per_client: channels and patterns one client may hold.
        max_body_bytes: largest admin request body and WebSocket text frame.
        admin_scope: a token is an admin when one of its grants names exactly this
            pattern (a wildcard grant never makes a token admin; tenant tokens never are).
        public_metrics: serve ``GET /v1/metrics`` without a token (default: admin only).
        sse_retry_ms: the ``retry:`` hint sent to EventSource clients.
        health_cache_seconds: how long a Redis PING result is reused by ``/v1/metrics``.
        upstream_buffer: the shared subscriber's buffer between Redis and the fan-out loop.

    Raises:
        ConfigurationError: a value is out of range (the field is named).
    """

    client_queue: int = 1_000
    overflow: OverflowPolicy | str = OverflowPolicy.DROP_OLDEST
    heartbeat_interval: float = 15.0
    max_clients: int = 10_000
    max_channels_per_client: int = 100
    max_body_bytes: int = 65_536
    admin_scope: str = "rfsdk.gateway.admin"
    public_metrics: bool = False
    sse_retry_ms: int = 3_000
    health_cache_seconds: float = 1.0
    upstream_buffer: int = 100_000

    def __post_init__(self) -> None:
        try:
            policy = OverflowPolicy(self.overflow)
        except ValueError:
            raise ConfigurationError(
                "overflow", "must be drop_oldest, drop_newest or conflate"
            ) from None
        if policy is OverflowPolicy.BLOCK:
            raise ConfigurationError("overflow", "block would let one client stall all others")
        object.__setattr__(self, "overflow", policy)
        for name in (
            "client_queue",
            "max_clients",
            "max_channels_per_client",
            "max_body_bytes",
            "upstream_buffer",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(name, "must be >= 1")
        if not self.heartbeat_interval > 0:
            raise ConfigurationError("heartbeat_interval", "must be > 0 seconds")
        if self.health_cache_seconds < 0:
            raise ConfigurationError("health_cache_seconds", "must be >= 0 seconds")
        if self.sse_retry_ms < 0:
            raise ConfigurationError("sse_retry_ms", "must be >= 0")
        if not self.admin_scope:
            raise ConfigurationError("admin_scope", "must be a non-empty name")

    @property
    def policy(self) -> OverflowPolicy:
        """The validated overflow policy."""
        return OverflowPolicy(self.overflow)
