"""The subscriber's connection supervisor: connect, resubscribe, read, check liveness, repeat.

Every loss — EOF, reset, a PING whose reply missed its deadline (half-open), a server-side
unsubscribe (slot migration), a Sentinel primary change — ends the whole session; the
supervisor backs off (exponential, equal jitter), reconnects, replays every subscription
and reports ``Disconnected`` / ``Connected`` / ``Resubscribed`` / ``PossibleGap``.

Each failed connection attempt, and each session that ended because the connection failed
(reset, EOF, timeout, no PONG in time), adds one to ``connection_errors_total``
(``component=subscriber``). Planned restarts (resubscribe, a Sentinel primary change, a
server-side unsubscribe) do not count. Errors already translated (and counted) by the
client's ``translate_errors`` are not counted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from redis_fintech_sdk.connection import is_connection_failure, map_redis_error
from redis_fintech_sdk.errors import AuthorizationError, SDKError
from redis_fintech_sdk.hooks import Metrics
from redis_fintech_sdk.resilience import Backoff, is_retryable

from ._events import Connected, Disconnected, PossibleGap, Resubscribed
from ._links import Link, open_links
from ._observer import name_refused
from ._subscriptions import CONFIRMATIONS, REMOVALS, SubscriptionKind

if TYPE_CHECKING:
    from ._subscriber import AsyncSubscriber

__all__ = ["Supervisor"]

_log = logging.getLogger("redis_fintech_sdk.pubsub")
_PING_TOKEN = b"rfsdk-liveness"


class _Lost(Exception):
    """The session is over; ``reason`` says why (no payload, no secrets).

    ``failure``: the connection failed (as opposed to a planned restart).
    """

    def __init__(self, reason: str, *, failure: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure = failure


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
        self._failure = False
        self._restart: anyio.CancelScope | None = None
        self._pending_restart = False

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Connect and serve until cancelled; only non-retryable errors escape."""
        lost_at: float | None = None
        attempts = 0
        while True:
            attempts += 1
            # The principal's rights may have changed while we were away: ask again
            # before resubscribing (AuthorizationError is not retryable: it ends the loop).
            await self.sub._authorize_wanted()
            try:
                await self._connect()
            except Exception as exc:
                await self._close_links()
                error = self._refusal(exc) or _mapped(exc, self.sub.client.address)
                if _fresh_failure(exc, error):
                    self._count_failure()
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
                await self._catch_up()
                await self._serve()
            except Exception as exc:
                error = self._refusal(exc) or _mapped(exc, sub.client.address)
                failed = exc.failure if isinstance(exc, _Lost) else _fresh_failure(exc, error)
                if failed:
                    self._count_failure()
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

    def _metrics(self) -> Metrics | None:
        hooks = self.sub._hooks
        return hooks.metrics if hooks is not None else None

    def _count_failure(self) -> None:
        # The subscriber's own hook, else the client's (AsyncClient.count_connection_error).
        self.sub.client.count_connection_error("subscriber", metrics=self._metrics())

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
        self._failure = False
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
        raise _Lost(self._reason, failure=self._failure)

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
            self._failure = self._failure or exc.failure
        except Exception as exc:
            error = self._refusal(exc) or _mapped(exc, self.sub.client.address)
            if _fresh_failure(exc, error):
                self._failure = True
            if not is_retryable(error):
                if self._failure:
                    self._count_failure()  # _serve never reaches its own count
                raise error from exc
            self._reason = self._reason or type(error).__name__
        scope.cancel()

    def _refusal(self, exc: BaseException) -> AuthorizationError | None:
        """A server NOPERM on a subscription, as AuthorizationError naming the channel."""
        mapped = _mapped(exc, self.sub.client.address)
        if not isinstance(mapped, AuthorizationError) or mapped is exc:
            return None
        sub = self.sub
        pending = sorted(
            sub._wanted.expected_confirmations() - sub._confirmed, key=lambda kn: kn[0].value
        )
        name = name_refused(exc, pending)
        command = pending[0][0].subscribe_command if pending else None
        return AuthorizationError(
            "NOPERM: not allowed to subscribe to this channel",
            address=sub.client.address,
            command=command,
            channel=name,
        )

    async def _catch_up(self) -> None:
        """Replay what replayable channels missed, from the last stream id seen."""
        sub = self.sub
        replay = sub._replay
        if replay is None:
            return
        redis = sub.client.redis
        for channel, last in list(sub._intake.cursors.items()):
            if (SubscriptionKind.CHANNEL, channel) not in sub._wanted:
                continue
            start = f"({last}"
            while True:
                with sub.client.translate_errors(
                    "XRANGE",
                    key=replay.stream_key(channel),
                    component="subscriber",
                    metrics=self._metrics(),
                ):
                    entries: Any = await redis.xrange(
                        replay.stream_key(channel), min=start, count=replay.batch
                    )
                for raw_id, fields in entries:
                    sid = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    frame = fields.get(b"f") or fields.get("f") or b""
                    delivery, events = sub._intake.accept(channel, frame, stream_id=sid)
                    for event in events:
                        sub._emit(event)
                    if delivery is not None:
                        sub._replayed += 1
                        await sub._offer(delivery)
                    start = f"({sid}"
                if len(entries) < replay.batch:
                    break

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
                raise _Lost("half-open", failure=True)

    async def _primary_watch(self, state: _LinkState) -> None:
        while True:
            await anyio.sleep(self.sub.config.ping_interval)
            with anyio.move_on_after(self.sub.config.connect_timeout):
                primary = await self.sub.client.refresh_primary()
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


def _fresh_failure(exc: BaseException, error: BaseException) -> bool:
    """A connection failure seen here first (``translate_errors`` counted SDK errors)."""
    return not isinstance(exc, (SDKError, _Lost)) and is_connection_failure(error)


def _mapped(exc: BaseException, address: str) -> BaseException:
    if isinstance(exc, (_Lost, TimeoutError)):
        return exc
    return map_redis_error(exc, address=address)
