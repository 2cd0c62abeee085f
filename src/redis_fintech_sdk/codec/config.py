"""CodecConfig: the frozen, keyword-only settings of a :class:`~.Codec`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigurationError
from .keyring import Keyring
from .messages import MessageRegistry, default_registry
from .serializers import MSGPACK, Serializer
from .signing import Signer, Verifier
from .wire import CLASSIFICATIONS

__all__ = ["CodecConfig"]


@dataclass(frozen=True, kw_only=True)
class CodecConfig:
    """Settings of a :class:`~redis_fintech_sdk.codec.Codec`, validated at construction.

    Attributes:
        serializer: serialiser for new frames (MessagePack by default).
        serializers: extra serialisers accepted when decoding (MessagePack and JSON always are).
        registry: message types and upcasters.
        keyring: AES-256-GCM keys; ``None`` disables encryption.
        encrypt: seal every frame when a keyring is set (per-call ``encrypt=`` overrides,
            except that policy-bound types are always sealed).
        encrypt_classifications: classifications that must always be encrypted.
        compression_threshold: compress bodies of at least this many bytes; ``None`` = never.
        compression_level: zstd level 1-22.
        compression_dictionaries: zstd dictionary id -> dictionary bytes (for decoding, and
            for encoding with ``compression_dictionary_id``).
        compression_dictionary_id: dictionary used when compressing; ``None`` = none.
        max_frame_size: largest frame accepted or produced, bytes (default 1 MiB, Kafka's
            default message size; raise it for bulk payloads).
        max_header_size: largest header map, bytes (at most 65535).
        max_header_entries: most entries in the header map and in its free headers.
        max_body_size: largest decompressed body, bytes (the decompression-bomb cap; default
            4 MiB). It bounds bytes, not objects: a hostile body of empty arrays parses into
            about 75 bytes of Python objects per byte, so the worst case of the default is
            about 300 MB for one frame.
        signer: signs every new frame (Ed25519) when set.
        verifier: verifies signed frames when set.
        require_signature: refuse unsigned frames (needs ``verifier``).
        producer_id: this producer's id; default ``host:pid:random``, renewed after fork.
        clock: returns nanoseconds since the epoch (``time.time_ns``); injectable for tests.
        id_source: returns a new 16-byte message id; default the time-ordered generator.

    Raises:
        ConfigurationError: a value is invalid; ``field`` names it.
    """

    serializer: Serializer = MSGPACK
    serializers: tuple[Serializer, ...] = ()
    registry: MessageRegistry = default_registry
    keyring: Keyring | None = None
    encrypt: bool = True
    encrypt_classifications: frozenset[str] = frozenset({"confidential", "restricted"})
    compression_threshold: int | None = 1024
    compression_level: int = 3
    compression_dictionaries: Mapping[int, bytes] = field(default_factory=dict)
    compression_dictionary_id: int | None = None
    max_frame_size: int = 1 << 20
    max_header_size: int = 4096
    max_header_entries: int = 32
    max_body_size: int = 4 << 20
    signer: Signer | None = None
    verifier: Verifier | None = None
    require_signature: bool = False
    producer_id: str | None = None
    clock: Callable[[], int] = time.time_ns
    id_source: Callable[[], bytes] | None = None

    def __post_init__(self) -> None:
        for ser in (self.serializer, *self.serializers):
            if not isinstance(ser, Serializer):
                raise ConfigurationError("serializer", "must implement the Serializer protocol")
            sid = ser.serializer_id
            if not isinstance(sid, int) or not 0 <= sid <= 15:
                raise ConfigurationError("serializer", "serializer_id must be within 0..15")
        if not isinstance(self.registry, MessageRegistry):
            raise ConfigurationError("registry", "must be a MessageRegistry")
        if self.keyring is not None and not isinstance(self.keyring, Keyring):
            raise ConfigurationError("keyring", "must be a Keyring")
        bad = set(self.encrypt_classifications) - CLASSIFICATIONS
        if bad:
            raise ConfigurationError("encrypt_classifications", f"unknown: {sorted(bad)}")
        _positive("max_frame_size", self.max_frame_size, 64, 512 << 20)
        _positive("max_header_size", self.max_header_size, 64, 65535)
        _positive("max_header_entries", self.max_header_entries, 8, 4096)
        _positive("max_body_size", self.max_body_size, 1, 2 << 30)
        if self.compression_threshold is not None:
            _positive("compression_threshold", self.compression_threshold, 0, 1 << 40)
        _positive("compression_level", self.compression_level, 1, 22)
        did = self.compression_dictionary_id
        if did is not None and did not in self.compression_dictionaries:
            raise ConfigurationError(
                "compression_dictionary_id", "not a key of compression_dictionaries"
            )
        if self.require_signature and self.verifier is None:
            raise ConfigurationError("require_signature", "needs a verifier")
        if self.signer is not None and not isinstance(self.signer, Signer):
            raise ConfigurationError("signer", "must be a Signer")
        if self.verifier is not None and not isinstance(self.verifier, Verifier):
            raise ConfigurationError("verifier", "must be a Verifier")
        pid = self.producer_id
        if pid is not None and (not isinstance(pid, str) or not 0 < len(pid.encode()) <= 256):
            raise ConfigurationError("producer_id", "must be a string of 1-256 bytes")
        if not callable(self.clock):
            raise ConfigurationError("clock", "must be callable")
        if self.id_source is not None and not callable(self.id_source):
            raise ConfigurationError("id_source", "must be callable")

    def replace(self, **changes: object) -> CodecConfig:
        """Return a copy with some fields changed (validated again).

        Raises:
            ConfigurationError: an unknown field or an invalid value.
        """
        names = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in names:
                raise ConfigurationError(name, "unknown codec setting")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _positive(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigurationError(name, f"must be an int within {low}..{high}")
