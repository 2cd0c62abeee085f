"""The SDK's circuit breaker: asyncio-native, with a sync twin, around a pure state machine."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ParamSpec, TypeVar

import anyio

from redis_fintech_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    BackpressureError,
    CircuitOpenError,
    CodecError,
    ConfigurationError,
    ConnectionFailedError,
    RedisTimeoutError,
)

from ._breaker_core import (
    BreakerCore,
    CircuitBreakerConfig,
    CircuitState,
    Outcome,
    Permit,
    StateChange,
)

__all__ = [
    "DEFAULT_FAILURE_EXCEPTIONS",
    "DEFAULT_IGNORED_EXCEPTIONS",
    "CircuitBreaker",
    "CircuitBreakerListener",
    "CircuitBreakerStatistics",
]

P = ParamSpec("P")
T = TypeVar("T")

_log = logging.getLogger("redis_fintech_sdk.resilience")

DEFAULT_FAILURE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ConnectionFailedError,
    RedisTimeoutError,
    BackpressureError,
)
"""Exceptions that say "Redis is unhealthy" and count as failures by default."""

DEFAULT_IGNORED_EXCEPTIONS: tuple[type[BaseException], ...] = (
    AuthenticationError,
    AuthorizationError,
    CodecError,
    ConfigurationError,
)
"""Exceptions that never count as failures: they describe the caller, not the server."""


class CircuitBreakerListener:
    """Override the hooks you need (pybreaker style). Hooks must not block.

    A hook that raises is logged and otherwise ignored: observers must not change
    whether a call succeeds.
    """

    def state_change(self, breaker: CircuitBreaker, change: StateChange) -> None:
        """The breaker moved from ``change.old`` to ``change.new``."""

    def success(self, breaker: CircuitBreaker) -> None:
        """A permitted call succeeded."""

    def failure(self, breaker: CircuitBreaker, exc: BaseException) -> None:
        """A permitted call failed with an exception counted as a failure."""

    def not_permitted(self, breaker: CircuitBreaker, retry_after: float) -> None:
        """A call was refused because the breaker is open."""


@dataclass(frozen=True)
class CircuitBreakerStatistics:
    """A snapshot of a breaker (trio-style ``statistics()``).

    Attributes:
        name: the breaker's name.
        state: the current state.
        failure_rate: over the window, or ``None`` below ``minimum_calls``.
        window_calls: calls in the sliding window.
        consecutive_failures: failures in a row, now.
        successes: successful calls since creation.
        failures: failed calls since creation.
        ignored: calls that ended with an ignored exception or cancellation.
        not_permitted: calls refused while open.
        probes_in_flight: half-open probes running now.
        last_state_change: clock time of the last transition (creation time if none).
        state_changes: number of transitions since creation.
    """

    name: str
    state: CircuitState
    failure_rate: float | None
    window_calls: int
    consecutive_failures: int
    successes: int
    failures: int
    ignored: int
    not_permitted: int
    probes_in_flight: int
    last_state_change: float
    state_changes: int


class CircuitBreaker:
    """Fail fast while Redis is unhealthy; probe carefully when it may be back.

    Use ``async with breaker:``, ``await breaker.call(fn, ...)``, ``with breaker.guard():``
    or ``breaker.call_sync(fn, ...)``. While open these raise :class:`CircuitOpenError`
    carrying ``retry_after`` without running anything.

    An exception counts as a failure when it is an instance of ``failure_exceptions``
    and not of ``ignored_exceptions``; any other exception (and cancellation) is
    "ignored": it propagates and neither helps nor hurts the breaker.

    Example:
        >>> breaker = CircuitBreaker("redis-main")
        >>> breaker.state
        <CircuitState.CLOSED: 'closed'>
    """

    def __init__(
        self,
        name: str,
        config: CircuitBreakerConfig | None = None,
        *,
        failure_exceptions: Sequence[type[BaseException]] = DEFAULT_FAILURE_EXCEPTIONS,
        ignored_exceptions: Sequence[type[BaseException]] = DEFAULT_IGNORED_EXCEPTIONS,
        listeners: Sequence[CircuitBreakerListener] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a CLOSED breaker.

        Args:
            name: shown in errors, logs and metrics.
            config: thresholds; defaults documented on :class:`CircuitBreakerConfig`.
            failure_exceptions: exception classes that count as failures.
            ignored_exceptions: classes that never count, even if also in the above.
            listeners: observers of transitions and outcomes.
            clock: monotonic seconds; inject a fake one in tests.
        """
        self.name = name
        self.config = config or CircuitBreakerConfig()
        self._failure_types = tuple(failure_exceptions)
        self._ignored_types = tuple(ignored_exceptions)
        self._listeners = list(listeners)
        self._clock = clock
        self._lock = threading.Lock()
        self._core = BreakerCore(self.config, now=clock())
        self._counts = {"success": 0, "failure": 0, "ignored": 0, "not_permitted": 0}
        self._state_changes = 0
        # One stack of permits per task/thread context, for `async with` / `with`.
        self._held: contextvars.ContextVar[tuple[Permit, ...]] = contextvars.ContextVar(
            f"circuit_breaker_{name}_{id(self)}", default=()
        )

    # -- inspection ---------------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The current state.

        An OPEN breaker whose interval has passed reads OPEN until the next call asks.
        """
        return self._core.state

    def add_listener(self, listener: CircuitBreakerListener) -> None:
        """Register another observer."""
        self._listeners.append(listener)

    def is_failure(self, exc: BaseException) -> bool:
        """Whether ``exc`` counts as a failure for this breaker."""
        return isinstance(exc, self._failure_types) and not isinstance(exc, self._ignored_types)

    def statistics(self) -> CircuitBreakerStatistics:
        """A consistent snapshot of state and counters."""
        with self._lock:
            core = self._core
            return CircuitBreakerStatistics(
                name=self.name,
                state=core.state,
                failure_rate=core.failure_rate,
                window_calls=core.window_calls,
                consecutive_failures=core.consecutive,
                successes=self._counts["success"],
                failures=self._counts["failure"],
                ignored=self._counts["ignored"],
                not_permitted=self._counts["not_permitted"],
                probes_in_flight=core.probes_in_flight,
                last_state_change=core.last_change,
                state_changes=self._state_changes,
            )

    # -- operator controls ------------------------------------------------------------------

    def force_open(self) -> None:
        """Refuse every call until :meth:`reset` (FORCED_OPEN)."""
        self._force(CircuitState.FORCED_OPEN)

    def disable(self) -> None:
        """Let every call through and record nothing (DISABLED)."""
        self._force(CircuitState.DISABLED)

    def metrics_only(self) -> None:
        """Record calls but never trip (METRICS_ONLY)."""
        self._force(CircuitState.METRICS_ONLY)

    def reset(self) -> None:
        """Back to CLOSED with an empty window."""
        self._force(CircuitState.CLOSED)

    def _force(self, state: CircuitState) -> None:
        with self._lock:
            self._core.force(state, self._clock())
            changes = self._drain()
        self._emit_changes(changes)

    # -- the permit protocol ------------------------------------------------------------------

    def acquire(self) -> Permit:
        """Ask for a permit (low level; prefer the context managers).

        Raises:
            CircuitOpenError: the breaker refuses calls now.
        """
        with self._lock:
            now = self._clock()
            permit = self._core.acquire(now)
            retry_after = self._core.retry_after(now)
            if permit is None:
                self._counts["not_permitted"] += 1
            changes = self._drain()
        self._emit_changes(changes)
        if permit is None:
            self._emit("not_permitted", retry_after)
            raise CircuitOpenError(self.name, retry_after)
        return permit

    def release(self, permit: Permit, exc: BaseException | None) -> None:
        """Report the end of a permitted call (low level).

        Args:
            permit: from :meth:`acquire`.
            exc: the exception the call ended with, or ``None`` for success.
        """
        if exc is None:
            outcome = Outcome.SUCCESS
        elif self.is_failure(exc):
            outcome = Outcome.FAILURE
        else:
            outcome = Outcome.IGNORED
        with self._lock:
            self._core.release(permit, outcome, self._clock())
            self._counts[outcome.value] += 1
            changes = self._drain()
        if outcome is Outcome.SUCCESS:
            self._emit("success")
        elif outcome is Outcome.FAILURE:
            self._emit("failure", exc)
        self._emit_changes(changes)

    # -- asyncio ------------------------------------------------------------------------------

    async def __aenter__(self) -> CircuitBreaker:
        self._push(self.acquire())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release(self._pop(), exc)

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` under the breaker.

        A half-open probe is also bounded by ``config.probe_timeout``.

        Raises:
            CircuitOpenError: the breaker is open; ``fn`` was not called.
            RedisTimeoutError: a half-open probe exceeded ``probe_timeout``.
        """
        permit = self.acquire()
        try:
            if permit.deadline is None:
                result = await fn(*args, **kwargs)
            else:
                with anyio.move_on_after(self.config.probe_timeout) as scope:
                    result = await fn(*args, **kwargs)
                if scope.cancelled_caught:
                    raise RedisTimeoutError(f"half-open probe of circuit {self.name!r} timed out")
        except BaseException as exc:
            self.release(permit, exc)
            raise
        self.release(permit, None)
        return result

    # -- sync -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def guard(self) -> Iterator[CircuitBreaker]:
        """Sync twin of ``async with breaker:``.

        Raises:
            CircuitOpenError: the breaker is open; the body does not run.
        """
        permit = self.acquire()
        try:
            yield self
        except BaseException as exc:
            self.release(permit, exc)
            raise
        self.release(permit, None)

    def call_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` under the breaker (sync twin of :meth:`call`).

        A sync call cannot be interrupted, so a half-open probe that overruns
        ``probe_timeout`` is counted as a failure when the deadline passes, not cut short.

        Raises:
            CircuitOpenError: the breaker is open; ``fn`` was not called.
        """
        with self.guard():
            return fn(*args, **kwargs)

    # -- helpers --------------------------------------------------------------------------------

    def _push(self, permit: Permit) -> None:
        self._held.set((*self._held.get(), permit))

    def _pop(self) -> Permit:
        held = self._held.get()
        if not held:
            raise RuntimeError("circuit breaker exited more often than entered")
        self._held.set(held[:-1])
        return held[-1]

    def _drain(self) -> list[StateChange]:
        changes = self._core.changes[:]
        self._core.changes.clear()
        self._state_changes += len(changes)
        return changes

    def _emit_changes(self, changes: list[StateChange]) -> None:
        for change in changes:
            _log.info(
                "circuit %r: %s -> %s (%s)",
                self.name,
                change.old.value,
                change.new.value,
                change.reason,
            )
            self._emit("state_change", change)

    def _emit(self, hook: str, *args: object) -> None:
        for listener in self._listeners:
            try:
                getattr(listener, hook)(self, *args)
            except Exception:
                _log.exception("circuit %r: listener %r failed", self.name, listener)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._core.state.value}>"
