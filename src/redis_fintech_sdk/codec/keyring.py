"""The keyring: AES-256-GCM keys with ids, one primary that encrypts, older keys that decrypt.

Rotation follows Tink's order (see ``docs/encryption.md``):

1. **add** a new key everywhere (``generate_key`` / ``add``): it decrypts but does not encrypt;
2. **roll out** that keyring to every consumer;
3. **promote** it (``promote``): producers now encrypt under it; old frames still decrypt;
4. **retire** the old key (``disable``, later ``destroy``) once no frame under it is needed.

Nonces are 96 random bits drawn inside the keyring (callers never pass one), read from
``os.urandom`` 256 at a time (0.4 us saved per frame), each handed out once; a forked child
discards the batch it inherited. NIST SP 800-38D caps a key at 2^32 random-nonce
encryptions: each key counts its encryptions, warns (:class:`KeyUsageWarning`) at
``warn_after`` (default 2^30) and refuses past 2^32. The count is per process; rotate on a
schedule as well.

Keys never appear in ``repr``, logs or errors, and a keyring refuses to be pickled.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigurationError, DecryptionError, PolicyError, UnknownKeyError
from .nonces import NONCE_SIZE, _nonces

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "KeyStatus",
    "KeyUsageWarning",
    "Keyring",
    "KeyringStatistics",
]

logger = logging.getLogger("redis_fintech_sdk.codec.keyring")

KEY_SIZE = 32
"""AES-256 key length in bytes."""
TAG_SIZE = 16
"""GCM tag length in bytes."""

_NONCE_LIMIT = 1 << 32  # NIST SP 800-38D §8.3 for random 96-bit nonces
_MAX_KEY_ID = 0xFFFFFFFF


class KeyUsageWarning(UserWarning):
    """A key is nearing the 2^32-encryption limit of random 96-bit nonces: rotate it."""


class KeyStatus(str, enum.Enum):
    """Life-cycle state of a key."""

    ENABLED = "enabled"
    """Decrypts; encrypts too when it is the primary."""
    DISABLED = "disabled"
    """Retired: kept, but frames under it are refused. Can be re-enabled."""
    DESTROYED = "destroyed"
    """Material erased; frames under it raise ``UnknownKeyError``. Irreversible."""


@dataclass(frozen=True)
class KeyringStatistics:
    """A snapshot of a keyring's state.

    Attributes:
        primary_key_id: the key that encrypts, or ``None``.
        statuses: key id -> status.
        encryptions: key id -> encryptions made by this process.
    """

    primary_key_id: int | None
    statuses: dict[int, KeyStatus]
    encryptions: dict[int, int]


class _Key:
    __slots__ = ("aead", "decrypt", "key_id", "material", "status", "uses", "warned")

    def __init__(self, key_id: int, material: bytes, status: KeyStatus) -> None:
        self.key_id = key_id
        self.material: bytes | None = material
        # One AESGCM object per key: building one costs about a microsecond.
        self.aead: AESGCM | None = AESGCM(material)
        self.set_status(status)
        self.uses = itertools.count(1)  # next() is atomic under the GIL
        self.warned = False

    def set_status(self, status: KeyStatus) -> None:
        self.status = status
        if status is KeyStatus.DESTROYED:
            self.material = None
            self.aead = None
        # The decoder's one check: a bound decrypt only while the key may decrypt.
        aead = self.aead
        self.decrypt: Callable[..., bytes] | None = None
        if status is KeyStatus.ENABLED and aead is not None:
            self.decrypt = aead.decrypt

    def used(self) -> int:
        # Peek without consuming: the count's repr is "count(n)".
        return int(repr(self.uses)[6:-1]) - 1

    def __repr__(self) -> str:
        return f"<key {self.key_id} {self.status.value} ***>"


def _check_key_id(key_id: object) -> int:
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not 0 <= key_id <= _MAX_KEY_ID:
        raise ConfigurationError("key_id", "key ids are integers in 0..2**32-1")
    return key_id


class Keyring:
    """AES-256-GCM keys by id: a primary that encrypts and older keys that only decrypt.

    Args:
        warn_after: encryptions per key after which a :class:`KeyUsageWarning` is issued.

    Raises:
        ConfigurationError: ``warn_after`` is not in ``1..2**32``.

    Example:
        >>> ring = Keyring.generate()
        >>> new_id = ring.generate_key()  # 1. add (decrypt-only) and roll out
        >>> ring.promote(new_id)  # 3. promote: new frames use it
        >>> ring.disable(1)  # 4. retire the old key
    """

    def __init__(self, *, warn_after: int = 1 << 30) -> None:
        if not 1 <= warn_after <= _NONCE_LIMIT:
            raise ConfigurationError("warn_after", "must be within 1..2**32")
        self._keys: dict[int, _Key] = {}
        # key id -> bound AESGCM.decrypt, only for keys that may decrypt now (the decoder's
        # one lookup). Rebuilt under the lock whenever a key is added or changes status.
        self._decrypts: dict[int, Callable[..., bytes]] = {}
        self._watchers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._primary: _Key | None = None
        self._warn_after = warn_after
        self._lock = threading.Lock()
        # Private test hook: vectors need fixed nonces. Never exposed publicly.
        self._nonce_source: Callable[[], bytes] = _nonces.take

    # -- construction --------------------------------------------------------------------

    @classmethod
    def generate(cls, key_id: int = 1, *, warn_after: int = 1 << 30) -> Keyring:
        """Return a keyring holding one fresh random primary key.

        Raises:
            ConfigurationError: ``key_id`` is not a uint32.
        """
        ring = cls(warn_after=warn_after)
        ring.add(key_id, AESGCM.generate_key(bit_length=256), primary=True)
        return ring

    def add(
        self,
        key_id: int,
        material: bytes,
        *,
        primary: bool = False,
        status: KeyStatus = KeyStatus.ENABLED,
    ) -> None:
        """Add a 32-byte AES-256 key. It decrypts at once and encrypts once promoted.

        Raises:
            ConfigurationError: bad id, an id already present, material not 32 bytes, or a
                non-enabled key asked to be primary.
        """
        _check_key_id(key_id)
        if not isinstance(material, (bytes, bytearray)) or len(material) != KEY_SIZE:
            raise ConfigurationError("material", "an AES-256 key is exactly 32 bytes")
        with self._lock:
            if key_id in self._keys:
                raise ConfigurationError("key_id", f"key id {key_id} is already in the keyring")
            if status is KeyStatus.DESTROYED:
                raise ConfigurationError("status", "add a destroyed key with add_destroyed()")
            key = _Key(key_id, bytes(material), status)
            self._keys[key_id] = key
            self._sync_decrypts()
        if primary:
            self.promote(key_id)

    def add_destroyed(self, key_id: int) -> None:
        """Record that ``key_id`` existed and was destroyed (no material).

        Raises:
            ConfigurationError: bad or duplicate id.
        """
        _check_key_id(key_id)
        with self._lock:
            if key_id in self._keys:
                raise ConfigurationError("key_id", f"key id {key_id} is already in the keyring")
            self._keys[key_id] = _Key(key_id, bytes(KEY_SIZE), KeyStatus.DESTROYED)

    def generate_key(self, key_id: int | None = None) -> int:
        """Add a fresh random key (decrypt-only until promoted) and return its id.

        Args:
            key_id: the id to use; default one more than the largest id present.

        Raises:
            ConfigurationError: the id is taken or out of range.
        """
        if key_id is None:
            key_id = max(self._keys, default=0) + 1
        self.add(key_id, AESGCM.generate_key(bit_length=256))
        return key_id

    # -- life cycle ----------------------------------------------------------------------

    def _get(self, key_id: int) -> _Key:
        key = self._keys.get(key_id)
        if key is None:
            raise ConfigurationError("key_id", f"no key with id {key_id}")
        return key

    def promote(self, key_id: int) -> None:
        """Make ``key_id`` the primary: every new frame is sealed under it.

        Raises:
            ConfigurationError: the key is missing or not enabled.
        """
        with self._lock:
            key = self._get(key_id)
            if key.status is not KeyStatus.ENABLED:
                raise ConfigurationError("key_id", f"key {key_id} is {key.status.value}")
            self._primary = key
        logger.info("keyring: key %d promoted to primary", key_id)

    def disable(self, key_id: int) -> None:
        """Retire a key: frames sealed under it are refused from now on.

        Raises:
            ConfigurationError: the key is missing, destroyed or the primary.
        """
        self._set_status(key_id, KeyStatus.DISABLED)

    def enable(self, key_id: int) -> None:
        """Re-enable a disabled key (undo :meth:`disable`).

        Raises:
            ConfigurationError: the key is missing or destroyed.
        """
        self._set_status(key_id, KeyStatus.ENABLED)

    def destroy(self, key_id: int) -> None:
        """Erase a key's material for good; its frames then raise ``UnknownKeyError``.

        Raises:
            ConfigurationError: the key is missing or the primary.
        """
        self._set_status(key_id, KeyStatus.DESTROYED)

    def _sync_decrypts(self) -> None:
        # Swapped in whole (never seen half-updated); codecs' hot-path shapes forget theirs.
        self._decrypts = {i: k.decrypt for i, k in self._keys.items() if k.decrypt is not None}
        for codec in list(self._watchers):
            codec._forget_shapes()

    def _watch(self, codec: Any) -> None:
        with self._lock:  # weakly held; told (under this lock) of changes to _decrypts
            self._watchers.add(codec)

    def _set_status(self, key_id: int, status: KeyStatus) -> None:
        with self._lock:
            key = self._get(key_id)
            if key is self._primary and status is not KeyStatus.ENABLED:
                raise ConfigurationError("key_id", "promote another key before retiring this one")
            if key.status is KeyStatus.DESTROYED and status is not KeyStatus.DESTROYED:
                raise ConfigurationError("key_id", f"key {key_id} was destroyed")
            key.set_status(status)
            self._sync_decrypts()
        logger.info("keyring: key %d is now %s", key_id, status.value)

    # -- inspection ----------------------------------------------------------------------

    @property
    def primary_key_id(self) -> int | None:
        """The id of the key that encrypts, or ``None`` when no key is primary."""
        return None if self._primary is None else self._primary.key_id

    def key_ids(self) -> list[int]:
        """All key ids, in ascending order (destroyed ones included)."""
        return sorted(self._keys)

    def status(self, key_id: int) -> KeyStatus:
        """Return the status of ``key_id``.

        Raises:
            ConfigurationError: no such key.
        """
        return self._get(key_id).status

    def statistics(self) -> KeyringStatistics:
        """Return a snapshot of statuses and per-key encryption counts."""
        keys = list(self._keys.values())
        return KeyringStatistics(
            primary_key_id=self.primary_key_id,
            statuses={k.key_id: k.status for k in keys},
            encryptions={k.key_id: k.used() for k in keys},
        )

    def _material(self) -> Iterator[tuple[int, KeyStatus, bytes | None]]:
        # For keyset export only (keysources.py); never log what this yields.
        for key in list(self._keys.values()):
            yield key.key_id, key.status, key.material

    def __iter__(self) -> Iterator[int]:
        return iter(self.key_ids())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __repr__(self) -> str:
        keys = ", ".join(f"{k}: {v.status.value}" for k, v in sorted(self._keys.items()))
        return f"Keyring(primary={self.primary_key_id}, keys={{{keys}}}, material=***)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Keyring holds secret keys and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a Keyring holds secret keys and cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("a Keyring holds secret keys and cannot be copied")

    # -- AEAD (used by the codec; the wire format decides what the AAD is) ---------------

    def _primary_for_seal(self) -> _Key:
        key = self._primary
        if key is None or key.aead is None:
            raise PolicyError("the keyring has no primary key to encrypt with")
        return key

    def _seal(self, key: _Key, plaintext: bytes, aad: bytes) -> bytes:
        """Return ``nonce || ciphertext || tag`` under ``key`` with a fresh random nonce."""
        n = next(key.uses)
        if n >= self._warn_after:
            self._near_limit(key, n)
        aead = key.aead
        if aead is None:  # destroyed between choosing the key and sealing
            raise PolicyError("the primary key was destroyed")
        nonce = self._nonce_source()
        return nonce + aead.encrypt(nonce, plaintext, aad)

    def _near_limit(self, key: _Key, n: int) -> None:
        if n > _NONCE_LIMIT:
            raise PolicyError(f"key {key.key_id} reached 2**32 encryptions; rotate the keyring")
        if not key.warned:
            key.warned = True
            msg = f"key {key.key_id} has made {n} encryptions; rotate before 2**32"
            logger.warning("keyring: %s", msg)
            warnings.warn(KeyUsageWarning(msg), stacklevel=5)

    def _open(self, key_id: int, frame: bytes, start: int, end: int, aad: bytes) -> bytes:
        """Decrypt ``frame[start:end]`` = ``nonce || ciphertext || tag`` sealed under ``key_id``.

        Raises:
            UnknownKeyError: the id is not in the keyring, or its key was destroyed.
            DecryptionError: the key is retired, or authentication failed (any reason).
        """
        key = self._keys.get(key_id)
        decrypt = None if key is None else key.decrypt
        if decrypt is None:
            if key is None or key.aead is None:
                raise UnknownKeyError(key_id)
            raise DecryptionError(f"key id {key_id} is retired")
        mid = start + NONCE_SIZE
        if end - mid < TAG_SIZE:
            raise DecryptionError()
        try:
            # Slice the frame once per part: no intermediate copy of the sealed body.
            return decrypt(frame[start:mid], frame[mid:end], aad)
        except InvalidTag:
            raise DecryptionError() from None

    def _set_keys(self, keys: Iterable[tuple[int, KeyStatus, bytes | None]]) -> None:
        for key_id, status, material in keys:
            if status is KeyStatus.DESTROYED or material is None:
                self.add_destroyed(key_id)
            else:
                self.add(key_id, material, status=status)
