"""The subscriber's connection supervisor: connect, resubscribe, read, check liveness, repeat.

Every loss — EOF, reset, a PING whose reply missed its deadline (half-open), a server-side
unsubscribe (slot migration), a Sentinel primary change — ends the whole session; the
supervisor backs off (exponential, equal jitter), reconnects, replays every subscription
and reports ``Disconnected`` / ``Connected`` / ``Resubscribed`` / ``PossibleGap``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from redis_fintech_sdk.connection import map_redis_error
from redis_fintech_sdk.resilience import Backoff, is_retryable

from ._events import Connected, Disconnected, PossibleGap, Resubscribed
from ._links import Link, current_primary, open_links
from ._subscriptions import CONFIRMATIONS, REMOVALS, SubscriptionKind

if TYPE_CHECKING:
    from ._subscriber import AsyncSubscriber

__all__ = ["Supervisor"]

_log = logging.getLogger("redis_fintech_sdk.pubsub")
_PING_TOKEN = b"rfsdk-liveness"


class _Lost(Exception):
    """The session is over; ``reason`` says why (no payload, no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _LinkState:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.last_rx = time.monotonic()
        self.rx = anyio.Event()


class Supervisor:
    """Owns the connection loop of one :class:`AsyncSubscriber`."""

    def __init__(self, sub: AsyncSubscriber) -> None:
        self.sub = sub
        cfg = sub.config
        self.backoff = Backoff(base=cfg.reconnect_base, cap=cfg.reconnect_cap, jitter="equal")
        self.links: list[_LinkState] = []
        self.live = False
        self.connects = self.disconnects = self.half_open = 0
        self._reason = ""
        self._restart: anyio.CancelScope | None = None
        self._pending_restart = False

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Connect and serve until cancelled; only non-retryable errors escape."""
        lost_at: float | None = None
        attempts = 0
        while True:
            attempts += 1
            try:
                await self._connect()
            except Exception as exc:
                await self._close_links()
                error = _mapped(exc, self.sub.client.address)
                if not is_retryable(error) and not isinstance(error, TimeoutError):
                    raise error from exc
                _log.info("pubsub connect failed (%s); retrying", type(error).__name__)
                await anyio.sleep(self.backoff.next_delay())
                continue
            self.backoff.reset()
            self.connects += 1
            self.live = True
            sub = self.sub
            sub._emit(Connected(self.links[0].link.address if self.links else "", attempts))
            if lost_at is not None:
                now = time.time()
                wanted = sub._wanted
                sub._emit(
                    Resubscribed(
                        wanted.names(SubscriptionKind.CHANNEL),
                        wanted.names(SubscriptionKind.PATTERN),
                        wanted.names(SubscriptionKind.SHARD),
                        now - lost_at,
                    )
                )
                sub._emit(PossibleGap(lost_at, now))
            attempts = 0
            sub._state_changed()
            try:
                await self._send_missing()
                await sub._catch_up()
                await self._serve()
            except Exception as exc:
                error = _mapped(exc, sub.client.address)
                if not is_retryable(error) and not isinstance(exc, _Lost):
                    raise error from exc
                self._reason = getattr(exc, "reason", type(error).__name__)
            finally:
                self.live = False
                sub._confirmed.clear()
                await self._close_links()
            self.disconnects += 1
            lost_at = time.time()
            _log.warning("pubsub connection lost (%s); reconnecting", self._reason)
            sub._emit(Disconnected(self._reason, lost_at))
            sub._state_changed()

    async def _send_missing(self) -> None:
        # Subscriptions added while the connection was being set up.
        missing = self.sub._wanted.expected_confirmations() - self.sub._confirmed
        for state in self.links:
            missing -= state.link.unconfirmed
        if self.sub._cluster and any(k is SubscriptionKind.SHARD for k, _ in missing):
            raise _Lost("resubscribe")  # a new shard channel may live on another node
        for kind in SubscriptionKind:
            names = tuple(n for k, n in missing if k is kind)
            if names:
                await self.send(kind, kind.subscribe_command, names)

    def restart(self, reason: str) -> None:
        """End the current session (the loop reconnects)."""
        self._reason = reason
        if self._restart is not None:
            self._restart.cancel()
        else:
            self._pending_restart = True

    async def _connect(self) -> None:
        with anyio.fail_after(self.sub.config.connect_timeout):
            links = await open_links(self.sub.client, self.sub._wanted)
            self.links = [_LinkState(link) for link in links]
            for state in self.links:
                while state.link.unconfirmed:
                    await self._handle(state, await state.link.read())

    async def _serve(self) -> None:
        self._reason = ""
        with anyio.CancelScope() as scope:
            self._restart = scope
            if self._pending_restart:
                self._pending_restart = False
                raise _Lost("resubscribe")
            async with anyio.create_task_group() as tg:
                for state in self.links:
                    tg.start_soon(self._guard, self._reader, state, scope)
                    tg.start_soon(self._guard, self._liveness, state, scope)
                if self.sub._sentinel:
                    tg.start_soon(self._guard, self._primary_watch, self.links[0], scope)
        self._restart = None
        if not self._reason:
            self._reason = "cancelled"
        raise _Lost(self._reason)

    async def _guard(
        self,
        fn: Callable[[_LinkState], Awaitable[None]],
        state: _LinkState,
        scope: anyio.CancelScope,
    ) -> None:
        try:
            await fn(state)
        except _Lost as exc:
            self._reason = self._reason or exc.reason
        except Exception as exc:
            error = _mapped(exc, self.sub.client.address)
            if not is_retryable(error):
                raise error from exc
            self._reason = self._reason or type(error).__name__
        scope.cancel()

    # ---------------------------------------------------------------- tasks

    async def _reader(self, state: _LinkState) -> None:
        while True:
            reply = await state.link.read()
            await self._handle(state, reply)

    async def _liveness(self, state: _LinkState) -> None:
        cfg = self.sub.config
        while True:
            await anyio.sleep(cfg.ping_interval / 2)
            if self.sub._reader_blocked or time.monotonic() - state.last_rx < cfg.ping_interval:
                continue
            state.rx = anyio.Event()
            await state.link.send("PING", _PING_TOKEN)
            with anyio.move_on_after(cfg.ping_timeout):
                await state.rx.wait()
            if not state.rx.is_set() and not self.sub._reader_blocked:
                self.half_open += 1
                raise _Lost("half-open")

    async def _primary_watch(self, state: _LinkState) -> None:
        while True:
            await anyio.sleep(self.sub.config.ping_interval)
            with anyio.move_on_after(self.sub.config.connect_timeout):
                primary = await current_primary(self.sub.client)
                if primary is not None and f"{primary[0]}:{primary[1]}" != state.link.address:
                    raise _Lost("primary-changed")

    async def _handle(self, state: _LinkState, reply: Any) -> None:
        state.last_rx = time.monotonic()
        state.rx.set()
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if isinstance(kind, str):
            kind = kind.encode()
        if kind == b"message":
            await self.sub._intake_message(_text(reply[1]), reply[2])
        elif kind == b"pmessage":
            await self.sub._intake_message(_text(reply[2]), reply[3], pattern=_text(reply[1]))
        elif kind == b"smessage":
            await self.sub._intake_message(_text(reply[1]), reply[2], shard=True)
        elif kind in CONFIRMATIONS:
            state.link.unconfirmed.discard((CONFIRMATIONS[kind], _text(reply[1])))
            self.sub._confirm(CONFIRMATIONS[kind], _text(reply[1]))
        elif kind in REMOVALS:
            sub_kind, name = REMOVALS[kind], _text(reply[1])
            if (sub_kind, name) in self.sub._wanted:
                # Not asked for: the server dropped us (slot migration, ACL change).
                raise _Lost("server-unsubscribed")

    async def _close_links(self) -> None:
        links, self.links = self.links, []
        for state in links:
            with anyio.CancelScope(shield=True):
                try:
                    await state.link.aclose()
                except Exception:  # noqa: S112 - a broken link may fail to close cleanly
                    continue

    async def send(self, kind: SubscriptionKind, command: str, names: tuple[str, ...]) -> bool:
        """Send a (un)subscribe on the live session; ``False`` when there is none to use."""
        if not self.live or not self.links:
            return False
        for state in self.links:
            if (kind is SubscriptionKind.SHARD) == state.link.shard_only or len(self.links) == 1:
                await state.link.send(command, *names)
                return True
        return False


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _mapped(exc: BaseException, address: str) -> BaseException:
    if isinstance(exc, (_Lost, TimeoutError)):
        return exc
    return map_redis_error(exc, address=address)
