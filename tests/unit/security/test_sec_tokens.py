"""Access tokens: signing, verification, expiry, scope, key rotation, and refusals."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_fintech_sdk.codec import Signer
from redis_fintech_sdk.errors import AuthorizationError, ConfigurationError
from redis_fintech_sdk.security import (
    ChannelGrant,
    HmacKeySet,
    TokenError,
    TokenIssuer,
    TokenVerifier,
    pattern_covers,
)

NOW = 1_714_564_800.0
KEYS = HmacKeySet({"k1": b"1" * 32})
MD = ChannelGrant.of("market.price.*", "subscribe")


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pair(
    keys: HmacKeySet = KEYS, **verifier_kw: object
) -> tuple[TokenIssuer, TokenVerifier, Clock]:
    clock = Clock()
    issuer = TokenIssuer(hmac_keys=keys, issuer="gw", audience="rfsdk", clock=clock)
    verifier = TokenVerifier(
        hmac_keys=keys,
        issuer="gw",
        audience="rfsdk",
        clock=clock,
        **verifier_kw,  # type: ignore[arg-type]
    )
    return issuer, verifier, clock


def _reason(verifier: TokenVerifier, token: str, channel: str = "market.price.AAPL") -> str:
    with pytest.raises(TokenError) as excinfo:
        verifier.authorize(token, "subscribe", channel)
    assert excinfo.value.channel == channel
    assert isinstance(excinfo.value, AuthorizationError)
    assert token not in str(excinfo.value)
    return excinfo.value.reason


def test_valid_token_allows_its_scope_only() -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("user-42", [MD], ttl=60)
    claims = verifier.authorize(token, "subscribe", "market.price.AAPL")
    assert claims.subject == "user-42"
    assert claims.key_id == "k1"
    assert claims.allows("subscribe", "market.price.*")  # the same pattern
    assert not claims.allows("subscribe", "market.*")  # broader pattern
    assert not claims.allows("publish", "market.price.AAPL")
    assert _reason(verifier, token, "trade.exec.X") == "scope"


def test_expired_token_is_refused_within_the_skew_bound() -> None:
    issuer, verifier, clock = pair(leeway=30)
    token = issuer.issue("u", [MD], ttl=60)
    clock.t = NOW + 60 + 29
    verifier.verify(token)  # inside the clock-skew allowance
    clock.t = NOW + 60 + 31
    assert _reason(verifier, token) == "expired"


def test_not_yet_valid_token_is_refused() -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("u", [MD], ttl=600, not_before=NOW + 120)
    assert _reason(verifier, token) == "not_yet_valid"


def test_token_for_another_channel_is_refused() -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("u", [ChannelGrant.of("notify.user.42", "subscribe")])
    verifier.authorize(token, "subscribe", "notify.user.42")
    assert _reason(verifier, token, "notify.user.43") == "scope"


def test_token_signed_by_unknown_key_is_refused() -> None:
    rogue = HmacKeySet({"k9": b"9" * 32})
    token = TokenIssuer(hmac_keys=rogue, issuer="gw", audience="rfsdk", clock=Clock()).issue(
        "u", [MD]
    )
    _, verifier, _ = pair()
    assert _reason(verifier, token) == "unknown_key"
    # Same kid, different secret: a forgery.
    forged = TokenIssuer(
        hmac_keys=HmacKeySet({"k1": b"x" * 32}), issuer="gw", audience="rfsdk", clock=Clock()
    ).issue("u", [MD])
    assert _reason(verifier, forged) == "bad_signature"


def test_kid_rotation_old_tokens_verify_until_the_key_is_removed() -> None:
    old_issuer, _, _ = pair()
    old_token = old_issuer.issue("u", [MD])
    rotated = KEYS.with_key("k2", b"2" * 32, primary=True)
    new_issuer, verifier, _ = pair(rotated)
    new_token = new_issuer.issue("u", [MD])
    assert verifier.verify(new_token).key_id == "k2"
    assert verifier.verify(old_token).key_id == "k1"
    _, after, _ = pair(rotated.without_key("k1"))
    assert _reason(after, old_token) == "unknown_key"


def test_ed25519_tokens_and_algorithm_confusion() -> None:
    signer = Signer.generate("ed1")
    clock = Clock()
    issuer = TokenIssuer(signer=signer, clock=clock)
    verifier = TokenVerifier(public_keys={"ed1": signer.public_key()}, clock=clock)
    token = issuer.issue("svc", [ChannelGrant.of("trade:*", ["consume", "read"])])
    assert verifier.authorize(token, "consume", "trade:exec").subject == "svc"
    # Re-labelled as HS256 under the same kid: refused, never checked as HMAC.
    h, c, s = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    header["alg"] = "HS256"
    h2 = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    assert _reason(verifier, f"{h2}.{c}.{s}", "trade:exec") == "unknown_key"
    header["alg"] = "none"
    h3 = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    assert _reason(verifier, f"{h3}.{c}.", "trade:exec") == "malformed"


def test_issuer_audience_lifetime_revocation() -> None:
    issuer, verifier, _ = pair(max_lifetime=3600, revoked=lambda jti: jti == "bad")
    assert _reason(verifier, issuer.issue("u", [MD], ttl=7200)) == "too_long_lived"
    assert _reason(verifier, issuer.issue("u", [MD], token_id="bad")) == "revoked"
    other = TokenIssuer(hmac_keys=KEYS, issuer="evil", audience="rfsdk", clock=Clock())
    assert _reason(verifier, other.issue("u", [MD])) == "wrong_issuer"
    other = TokenIssuer(hmac_keys=KEYS, issuer="gw", audience="else", clock=Clock())
    assert _reason(verifier, other.issue("u", [MD])) == "wrong_audience"


def test_tenant_token_is_confined_to_its_namespace() -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("u", [MD], tenant="acme")
    verifier.authorize(token, "subscribe", "tenant:acme:market.price.AAPL")
    assert _reason(verifier, token, "market.price.AAPL") == "scope"
    assert _reason(verifier, token, "tenant:other:market.price.AAPL") == "scope"


@given(st.integers(0, 200), st.integers(0, 7))
def test_any_bit_flip_is_refused(position: int, bit: int) -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("u", [MD])
    raw = bytearray(token.encode())
    index = position % len(raw)
    raw[index] ^= 1 << bit
    try:
        mutated = raw.decode()
    except UnicodeDecodeError:
        return
    if mutated == token:
        return
    with pytest.raises(TokenError):
        verifier.verify(mutated)


@pytest.mark.parametrize(
    "garbage", ["", "a.b", "a.b.c.d", "x" * 9000, "!!.??.**", "e30.e30.", "W10.W10.AA"]
)
def test_garbage_is_malformed(garbage: str) -> None:
    _, verifier, _ = pair()
    with pytest.raises(TokenError) as excinfo:
        verifier.verify(garbage)
    assert excinfo.value.reason == "malformed"


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        TokenIssuer()
    with pytest.raises(ConfigurationError):
        TokenVerifier(hmac_keys=KEYS, leeway=3600)
    with pytest.raises(ConfigurationError):
        ChannelGrant.of("market.*", "delete")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        HmacKeySet({"k": b"short"})
    assert "material=***" in repr(KEYS)
    assert "1111" not in repr(KEYS)


@pytest.mark.parametrize(
    ("granted", "requested", "covered"),
    [
        ("market.*", "market.price.AAPL", True),
        ("market.*", "market.price.*", True),
        ("market.price.*", "market.*", False),
        ("market.price.*", "market.price.*", True),
        ("market.price.[AB]*", "market.price.A*", False),  # not provable: refused
        ("*", "anything.*", True),
        ("market.?", "market.*", False),
        ("market.*", "marketx.*", False),
    ],
)
def test_pattern_cover(granted: str, requested: str, covered: bool) -> None:
    assert pattern_covers(granted, requested) is covered


def test_non_canonical_base64_spelling_is_refused() -> None:
    issuer, verifier, _ = pair()
    token = issuer.issue("u", [MD])
    h, c, s = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 32 bytes -> 43 chars: the last one carries 2 unused low bits.
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) ^ 1]
    with pytest.raises(TokenError) as excinfo:
        verifier.verify(f"{h}.{c}.{twin}")
    assert excinfo.value.reason == "malformed"
