"""Channel-level authorization: a policy check before every publish, subscribe and consume.

Sans-I/O and synchronous: a check is a few glob matches, cheap enough for the publish path.
Publishers, subscribers and stream consumers call the matching ``check_*`` method of an
:class:`Authorizer` before touching Redis; a refusal is an
:class:`~redis_fintech_sdk.errors.AuthorizationError` naming the channel — the same error a
server-side ``NOPERM`` maps to, so callers handle both in one ``except``.

:class:`ChannelPolicy` (the protocol the I/O classes call) lives in
:mod:`redis_fintech_sdk.hooks` and is re-exported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from redis_fintech_sdk.errors import AuthorizationError
from redis_fintech_sdk.hooks import ChannelPolicy

from ._acl import Role, tenant_namespace
from ._audit_chain import AuditEvent
from ._scope import Action, ChannelGrant
from ._tokens import TokenClaims, TokenError

__all__ = [
    "AllowAll",
    "Authorizer",
    "AuthorizerStatistics",
    "BasePolicy",
    "ChannelPolicy",
    "Principal",
    "RolePolicy",
    "TenantPolicy",
    "TokenPolicy",
    "grants_for_role",
]


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is acting: a service, or a user on whose behalf a gateway acts.

    Attributes:
        id: the actor id written to the audit trail (ACL user, token subject, service).
        tenant: the tenant it belongs to; ``None`` for platform services.
        roles: role names, for :class:`RolePolicy`.
        claims: the verified token, for :class:`TokenPolicy`.
    """

    id: str
    tenant: str | None = None
    roles: frozenset[str] = frozenset()
    claims: TokenClaims | None = None

    @classmethod
    def from_claims(cls, claims: TokenClaims) -> Principal:
        """The principal a verified token speaks for."""
        return cls(id=claims.subject, tenant=claims.tenant, claims=claims)


class BasePolicy:
    """A policy defined by one method, :meth:`check`; the ``check_*`` methods call it."""

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Raise to refuse ``action`` on ``name``.

        Raises:
            AuthorizationError: refused.
        """
        raise NotImplementedError

    def check_publish(self, channel: str, principal: Principal | None = None) -> None:
        """See :class:`ChannelPolicy`.

        Raises:
            AuthorizationError: refused.
        """
        self.check("publish", channel, principal)

    def check_subscribe(self, channel: str, principal: Principal | None = None) -> None:
        """See :class:`ChannelPolicy`.

        Raises:
            AuthorizationError: refused.
        """
        self.check("subscribe", channel, principal)

    def check_produce(self, stream: str, principal: Principal | None = None) -> None:
        """See :class:`ChannelPolicy`.

        Raises:
            AuthorizationError: refused.
        """
        self.check("produce", stream, principal)

    def check_consume(self, stream: str, principal: Principal | None = None) -> None:
        """See :class:`ChannelPolicy`.

        Raises:
            AuthorizationError: refused.
        """
        self.check("consume", stream, principal)

    def check_read(self, stream: str, principal: Principal | None = None) -> None:
        """Before reading stream history (``XRANGE``/``XREAD``).

        Raises:
            AuthorizationError: refused.
        """
        self.check("read", stream, principal)


def _deny(action: Action, name: str, why: str) -> AuthorizationError:
    return AuthorizationError(f"not authorized to {action}: {why}", channel=name)


class AllowAll(BasePolicy):
    """Allows everything (the default when no policy is configured)."""

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Never refuses."""


class TokenPolicy(BasePolicy):
    """Allows what the principal's verified token allows, and nothing without a token."""

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Check the token's scope.

        Raises:
            TokenError: no token, or its scope does not cover ``action`` on ``name``.
        """
        if principal is None or principal.claims is None:
            raise TokenError("scope", "no access token presented", channel=name)
        principal.claims.check(action, name)


_ACTION_COMMANDS: Mapping[Action, frozenset[str]] = {
    "publish": frozenset({"publish", "spublish"}),
    "subscribe": frozenset({"subscribe", "psubscribe", "ssubscribe"}),
    "produce": frozenset({"xadd"}),
    "consume": frozenset({"xreadgroup"}),
    "read": frozenset({"xrange", "xread", "xrevrange"}),
}


def grants_for_role(role: Role) -> tuple[ChannelGrant, ...]:
    """The channel/stream grants implied by a role's ACL rules.

    Pub/Sub actions apply to the role's ``&`` channel patterns, stream actions to its key
    patterns (with read-only grants giving ``read`` only), each only when the role holds
    a command that performs it (or ``+@all``). One role then drives both the server's ACL
    and the SDK's own check.
    """
    everything = "all" in role.categories
    held = set(role.commands)

    def has(action: Action) -> bool:
        return everything or bool(_ACTION_COMMANDS[action] & held)

    grants: list[ChannelGrant] = []
    channel_actions = [a for a in ("publish", "subscribe") if has(a)]
    if role.channels and channel_actions:
        grants.append(ChannelGrant.of(role.channels, channel_actions))  # type: ignore[arg-type]
    for access in ("rw", "r", "w"):
        patterns = tuple(k.pattern for k in role.keys if k.access == access)
        actions: list[Action] = []
        if access in ("rw", "w") and has("produce"):
            actions.append("produce")
        if access == "rw" and has("consume"):
            actions.append("consume")
        if access in ("rw", "r") and has("read"):
            actions.append("read")
        if patterns and actions:
            grants.append(ChannelGrant.of(patterns, actions))
    return tuple(grants)


class RolePolicy(BasePolicy):
    """Allows what the principal's roles allow.

    Args:
        roles: role name → grants, or :class:`Role` objects (grants from
            :func:`grants_for_role`).
    """

    def __init__(self, roles: Mapping[str, Sequence[ChannelGrant]] | Iterable[Role]) -> None:
        if isinstance(roles, Mapping):
            self._grants = {name: tuple(g) for name, g in roles.items()}
        else:
            self._grants = {r.name: grants_for_role(r) for r in roles}

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Check the principal's roles (inside its tenant namespace, if it has a tenant).

        Raises:
            AuthorizationError: no principal, or none of its roles allows it.
        """
        if principal is None:
            raise _deny(action, name, "no principal")
        ns = tenant_namespace(principal.tenant)
        for role in principal.roles:
            for grant in self._grants.get(role, ()):
                if (grant.in_tenant(ns) if ns else grant).allows(action, name):
                    return
        raise _deny(action, name, f"no role of {principal.id!r} allows it")


class TenantPolicy(BasePolicy):
    """Keeps each tenant inside its ``tenant:<id>:`` namespace.

    A tenant principal may only name channels, streams and patterns inside its namespace (a
    pattern without the prefix could match other tenants' channels, so it is refused). A
    principal without a tenant may not enter any tenant namespace unless ``platform_access``.

    Args:
        platform_access: let tenant-less (platform) principals into tenant namespaces.
    """

    def __init__(self, *, platform_access: bool = False) -> None:
        self._platform = platform_access

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Check the namespace.

        Raises:
            AuthorizationError: the name is outside the principal's tenant namespace.
        """
        tenant = principal.tenant if principal is not None else None
        if tenant is not None:
            if not name.startswith(tenant_namespace(tenant)):
                raise _deny(action, name, f"outside tenant {tenant!r}")
        elif name.startswith("tenant:") and not self._platform:
            raise _deny(action, name, "tenant namespace, and the principal has no tenant")


@dataclass(frozen=True)
class AuthorizerStatistics:
    """Counters of an :class:`Authorizer`.

    Attributes:
        allowed: checks that passed.
        denied: checks that refused.
    """

    allowed: int
    denied: int


@dataclass
class Authorizer(BasePolicy):
    """Runs every policy in order; the first refusal wins and is reported to ``on_denied``.

    Args:
        policies: the policies (all must allow).
        on_denied: called with a ``permission_denied`` :class:`AuditEvent` before the error
            propagates — hand it to an audit log.

    Example:
        >>> authz = Authorizer([TenantPolicy(), TokenPolicy()])
        >>> authz.check_subscribe("tenant:acme:market.price.AAPL", principal)  # doctest: +SKIP
    """

    policies: Sequence[ChannelPolicy | BasePolicy] = field(default_factory=list)
    on_denied: Callable[[AuditEvent], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _allowed: int = field(default=0, repr=False)
    _denied: int = field(default=0, repr=False)

    def check(self, action: Action, name: str, principal: Principal | None) -> None:
        """Run every policy.

        Raises:
            AuthorizationError: a policy refused; ``.channel`` names the channel or stream.
        """
        try:
            for policy in self.policies:
                _dispatch(policy, action, name, principal)
        except AuthorizationError as exc:
            with self._lock:
                self._denied += 1
            if self.on_denied is not None:
                reason = exc.reason if isinstance(exc, TokenError) else "policy"
                self.on_denied(
                    AuditEvent(
                        kind="token_refused"
                        if isinstance(exc, TokenError)
                        else "permission_denied",
                        actor=principal.id if principal is not None else "anonymous",
                        outcome="denied",
                        channel=name[:256],
                        reason=f"{action}: {reason}",
                    )
                )
            raise
        with self._lock:
            self._allowed += 1

    def statistics(self) -> AuthorizerStatistics:
        """Counters so far."""
        return AuthorizerStatistics(self._allowed, self._denied)


def _dispatch(
    policy: ChannelPolicy | BasePolicy, action: Action, name: str, principal: Principal | None
) -> None:
    if isinstance(policy, BasePolicy):
        policy.check(action, name, principal)
    elif action == "publish":
        policy.check_publish(name, principal)
    elif action == "subscribe":
        policy.check_subscribe(name, principal)
    elif action == "produce":
        policy.check_produce(name, principal)
    elif action in ("consume", "read"):
        policy.check_consume(name, principal)
