"""Optional Ed25519 signatures for frames that cross a trust boundary.

AES-GCM proves a frame came from *someone holding the shared key*. When consumers must know
*which producer* sent it (another team, another company), the producer also signs: the
signature covers the channel name and every byte of the frame before it, and the signer's id
travels in the (authenticated) header so the verifier picks the right public key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import ConfigurationError, SignatureError

__all__ = ["SIGNATURE_SIZE", "Signer", "Verifier"]

SIGNATURE_SIZE = 64
"""Length of an Ed25519 signature in bytes."""


def _check_signer_id(signer_id: object) -> str:
    if not isinstance(signer_id, str) or not 0 < len(signer_id.encode()) <= 128:
        raise ConfigurationError("signer_id", "must be a non-empty string of at most 128 bytes")
    return signer_id


class Signer:
    """Signs frames with an Ed25519 private key.

    Args:
        signer_id: the id consumers know this producer's public key by.
        private_key: the producer's Ed25519 private key.

    Raises:
        ConfigurationError: bad id or key type.
    """

    __slots__ = ("_key", "signer_id")

    def __init__(self, signer_id: str, private_key: Ed25519PrivateKey) -> None:
        self.signer_id = _check_signer_id(signer_id)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ConfigurationError("private_key", "must be an Ed25519PrivateKey")
        self._key = private_key

    @classmethod
    def generate(cls, signer_id: str) -> Signer:
        """Return a signer with a fresh random key (for tests and examples).

        Raises:
            ConfigurationError: bad id.
        """
        return cls(signer_id, Ed25519PrivateKey.generate())

    def public_key(self) -> Ed25519PublicKey:
        """The public key to hand to consumers' :class:`Verifier`."""
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte signature of ``data``."""
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"Signer({self.signer_id!r}, ***)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Signer holds a private key and cannot be pickled")


class Verifier:
    """Verifies frame signatures against known producers' public keys.

    Args:
        public_keys: signer id -> Ed25519 public key.

    Raises:
        ConfigurationError: a bad id or key type.
    """

    __slots__ = ("_keys",)

    def __init__(self, public_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for signer_id, key in public_keys.items():
            if not isinstance(key, Ed25519PublicKey):
                raise ConfigurationError("public_keys", "values must be Ed25519PublicKey")
            self._keys[_check_signer_id(signer_id)] = key

    def verify(self, signer_id: str, signature: bytes, data: bytes, *, channel: str) -> None:
        """Check ``signature`` over ``data`` for ``signer_id``.

        Raises:
            SignatureError: unknown signer or a signature that does not verify.
        """
        key = self._keys.get(signer_id)
        if key is None:
            raise SignatureError(f"unknown signer {signer_id!r}", channel=channel)
        try:
            key.verify(signature, data)
        except InvalidSignature:
            raise SignatureError("signature does not verify", channel=channel) from None

    def __repr__(self) -> str:
        return f"Verifier(signers={sorted(self._keys)!r})"
