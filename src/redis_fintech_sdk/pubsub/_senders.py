"""How a publisher's commands reach Redis: auto-pipelined (async) or directly (sync).

:class:`AutoPipeliner` coalesces concurrent publishes into pipelines over one connection,
as ioredis and Lettuce do: while one pipeline is in flight, new commands queue up and go
out together in the next one. One pipeline in flight at a time keeps every channel's
sequence numbers in publish order on the wire. :class:`DirectSender` is the sync twin's
sender: one call, one round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from redis_fintech_sdk.errors import ConfigurationError, RedisError

__all__ = ["AutoPipeliner", "Command", "DirectSender", "SenderStatistics"]

Command = tuple[Any, ...]
Results = list[Any]  # each item a reply or the (mapped) exception of that command


@dataclass(frozen=True)
class SenderStatistics:
    """Counters of a sender.

    Attributes:
        commands: commands sent.
        round_trips: pipelines (or single calls) sent.
        largest_batch: the most commands sent in one round trip.
        queued: commands waiting now.
    """

    commands: int
    round_trips: int
    largest_batch: int
    queued: int


def _check(max_batch: int, linger: float) -> None:
    if max_batch < 1:
        raise ConfigurationError("max_batch", "must be >= 1")
    if linger < 0:
        raise ConfigurationError("linger", "must be >= 0 seconds")


class _Slot:
    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: Any = None


class AutoPipeliner:
    """Coalesces concurrent commands into pipelines; owned by an ``async with``.

    Args:
        execute: sends a list of commands in one round trip and returns one result (or
            exception) per command; raises when the whole round trip failed.
        max_batch: most commands per pipeline.
        linger: seconds to wait for more commands before sending (auto-batching); 0 sends
            as soon as the previous pipeline is done.
    """

    def __init__(
        self,
        execute: Callable[[Sequence[Command]], Awaitable[Results]],
        *,
        max_batch: int = 512,
        linger: float = 0.0,
    ) -> None:
        _check(max_batch, linger)
        self._execute = execute
        self.max_batch = max_batch
        self.linger = linger
        self._pending: list[tuple[Command, _Slot]] = []
        self._wake = anyio.Event()
        self._tg: TaskGroup | None = None
        self._closing = False
        self._commands = self._trips = self._largest = 0

    async def __aenter__(self) -> AutoPipeliner:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        self._closing = True
        self._wake.set()
        try:
            if tg is not None:
                if exc is not None:
                    tg.cancel_scope.cancel()
                return await tg.__aexit__(exc_type, exc, tb)
            return None
        finally:
            self._fail_pending(RedisError("publisher closed before the command was sent"))

    async def submit(self, command: Command) -> Any:
        """Send one command in the next pipeline and return its reply.

        Raises:
            SDKError: the command's (mapped) error, or the round trip's.
        """
        if self._tg is None:
            result = (await self._send([command]))[0]
        else:
            slot = _Slot()
            self._pending.append((command, slot))
            self._wake.set()
            await slot.done.wait()
            result = slot.value
        if isinstance(result, BaseException):
            raise result
        return result

    async def _send(self, commands: Sequence[Command]) -> Results:
        self._commands += len(commands)
        self._trips += 1
        self._largest = max(self._largest, len(commands))
        return await self._execute(commands)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if self.linger and len(self._pending) < self.max_batch and not self._closing:
                with anyio.move_on_after(self.linger):
                    while len(self._pending) < self.max_batch:
                        await self._wake.wait()
                        self._wake = anyio.Event()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    results: Results = await self._send([c for c, _ in batch])
                except Exception as exc:  # the round trip failed: every caller gets it
                    results = [exc] * len(batch)
                for (_, slot), value in zip(batch, results, strict=True):
                    slot.value = value
                    slot.done.set()
            if self._closing:
                return

    def _fail_pending(self, error: BaseException) -> None:
        pending, self._pending = self._pending, []
        for _, slot in pending:
            slot.value = error
            slot.done.set()

    def statistics(self) -> SenderStatistics:
        """A snapshot of the counters."""
        return SenderStatistics(self._commands, self._trips, self._largest, len(self._pending))


class DirectSender:
    """Sends each command in its own round trip (the sync publisher's sender)."""

    def __init__(
        self,
        execute: Callable[[Sequence[Command]], Results],
        *,
        max_batch: int = 512,
        linger: float = 0.0,
    ) -> None:
        _check(max_batch, linger)
        self._execute = execute
        self.max_batch = max_batch
        self._commands = self._trips = self._largest = 0

    def __enter__(self) -> DirectSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return None

    def submit(self, command: Command) -> Any:
        """Send one command and return its reply.

        Raises:
            SDKError: the command's (mapped) error.
        """
        self._commands += 1
        self._trips += 1
        self._largest = max(self._largest, 1)
        result = self._execute([command])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def statistics(self) -> SenderStatistics:
        """A snapshot of the counters."""
        return SenderStatistics(self._commands, self._trips, self._largest, 0)
