"""Who a request speaks for, and what it may touch: tokens, channel policy, admin scope."""

from __future__ import annotations

from collections.abc import Iterable

from redis_fintech_sdk.errors import AuthorizationError, TokenError
from redis_fintech_sdk.hooks import ChannelPolicy
from redis_fintech_sdk.security import Action, Principal, TokenClaims, TokenVerifier

from ._asgi import HttpError

__all__ = ["Authenticator"]


class Authenticator:
    """Verifies bearer tokens and checks channels against the token and an optional policy.

    Args:
        verifier: the SDK's :class:`TokenVerifier` (signature, expiry, issuer, audience,
            revocation).
        policy: a further :class:`ChannelPolicy` (e.g. ``Authorizer([TenantPolicy()])``)
            run with the token's principal after the token's own scope check.
        admin_scope: the exact grant pattern that makes a token an admin.
    """

    def __init__(
        self, verifier: TokenVerifier, *, policy: ChannelPolicy | None, admin_scope: str
    ) -> None:
        self.verifier = verifier
        self.policy = policy
        self.admin_scope = admin_scope

    def authenticate(self, token: str | None) -> TokenClaims:
        """Verify a token.

        Raises:
            HttpError: 401 (missing or refused; the reason, never the token).
        """
        if not token:
            raise HttpError(401, "unauthorized", "missing bearer token")
        try:
            return self.verifier.verify(token)
        except TokenError as exc:
            raise HttpError(401, "unauthorized", f"token refused: {exc.reason}") from None

    def authorize(self, claims: TokenClaims, action: Action, names: Iterable[str]) -> None:
        """Check ``action`` on every name (a glob is checked as a pattern subscription).

        Raises:
            HttpError: 403 naming the first refused channel.
        """
        principal = Principal.from_claims(claims)
        for name in names:
            if not claims.allows(action, name):
                raise HttpError(403, "forbidden", f"token does not allow {action} on {name}")
            if self.policy is None:
                continue
            try:
                if action == "publish":
                    self.policy.check_publish(name, principal)
                else:
                    self.policy.check_subscribe(name, principal)
            except AuthorizationError:
                raise HttpError(403, "forbidden", f"policy refuses {action} on {name}") from None

    def is_admin(self, claims: TokenClaims) -> bool:
        """Whether a grant of the token names the admin scope exactly (wildcards never do)."""
        return any(self.admin_scope in g.patterns for g in claims.effective_grants())

    def require_admin(self, token: str | None) -> TokenClaims:
        """Authenticate and require the admin scope.

        Raises:
            HttpError: 401 (no or bad token) or 403 (not an admin).
        """
        claims = self.authenticate(token)
        if not self.is_admin(claims):
            raise HttpError(403, "forbidden", "admin scope required")
        return claims
