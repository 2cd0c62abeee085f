"""HMAC webhook signatures: sign/verify, tampering, stale timestamps, rotation."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.patterns import (
    WebhookEndpoint,
    WebhookSignatureError,
    sign_webhook,
    verify_webhook,
)
from redis_fintech_sdk.security import HmacKeySet

NOW = 1_718_000_000
BODY = b'{"id":"evt_1","type":"notification","data":{"amount":"10.00"}}'
KEYS = HmacKeySet({"k1": b"a" * 32})


def clock(at: float = NOW) -> float:
    return at


def test_round_trip_returns_the_signed_timestamp() -> None:
    header = sign_webhook(BODY, KEYS, timestamp=NOW)
    assert header.startswith(f"t={NOW},kid=k1,v1=")
    assert verify_webhook(BODY, header, KEYS, now=clock) == NOW


@pytest.mark.parametrize(
    "body",
    [BODY.replace(b"10.00", b"99.00"), BODY + b" ", b"", BODY[:-1]],
)
def test_a_tampered_body_is_a_mismatch(body: bytes) -> None:
    header = sign_webhook(BODY, KEYS, timestamp=NOW)
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(body, header, KEYS, now=clock)
    assert info.value.reason == "mismatch"


def test_a_tampered_signature_or_timestamp_is_refused() -> None:
    header = sign_webhook(BODY, KEYS, timestamp=NOW)
    sig = header.rsplit("v1=", 1)[1]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_webhook(BODY, header.replace(sig, flipped), KEYS, now=clock)
    # Moving t inside the tolerance still breaks the MAC: t is signed.
    moved = header.replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_webhook(BODY, moved, KEYS, now=clock)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_stale_or_future_timestamps_are_refused(offset: int) -> None:
    header = sign_webhook(BODY, KEYS, timestamp=NOW + offset)
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(BODY, header, KEYS, tolerance=300, now=clock)
    assert info.value.reason == "stale"


def test_tolerance_edge_is_inclusive() -> None:
    header = sign_webhook(BODY, KEYS, timestamp=NOW - 300)
    assert verify_webhook(BODY, header, KEYS, tolerance=300, now=clock) == NOW - 300


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=abc,v1=00",
        f"t={NOW}",
        "v1=" + "00" * 32,
        f"t={NOW},v1=zz",
        f"t={NOW},v1=" + "00" * 31,
        f"t={NOW},v1=" + "0" * 5000,
    ],
)
def test_malformed_headers(header: str | None) -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(BODY, header, KEYS, now=clock)
    assert info.value.reason == "malformed"


def test_wrong_key_is_a_mismatch_and_rotation_accepts_old_and_new() -> None:
    other = HmacKeySet({"k1": b"b" * 32})
    header = sign_webhook(BODY, KEYS, timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="mismatch"):
        verify_webhook(BODY, header, other, now=clock)
    # The receiver holds old k1 and new k2 during a rotation; the sender moves to k2.
    receiver = KEYS.with_key("k2", b"c" * 32)
    sender_new = HmacKeySet({"k2": b"c" * 32})
    assert verify_webhook(BODY, sign_webhook(BODY, KEYS, timestamp=NOW), receiver, now=clock)
    assert verify_webhook(BODY, sign_webhook(BODY, sender_new, timestamp=NOW), receiver, now=clock)
    # An unknown kid falls back to trying every key the receiver holds.
    renamed = sign_webhook(BODY, KEYS, timestamp=NOW).replace("kid=k1", "kid=zz")
    assert verify_webhook(BODY, renamed, receiver, now=clock) == NOW


def test_several_v1_values_any_may_match_and_unknown_schemes_are_ignored() -> None:
    good = sign_webhook(BODY, KEYS, timestamp=NOW).rsplit("v1=", 1)[1]
    header = f"t={NOW},v0=legacy,v1={'00' * 32},v1={good}"
    assert verify_webhook(BODY, header, KEYS, now=clock) == NOW


def test_endpoint_validation_and_display_url() -> None:
    ep = WebhookEndpoint(name="crm", url="https://hooks.example.com/in?token=s3cr3t", keys=KEYS)
    assert ep.display_url == "https://hooks.example.com/in"
    assert "s3cr3t" not in repr(ep)
    assert "aaaa" not in repr(ep)
    for url in ("ftp://x/y", "file:///etc/passwd", "https://user:pw@h/x", "http:///nohost"):
        with pytest.raises(ConfigurationError) as info:
            WebhookEndpoint(name="e", url=url, keys=KEYS)
        assert info.value.field == "endpoint.url"
    with pytest.raises(ConfigurationError, match=r"endpoint\.headers"):
        WebhookEndpoint(name="e", url="http://h/", keys=KEYS, headers={"rfsdk-signature": "x"})
    with pytest.raises(ConfigurationError, match=r"endpoint\.name"):
        WebhookEndpoint(name="bad name", url="http://h/", keys=KEYS)
