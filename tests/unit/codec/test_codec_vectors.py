"""tests/vectors/wire-v1.json: every vector decodes, re-encodes byte for byte, bad ones fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import redis_fintech_sdk.errors as errors
from redis_fintech_sdk.codec import (
    JSON,
    MSGPACK,
    Codec,
    Envelope,
    Keyring,
    MessageIdGenerator,
    MessageRegistry,
    Signer,
    Verifier,
)

DOC = json.loads((Path(__file__).parents[2] / "vectors" / "wire-v1.json").read_text())
VECTORS: list[dict[str, Any]] = DOC["vectors"]


def _codec(case: dict[str, Any], **extra: Any) -> Codec:
    ring = Keyring()
    for key_id, hexkey in DOC["keys"].items():
        ring.add(int(key_id), bytes.fromhex(hexkey), primary=True)
    if case.get("nonce"):
        nonce = bytes.fromhex(case["nonce"])
        ring._nonce_source = lambda: nonce  # private test hook
    signer = Signer(
        DOC["signer"]["id"],
        Ed25519PrivateKey.from_private_bytes(bytes.fromhex(DOC["signer"]["seed"])),
    )
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(DOC["signer"]["public_key"]))
    return Codec(
        registry=MessageRegistry(),
        serializer=JSON if case.get("serializer") == "json" else MSGPACK,
        keyring=ring,
        encrypt=bool(case.get("encrypted")),
        encrypt_classifications=frozenset({"restricted"}),
        compression_threshold=64 if case.get("compressed") else None,
        compression_level=DOC["compression_level"],
        compression_dictionaries={int(k): bytes.fromhex(v) for k, v in DOC["dictionaries"].items()},
        compression_dictionary_id=case.get("dictionary_id"),
        signer=signer if case.get("signed") else None,
        verifier=Verifier({DOC["signer"]["id"]: public}),
        producer_id="vector-producer",
        **extra,
    )


def test_there_is_a_vector_for_every_flag_combination() -> None:
    combos = {(v["serializer"], v["compressed"], v["encrypted"], v["signed"]) for v in VECTORS}
    assert len(combos) == 16
    for v in VECTORS:
        flags = bytes.fromhex(v["frame"])[3]
        assert bool(flags & 0x10) == v["compressed"]
        assert bool(flags & 0x20) == v["encrypted"]
        assert bool(flags & 0x40) == v["signed"]
        assert flags & 0x0F == (0 if v["serializer"] == "msgpack" else 1)


@pytest.mark.parametrize("case", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decodes(case: dict[str, Any]) -> None:
    env = _codec(case).decode(bytes.fromhex(case["frame"]), channel=case["channel"], validate=False)
    assert env.payload == case["payload"]
    meta = env.metadata()
    for field in (
        "message_id", "type", "schema_version", "produced_at_ns", "producer_id", "sequence",
        "tenant", "classification", "correlation_id", "causation_id", "traceparent",
        "tracestate", "headers",
    ):  # fmt: skip
        assert meta[field] == case[field], field
    assert meta["key_id"] == (7 if case["encrypted"] else None)


@pytest.mark.parametrize("case", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_encoding_is_reproducible(case: dict[str, Any]) -> None:
    if case["compressed"] and tuple(DOC["zstd_version"]) != zstandard.ZSTD_VERSION:
        pytest.skip("compressed bytes may differ between zstd versions")
    env = Envelope(**{k: case[k] for k in (
        "type", "payload", "schema_version", "message_id", "produced_at_ns", "producer_id",
        "sequence", "tenant", "classification", "correlation_id", "causation_id", "traceparent",
        "tracestate", "headers",
    )})  # fmt: skip
    assert _codec(case).encode(env, channel=case["channel"]).hex() == case["frame"]


def test_injected_clock_and_id_source_make_encode_raw_reproducible() -> None:
    case = VECTORS[2]  # msgpack-aesgcm

    def build() -> bytes:
        ids = MessageIdGenerator(clock=lambda: 1_000, base=5)
        codec = _codec(case, clock=lambda: 1_000_000, id_source=ids)
        return codec.encode_raw("md.tick", {"a": 1}, channel="c")

    first, second = build(), build()
    assert first == second
    assert _codec(case).peek_header(first).produced_at_ns == 1_000_000


@pytest.mark.parametrize("case", DOC["invalid"], ids=[v["name"] for v in DOC["invalid"]])
def test_invalid_vector_is_refused(case: dict[str, Any]) -> None:
    expected = getattr(errors, case["error"])
    with pytest.raises(expected):
        _codec({}).decode(bytes.fromhex(case["frame"]), channel=case["channel"])
