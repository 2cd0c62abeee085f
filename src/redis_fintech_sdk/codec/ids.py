"""Time-ordered, unique 16-byte message ids.

An id is ``8 bytes`` of big-endian nanoseconds since the Unix epoch followed by ``8 bytes``
of ``random_base + counter``: the random 63-bit base is drawn per process (again after
``fork``) and the counter is atomic, so ids never repeat within a process and collide across
processes only if two of them pick overlapping random ranges in the same nanosecond.
Ids sort by creation time; within a process they are strictly increasing unless the wall
clock steps backwards (the time part is clamped so it never goes back, best effort under
threads — uniqueness never depends on it). The string form is 32 lowercase hex digits.

An id costs a clock read, an atomic ``next()`` and one ``struct.pack`` — no ``uuid4()``.
"""

from __future__ import annotations

import itertools
import os
import platform
import struct
import time
from collections.abc import Callable

__all__ = ["MessageIdGenerator", "message_id_time_ns", "new_message_id"]

_PACK = struct.Struct(">QQ").pack
_BASE_MASK = (1 << 63) - 1


class MessageIdGenerator:
    """Makes time-ordered unique 16-byte message ids.

    Args:
        clock: returns nanoseconds since the Unix epoch (default :func:`time.time_ns`).
            Injectable so tests can make ids reproducible.
        base: the per-process random part (63 bits). Drawn from ``os.urandom`` by default,
            and again in a forked child; tests may pin it.

    Raises:
        ValueError: ``base`` is out of range.
    """

    __slots__ = ("__weakref__", "_base", "_clock", "_counter", "_last", "_pinned")

    def __init__(self, *, clock: Callable[[], int] = time.time_ns, base: int | None = None) -> None:
        if base is not None and not 0 <= base <= _BASE_MASK:
            raise ValueError("base must be within 0..2**63-1")
        self._clock = clock
        self._pinned = base is not None
        self._base = base if base is not None else self._draw()
        self._counter = itertools.count()
        self._last = 0

    @staticmethod
    def _draw() -> int:
        return int.from_bytes(os.urandom(8), "big") & _BASE_MASK

    def _reseed(self) -> None:
        if not self._pinned:
            self._base = self._draw()

    def __call__(self) -> bytes:
        """Return a new 16-byte id."""
        now = self._clock()
        if now <= self._last:
            # The wall clock stepped back (NTP) or did not tick: keep the time part monotonic.
            now = self._last + 1
        self._last = now
        return _PACK(now & 0xFFFFFFFFFFFFFFFF, self._base + next(self._counter))


_default = MessageIdGenerator()
if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    # A forked child must not continue the parent's random range.
    os.register_at_fork(after_in_child=_default._reseed)


def new_message_id() -> str:
    """Return a new time-ordered message id as 32 lowercase hex digits."""
    return _default().hex()


def message_id_time_ns(message_id: str | bytes) -> int:
    """Return the creation time (ns since the epoch) encoded in a message id.

    Args:
        message_id: a 16-byte id or its 32-hex-digit string form.

    Raises:
        ValueError: the value is not a well-formed message id.
    """
    raw = bytes.fromhex(message_id) if isinstance(message_id, str) else message_id
    if len(raw) != 16:
        raise ValueError("a message id is 16 bytes")
    return int.from_bytes(raw[:8], "big")


def _new_producer_id() -> str:
    return f"{platform.node()[:64]}:{os.getpid()}:{os.urandom(3).hex()}"
