"""Resilience: circuit breaker, retry policy and reconnect backoff.

The state machine (:mod:`._breaker_core`) and the delay schedules are pure; the
:class:`CircuitBreaker` wrapper adds a lock, a clock and asyncio/sync helpers. See
``docs/resilience.md``.
"""

from __future__ import annotations

from ._backoff import Backoff
from ._breaker import (
    DEFAULT_FAILURE_EXCEPTIONS,
    DEFAULT_IGNORED_EXCEPTIONS,
    CircuitBreaker,
    CircuitBreakerListener,
    CircuitBreakerStatistics,
)
from ._breaker_core import (
    BreakerCore,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
    Permit,
    StateChange,
)
from ._retry import Jitter, RandomLike, RetryPolicy, apply_jitter, is_retryable

__all__ = [
    "Backoff",
    "BreakerCore",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerListener",
    "CircuitBreakerStatistics",
    "CircuitState",
    "DEFAULT_FAILURE_EXCEPTIONS",
    "DEFAULT_IGNORED_EXCEPTIONS",
    "Jitter",
    "Outcome",
    "Permit",
    "RandomLike",
    "RetryPolicy",
    "StateChange",
    "apply_jitter",
    "is_retryable",
]
