"""Security and compliance: ACL roles, tokens, authorization, rate limits, audit trail.

Also redaction of logs, tenancy and residency helpers.

The Pub/Sub and Streams classes take these through the protocols of
:mod:`redis_fintech_sdk.hooks`: an :class:`Authorizer` is a ``ChannelPolicy``, an
:class:`AsyncAuditLog` an ``AuditSink``, an :class:`AsyncRateLimiter` a ``Limiter``.

See ``docs/security.md`` and ``docs/compliance.md``. Classes that talk to Redis come as an
asyncio version (``AsyncAuditLog``) and a sync twin (``AuditLog``) sharing the sans-I/O core.
"""

from __future__ import annotations

from ._acl import (
    AclCheckFailure,
    AclCheckReport,
    AclUser,
    KeyAccess,
    KeyGrant,
    Role,
    render_acl_file,
    tenant_namespace,
)
from ._async.acl import AclAdmin as AsyncAclAdmin
from ._async.audit import AuditLog as AsyncAuditLog
from ._async.ratelimit import RateLimiter as AsyncRateLimiter
from ._audit_chain import (
    AuditEvent,
    AuditKind,
    AuditOutcome,
    ChainProblem,
    ChainReport,
    entries_from_jsonl,
    seal_entry,
    verify_chain,
)
from ._audit_policy import AuditSummary, RetentionPolicy, audit_stream_key, summarize
from ._authz import (
    AllowAll,
    Authorizer,
    AuthorizerStatistics,
    BasePolicy,
    ChannelPolicy,
    Principal,
    RolePolicy,
    TenantPolicy,
    TokenPolicy,
    grants_for_role,
)
from ._gcra import RateDecision, RateLimit, api_key_subject, gcra_step
from ._hmac_keys import HmacKeySet
from ._redaction import (
    RedactionFilter,
    field_classifications,
    install_redaction,
    require_encryption,
    sensitive_field_names,
)
from ._roles import (
    ROLE_FACTORIES,
    admin_role,
    audit_writer_role,
    auditor_role,
    market_data_publisher_role,
    market_data_reader_role,
    notifier_role,
    trade_processor_role,
)
from ._scope import Action, ChannelGrant, pattern_covers
from ._sync.acl import AclAdmin
from ._sync.audit import AuditLog, RetentionReport
from ._sync.ratelimit import RateLimiter
from ._tenancy import ResidencyPolicy, Tenant, TenantKeyrings
from ._tokens import TokenClaims, TokenError, TokenIssuer, TokenReason, TokenVerifier

__all__ = [
    "AclAdmin",
    "AclCheckFailure",
    "AclCheckReport",
    "AclUser",
    "Action",
    "AllowAll",
    "AsyncAclAdmin",
    "AsyncAuditLog",
    "AsyncRateLimiter",
    "AuditEvent",
    "AuditKind",
    "AuditLog",
    "AuditOutcome",
    "AuditSummary",
    "Authorizer",
    "AuthorizerStatistics",
    "BasePolicy",
    "ChainProblem",
    "ChainReport",
    "ChannelGrant",
    "ChannelPolicy",
    "HmacKeySet",
    "KeyAccess",
    "KeyGrant",
    "Principal",
    "ROLE_FACTORIES",
    "RateDecision",
    "RateLimit",
    "RateLimiter",
    "RedactionFilter",
    "ResidencyPolicy",
    "RetentionPolicy",
    "RetentionReport",
    "Role",
    "RolePolicy",
    "Tenant",
    "TenantKeyrings",
    "TenantPolicy",
    "TokenClaims",
    "TokenError",
    "TokenIssuer",
    "TokenPolicy",
    "TokenReason",
    "TokenVerifier",
    "admin_role",
    "api_key_subject",
    "audit_stream_key",
    "audit_writer_role",
    "auditor_role",
    "entries_from_jsonl",
    "field_classifications",
    "gcra_step",
    "grants_for_role",
    "install_redaction",
    "market_data_publisher_role",
    "market_data_reader_role",
    "notifier_role",
    "pattern_covers",
    "render_acl_file",
    "require_encryption",
    "seal_entry",
    "sensitive_field_names",
    "summarize",
    "tenant_namespace",
    "trade_processor_role",
    "verify_chain",
]
