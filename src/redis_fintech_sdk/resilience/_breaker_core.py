"""The circuit breaker's state machine: pure, clock passed in, no I/O, no locks.

:class:`CircuitBreaker` wraps it with a lock, a clock, listeners and asyncio/sync call
helpers. Keeping the machine here means every transition is unit-tested with plain numbers.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from redis_fintech_sdk.errors import ConfigurationError

__all__ = [
    "BreakerCore",
    "CircuitBreakerConfig",
    "CircuitState",
    "Outcome",
    "Permit",
    "StateChange",
]


class CircuitState(str, enum.Enum):
    """Breaker states (resilience4j's set).

    ``CLOSED`` lets calls through and records them; ``OPEN`` refuses them until the open
    interval has passed; ``HALF_OPEN`` lets a bounded number of probes through;
    ``FORCED_OPEN`` refuses everything until an operator resets it; ``DISABLED`` lets
    everything through and records nothing; ``METRICS_ONLY`` records but never trips.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    METRICS_ONLY = "metrics_only"


class Outcome(str, enum.Enum):
    """How a permitted call ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"  # e.g. cancelled, or an exception that says nothing about health


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerConfig:
    """Breaker thresholds. Frozen, keyword-only, validated.

    The defaults suit a Redis client: Redis failures are usually all-or-nothing (server
    down, failover in progress), so a small window reacts in tens of calls rather than
    resilience4j's 100; a Sentinel failover takes a few seconds, so the breaker probes again
    after 5 s instead of 60 s.

    Attributes:
        failure_rate_threshold: open when the failure rate over the window reaches this
            (0 < x <= 1). Default 0.5.
        window_size: number of most recent calls the rate is computed over. Default 20.
        minimum_calls: no rate-based decision before this many calls are in the window.
            Default 10.
        consecutive_failures: also open after this many failures in a row (``None``: off).
            Default 5: a dead server trips the breaker fast even at low call rates.
        open_interval: seconds to stay OPEN before letting probes through. Default 5.0.
        half_open_max_calls: probes allowed in HALF_OPEN; all must succeed to close, one
            failure re-opens. Default 3.
        probe_timeout: seconds a half-open probe may take; an unfinished probe is counted
            as a failure after that, so HALF_OPEN can never get stuck. Default 10.0.
    """

    failure_rate_threshold: float = 0.5
    window_size: int = 20
    minimum_calls: int = 10
    consecutive_failures: int | None = 5
    open_interval: float = 5.0
    half_open_max_calls: int = 3
    probe_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.failure_rate_threshold <= 1.0:
            raise ConfigurationError("failure_rate_threshold", "must be in (0, 1]")
        if self.window_size < 1:
            raise ConfigurationError("window_size", "must be >= 1")
        if not 1 <= self.minimum_calls <= self.window_size:
            raise ConfigurationError("minimum_calls", "must be between 1 and window_size")
        if self.consecutive_failures is not None and self.consecutive_failures < 1:
            raise ConfigurationError("consecutive_failures", "must be >= 1 or None")
        if not self.open_interval > 0:
            raise ConfigurationError("open_interval", "must be > 0 seconds")
        if self.half_open_max_calls < 1:
            raise ConfigurationError("half_open_max_calls", "must be >= 1")
        if not self.probe_timeout > 0:
            raise ConfigurationError("probe_timeout", "must be > 0 seconds")


@dataclass(frozen=True)
class Permit:
    """A ticket for one permitted call; hand it back with the outcome.

    Attributes:
        id: unique per breaker.
        state: the state that granted it (outcomes of stale permits are ignored).
        generation: the state generation that granted it.
        deadline: for half-open probes, the clock time the probe expires; else ``None``.
    """

    id: int
    state: CircuitState
    generation: int
    deadline: float | None = None


@dataclass(frozen=True)
class StateChange:
    """A transition, as reported to listeners.

    Attributes:
        old: the previous state.
        new: the new state.
        at: clock time of the transition.
        reason: short text (``"failure rate 60% >= 50%"``).
    """

    old: CircuitState
    new: CircuitState
    at: float
    reason: str


class BreakerCore:
    """The state machine. Every method takes ``now`` and returns what happened.

    Not thread-safe by itself: the wrapper serialises calls.
    """

    def __init__(self, config: CircuitBreakerConfig, *, now: float) -> None:
        """Start CLOSED at clock time ``now``."""
        self.config = config
        self.state = CircuitState.CLOSED
        self.generation = 0
        self.opened_at = 0.0
        self.last_change = now
        self._window: deque[bool] = deque(maxlen=config.window_size)  # True = failure
        self.consecutive = 0
        self._probes: dict[int, float] = {}  # permit id -> deadline
        self._probe_successes = 0
        self._probes_started = 0
        self._next_id = 0
        self.changes: list[StateChange] = []  # drained by the wrapper

    # -- queries ----------------------------------------------------------------------------

    @property
    def window_calls(self) -> int:
        """Calls currently in the sliding window."""
        return len(self._window)

    @property
    def failure_rate(self) -> float | None:
        """Failure rate over the window, or ``None`` below ``minimum_calls``."""
        if len(self._window) < self.config.minimum_calls:
            return None
        return sum(self._window) / len(self._window)

    @property
    def probes_in_flight(self) -> int:
        """Half-open probes granted and not yet finished."""
        return len(self._probes)

    def retry_after(self, now: float) -> float:
        """Seconds until a call may be permitted again (0 when it may be now)."""
        if self.state is CircuitState.OPEN:
            return max(0.0, self.opened_at + self.config.open_interval - now)
        if self.state is CircuitState.HALF_OPEN and self._probes:
            return max(0.0, min(self._probes.values()) - now)
        if self.state is CircuitState.FORCED_OPEN:
            return self.config.open_interval
        return 0.0

    # -- the call protocol --------------------------------------------------------------------

    def acquire(self, now: float) -> Permit | None:
        """Ask to make a call. Returns a :class:`Permit`, or ``None`` when refused."""
        self._expire_probes(now)
        state = self.state
        if state is CircuitState.OPEN:
            if now < self.opened_at + self.config.open_interval:
                return None
            self._transition(CircuitState.HALF_OPEN, now, "open interval elapsed")
            state = self.state
        if state is CircuitState.FORCED_OPEN:
            return None
        if state is CircuitState.HALF_OPEN:
            if self._probes_started >= self.config.half_open_max_calls:
                return None
            self._probes_started += 1
            permit = self._permit(deadline=now + self.config.probe_timeout)
            self._probes[permit.id] = now + self.config.probe_timeout
            return permit
        return self._permit()

    def release(self, permit: Permit, outcome: Outcome, now: float) -> None:
        """Report how a permitted call ended."""
        self._expire_probes(now)
        if permit.generation != self.generation:
            return  # granted before a transition: says nothing about the current state
        state = self.state
        if state is CircuitState.DISABLED:
            return
        if state is CircuitState.HALF_OPEN:
            if self._probes.pop(permit.id, None) is None:
                return  # already expired and counted
            self._on_probe(outcome, now)
            return
        if outcome is Outcome.IGNORED:
            return
        failed = outcome is Outcome.FAILURE
        self._window.append(failed)
        self.consecutive = self.consecutive + 1 if failed else 0
        if state is CircuitState.CLOSED:
            # Also after a success: the call that fills the window up to `minimum_calls`
            # may reveal a rate already over the threshold (found by a property test).
            self._maybe_trip(now)

    # -- operator actions -----------------------------------------------------------------

    def force(self, state: CircuitState, now: float, reason: str = "operator") -> None:
        """Move to ``state`` unconditionally (``CLOSED`` also clears the window)."""
        self._transition(state, now, reason)

    # -- internals ----------------------------------------------------------------------------

    def _permit(self, deadline: float | None = None) -> Permit:
        self._next_id += 1
        return Permit(self._next_id, self.state, self.generation, deadline)

    def _expire_probes(self, now: float) -> None:
        if self.state is not CircuitState.HALF_OPEN:
            return
        expired = [pid for pid, deadline in self._probes.items() if now >= deadline]
        if expired:
            # One expired probe is one failed probe: back to OPEN (which drops the rest).
            del self._probes[expired[0]]
            self._on_probe(Outcome.FAILURE, now, reason="half-open probe timed out")

    def _on_probe(self, outcome: Outcome, now: float, reason: str = "") -> None:
        if outcome is Outcome.FAILURE:
            self._transition(CircuitState.OPEN, now, reason or "half-open probe failed")
        elif outcome is Outcome.IGNORED:
            self._probes_started -= 1  # give the slot back: that probe proved nothing
        else:
            self._probe_successes += 1
            if self._probe_successes >= self.config.half_open_max_calls:
                self._transition(CircuitState.CLOSED, now, "half-open probes succeeded")

    def _maybe_trip(self, now: float) -> None:
        cfg = self.config
        if cfg.consecutive_failures is not None and self.consecutive >= cfg.consecutive_failures:
            self._transition(CircuitState.OPEN, now, f"{self.consecutive} consecutive failures")
            return
        rate = self.failure_rate
        if rate is not None and rate >= cfg.failure_rate_threshold:
            self._transition(
                CircuitState.OPEN,
                now,
                f"failure rate {rate:.0%} >= {cfg.failure_rate_threshold:.0%} "
                f"over {len(self._window)} calls",
            )

    def _transition(self, new: CircuitState, now: float, reason: str) -> None:
        old = self.state
        self.state = new
        self.generation += 1
        self.last_change = now
        self._probes.clear()
        self._probe_successes = 0
        self._probes_started = 0
        if new is CircuitState.OPEN:
            self.opened_at = now
        if new in (CircuitState.CLOSED, CircuitState.DISABLED, CircuitState.METRICS_ONLY):
            self._window.clear()
            self.consecutive = 0
        if old is not new:
            self.changes.append(StateChange(old, new, now, reason))
