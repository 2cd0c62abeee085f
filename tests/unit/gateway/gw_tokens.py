"""Tokens for the gateway unit tests."""

from __future__ import annotations

from redis_fintech_sdk.security import ChannelGrant, HmacKeySet, TokenIssuer, TokenVerifier

KEYS = HmacKeySet.generate()
ISSUER = TokenIssuer(hmac_keys=KEYS)
VERIFIER = TokenVerifier(hmac_keys=KEYS)


def token(*grants: tuple[str, str]) -> str:
    return ISSUER.issue("user-1", [ChannelGrant.of(p, a) for p, a in grants])  # type: ignore[arg-type]


def auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}
