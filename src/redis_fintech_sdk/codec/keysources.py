"""Loading and storing keyrings: JSON keysets from an env var or a file, and KMS wrapping.

A *keyset* is a small JSON document::

    {"version": 1, "primary": 2,
     "keys": [{"id": 1, "status": "disabled", "key": "<base64 32 bytes>"},
              {"id": 2, "status": "enabled",  "wrapped": "<base64>"},
              {"id": 0, "status": "destroyed"}]}

``key`` holds raw key material (protect the file or variable accordingly); ``wrapped`` holds a
data key encrypted by a master key in a KMS (*envelope encryption*): the keyset can then be
stored anywhere, and only a caller with access to the KMS can unwrap it. The KMS is reached
through a :class:`KmsHook` you supply (AWS KMS ``Decrypt``, Vault transit, GCP KMS, ...);
:class:`LocalKek` is a local AES-256-GCM master key for tests and single-host setups.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigurationError
from .keyring import KEY_SIZE, NONCE_SIZE, Keyring, KeyStatus

__all__ = [
    "DEFAULT_KEYRING_ENV",
    "KmsHook",
    "LocalKek",
    "keyring_from_env",
    "keyring_from_file",
    "keyring_from_json",
    "keyring_to_json",
]

DEFAULT_KEYRING_ENV = "RFSDK_CODEC_KEYSET"
"""The environment variable :func:`keyring_from_env` reads by default."""


@runtime_checkable
class KmsHook(Protocol):
    """Wraps and unwraps data keys with a master key held elsewhere (a KMS).

    ``key_id`` is passed so the KMS can bind it as encryption context: a wrapped key copied
    to another id fails to unwrap.
    """

    def wrap(self, data_key: bytes, *, key_id: int) -> bytes:
        """Encrypt a 32-byte data key under the master key.

        Raises:
            Exception: any KMS failure (reported as ``ConfigurationError``).
        """
        ...

    def unwrap(self, wrapped: bytes, *, key_id: int) -> bytes:
        """Decrypt a wrapped data key.

        Raises:
            Exception: any KMS failure (reported as ``ConfigurationError``).
        """
        ...


class LocalKek:
    """A local key-encryption key: AES-256-GCM wrapping with the key id as associated data.

    Args:
        master_key: 32 bytes.

    Raises:
        ConfigurationError: the master key is not 32 bytes.
    """

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_SIZE:
            raise ConfigurationError("master_key", "must be exactly 32 bytes")
        self._aead = AESGCM(bytes(master_key))

    @staticmethod
    def _aad(key_id: int) -> bytes:
        return b"rfsdk-kek-v1:" + str(key_id).encode()

    def wrap(self, data_key: bytes, *, key_id: int) -> bytes:
        """Return ``nonce || AES-GCM(data_key)`` bound to ``key_id``."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, data_key, self._aad(key_id))

    def unwrap(self, wrapped: bytes, *, key_id: int) -> bytes:
        """Recover a data key wrapped by :meth:`wrap` for the same ``key_id``.

        Raises:
            ValueError: the wrapped key does not authenticate.
        """
        try:
            return self._aead.decrypt(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], self._aad(key_id))
        except InvalidTag:
            raise ValueError("wrapped key does not authenticate") from None

    def __repr__(self) -> str:
        return "LocalKek(***)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a LocalKek holds a secret key and cannot be pickled")


def _bad(message: str) -> ConfigurationError:
    return ConfigurationError("keyset", message)


def keyring_from_json(
    text: str | bytes, *, kms: KmsHook | None = None, warn_after: int = 1 << 30
) -> Keyring:
    """Build a keyring from a JSON keyset (see the module docs for the format).

    Args:
        text: the keyset document.
        kms: unwraps ``wrapped`` keys; required when the keyset holds any.
        warn_after: passed to :class:`Keyring`.

    Raises:
        ConfigurationError: the document is malformed, a key is bad, a wrapped key cannot be
            unwrapped, or the primary is missing. Key material is never echoed.
    """
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise _bad("not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise _bad('expected an object with "version": 1')
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise _bad('"keys" must be a non-empty list')
    ring = Keyring(warn_after=warn_after)
    for entry in entries:
        ring_entry = _parse_entry(entry, kms)
        ring._set_keys([ring_entry])
    primary = doc.get("primary")
    if primary is not None:
        if primary not in ring:
            raise _bad(f"primary key id {primary!r} is not in the keyset")
        ring.promote(primary)
    return ring


def _parse_entry(entry: Any, kms: KmsHook | None) -> tuple[int, KeyStatus, bytes | None]:
    if not isinstance(entry, dict):
        raise _bad("each key must be an object")
    key_id = entry.get("id")
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not 0 <= key_id <= 0xFFFFFFFF:
        raise _bad("each key needs an integer id in 0..2**32-1")
    try:
        status = KeyStatus(entry.get("status", "enabled"))
    except ValueError:
        raise _bad(f"key {key_id}: unknown status") from None
    if status is KeyStatus.DESTROYED:
        return key_id, status, None
    if "key" in entry:
        material = _b64(entry["key"], key_id)
    elif "wrapped" in entry:
        if kms is None:
            raise _bad(f"key {key_id} is wrapped; pass kms= to unwrap it")
        try:
            material = bytes(kms.unwrap(_b64(entry["wrapped"], key_id), key_id=key_id))
        except ConfigurationError:
            raise
        except Exception as exc:  # any KMS client error; its text may be noisy, not secret
            raise _bad(f"key {key_id}: KMS unwrap failed ({type(exc).__name__})") from None
    else:
        raise _bad(f'key {key_id} has neither "key" nor "wrapped"')
    if len(material) != KEY_SIZE:
        raise _bad(f"key {key_id}: material must be 32 bytes")
    return key_id, status, material


def _b64(value: Any, key_id: int) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"key {key_id}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"key {key_id}: bad base64") from None


def keyring_to_json(keyring: Keyring, *, kms: KmsHook | None = None) -> str:
    """Serialise a keyring to a JSON keyset.

    Args:
        keyring: the keyring to store.
        kms: when given, keys are stored ``wrapped``; otherwise as raw base64 — then the
            result is as secret as the keys themselves.

    Raises:
        ConfigurationError: the KMS failed to wrap a key.
    """
    keys: list[dict[str, Any]] = []
    for key_id, status, material in keyring._material():
        entry: dict[str, Any] = {"id": key_id, "status": status.value}
        if material is not None:
            if kms is None:
                entry["key"] = base64.b64encode(material).decode()
            else:
                try:
                    wrapped = kms.wrap(material, key_id=key_id)
                except Exception as exc:
                    raise _bad(f"key {key_id}: KMS wrap failed ({type(exc).__name__})") from None
                entry["wrapped"] = base64.b64encode(wrapped).decode()
        keys.append(entry)
    return json.dumps({"version": 1, "primary": keyring.primary_key_id, "keys": keys})


def keyring_from_env(
    name: str = DEFAULT_KEYRING_ENV, *, kms: KmsHook | None = None, warn_after: int = 1 << 30
) -> Keyring:
    """Build a keyring from a JSON keyset held in an environment variable.

    Raises:
        ConfigurationError: the variable is unset or its keyset is malformed.
    """
    text = os.environ.get(name)
    if not text:
        raise ConfigurationError(name, "environment variable is not set")
    return keyring_from_json(text, kms=kms, warn_after=warn_after)


def keyring_from_file(
    path: str | os.PathLike[str], *, kms: KmsHook | None = None, warn_after: int = 1 << 30
) -> Keyring:
    """Build a keyring from a JSON keyset file.

    Raises:
        ConfigurationError: the file cannot be read or its keyset is malformed.
    """
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError("path", f"cannot read keyset file: {exc.strerror}") from None
    return keyring_from_json(text, kms=kms, warn_after=warn_after)
