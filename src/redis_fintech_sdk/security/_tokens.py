"""Signed access tokens for subscribers and publishers behind a gateway (sans-I/O).

Tokens are JWS compact serialisations (RFC 7515) — ``header.claims.signature``, base64url —
so any JWT library can read them, signed with ``HS256`` (HMAC-SHA256, an
:class:`HmacKeySet`) or ``EdDSA`` (Ed25519, the codec's :class:`~redis_fintech_sdk.codec.Signer`
/ :class:`~redis_fintech_sdk.codec.Verifier`). The header's ``kid`` picks the key; the
algorithm is bound to the key, never taken from the header alone (no ``alg`` confusion, no
``none``). Claims::

    {"sub": "user-42", "tenant": "acme", "iss": "gw", "aud": "rfsdk",
     "scope": [{"ch": ["market.price.*"], "act": ["subscribe"]}],
     "iat": 1714564800, "nbf": 1714564800, "exp": 1714565700, "jti": "…"}

Verification is constant-time on the signature, bounds clock skew (``leeway``, at most
5 minutes), refuses tokens living longer than ``max_lifetime``, and checks issuer and audience
when configured. A scope check then says whether the token allows an action on a channel.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from redis_fintech_sdk.codec import Signer, Verifier
from redis_fintech_sdk.errors import ConfigurationError, SignatureError, TokenError

from ._acl import tenant_namespace
from ._hmac_keys import HmacKeySet
from ._scope import Action, ChannelGrant

__all__ = ["TokenClaims", "TokenError", "TokenIssuer", "TokenReason", "TokenVerifier"]

TokenReason = Literal[
    "malformed",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "too_long_lived",
    "wrong_issuer",
    "wrong_audience",
    "revoked",
    "scope",
]
"""Why a token was refused."""

MAX_TOKEN_BYTES = 8192
_TYP = "rfsdk-at+jwt"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or any(c in text for c in "=+/ \n"):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Refuse non-canonical encodings (stray low bits in the last character): one token,
    # one spelling — no malleable twins that dodge a revocation or replay list.
    if _b64e(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, kw_only=True)
class TokenClaims:
    """The verified content of a token.

    Attributes:
        subject: who the token was issued to (``sub``).
        grants: what it allows (``scope``).
        issued_at: ``iat``, seconds since the epoch.
        not_before: ``nbf``.
        expires_at: ``exp``.
        tenant: the tenant it is confined to; its grants are then inside ``tenant:<id>:``.
        token_id: ``jti``, for revocation lists and audit.
        issuer: ``iss``.
        audience: ``aud``.
        key_id: the ``kid`` that signed it.
    """

    subject: str
    grants: tuple[ChannelGrant, ...]
    issued_at: int
    not_before: int
    expires_at: int
    tenant: str | None = None
    token_id: str = ""
    issuer: str | None = None
    audience: str | None = None
    key_id: str = ""

    def effective_grants(self) -> tuple[ChannelGrant, ...]:
        """Grants with the tenant namespace applied (what the token really allows)."""
        if self.tenant is None:
            return self.grants
        ns = tenant_namespace(self.tenant)
        return tuple(g.in_tenant(ns) for g in self.grants)

    def allows(self, action: Action, name: str) -> bool:
        """Tell whether the token allows ``action`` on ``name`` (channel, stream or glob)."""
        return any(g.allows(action, name) for g in self.effective_grants())

    def check(self, action: Action, name: str) -> None:
        """Raise unless the token allows ``action`` on ``name``.

        Raises:
            TokenError: (reason ``scope``) naming the channel.
        """
        if not self.allows(action, name):
            raise TokenError("scope", f"does not allow {action}", channel=name)


class TokenIssuer:
    """Issues tokens signed with HMAC-SHA256 or Ed25519.

    Args:
        hmac_keys: sign ``HS256`` with the key set's primary key.
        signer: sign ``EdDSA`` with this Ed25519 signer (its ``signer_id`` is the ``kid``).
        issuer: the ``iss`` claim.
        audience: the ``aud`` claim.
        clock: seconds since the epoch (injectable for tests).

    Raises:
        ConfigurationError: neither or both of ``hmac_keys`` and ``signer`` given.
    """

    def __init__(
        self,
        *,
        hmac_keys: HmacKeySet | None = None,
        signer: Signer | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (hmac_keys is None) == (signer is None):
            raise ConfigurationError("issuer", "give exactly one of hmac_keys or signer")
        self._hmac = hmac_keys
        self._signer = signer
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def issue(
        self,
        subject: str,
        grants: Iterable[ChannelGrant],
        *,
        ttl: float = 900.0,
        tenant: str | None = None,
        not_before: float | None = None,
        token_id: str | None = None,
    ) -> str:
        """Return a signed token.

        Args:
            subject: who it is for.
            grants: what it allows (patterns relative to the tenant namespace).
            ttl: seconds until it expires.
            tenant: confine it to a tenant.
            not_before: first valid instant (default now).
            token_id: ``jti`` (default 128 random bits).

        Raises:
            ConfigurationError: empty subject or grants, ``ttl`` <= 0, or a bad tenant.
        """
        grant_list = list(grants)
        if not subject or not grant_list or ttl <= 0:
            raise ConfigurationError("token", "needs a subject, at least one grant and ttl > 0")
        tenant_namespace(tenant)
        now = int(self._clock())
        claims: dict[str, Any] = {
            "sub": subject,
            "scope": [g.to_json() for g in grant_list],
            "iat": now,
            "nbf": int(not_before) if not_before is not None else now,
            "exp": now + max(1, round(ttl)),
            "jti": token_id or secrets.token_hex(16),
        }
        for name, value in (("tenant", tenant), ("iss", self._issuer), ("aud", self._audience)):
            if value is not None:
                claims[name] = value
        if self._hmac is not None:
            header = {"alg": "HS256", "kid": self._hmac.primary, "typ": _TYP}
        else:
            assert self._signer is not None
            header = {"alg": "EdDSA", "kid": self._signer.signer_id, "typ": _TYP}
        signing_input = _b64e(_dumps(header)) + "." + _b64e(_dumps(claims))
        data = signing_input.encode("ascii")
        if self._hmac is not None:
            signature = self._hmac.sign(data)
        else:
            assert self._signer is not None
            signature = self._signer.sign(data)
        return signing_input + "." + _b64e(signature)

    def __repr__(self) -> str:
        alg = "HS256" if self._hmac is not None else "EdDSA"
        return f"TokenIssuer(alg={alg}, issuer={self._issuer!r}, keys=***)"


@dataclass(frozen=True)
class _Policy:
    issuer: str | None
    audience: str | None
    leeway: float
    max_lifetime: float
    revoked: Callable[[str], bool] | None = field(default=None)


class TokenVerifier:
    """Verifies tokens and their scope.

    Args:
        hmac_keys: keys accepted for ``HS256`` (every key of the set verifies: rotation).
        public_keys: ``kid`` → Ed25519 public key accepted for ``EdDSA``.
        issuer: required ``iss`` (``None``: not checked).
        audience: required ``aud`` (``None``: not checked).
        leeway: clock-skew allowance in seconds for ``exp``/``nbf`` (0-300).
        max_lifetime: refuse tokens whose ``exp - iat`` exceeds this many seconds.
        revoked: returns ``True`` for a revoked ``jti``.
        clock: seconds since the epoch (injectable for tests).

    Raises:
        ConfigurationError: no keys at all, or ``leeway`` outside 0-300 s.
    """

    def __init__(
        self,
        *,
        hmac_keys: HmacKeySet | None = None,
        public_keys: Mapping[str, Ed25519PublicKey] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 30.0,
        max_lifetime: float = 86_400.0,
        revoked: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if hmac_keys is None and not public_keys:
            raise ConfigurationError("verifier", "give hmac_keys or public_keys")
        if not 0 <= leeway <= 300:
            raise ConfigurationError("leeway", "clock-skew allowance must be within 0-300 s")
        self._hmac = hmac_keys
        self._ed = Verifier(dict(public_keys or {}))
        self._ed_kids = frozenset(public_keys or ())
        self._policy = _Policy(issuer, audience, leeway, max_lifetime, revoked)
        self._clock = clock

    def verify(self, token: str) -> TokenClaims:
        """Check signature, time window, issuer, audience and revocation.

        Raises:
            TokenError: the token is refused; ``reason`` says why.
        """
        header, claims, signing_input, signature = self._parse(token)
        kid = header["kid"]
        alg = header["alg"]
        if alg == "HS256" and self._hmac is not None and kid in self._hmac:
            if not self._hmac.verify(signing_input, signature, kid):
                raise TokenError("bad_signature", "signature does not verify")
        elif alg == "EdDSA" and kid in self._ed_kids:
            try:
                self._ed.verify(kid, signature, signing_input, channel="")
            except SignatureError:
                raise TokenError("bad_signature", "signature does not verify") from None
        else:
            raise TokenError("unknown_key", f"unknown key id {kid!r} for {alg}")
        return self._check_claims(claims, kid)

    def authorize(self, token: str, action: Action, channel: str) -> TokenClaims:
        """:meth:`verify` the token, then check it allows ``action`` on ``channel``.

        Raises:
            TokenError: refused; names the channel.
        """
        try:
            claims = self.verify(token)
        except TokenError as exc:
            raise TokenError(exc.reason, str(exc).split(": ", 1)[-1], channel=channel) from None
        claims.check(action, channel)
        return claims

    @staticmethod
    def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise TokenError("malformed", "not a compact token")
        h64, c64, s64 = token.split(".")
        try:
            header = json.loads(_b64d(h64))
            claims = json.loads(_b64d(c64))
            signature = _b64d(s64)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise TokenError("malformed", "bad base64url or JSON") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("malformed", "header and claims must be objects")
        if header.get("alg") not in ("HS256", "EdDSA") or not isinstance(header.get("kid"), str):
            raise TokenError("malformed", "alg must be HS256 or EdDSA, with a kid")
        if header.get("crit") is not None:
            raise TokenError("malformed", "critical header extensions are not supported")
        return header, claims, f"{h64}.{c64}".encode("ascii"), signature

    def _check_claims(self, raw: dict[str, Any], kid: str) -> TokenClaims:
        p = self._policy
        now = self._clock()
        try:
            iat, nbf, exp = (int(raw[k]) for k in ("iat", "nbf", "exp"))
            subject = raw["sub"]
            grants = tuple(ChannelGrant.of(g["ch"], g["act"]) for g in raw["scope"])
            tenant = raw.get("tenant")
            tenant_namespace(tenant)
        except (KeyError, TypeError, ValueError, ConfigurationError):
            raise TokenError("malformed", "missing or invalid claims") from None
        if not isinstance(subject, str) or not subject:
            raise TokenError("malformed", "missing subject")
        if exp <= now - p.leeway:
            raise TokenError("expired", "token has expired")
        if nbf > now + p.leeway:
            raise TokenError("not_yet_valid", "token is not valid yet")
        if exp - iat > p.max_lifetime:
            raise TokenError("too_long_lived", "token lifetime exceeds the maximum")
        if p.issuer is not None and raw.get("iss") != p.issuer:
            raise TokenError("wrong_issuer", "issuer is not accepted")
        if p.audience is not None and not _has_audience(raw.get("aud"), p.audience):
            raise TokenError("wrong_audience", "audience is not this service")
        jti = raw.get("jti", "")
        if p.revoked is not None and isinstance(jti, str) and jti and p.revoked(jti):
            raise TokenError("revoked", "token was revoked")
        return TokenClaims(
            subject=subject,
            grants=grants,
            issued_at=iat,
            not_before=nbf,
            expires_at=exp,
            tenant=tenant,
            token_id=jti if isinstance(jti, str) else "",
            issuer=raw.get("iss"),
            audience=raw.get("aud") if isinstance(raw.get("aud"), str) else None,
            key_id=kid,
        )

    def __repr__(self) -> str:
        hmac_kids = self._hmac.key_ids() if self._hmac is not None else []
        return f"TokenVerifier(hs256={hmac_kids!r}, eddsa={sorted(self._ed_kids)!r})"


def _has_audience(aud: Any, wanted: str) -> bool:
    if isinstance(aud, str):
        return aud == wanted
    return isinstance(aud, list) and wanted in aud
