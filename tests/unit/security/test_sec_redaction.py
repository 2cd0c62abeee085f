"""Redaction filter, field classifications, and confidential types refused in clear."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from redis_fintech_sdk.codec import (
    Codec,
    CodecConfig,
    Keyring,
    Message,
    MessageRegistry,
    SensitiveStr,
    message,
)
from redis_fintech_sdk.errors import PolicyError
from redis_fintech_sdk.security import (
    RedactionFilter,
    field_classifications,
    install_redaction,
    require_encryption,
    sensitive_field_names,
)
from redis_fintech_sdk.settings import Secret

REG = MessageRegistry()


@message("test.sec.payment", classification="confidential", registry=REG)
class Payment(Message):
    payment_id: str
    account_number: SensitiveStr
    card_pan: SensitiveStr
    amount: str


@message("test.sec.quote", classification="public", registry=REG)
class Quote(Message):
    symbol: str
    px: str


ACCOUNT = "DE89370400440532013000"
PAN = "4111111111111111"
PASSWORD = "hunter2-very-secret"


@pytest.fixture
def captured(log_secrets: set[str]) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    log_secrets.update((ACCOUNT, PAN, PASSWORD))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    install_redaction([Secret(PASSWORD)], handlers=[handler], sensitive_fields=None)
    # The filter reads sensitive fields from this test's registry.
    handler.filters[0] = RedactionFilter([Secret(PASSWORD)], registry=REG)
    logger = logging.getLogger("redis_fintech_sdk.tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_sensitive_values_never_reach_the_handler(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    p = Payment(payment_id="p1", account_number=ACCOUNT, card_pan=PAN, amount="10.00")
    logger.info("payment %s", p)
    logger.info("raw %s", p.model_dump())
    logger.warning("fields account_number=%s card_pan: %s", ACCOUNT, PAN)
    logger.error('json {"account_number": "%s"}', ACCOUNT)
    logger.info("connecting with password=%s to redis://svc:%s@h:1", PASSWORD, PASSWORD)
    logger.info("kwargs %(card_pan)s", {"card_pan": PAN})
    try:
        raise ValueError(f"bad account_number={ACCOUNT} for card {PAN}")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    for secret in (ACCOUNT, PAN, PASSWORD):
        assert secret not in text, text
    assert "p1" in text  # non-sensitive context survives
    assert text.count("***") >= 8


def test_filter_detects_what_it_should_and_nothing_else() -> None:
    flt = RedactionFilter(["tok_abcdef"], sensitive_fields={"iban"})
    assert flt.scrub("iban=DE00123 other=keep tok_abcdef") == "iban=*** other=keep ***"
    assert flt.scrub("nothing here") == "nothing here"
    assert flt.scrub("card 4111 1111 1111 1111 ok") == "card 411111***1111 ok"
    assert flt.scrub("order 1234567890123") == "order 1234567890123"  # not Luhn-valid
    flt.add_secret("abc")  # too short to mask safely: ignored
    assert flt.scrub("abc") == "abc"


def test_registry_driven_field_names_and_classifications() -> None:
    assert sensitive_field_names(REG) == {"account_number", "card_pan"}
    spec = REG.get("test.sec.payment")
    assert spec is not None
    levels = field_classifications(spec)
    assert levels["account_number"] == "confidential"
    assert levels["payment_id"] == "internal"
    quote = REG.get("test.sec.quote")
    assert quote is not None
    assert set(field_classifications(quote).values()) == {"public"}


def test_confidential_type_is_refused_without_encryption() -> None:
    spec = REG.get("test.sec.payment")
    assert spec is not None
    assert spec.encrypted
    with pytest.raises(PolicyError):
        require_encryption(spec, encrypted=False, where="exports")
    require_encryption(spec, encrypted=True)
    p = Payment(payment_id="p1", account_number=ACCOUNT, card_pan=PAN, amount="1")
    with pytest.raises(PolicyError):
        Codec(CodecConfig(registry=REG)).encode(p, channel="pay.exec.x")
    with pytest.raises(PolicyError):
        Codec(CodecConfig(registry=REG, keyring=Keyring.generate())).encode(
            p, channel="pay.exec.x", encrypt=False
        )
    frame = Codec(CodecConfig(registry=REG, keyring=Keyring.generate())).encode(
        p, channel="pay.exec.x"
    )
    assert ACCOUNT.encode() not in frame
