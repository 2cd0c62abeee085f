"""What a stream handler receives, and the recorder of exactly-once Redis side effects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["Effects", "IdempotencyStore", "StreamMessage"]

Value = bytes | str | int | float


@dataclass(frozen=True, kw_only=True, slots=True)
class IdempotencyStore:
    """Exactly-once *processing* for a consumer group.

    Each message id (the frame's message id, else the entry id) gets a marker key
    ``{stream}:done:<group>:<message id>``. The handler's Redis side effects (recorded on
    :attr:`StreamMessage.effects`), the marker and the ``XACK`` are committed by one Lua
    script, so a crash, a redelivery or a duplicate append never applies them twice.

    On a cluster every effect key must share the stream's hash tag (``{trades}:balance``).
    Redis has no rollback: a command that fails inside the commit (e.g. ``WRONGTYPE``)
    leaves the commands before it applied and the marker unset.

    Attributes:
        ttl: seconds a marker is kept; make it longer than the longest redelivery horizon
            (visibility timeout times max attempts, plus the stream's retention).
    """

    ttl: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if not self.ttl > 0:
            raise ConfigurationError("idempotency.ttl", "must be > 0 seconds")


class Effects:
    """Redis writes a handler wants applied exactly once, together with the ack.

    Nothing is sent until the handler returns; then all of it is committed atomically with
    the dedup marker and the ``XACK``. The first argument after the command name must be
    the key (true of every helper here).
    """

    def __init__(self) -> None:
        self._commands: list[tuple[Value, ...]] = []

    def call(self, command: str, key: str, *args: Value) -> None:
        """Record any single-key write command, e.g. ``call("HINCRBY", key, "n", 1)``."""
        self._commands.append((command, key, *args))

    def incrby(self, key: str, amount: int) -> None:
        """Record ``INCRBY key amount``."""
        self.call("INCRBY", key, amount)

    def incrbyfloat(self, key: str, amount: float | str) -> None:
        """Record ``INCRBYFLOAT key amount`` (pass a decimal string for exact money)."""
        self.call("INCRBYFLOAT", key, amount)

    def hincrby(self, key: str, field: str, amount: int) -> None:
        """Record ``HINCRBY key field amount``."""
        self.call("HINCRBY", key, field, amount)

    def set(self, key: str, value: Value) -> None:
        """Record ``SET key value``."""
        self.call("SET", key, value)

    def hset(self, key: str, mapping: Mapping[str, Value]) -> None:
        """Record ``HSET key field value ...``."""
        flat: list[Value] = []
        for field, value in mapping.items():
            flat += [field, value]
        self.call("HSET", key, *flat)

    def xadd(self, stream: str, fields: Mapping[str, Value]) -> None:
        """Record ``XADD stream * field value ...`` (an outbox or follow-up stream)."""
        flat: list[Value] = ["*"]
        for field, value in fields.items():
            flat += [field, value]
        self.call("XADD", stream, *flat)

    @property
    def commands(self) -> list[tuple[Value, ...]]:
        """The recorded commands, in order."""
        return list(self._commands)

    def keys(self) -> list[str]:
        """The keys the recorded commands touch."""
        return [str(cmd[1]) for cmd in self._commands]

    def script_args(self) -> list[Value]:
        """``n, (len, args...)...`` as the commit script reads them."""
        out: list[Value] = [len(self._commands)]
        for cmd in self._commands:
            out.append(len(cmd))
            out.extend(cmd)
        return out

    def __len__(self) -> int:
        return len(self._commands)


Settle = Callable[["StreamMessage", str, BaseException | None], Awaitable[None]]


class StreamMessage:
    """One stream entry handed to a handler.

    Attributes:
        entry_id: the entry id in the stream.
        stream: the stream key.
        group: the consumer group.
        consumer: the consumer handling it.
        attempt: its delivery count (1 on the first delivery).
        frame: the raw frame; never log it.
        envelope: what the codec decoded from the frame.
        message_id: the frame's message id, when the codec exposes one.
        effects: the exactly-once side-effect recorder (``None`` without an
            :class:`IdempotencyStore`).
    """

    __slots__ = (
        "_settle",
        "_settled",
        "attempt",
        "consumer",
        "effects",
        "entry_id",
        "envelope",
        "frame",
        "group",
        "message_id",
        "stream",
    )

    def __init__(
        self,
        *,
        entry_id: str,
        stream: str,
        group: str,
        consumer: str,
        attempt: int,
        frame: bytes,
        envelope: Any,
        message_id: str | None,
        effects: Effects | None,
        settle: Settle,
    ) -> None:
        self.entry_id = entry_id
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.attempt = attempt
        self.frame = frame
        self.envelope = envelope
        self.message_id = message_id
        self.effects = effects
        self._settle = settle
        self._settled = False

    @property
    def settled(self) -> bool:
        """Whether ack, nack or dead-letter was already called."""
        return self._settled

    async def ack(self) -> None:
        """Acknowledge it (``MANUAL`` policy); it will not be delivered again."""
        await self._do("ack", None)

    async def nack(self) -> None:
        """Give it back for another attempt after the consumer's ``retry_delay``."""
        await self._do("nack", None)

    async def dead_letter(self, error: BaseException | None = None) -> None:
        """Move it to the dead-letter stream now, with ``error`` as the reason."""
        await self._do("dead_letter", error)

    async def _do(self, action: str, error: BaseException | None) -> None:
        if self._settled:
            return
        self._settled = True
        await self._settle(self, action, error)

    def __repr__(self) -> str:
        return (
            f"StreamMessage(stream={self.stream!r}, entry_id={self.entry_id!r}, "
            f"group={self.group!r}, attempt={self.attempt}, frame_bytes={len(self.frame)})"
        )
