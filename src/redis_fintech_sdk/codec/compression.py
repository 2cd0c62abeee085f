"""zstd compression of frame bodies, with optional trained dictionaries and a hard size cap.

The decompressor never produces more than the cap: the header announces the raw size, which
must be within the cap, the zstd frame must declare exactly that content size, and the
one-shot decoder writes into a buffer of that size (it fails rather than grow it). A
decompression bomb is therefore a :class:`~redis_fintech_sdk.errors.DecompressionError` that
costs a few microseconds, not an out-of-memory.

zstd contexts are not safe to share between threads, so each thread keeps its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import zstandard

from ..errors import DecompressionError

__all__ = ["Zstd", "train_dictionary"]

# The decoder refuses zstd frames that ask for a bigger back-reference window than this, which
# bounds its working memory independently of the output cap.
_MAX_WINDOW = 1 << 24
_Dctx = zstandard.ZstdDecompressor


class Zstd:
    """A zstd compressor/decompressor pair with optional dictionaries.

    Args:
        level: zstd level, 1-22 (3 is zstd's default and a good trade-off).
        dictionaries: dictionary id -> dictionary bytes (from :func:`train_dictionary`).
            The id travels in the frame header so the reader picks the same dictionary.
        max_output_size: hard cap on one decompressed body, in bytes.

    Raises:
        ValueError: a level, dictionary id or cap is out of range.
    """

    def __init__(
        self,
        *,
        level: int = 3,
        dictionaries: Mapping[int, bytes] | None = None,
        max_output_size: int = 16 << 20,
    ) -> None:
        if not 1 <= level <= 22:
            raise ValueError("level must be within 1..22")
        if max_output_size < 1:
            raise ValueError("max_output_size must be positive")
        self.level = level
        self.max_output_size = max_output_size
        self._dicts: dict[int, zstandard.ZstdCompressionDict] = {}
        for dict_id, data in (dictionaries or {}).items():
            if not 0 <= dict_id <= 0xFFFFFFFF:
                raise ValueError("dictionary ids are uint32")
            self._dicts[dict_id] = zstandard.ZstdCompressionDict(bytes(data))
        self._local = threading.local()

    def _ctx(self, dict_id: int | None) -> tuple[zstandard.ZstdCompressor, _Dctx]:
        cache: dict[int | None, tuple[zstandard.ZstdCompressor, _Dctx]]
        cache = self._local.__dict__.setdefault("ctx", {})
        pair = cache.get(dict_id)
        if pair is None:
            zdict = None if dict_id is None else self._dicts.get(dict_id)
            if dict_id is not None and zdict is None:
                raise DecompressionError(f"unknown compression dictionary id {dict_id}")
            pair = (
                zstandard.ZstdCompressor(
                    level=self.level, dict_data=zdict, write_content_size=True
                ),
                zstandard.ZstdDecompressor(dict_data=zdict, max_window_size=_MAX_WINDOW),
            )
            cache[dict_id] = pair
        return pair

    def has_dictionary(self, dict_id: int) -> bool:
        """Return whether ``dict_id`` is known."""
        return dict_id in self._dicts

    def compress(self, data: bytes, dict_id: int | None = None) -> bytes:
        """Compress ``data`` into one zstd frame that records its content size.

        Raises:
            DecompressionError: ``dict_id`` is unknown.
        """
        return self._ctx(dict_id)[0].compress(data)

    def decompress(self, data: bytes, raw_size: int, dict_id: int | None = None) -> bytes:
        """Decompress one zstd frame that must expand to exactly ``raw_size`` bytes.

        Raises:
            DecompressionError: ``raw_size`` exceeds the cap, the frame is corrupt, declares a
                different size, has trailing bytes, or names an unknown dictionary.
        """
        if raw_size > self.max_output_size:
            raise DecompressionError("decompressed size exceeds the cap")
        dctx = self._ctx(dict_id)[1]
        try:
            declared = zstandard.frame_content_size(data)
        except zstandard.ZstdError:
            raise DecompressionError("invalid zstd frame") from None
        if declared != raw_size:
            raise DecompressionError("zstd frame size does not match the header")
        try:
            out = dctx.decompress(data, allow_extra_data=False)
        except zstandard.ZstdError:
            raise DecompressionError("invalid zstd frame") from None
        if len(out) != raw_size:  # pragma: no cover - zstd already enforces this
            raise DecompressionError("zstd frame size does not match the header")
        return out


def train_dictionary(samples: Sequence[bytes], *, size: int = 16 << 10) -> bytes:
    """Train a zstd dictionary from sample bodies (serialised payloads).

    Dictionaries help small, similar messages (ticks, notifications) that compress poorly
    alone. Train on a few thousand real samples and give the result a dictionary id.

    Args:
        samples: serialised payloads, ideally hundreds or more.
        size: dictionary size in bytes.

    Raises:
        ValueError: too few or too uniform samples to train on.
    """
    try:
        return zstandard.train_dictionary(
            size, list[bytes | bytearray | memoryview](samples)
        ).as_bytes()
    except zstandard.ZstdError as exc:
        raise ValueError(f"cannot train a dictionary: {exc}") from None
