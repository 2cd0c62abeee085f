"""Counters of a :class:`~redis_fintech_sdk.codec.Codec` and their frozen snapshot."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CodecStatistics"]


@dataclass(frozen=True)
class CodecStatistics:
    """A snapshot of a codec's counters since it was built (per process).

    Attributes:
        encoded: frames produced by ``encode``/``encode_raw``.
        decoded: frames ``decode`` accepted.
        failed: frames ``decode`` refused, by error class name (``"DecryptionError"``,
            ``"UnknownKeyError"``, ...): what a consumer quarantines.
        encode_failed: messages ``encode``/``encode_raw`` refused, by error class name.
    """

    encoded: int
    decoded: int
    failed: Mapping[str, int]
    encode_failed: Mapping[str, int]


def _peek(counter: itertools.count[int]) -> int:
    # Read without consuming: the count's repr is "count(n)".
    return int(repr(counter)[6:-1])


class _Counters:
    # Successes are itertools counters (next() is atomic under the GIL and costs ~30 ns on
    # the hot path); failures are rare and take a lock.
    __slots__ = ("decoded", "encoded", "failures", "lock")

    def __init__(self) -> None:
        self.encoded = itertools.count()
        self.decoded = itertools.count()
        self.failures: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self.lock = threading.Lock()

    def fail(self, side: int, exc: BaseException) -> None:
        name = type(exc).__name__
        with self.lock:
            table = self.failures[side]
            table[name] = table.get(name, 0) + 1

    def snapshot(self) -> CodecStatistics:
        with self.lock:
            dec_failed, enc_failed = dict(self.failures[0]), dict(self.failures[1])
        return CodecStatistics(
            encoded=_peek(self.encoded),
            decoded=_peek(self.decoded),
            failed=dec_failed,
            encode_failed=enc_failed,
        )
