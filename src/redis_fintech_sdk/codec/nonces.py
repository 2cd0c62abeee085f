"""Random 96-bit AES-GCM nonces from the OS CSPRNG, read in batches.

``os.urandom(12)`` costs about 0.4 us, a third of sealing a market tick. Reading 256 nonces
at once and handing out 12-byte slices keeps every nonce an independent draw from the OS
CSPRNG while paying for the system call once per 256 frames. Nonces are public (they travel
in the frame), so holding a batch in memory exposes nothing.
"""

from __future__ import annotations

import os
import threading

__all__ = ["NONCE_SIZE"]

NONCE_SIZE = 12
"""GCM nonce length in bytes (96 bits, random)."""
_BATCH = 256  # nonces per os.urandom call


class _NoncePool:
    """Random 96-bit nonces cut from a batch of ``os.urandom`` output.

    A batch is a list of 12-byte slices and ``list.pop()`` is atomic under the GIL, so no two
    callers ever get the same slice; an empty list is refilled under a lock. A forked child
    must not hand out the slices its parent still holds: ``reset`` (run after ``fork``) drops
    the batch and the lock, which another parent thread may have held.
    """

    __slots__ = ("_batch", "_lock")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._batch: list[bytes] = []

    def take(self) -> bytes:
        try:
            return self._batch.pop()
        except IndexError:
            with self._lock:
                if not self._batch:  # nobody refilled meanwhile
                    raw = os.urandom(NONCE_SIZE * _BATCH)
                    self._batch = [raw[i : i + NONCE_SIZE] for i in range(0, len(raw), NONCE_SIZE)]
            return self.take()


_nonces = _NoncePool()
"""The process-wide pool every keyring draws from (never a caller-supplied nonce)."""
if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_nonces.reset)
