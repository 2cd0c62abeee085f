from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path

import pytest

from redis_fintech_sdk.codec import (
    Codec,
    Keyring,
    KeyStatus,
    KeyUsageWarning,
    LocalKek,
    Message,
    MessageRegistry,
    Signer,
    keyring_from_env,
    keyring_from_file,
    keyring_from_json,
    keyring_to_json,
)
from redis_fintech_sdk.errors import ConfigurationError, PolicyError


def test_keys_never_show_and_never_pickle(keyring: Keyring) -> None:
    material = next(m for _, _, m in keyring._material())
    assert material is not None
    text = repr(keyring) + str(keyring) + repr(keyring._keys[1])
    assert material.hex() not in text
    assert "***" in text
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            attempt(keyring)
    with pytest.raises(TypeError):
        pickle.dumps(Signer.generate("s"))
    with pytest.raises(TypeError):
        pickle.dumps(LocalKek(bytes(32)))
    assert "***" in repr(Signer.generate("s"))
    assert "***" in repr(LocalKek(bytes(32)))


def test_usage_counter_warns_then_refuses(trade: Message, registry: MessageRegistry) -> None:
    ring = Keyring.generate(warn_after=3)
    codec = Codec(registry=registry, keyring=ring)
    codec.encode(trade, channel="t")
    codec.encode(trade, channel="t")
    with pytest.warns(KeyUsageWarning, match="rotate"):
        codec.encode(trade, channel="t")
    codec.encode(trade, channel="t")  # warned once per key, not per message
    assert ring.statistics().encryptions == {1: 4}
    ring._primary_for_seal().uses = iter([2**32 + 1])  # type: ignore[assignment]
    with pytest.raises(PolicyError, match="2\\*\\*32"):
        codec.encode(trade, channel="t")


def test_nonces_are_fresh(keyring: Keyring, registry: MessageRegistry) -> None:
    codec = Codec(registry=registry, keyring=keyring)
    frames = [codec.encode_raw("x", {}, channel="c") for _ in range(2000)]
    nonces = {f[6 + int.from_bytes(f[4:6], "little") :][:12] for f in frames}
    assert len(nonces) == 2000


def test_json_keyset_round_trip_and_wrapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trade: Message, registry: MessageRegistry
) -> None:
    ring = Keyring.generate(1)
    ring.promote(ring.generate_key())
    ring.disable(1)
    ring.add_destroyed(0)
    codec = Codec(registry=registry, keyring=ring)
    frame = codec.encode(trade, channel="t")

    plain = keyring_to_json(ring)
    kek = LocalKek(os.urandom(32))
    wrapped = keyring_to_json(ring, kms=kek)
    assert '"wrapped"' in wrapped
    assert '"key"' not in wrapped
    for text, kms in ((plain, None), (wrapped, kek)):
        loaded = keyring_from_json(text, kms=kms)
        assert loaded.primary_key_id == 2
        assert loaded.statistics().statuses == {
            0: KeyStatus.DESTROYED,
            1: KeyStatus.DISABLED,
            2: KeyStatus.ENABLED,
        }
        assert Codec(registry=registry, keyring=loaded).decode(frame, channel="t").payload == trade

    path = tmp_path / "keyset.json"
    path.write_text(wrapped)
    assert keyring_from_file(path, kms=kek).primary_key_id == 2
    monkeypatch.setenv("RFSDK_CODEC_KEYSET", plain)
    assert keyring_from_env().primary_key_id == 2


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"version": 1, "keys": []}',
        '{"version": 1, "keys": [{"id": -1, "key": "AA=="}]}',
        '{"version": 1, "keys": [{"id": 1, "key": "%%%"}]}',
        '{"version": 1, "keys": [{"id": 1, "key": "AAAA"}]}',
        '{"version": 1, "keys": [{"id": 1, "wrapped": "AAAA"}]}',
        '{"version": 1, "keys": [{"id": 1, "status": "weird", "key": "AAAA"}]}',
        '{"version": 1, "primary": 5, "keys": [{"id": 1, "status": "destroyed"}]}',
    ],
)
def test_bad_keysets_name_the_field(text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        keyring_from_json(text)
    assert info.value.field == "keyset"


def test_wrong_kek_cannot_unwrap() -> None:
    wrapped = keyring_to_json(Keyring.generate(), kms=LocalKek(os.urandom(32)))
    with pytest.raises(ConfigurationError, match="unwrap failed") as info:
        keyring_from_json(wrapped, kms=LocalKek(os.urandom(32)))
    doc = json.loads(wrapped)
    assert doc["keys"][0]["wrapped"] not in str(info.value)


def test_missing_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RFSDK_CODEC_KEYSET", raising=False)
    with pytest.raises(ConfigurationError):
        keyring_from_env()
    with pytest.raises(ConfigurationError, match="cannot read"):
        keyring_from_file(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: r.add(1, bytes(32)), "key_id"),
        (lambda r: r.add(2, bytes(16)), "material"),
        (lambda r: r.add(2**32, bytes(32)), "key_id"),
        (lambda r: r.promote(9), "key_id"),
    ],
)
def test_keyring_misuse(keyring: Keyring, call: object, field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call(keyring)  # type: ignore[operator]
    assert info.value.field == field


def test_no_primary_cannot_encrypt(trade: Message, registry: MessageRegistry) -> None:
    ring = Keyring()
    ring.add(1, bytes(32))
    with pytest.raises(PolicyError, match="primary"):
        Codec(registry=registry, keyring=ring).encode(trade, channel="t")


def test_nonce_pool_never_repeats_and_forgets_its_batch_after_fork() -> None:
    from redis_fintech_sdk.codec.nonces import _BATCH, _NoncePool

    pool = _NoncePool()
    drawn = [pool.take() for _ in range(3 * _BATCH + 5)]  # several refills
    assert len(set(drawn)) == len(drawn)
    assert all(len(n) == 12 for n in drawn)
    pending = list(pool._batch)
    pool.reset()  # what os.register_at_fork runs in a child
    after = [pool.take() for _ in range(len(pending))]
    assert not set(after) & set(pending)
