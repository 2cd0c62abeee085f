"""Multi-tenancy and residency helpers: namespaces, per-tenant users, keyrings, regions.

A tenant's channels, streams and keys all live under ``tenant:<id>:`` (the scheme of
:meth:`redis_fintech_sdk.channels.Channel.in_tenant`). One ACL user per tenant and role,
confined to ``~tenant:<id>:*`` / ``&tenant:<id>:*``, makes the server itself refuse
cross-tenant access; :class:`~redis_fintech_sdk.security.TenantPolicy` refuses it in the SDK
before the server is asked. Each tenant may have its own keyring, so a leaked key exposes
one tenant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from redis_fintech_sdk.channels import Channel, ChannelPattern, as_channel
from redis_fintech_sdk.codec import Keyring, keyring_from_env, keyring_from_file
from redis_fintech_sdk.errors import ConfigurationError, PolicyError
from redis_fintech_sdk.settings import Secret

from ._acl import AclUser, Role, tenant_namespace
from ._authz import Principal

__all__ = ["ResidencyPolicy", "Tenant", "TenantKeyrings"]


@dataclass(frozen=True)
class Tenant:
    """One tenant and its namespace.

    Attributes:
        id: the tenant id (``[A-Za-z0-9_-]+``).

    Raises:
        ConfigurationError: an invalid id.
    """

    id: str

    def __post_init__(self) -> None:
        tenant_namespace(self.id)

    @property
    def namespace(self) -> str:
        """``tenant:<id>:``."""
        return tenant_namespace(self.id)

    def channel(self, name: str | Channel) -> Channel:
        """``name`` inside this tenant (``market.price.X`` → ``tenant:<id>:market.price.X``).

        Raises:
            ConfigurationError: an invalid channel name.
        """
        return as_channel(name).in_tenant(self.id)

    def pattern(self, glob: str) -> ChannelPattern:
        """A channel pattern confined to this tenant.

        Raises:
            ConfigurationError: an invalid pattern, or one already in a tenant.
        """
        return ChannelPattern(glob).in_tenant(self.id)

    def key(self, name: str) -> str:
        """A key or stream name inside this tenant (``trade:exec`` → ``tenant:<id>:trade:exec``)."""
        return self.namespace + name

    def owns(self, name: str) -> bool:
        """Tell whether a channel, key or pattern lies inside this tenant's namespace."""
        return name.startswith(self.namespace)

    def acl_user(self, role: Role, *passwords: Secret, name: str | None = None) -> AclUser:
        """The ACL user holding ``role`` inside this tenant (``<role>@<tenant>`` by default).

        Raises:
            ConfigurationError: no password, or a bad name.
        """
        return AclUser(
            name=name or f"{role.name}@{self.id}", role=role, passwords=passwords, tenant=self.id
        )

    def principal(self, actor: str, *roles: str) -> Principal:
        """A principal of this tenant holding ``roles``."""
        return Principal(id=actor, tenant=self.id, roles=frozenset(roles))


class TenantKeyrings:
    """A keyring per tenant, so each tenant's messages are sealed under its own keys.

    Args:
        keyrings: tenant id → keyring already loaded.
        directory: load ``<directory>/<tenant>.json`` keysets on first use.
        env_prefix: else load the keyset from ``<env_prefix><TENANT>`` (upper case, ``-`` →
            ``_``), e.g. ``RFSDK_KEYSET_ACME``.
    """

    def __init__(
        self,
        keyrings: Mapping[str, Keyring] | None = None,
        *,
        directory: str | os.PathLike[str] | None = None,
        env_prefix: str | None = "RFSDK_KEYSET_",
    ) -> None:
        self._rings: dict[str, Keyring] = dict(keyrings or {})
        self._dir = Path(directory) if directory is not None else None
        self._env_prefix = env_prefix

    def env_name(self, tenant: str) -> str:
        """The environment variable read for ``tenant``.

        Raises:
            ConfigurationError: no ``env_prefix`` configured, or a bad tenant id.
        """
        if self._env_prefix is None:
            raise ConfigurationError("env_prefix", "no environment prefix configured")
        tenant_namespace(tenant)
        return self._env_prefix + re.sub(r"[^A-Z0-9_]", "_", tenant.upper())

    def get(self, tenant: str) -> Keyring:
        """The keyring of ``tenant``, loading it on first use.

        Raises:
            ConfigurationError: the tenant has no keyring anywhere, or its keyset is bad.
        """
        ring = self._rings.get(tenant)
        if ring is not None:
            return ring
        tenant_namespace(tenant)
        if self._dir is not None and (self._dir / f"{tenant}.json").is_file():
            ring = keyring_from_file(self._dir / f"{tenant}.json")
        elif self._env_prefix is not None and os.environ.get(self.env_name(tenant)):
            ring = keyring_from_env(self.env_name(tenant))
        else:
            raise ConfigurationError("tenant", f"no keyring for tenant {tenant!r}")
        self._rings[tenant] = ring
        return ring

    def tenants(self) -> list[str]:
        """Tenants whose keyring is loaded."""
        return sorted(self._rings)

    def __repr__(self) -> str:
        return f"TenantKeyrings(loaded={self.tenants()!r})"


class ResidencyPolicy:
    """Binds data classifications to regions, for paths that do not go through a RoutingTable.

    Args:
        residency: classification → regions where its messages may be stored.
        deployments: deployment name → its region.

    Example:
        >>> policy = ResidencyPolicy({"pii-eu": ["eu-west-1"]}, {"us-main": "us-east-1"})
        >>> policy.check("pii-eu", "us-main")  # doctest: +SKIP  (raises PolicyError)
    """

    def __init__(
        self, residency: Mapping[str, Iterable[str]], deployments: Mapping[str, str | None]
    ) -> None:
        self._residency = {k: frozenset(v) for k, v in residency.items()}
        self._deployments = dict(deployments)

    def check(self, classification: str | None, deployment: str) -> None:
        """Refuse sending ``classification`` data to ``deployment`` outside its regions.

        Raises:
            PolicyError: the classification is region-bound and the deployment's region is
                not allowed (or unknown).
        """
        if classification is None or classification not in self._residency:
            return
        allowed = self._residency[classification]
        region = self._deployments.get(deployment)
        if region not in allowed:
            raise PolicyError(
                f"residency: classification {classification!r} may only be stored in "
                f"{', '.join(sorted(allowed))}; deployment {deployment!r} is in {region!r}"
            )
