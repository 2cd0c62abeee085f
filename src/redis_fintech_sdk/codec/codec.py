"""The Codec: messages and envelopes to wire-format-v1 frames and back. Sans-I/O."""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..errors import FrameError
from ._decoding import _CACHE_MAX, _Decoder, _Shape
from ._encoding import _Encoder
from .compression import Zstd
from .config import CodecConfig
from .envelope import FrameHeader
from .ids import MessageIdGenerator, _new_producer_id
from .ids import _default as _default_ids
from .rotation import reseal
from .serializers import JSON, MSGPACK, Serializer
from .signing import SIGNATURE_SIZE
from .stats import CodecStatistics, _Counters
from .wire import (
    FLAG_SIGNED,
    Limits,
    _as_bytes,
    _channel_bytes,
    name_bytes,
    parse_frame,
)

__all__ = ["Codec"]

_auto_producers: weakref.WeakSet[Codec] = weakref.WeakSet()


def _after_fork() -> None:
    # A child must not reuse the parent's (producer, channel, sequence) numbers.
    for codec in list(_auto_producers):
        codec._producer = _new_producer_id()
        codec._seqs = {}
        codec._names = {}


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork)


class Codec(_Encoder, _Decoder):
    """Encodes messages into wire-format-v1 frames and decodes them back.

    Thread-safe; build one per application and share it.

    Args:
        config: the settings; defaults to ``CodecConfig()``.
        **overrides: individual :class:`CodecConfig` fields, applied on top of ``config``.

    Raises:
        ConfigurationError: an invalid or unknown setting.

    Example:
        >>> codec = Codec(keyring=Keyring.generate())
        >>> frame = codec.encode_raw("md.tick", {"symbol": "AAPL"}, channel="md:AAPL")
        >>> codec.decode(frame, channel="md:AAPL").payload
        {'symbol': 'AAPL'}
    """

    def __init__(self, config: CodecConfig | None = None, /, **overrides: Any) -> None:
        cfg = config if config is not None else CodecConfig()
        if overrides:
            cfg = cfg.replace(**overrides)
        self.config = cfg
        self._registry = cfg.registry
        self._specs = cfg.registry._by_name  # read-only use: lookups on the hot path
        self._require_signature = cfg.require_signature
        self._ring = cfg.keyring
        self._encrypt_default = cfg.keyring is not None and cfg.encrypt
        self._enc_classes = cfg.encrypt_classifications
        self._dumps = cfg.serializer.dumps
        self._ser_id = cfg.serializer.serializer_id
        self._loads: list[Callable[[bytes], Any] | None] = [None] * 16
        sers: tuple[Serializer, ...] = (MSGPACK, JSON, *cfg.serializers, cfg.serializer)
        for ser in sers:
            self._loads[ser.serializer_id] = ser.loads
        self._threshold = cfg.compression_threshold
        self._dict_id = cfg.compression_dictionary_id
        self._zstd = Zstd(
            level=cfg.compression_level,
            dictionaries=cfg.compression_dictionaries,
            max_output_size=cfg.max_body_size,
        )
        self._limits = Limits(
            max_frame_size=cfg.max_frame_size,
            max_header_size=cfg.max_header_size,
            max_header_entries=cfg.max_header_entries,
        )
        self._max_frame = cfg.max_frame_size
        self._max_header = cfg.max_header_size
        self._signer = cfg.signer
        self._verifier = cfg.verifier
        self._clock = cfg.clock
        self._next_id: Callable[[], bytes] = cfg.id_source or (
            _default_ids if cfg.clock is CodecConfig.clock else MessageIdGenerator(clock=cfg.clock)
        )
        self._producer = cfg.producer_id or _new_producer_id()
        if cfg.producer_id is None:
            _auto_producers.add(self)
        # channel -> (sequence counter, UTF-8 name); type name -> (type_len, producer_len,
        # type + producer bytes); channel -> UTF-8 name for decoding (bounded).
        self._seqs: dict[str, tuple[itertools.count[int], bytes]] = {}
        self._names: dict[str, tuple[int, int, bytes]] = {}
        self._cbytes: dict[str, bytes] = {}
        self._dnames: dict[bytes, tuple[str, str]] = {}
        self._shapes: dict[bytes, _Shape] = {}
        self._shapes_epoch = 0
        # A codec that requires signatures sends every frame through the general path.
        self._force_slow = FLAG_SIGNED if cfg.require_signature else 0
        self._lock = threading.Lock()
        self._stats = _Counters()
        self._n_enc = self._stats.encoded
        self._n_dec = self._stats.decoded
        # The hot path's shapes hold specs and decrypt functions: forget them on any change.
        cfg.registry._watch(self)
        if cfg.keyring is not None:
            cfg.keyring._watch(self)

    @property
    def producer_id(self) -> str:
        """The producer id written into frames this codec makes."""
        return self._producer

    def statistics(self) -> CodecStatistics:
        """Return a snapshot of frames encoded, decoded and refused (by error class)."""
        return self._stats.snapshot()

    def _channel(self, channel: str) -> tuple[itertools.count[int], bytes]:
        # First frame on a channel: validate its name once and start its sequence.
        cb = _channel_bytes(channel)
        with self._lock:
            return self._seqs.setdefault(channel, (itertools.count(1), cb))

    def _own_names(self, type_name: str) -> tuple[int, int, bytes]:
        names = name_bytes(type_name, self._producer)
        if len(self._names) >= _CACHE_MAX:
            self._names.clear()
        self._names[type_name] = names
        return names

    # -- decoding (the rest is in _decoding.py) ---------------------------------------

    def peek_header(self, frame: bytes | bytearray | memoryview) -> FrameHeader:
        """Read a frame's plaintext header without decrypting or verifying it.

        The limits are enforced, but nothing is authenticated yet: use the result for
        routing, filtering, dedup and gap detection, and trust it only after
        :meth:`decode` succeeds.

        Raises:
            FrameError: malformed, truncated or oversize frame.
            UnsupportedVersionError: not a v1 frame.
        """
        if type(frame) is not bytes:
            frame = _as_bytes(frame)
        flags, fields, ext, off = parse_frame(frame, self._limits)
        body = len(frame) - off - (SIGNATURE_SIZE if flags & FLAG_SIGNED else 0)
        if body < 0:
            raise FrameError("truncated frame")
        return FrameHeader(fields, ext, flags, body)

    # -- rotation -----------------------------------------------------------------------

    def rotate(self, frame: bytes | bytearray | memoryview, *, channel: str) -> bytes:
        """Re-seal an encrypted frame under the keyring's current primary key.

        Everything but the key id, nonce, ciphertext (and signature, re-made with this
        codec's signer) stays the same. Frames already under the primary, and unencrypted
        frames, are returned unchanged.

        Raises:
            PolicyError: no keyring, or a signed frame and no signer to re-sign it.
            CodecError: any error :meth:`decode` would raise for the frame.
        """
        return reseal(
            _as_bytes(frame),
            channel=_channel_bytes(channel),
            channel_name=channel,
            keyring=self._ring,
            signer=self._signer,
            verifier=self._verifier,
            limits=self._limits,
        )

    def __repr__(self) -> str:
        return (
            f"Codec(serializer={self.config.serializer.name!r}, producer_id={self._producer!r}, "
            f"keyring={self._ring!r})"
        )
