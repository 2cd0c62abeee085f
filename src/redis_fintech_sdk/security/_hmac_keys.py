"""Named HMAC-SHA256 keys with a primary, for access tokens and the audit hash chain.

A key set is a small JSON document (the same spirit as the codec's keysets)::

    {"version": 1, "primary": "a2",
     "keys": {"a1": "<base64, >= 32 bytes>", "a2": "<base64>"}}

The primary key signs / MACs; every key verifies, so a rotation is: add the new key
everywhere, promote it, and drop the old one once nothing it signed is still needed.
Material never appears in ``repr``, errors or logs, and a key set refuses to be pickled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from redis_fintech_sdk.errors import ConfigurationError

__all__ = ["MIN_HMAC_KEY_BYTES", "HmacKeySet"]

MIN_HMAC_KEY_BYTES = 32
"""Shortest accepted HMAC key: 256 bits, the SHA-256 output size (RFC 2104 §3)."""

_KID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _check_kid(kid: object) -> str:
    if not isinstance(kid, str) or _KID.fullmatch(kid) is None:
        raise ConfigurationError("kid", "key ids are 1-64 characters of [A-Za-z0-9_.:-]")
    return kid


class HmacKeySet:
    """HMAC-SHA256 keys by id, one of them primary.

    Args:
        keys: key id → secret bytes (at least 32 bytes each).
        primary: the id that signs; default the only key, else required.

    Raises:
        ConfigurationError: a bad id, a short key, no keys, or an unknown primary.
    """

    __slots__ = ("_keys", "_primary")

    def __init__(self, keys: Mapping[str, bytes], *, primary: str | None = None) -> None:
        if not keys:
            raise ConfigurationError("keys", "at least one key is needed")
        self._keys: dict[str, bytes] = {}
        for kid, material in keys.items():
            if not isinstance(material, (bytes, bytearray)) or len(material) < MIN_HMAC_KEY_BYTES:
                raise ConfigurationError("keys", f"key {kid!r} must be >= 32 bytes")
            self._keys[_check_kid(kid)] = bytes(material)
        if primary is None:
            if len(self._keys) != 1:
                raise ConfigurationError("primary", "name the primary key")
            primary = next(iter(self._keys))
        if primary not in self._keys:
            raise ConfigurationError("primary", f"no key with id {primary!r}")
        self._primary = primary

    @classmethod
    def generate(cls, kid: str = "k1") -> HmacKeySet:
        """A key set with one fresh random 32-byte key.

        Raises:
            ConfigurationError: bad id.
        """
        return cls({kid: secrets.token_bytes(MIN_HMAC_KEY_BYTES)})

    @classmethod
    def from_json(cls, text: str | bytes) -> HmacKeySet:
        """Parse a JSON key set (see the module docs).

        Raises:
            ConfigurationError: malformed document; key material is never echoed.
        """
        try:
            doc: Any = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise ConfigurationError("keyset", "not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ConfigurationError("keyset", 'expected an object with "version": 1')
        raw = doc.get("keys")
        if not isinstance(raw, dict) or not raw:
            raise ConfigurationError("keyset", '"keys" must be a non-empty object')
        keys: dict[str, bytes] = {}
        for kid, value in raw.items():
            if not isinstance(value, str):
                raise ConfigurationError("keyset", f"key {kid!r}: expected base64 text")
            try:
                keys[kid] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigurationError("keyset", f"key {kid!r}: bad base64") from None
        primary = doc.get("primary")
        if primary is not None and not isinstance(primary, str):
            raise ConfigurationError("keyset", '"primary" must be a key id')
        return cls(keys, primary=primary)

    @classmethod
    def from_env(cls, name: str) -> HmacKeySet:
        """Load a JSON key set from the environment variable ``name``.

        Raises:
            ConfigurationError: unset variable or malformed key set.
        """
        text = os.environ.get(name)
        if not text:
            raise ConfigurationError(name, "environment variable is not set")
        return cls.from_json(text)

    def to_json(self) -> str:
        """The key set as JSON, **including key material**: store it like a password."""
        keys = {kid: base64.b64encode(k).decode() for kid, k in self._keys.items()}
        return json.dumps({"version": 1, "primary": self._primary, "keys": keys})

    def with_key(
        self, kid: str, material: bytes | None = None, *, primary: bool = False
    ) -> HmacKeySet:
        """A copy with one more key (fresh random when ``material`` is None).

        Raises:
            ConfigurationError: the id is taken or the key is too short.
        """
        if kid in self._keys:
            raise ConfigurationError("kid", f"key id {kid!r} is already present")
        keys = dict(self._keys)
        keys[kid] = material if material is not None else secrets.token_bytes(MIN_HMAC_KEY_BYTES)
        return HmacKeySet(keys, primary=kid if primary else self._primary)

    def without_key(self, kid: str) -> HmacKeySet:
        """A copy without ``kid`` (retire a key once nothing it signed is needed).

        Raises:
            ConfigurationError: the key is the primary or unknown.
        """
        if kid == self._primary:
            raise ConfigurationError("kid", "promote another key before removing the primary")
        if kid not in self._keys:
            raise ConfigurationError("kid", f"no key with id {kid!r}")
        return HmacKeySet({k: v for k, v in self._keys.items() if k != kid}, primary=self._primary)

    @property
    def primary(self) -> str:
        """The id of the key that signs."""
        return self._primary

    def key_ids(self) -> list[str]:
        """Every key id, sorted."""
        return sorted(self._keys)

    def mac(self, data: bytes, kid: str | None = None) -> str:
        """HMAC-SHA256 of ``data`` under ``kid`` (default the primary), as lower-case hex.

        Raises:
            KeyError: unknown ``kid``.
        """
        key = self._keys[kid if kid is not None else self._primary]
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def sign(self, data: bytes, kid: str | None = None) -> bytes:
        """Raw 32-byte HMAC-SHA256 of ``data`` under ``kid`` (default the primary).

        Raises:
            KeyError: unknown ``kid``.
        """
        key = self._keys[kid if kid is not None else self._primary]
        return hmac.new(key, data, hashlib.sha256).digest()

    def verify(self, data: bytes, signature: bytes, kid: str) -> bool:
        """Constant-time check of a raw signature; ``False`` for an unknown ``kid``."""
        key = self._keys.get(kid)
        if key is None:
            return False
        return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), signature)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.key_ids())

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"HmacKeySet(primary={self._primary!r}, keys={self.key_ids()!r}, material=***)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an HmacKeySet holds secret keys and cannot be pickled")
