"""Rotate an encryption key in Tink's order (add, roll out, promote, retire) — no Redis.

python examples/key_rotation.py
"""

from __future__ import annotations

import os

from redis_fintech_sdk.codec import (
    Codec,
    Keyring,
    LocalKek,
    MessageRegistry,
    keyring_from_json,
    keyring_to_json,
)
from redis_fintech_sdk.errors import DecryptionError

CHANNEL = "audit:trades"


def main() -> int:
    kek = LocalKek(os.urandom(32))  # stands in for a KMS master key
    ring = Keyring.generate(key_id=1)
    codec = Codec(keyring=ring, registry=MessageRegistry(), producer_id="example")
    old = codec.encode_raw("audit.entry", {"event": "login"}, channel=CHANNEL)
    print(f"before: frames sealed under key {codec.peek_header(old).key_id}")

    new_id = ring.generate_key()  # 1. add (decrypt-only)
    stored = keyring_to_json(ring, kms=kek)  # 2. roll out: the wrapped keyset is safe to ship
    consumer = Codec(keyring=keyring_from_json(stored, kms=kek), registry=MessageRegistry())
    ring.promote(new_id)  # 3. promote
    new = codec.encode_raw("audit.entry", {"event": "logout"}, channel=CHANNEL)
    print(f"after promote: new frames use key {codec.peek_header(new).key_id}")
    print(
        "consumer reads both:",
        [consumer.decode(f, channel=CHANNEL, validate=False).payload for f in (old, new)],
    )

    resealed = codec.rotate(old, channel=CHANNEL)  # re-seal stored frames under the primary
    print(f"rotate(): old frame now under key {codec.peek_header(resealed).key_id}")

    ring.disable(1)  # 4. retire
    try:
        codec.decode(old, channel=CHANNEL)
    except DecryptionError as exc:
        print(f"retired key -> {type(exc).__name__}: {exc}")
    print(
        "re-sealed copy still decodes:",
        codec.decode(resealed, channel=CHANNEL, validate=False).payload,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
