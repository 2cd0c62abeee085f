from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from redis_fintech_sdk.codec import (
    Codec,
    Keyring,
    KeyStatus,
    Message,
    Signer,
    Verifier,
)
from redis_fintech_sdk.errors import (
    CodecError,
    ConfigurationError,
    DecryptionError,
    PolicyError,
    SignatureError,
    UnknownKeyError,
)


@pytest.mark.parametrize("compress", [False, True])
def test_every_single_byte_flip_of_a_sealed_frame_is_refused(
    make_codec: Callable[..., Codec], compress: bool, trade: Message, headers: Any
) -> None:
    codec = make_codec(compress=compress)
    frame = codec.encode(trade, channel="trades")
    off, _ = headers.split(frame)
    for pos in range(len(frame)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(frame)
            bad[pos] ^= mask
            with pytest.raises(CodecError) as info:
                codec.decode(bytes(bad), channel="trades")
            if pos >= off:
                # nonce, ciphertext or tag: always an authentication failure
                assert type(info.value) is DecryptionError, (pos, mask)
            elif _parses_as_sealed(codec, bytes(bad)):
                # a header byte whose change still parses: the AAD no longer matches
                assert isinstance(info.value, DecryptionError), (pos, mask)


def _parses_as_sealed(codec: Codec, frame: bytes) -> bool:
    try:
        return codec.peek_header(frame).encrypted
    except CodecError:
        return False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (5, 999),
        (7, "other-tenant"),
        (3, 1),
        (1, "md.tick"),
        (4, "mallory"),
        (8, "public"),
        (2, 2),
        (0, bytes(16)),
    ],
)
def test_edited_header_fails_authentication(
    make_codec: Callable[..., Codec], field: int, value: object, trade: Message, headers: Any
) -> None:
    codec = make_codec()
    frame = codec.encode(trade, channel="trades", tenant="acme")
    _, header = headers.split(frame)
    header[field] = value
    with pytest.raises(DecryptionError):
        codec.decode(headers.join(frame, header), channel="trades")


def test_other_channel_fails_authentication(
    make_codec: Callable[..., Codec], trade: Message
) -> None:
    codec = make_codec()
    frame = codec.encode(trade, channel="trades:eu")
    with pytest.raises(DecryptionError) as info:
        codec.decode(frame, channel="trades:us")
    assert str(info.value) == "frame failed authentication"  # opaque
    assert info.value.channel == "trades:us"
    assert info.value.message_id == codec.peek_header(frame).message_id


def test_unknown_key_id_names_the_id(make_codec: Callable[..., Codec], trade: Message) -> None:
    producer = make_codec(keyring=Keyring.generate(42))
    consumer = make_codec()
    frame = producer.encode(trade, channel="t")
    with pytest.raises(UnknownKeyError) as info:
        consumer.decode(frame, channel="t")
    assert info.value.key_id == 42
    assert "42" in str(info.value)
    with pytest.raises(UnknownKeyError):
        make_codec(keyring=None).decode(frame, channel="t")


def test_same_key_id_different_key_is_opaque_failure(
    make_codec: Callable[..., Codec], trade: Message
) -> None:
    frame = make_codec(keyring=Keyring.generate(1)).encode(trade, channel="t")
    with pytest.raises(DecryptionError) as info:
        make_codec(keyring=Keyring.generate(1)).decode(frame, channel="t")
    assert type(info.value) is DecryptionError


def test_rotation_in_tinks_order(
    make_codec: Callable[..., Codec], keyring: Keyring, trade: Message
) -> None:
    codec = make_codec()
    old = codec.encode(trade, channel="t")
    # 1. add: decrypt-only; frames still use key 1
    new_id = keyring.generate_key()
    assert codec.peek_header(codec.encode(trade, channel="t")).key_id == 1
    # 3. promote: new frames carry the new id, old frames still decode
    keyring.promote(new_id)
    new = codec.encode(trade, channel="t")
    assert codec.peek_header(new).key_id == new_id == 2
    assert codec.decode(old, channel="t").payload == trade
    assert codec.decode(new, channel="t").payload == trade
    # rotate(): re-seal old frames under the primary, metadata unchanged
    resealed = codec.rotate(old, channel="t")
    assert codec.peek_header(resealed).key_id == 2
    assert codec.peek_header(resealed).message_id == codec.peek_header(old).message_id
    assert codec.decode(resealed, channel="t").payload == trade
    assert codec.rotate(new, channel="t") == new
    # 4. retire: frames under the disabled key are refused; re-enabling restores them
    keyring.disable(1)
    with pytest.raises(DecryptionError, match="retired"):
        codec.decode(old, channel="t")
    keyring.enable(1)
    assert codec.decode(old, channel="t").payload == trade
    keyring.disable(1)
    keyring.destroy(1)
    assert keyring.status(1) is KeyStatus.DESTROYED
    with pytest.raises(UnknownKeyError):
        codec.decode(old, channel="t")
    assert codec.decode(resealed, channel="t").payload == trade


def test_primary_cannot_be_retired(keyring: Keyring) -> None:
    with pytest.raises(ConfigurationError) as info:
        keyring.disable(1)
    assert info.value.field == "key_id"
    with pytest.raises(ConfigurationError):
        keyring.destroy(1)


def test_rotate_under_wrong_channel_is_refused(
    make_codec: Callable[..., Codec], keyring: Keyring, trade: Message
) -> None:
    codec = make_codec()
    old = codec.encode(trade, channel="t")
    keyring.promote(keyring.generate_key())
    with pytest.raises(DecryptionError):
        codec.rotate(old, channel="elsewhere")


def test_rotate_signed_frame_re_signs(
    make_codec: Callable[..., Codec], keyring: Keyring, trade: Message
) -> None:
    codec = make_codec(sign=True)
    old = codec.encode(trade, channel="t")
    keyring.promote(keyring.generate_key())
    resealed = codec.rotate(old, channel="t")
    assert codec.decode(resealed, channel="t").key_id == 2
    plain = make_codec(keyring=keyring)
    with pytest.raises(PolicyError, match="signer"):
        plain.rotate(old, channel="t")


def test_signature_checks(make_codec: Callable[..., Codec], signer: Signer, tick: Message) -> None:
    codec = make_codec(sign=True, encrypt=False)
    frame = codec.encode(tick, channel="md")
    assert codec.decode(frame, channel="md").signer_id == "producer-a"
    bad = bytearray(frame)
    bad[-70] ^= 1
    with pytest.raises(SignatureError):
        codec.decode(bytes(bad), channel="md")
    with pytest.raises(SignatureError):
        codec.decode(frame, channel="md2")
    stranger = make_codec(verifier=Verifier({"someone-else": signer.public_key()}))
    with pytest.raises(SignatureError, match="unknown signer"):
        stranger.decode(frame, channel="md")
    strict = make_codec(require_signature=True)
    with pytest.raises(SignatureError, match="not signed"):
        strict.decode(make_codec().encode(tick, channel="md"), channel="md")
    forger = make_codec(sign=True, encrypt=False, signer=Signer.generate("producer-a"))
    with pytest.raises(SignatureError):
        codec.decode(forger.encode(tick, channel="md"), channel="md")
