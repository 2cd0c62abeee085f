"""Generate tests/vectors/wire-v1.json: frames for every flag combination, plus bad frames.

Run from the repository root: ``python scripts/make_vectors.py``. Everything is deterministic
(fixed keys, nonces, ids and clock; Ed25519 signatures are deterministic by design), so
re-running reproduces the file byte for byte with the same zstd version.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from redis_fintech_sdk.codec import (
    JSON,
    MSGPACK,
    Codec,
    Envelope,
    Keyring,
    MessageRegistry,
    Signer,
    Verifier,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "wire-v1.json"

KEY_ID = 7
KEY = bytes(range(32))
SIGNER_ID = "vector-signer"
SIGNER_SEED = hashlib.sha256(b"rfsdk vector signer").digest()
DICT_ID = 3

SMALL = {"symbol": "AAPL", "bid": "189.12", "ask": "189.13", "size": 100, "venue": "XNAS"}
LARGE = {
    "account": "ACC-001",
    "lines": [{"n": i, "memo": "settlement of trade batch", "amount": "100.00"} for i in range(20)],
}


def case_inputs() -> list[dict[str, Any]]:
    """The inputs of every vector (no frames yet)."""
    cases: list[dict[str, Any]] = []
    combos = itertools.product(("msgpack", "json"), *[(False, True)] * 3)
    for n, (ser, comp, enc, sig) in enumerate(combos, start=1):
        name = (
            f"{ser}{'-zstd' if comp else ''}{'-aesgcm' if enc else ''}{'-ed25519' if sig else ''}"
        )
        cases.append(
            {
                "name": name,
                "serializer": ser,
                "compressed": comp,
                "encrypted": enc,
                "signed": sig,
                "dictionary_id": None,
                "channel": "md:AAPL" if not comp else "settlement:eu",
                "type": "md.tick" if not comp else "settlement.batch",
                "schema_version": 1 if not comp else 3,
                "message_id": f"{0x17E3A5D2C0000000 + n:016x}{0x0123456789ABCDEF:016x}",
                "produced_at_ns": 1_714_564_800_123_456_789 + n,
                "producer_id": "vector-producer",
                "sequence": n,
                "tenant": "acme" if enc else None,
                "classification": "confidential" if enc else "internal",
                "correlation_id": "corr-1" if sig else None,
                "causation_id": None,
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                if sig
                else None,
                "tracestate": None,
                "headers": {"source": "vectors"} if comp else {},
                "payload": LARGE if comp else SMALL,
                "nonce": f"{n:024x}" if enc else None,
            }
        )
    cases.append(
        dict(
            cases[4],
            name="msgpack-zstd-dictionary",
            dictionary_id=DICT_ID,
            sequence=99,
            message_id=f"{0x17E3A5D2C0000063:016x}{0x0123456789ABCDEF:016x}",
        )
    )
    return cases


def dictionary() -> bytes:
    """A raw-content zstd dictionary (no training, so it is identical everywhere)."""
    return json.dumps(LARGE["lines"][:3]).encode() * 4


def codec_for(case: dict[str, Any]) -> Codec:
    """A codec configured exactly as the vector says, with fixed nonce source."""
    ring = Keyring()
    ring.add(KEY_ID, KEY, primary=True)
    if case["nonce"] is not None:
        nonce = bytes.fromhex(case["nonce"])
        ring._nonce_source = lambda: nonce
    signer = Signer(SIGNER_ID, Ed25519PrivateKey.from_private_bytes(SIGNER_SEED))
    return Codec(
        registry=MessageRegistry(),
        serializer=MSGPACK if case["serializer"] == "msgpack" else JSON,
        keyring=ring,
        encrypt=case["encrypted"],
        encrypt_classifications=frozenset({"restricted"}),
        compression_threshold=64 if case["compressed"] else None,
        compression_dictionaries={DICT_ID: dictionary()},
        compression_dictionary_id=case["dictionary_id"],
        signer=signer if case["signed"] else None,
        verifier=Verifier({SIGNER_ID: signer.public_key()}),
        producer_id="vector-producer",
    )


def envelope_for(case: dict[str, Any]) -> Envelope:
    """The envelope a vector encodes."""
    return Envelope(
        type=case["type"],
        payload=case["payload"],
        schema_version=case["schema_version"],
        message_id=case["message_id"],
        produced_at_ns=case["produced_at_ns"],
        producer_id=case["producer_id"],
        sequence=case["sequence"],
        tenant=case["tenant"],
        classification=case["classification"],
        correlation_id=case["correlation_id"],
        causation_id=case["causation_id"],
        traceparent=case["traceparent"],
        tracestate=case["tracestate"],
        headers=case["headers"],
    )


def bad_frames(good: dict[str, Any]) -> list[dict[str, Any]]:
    """Frames a decoder must refuse, derived from the encrypted+signed msgpack vector."""
    frame = bytes.fromhex(good["frame"])
    hlen = int.from_bytes(frame[4:6], "little")
    flip_body = bytearray(frame)
    flip_body[6 + hlen + 13] ^= 0x01
    flip_header = bytearray(frame)
    flip_header[6 + hlen - 1] ^= 0x01
    return [
        {"name": "empty", "frame": "", "channel": good["channel"], "error": "FrameError"},
        {
            "name": "bad-magic",
            "frame": "c047" + frame.hex()[4:],
            "channel": good["channel"],
            "error": "UnsupportedVersionError",
        },
        {
            "name": "version-2",
            "frame": frame[:2].hex() + "02" + frame.hex()[6:],
            "channel": good["channel"],
            "error": "UnsupportedVersionError",
        },
        {
            "name": "truncated",
            "frame": frame[: len(frame) - 1].hex(),
            "channel": good["channel"],
            "error": "SignatureError",
        },
        {
            "name": "body-bit-flipped",
            "frame": bytes(flip_body).hex(),
            "channel": good["channel"],
            "error": "SignatureError",
        },
        {
            "name": "header-bit-flipped",
            "frame": bytes(flip_header).hex(),
            "channel": good["channel"],
            "error": "CodecError",
        },
        {
            "name": "wrong-channel",
            "frame": frame.hex(),
            "channel": "md:MSFT",
            "error": "SignatureError",
        },
    ]


def main(argv: list[str] | None = None) -> int:
    cases = case_inputs()
    for case in cases:
        case["frame"] = codec_for(case).encode(envelope_for(case), channel=case["channel"]).hex()
    unsigned_sealed = next(c for c in cases if c["name"] == "msgpack-aesgcm")
    frame = bytes.fromhex(unsigned_sealed["frame"])
    hlen = int.from_bytes(frame[4:6], "little")
    flipped = bytearray(frame)
    flipped[-1] ^= 0x80
    bad = bad_frames(next(c for c in cases if c["name"] == "msgpack-aesgcm-ed25519"))
    bad += [
        {
            "name": "aesgcm-tag-flipped",
            "frame": bytes(flipped).hex(),
            "channel": unsigned_sealed["channel"],
            "error": "DecryptionError",
        },
        {
            "name": "aesgcm-wrong-channel",
            "frame": frame.hex(),
            "channel": "md:MSFT",
            "error": "DecryptionError",
        },
        {
            "name": "aesgcm-header-edited",
            "frame": _edit_seq(frame, hlen).hex(),
            "channel": unsigned_sealed["channel"],
            "error": "DecryptionError",
        },
    ]
    signer_pub = (
        Ed25519PrivateKey.from_private_bytes(SIGNER_SEED)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    doc = {
        "format": "redis_fintech_sdk wire format v1 test vectors",
        "zstd_version": zstandard.ZSTD_VERSION,
        "keys": {str(KEY_ID): KEY.hex()},
        "signer": {"id": SIGNER_ID, "seed": SIGNER_SEED.hex(), "public_key": signer_pub.hex()},
        "dictionaries": {str(DICT_ID): dictionary().hex()},
        "compression_level": 3,
        "vectors": cases,
        "invalid": bad,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} vectors and {len(bad)} invalid frames to {OUT}", file=sys.stderr)
    return 0


def _edit_seq(frame: bytes, hlen: int) -> bytes:
    """Rewrite the sequence (u64 LE at offset 30) as sequence + 1: valid, no longer authentic."""
    seq = int.from_bytes(frame[30:38], "little") + 1
    return frame[:30] + seq.to_bytes(8, "little") + frame[38:]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
