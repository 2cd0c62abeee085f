"""How the Pub/Sub classes use the hooks of :mod:`redis_fintech_sdk.hooks`. Sans-I/O.

Also the publisher's routing view of a message (what a routing table matches on).

Hooks are normalised once at construction (``hooks.active``: ``None`` and the ``Noop*``
classes both become ``None``), so the hot path pays one ``is None`` test per hook it does
not use. Label dicts are cached per channel: channel families are few, and a metric call
then allocates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from redis_fintech_sdk.channels import MessageView
from redis_fintech_sdk.hooks import BREAKER_STATE_VALUES, Metrics, channel_family, principal_id
from redis_fintech_sdk.resilience import CircuitBreaker, CircuitBreakerListener, StateChange

__all__ = ["BreakerGauge", "LabelCache", "message_view", "rate_subject_for"]

_MAX_CACHED = 4096


class LabelCache:
    """Label dicts per (channel, extra label value), computed once."""

    __slots__ = ("_cache", "_extra", "_key")

    def __init__(self, extra: str = "", value: str = "") -> None:
        self._cache: dict[str, Mapping[str, str]] = {}
        self._key = extra
        self._extra = value

    def __call__(self, channel: str) -> Mapping[str, str]:
        """The labels of ``channel`` (its family, plus the fixed extra label)."""
        labels = self._cache.get(channel)
        if labels is None:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            fam = channel_family(channel)
            labels = {"channel": fam, self._key: self._extra} if self._key else {"channel": fam}
            self._cache[channel] = labels
        return labels


class BreakerGauge(CircuitBreakerListener):
    """Keeps ``circuit_breaker_state`` current (the publisher's breaker listener)."""

    def __init__(self, metrics: Metrics, breaker: CircuitBreaker) -> None:
        self.metrics = metrics
        metrics.set(
            "circuit_breaker_state",
            BREAKER_STATE_VALUES.get(breaker.state.value, 0.0),
            {"breaker": breaker.name},
        )

    def state_change(self, breaker: CircuitBreaker, change: StateChange) -> None:
        """Set the gauge to the new state."""
        self.metrics.set(
            "circuit_breaker_state",
            BREAKER_STATE_VALUES.get(change.new.value, 2.0),
            {"breaker": breaker.name},
        )


def rate_subject_for(
    rate_subject: str | Callable[[str], str] | None, principal: Any
) -> Callable[[str], str]:
    """The limiter subject of a publish to a channel.

    ``None``: ``publish:<principal id>``; a string: that subject for every channel; a
    callable: called with the channel name.
    """
    if callable(rate_subject):
        return rate_subject
    subject = rate_subject or f"publish:{principal_id(principal)}"
    return lambda _channel: subject


def message_view(message: Any, options: Mapping[str, Any], codec: Any) -> MessageView:
    """What a routing table sees of ``message`` (an Envelope or a registered Message)."""
    headers = options.get("headers") or {}
    if isinstance(getattr(message, "type", None), str):  # an Envelope
        return MessageView(
            type=message.type,
            headers={**message.headers, **headers},
            tenant=options.get("tenant", message.tenant),
            classification=options.get("classification", message.classification),
        )
    from redis_fintech_sdk.codec import default_registry

    registry: Any = getattr(getattr(codec, "config", None), "registry", default_registry)
    spec = registry.spec_for(type(message))
    return MessageView(
        type=spec.type_name,
        headers=headers,
        tenant=options.get("tenant"),
        classification=options.get("classification", spec.classification),
    )
