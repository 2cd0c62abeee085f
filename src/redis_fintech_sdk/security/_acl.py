"""Roles rendered as Redis ACL rules (sans-I/O).

A :class:`Role` says which command categories and commands a service may run, on which keys
(``~pattern``, ``%R~`` read-only, ``%W~`` write-only) and on which Pub/Sub channels
(``&pattern``), and lists command lines it *must* and *must not* be able to run. An
:class:`AclUser` binds a role to a user name, a password (stored only as its SHA-256, the
``#<hex>`` form) and optionally a tenant, whose namespace then prefixes every key and channel
pattern.

Every user is rendered starting from nothing: ``reset resetchannels on #<hash> -@all`` then the
grants, then the denials (``-@dangerous`` by default), so the result does not depend on the
server's ``acl-pubsub-default`` or on what the user held before.

Note Redis's rule for ``PSUBSCRIBE``: a pattern subscription is allowed only when the pattern
is *literally* one of the user's ``&`` patterns (``&market.*`` allows ``PSUBSCRIBE market.*``
but not ``PSUBSCRIBE market.price.*``). Grant the exact patterns your subscribers use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from redis_fintech_sdk.channels import TENANT_PREFIX
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import Secret

__all__ = [
    "NAMESPACE_PLACEHOLDER",
    "AclCheckFailure",
    "AclCheckReport",
    "AclUser",
    "KeyAccess",
    "KeyGrant",
    "Role",
    "render_acl_file",
    "tenant_namespace",
]

KeyAccess = Literal["rw", "r", "w"]
"""Key access of a grant: read and write (``~``), read only (``%R~``), write only (``%W~``)."""

NAMESPACE_PLACEHOLDER = "{ns}"
"""Placeholder in expectation command lines, replaced by the tenant namespace (or nothing)."""

_NAME = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
_COMMAND = re.compile(r"[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)?")
_CATEGORY = re.compile(r"[a-z][a-z0-9_-]*")
# Patterns go into one ACL rule token: no whitespace, and nothing Redis would read as a rule.
_PATTERN = re.compile(r"[^\s\"']{1,256}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def tenant_namespace(tenant: str | None) -> str:
    """The prefix of a tenant's channels and keys: ``tenant:<id>:`` (``""`` for none).

    The same scheme as :meth:`redis_fintech_sdk.channels.Channel.in_tenant`, applied to keys
    and streams too, so one ``~tenant:<id>:*`` / ``&tenant:<id>:*`` pair confines a user.

    Raises:
        ConfigurationError: the tenant id is not ``[A-Za-z0-9_-]+``.
    """
    if tenant is None:
        return ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tenant):
        raise ConfigurationError("tenant", f"{tenant!r} is not a valid tenant id")
    return f"{TENANT_PREFIX}{tenant}:"


def _check(value: str, rule: re.Pattern[str], field_name: str, what: str) -> str:
    if not isinstance(value, str) or rule.fullmatch(value) is None:
        raise ConfigurationError(field_name, f"{value!r} is not a valid {what}")
    return value


@dataclass(frozen=True)
class KeyGrant:
    """Access to the keys matching a glob.

    Attributes:
        pattern: a Redis glob over key names (``md:*``).
        access: ``rw`` (``~``), ``r`` (``%R~``) or ``w`` (``%W~``).

    Raises:
        ConfigurationError: a pattern with whitespace or quotes, or an unknown access.
    """

    pattern: str
    access: KeyAccess = "rw"

    def __post_init__(self) -> None:
        _check(self.pattern, _PATTERN, "keys", "key pattern")
        if self.access not in ("rw", "r", "w"):
            raise ConfigurationError("access", "must be 'rw', 'r' or 'w'")

    def rule(self) -> str:
        """The ACL rule token (``~md:*``, ``%R~audit:*``)."""
        prefix = {"rw": "~", "r": "%R~", "w": "%W~"}[self.access]
        return prefix + self.pattern


@dataclass(frozen=True, kw_only=True)
class Role:
    """What a kind of service may do, as Redis ACL rules, plus the checks that prove it.

    Attributes:
        name: the role's name (``market-data-reader``).
        description: one line for humans; rendered as a comment in ACL files.
        categories: command categories granted (``"read"`` → ``+@read``).
        commands: commands granted (``"publish"``, ``"xinfo|stream"``).
        denied_categories: categories removed after the grants (default ``dangerous``).
        denied_commands: commands removed after the grants.
        keys: key grants.
        channels: Pub/Sub channel patterns (``&`` rules).
        must: command lines ``ACL DRYRUN`` must allow; ``{ns}`` stands for the tenant
            namespace.
        must_not: command lines ``ACL DRYRUN`` must refuse.

    Raises:
        ConfigurationError: a malformed name, command, category or pattern.
    """

    name: str
    description: str = ""
    categories: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    denied_categories: tuple[str, ...] = ("dangerous",)
    denied_commands: tuple[str, ...] = ()
    keys: tuple[KeyGrant, ...] = ()
    channels: tuple[str, ...] = ()
    must: tuple[tuple[str, ...], ...] = ()
    must_not: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        _check(self.name, _NAME, "role.name", "role name")
        for cat in (*self.categories, *self.denied_categories):
            _check(cat, _CATEGORY, "role.categories", "command category")
        for cmd in (*self.commands, *self.denied_commands):
            _check(cmd, _COMMAND, "role.commands", "command name")
        for pattern in self.channels:
            _check(pattern, _PATTERN, "role.channels", "channel pattern")
        for line in (*self.must, *self.must_not):
            if not line or not all(isinstance(arg, str) and arg for arg in line):
                raise ConfigurationError("role.must", "each check is a non-empty command line")

    def rules(self) -> list[str]:
        """The permission rules, without user state (on/off, passwords).

        Order: ``-@all``, granted categories and commands, denied categories and commands,
        key patterns, channel patterns.
        """
        out = ["-@all"]
        out += [f"+@{c}" for c in self.categories]
        out += [f"+{c}" for c in self.commands]
        out += [f"-@{c}" for c in self.denied_categories]
        out += [f"-{c}" for c in self.denied_commands]
        out += [k.rule() for k in self.keys]
        out += [f"&{p}" for p in self.channels]
        return out

    def in_tenant(self, tenant: str) -> Role:
        """Return this role confined to ``tenant``: every key and channel pattern gets its prefix.

        Raises:
            ConfigurationError: the tenant id is invalid.
        """
        ns = tenant_namespace(tenant)
        return replace(
            self,
            keys=tuple(KeyGrant(ns + k.pattern, k.access) for k in self.keys),
            channels=tuple(ns + p for p in self.channels),
        )

    def checks(self, tenant: str | None = None) -> tuple[list[list[str]], list[list[str]]]:
        """The ``must`` and ``must_not`` command lines with ``{ns}`` filled in.

        Raises:
            ConfigurationError: the tenant id is invalid.
        """
        ns = tenant_namespace(tenant)

        def fill(lines: Iterable[Sequence[str]]) -> list[list[str]]:
            return [[arg.replace(NAMESPACE_PLACEHOLDER, ns) for arg in line] for line in lines]

        return fill(self.must), fill(self.must_not)


def _hash(secret: Secret) -> str:
    return hashlib.sha256(secret.reveal().encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AclUser:
    """A Redis ACL user holding one role, optionally confined to a tenant.

    Passwords are never rendered in clear: :meth:`rules` carries ``#<sha256>`` only, which is
    what the server stores anyway (``ACL GETUSER`` and ``ACL SAVE`` show hashes).

    Attributes:
        name: the user name.
        role: the role it holds.
        passwords: passwords it may authenticate with (two during a rotation).
        password_hashes: SHA-256 hex digests of further passwords (e.g. from a vault).
        tenant: when set, the role is confined to ``tenant:<id>:`` keys and channels.
        enabled: ``on`` or ``off``.

    Raises:
        ConfigurationError: a bad name, a malformed hash, or a user with no password at all
            while enabled (``nopass`` is never generated).
    """

    name: str
    role: Role
    passwords: tuple[Secret, ...] = ()
    password_hashes: tuple[str, ...] = ()
    tenant: str | None = None
    enabled: bool = True
    _effective: Role = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(self.name, _NAME, "user.name", "ACL user name")
        if self.name == "default":
            raise ConfigurationError("user.name", "configure the default user separately")
        for h in self.password_hashes:
            _check(h, _SHA256_HEX, "user.password_hashes", "lower-case SHA-256 hex digest")
        if not all(isinstance(p, Secret) for p in self.passwords):
            raise ConfigurationError("user.passwords", "wrap passwords in settings.Secret")
        if self.enabled and not (self.passwords or self.password_hashes):
            raise ConfigurationError("user.passwords", f"user {self.name!r} has no password")
        role = self.role.in_tenant(self.tenant) if self.tenant is not None else self.role
        object.__setattr__(self, "_effective", role)

    @property
    def effective_role(self) -> Role:
        """The role with the tenant prefix applied."""
        return self._effective

    def rules(self) -> list[str]:
        """The ``ACL SETUSER`` arguments: from a reset state to exactly this user."""
        hashes = dict.fromkeys([*(_hash(p) for p in self.passwords), *self.password_hashes])
        state = ["reset", "resetchannels", "on" if self.enabled else "off"]
        return state + [f"#{h}" for h in hashes] + self._effective.rules()

    def acl_line(self) -> str:
        """One line of an ACL file: ``user <name> <rules…>``."""
        return " ".join(["user", self.name, *self.rules()])

    def checks(self) -> tuple[list[list[str]], list[list[str]]]:
        """The role's ``must`` / ``must_not`` command lines inside this user's namespace."""
        return self.role.checks(self.tenant)


DEFAULT_USER_OFF = "user default off resetpass resetkeys resetchannels -@all"


def render_acl_file(users: Sequence[AclUser], *, extra_lines: Sequence[str] = ()) -> str:
    """Render an ACL file (``aclfile`` directive) for ``users``.

    The default user is always switched off: otherwise Redis creates it as
    ``on nopass ~* &* +@all``. Add ``extra_lines`` (e.g. an operator's admin user) verbatim.
    Passwords appear as ``#<sha256>`` only, so the file holds no plaintext secret.

    Raises:
        ConfigurationError: two users share a name.
    """
    names = [u.name for u in users]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigurationError("users", f"duplicate user names: {', '.join(dupes)}")
    # Redis ACL files have no comment syntax: every non-blank line must start with "user".
    lines = [DEFAULT_USER_OFF]
    lines.extend(user.acl_line() for user in users)
    lines.extend(extra_lines)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class AclCheckFailure:
    """One ``ACL DRYRUN`` answer that contradicts the role.

    Attributes:
        user: the user checked.
        command: the command line asked about.
        expected: ``allowed`` (a ``must`` line) or ``denied`` (a ``must_not`` line).
        reply: the server's answer (``OK`` or its reason for refusing).
    """

    user: str
    command: tuple[str, ...]
    expected: Literal["allowed", "denied"]
    reply: str

    def describe(self) -> str:
        """``user reader: SET md:x x should be denied but was allowed``."""
        actual = "allowed" if self.reply == "OK" else f"refused ({self.reply})"
        line = " ".join(self.command)
        return f"user {self.user}: {line} should be {self.expected} but was {actual}"


@dataclass(frozen=True)
class AclCheckReport:
    """What ``ACL DRYRUN`` said about every generated user.

    Attributes:
        checked: how many command lines were asked about.
        failures: the answers that contradict a role.
    """

    checked: int
    failures: tuple[AclCheckFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """``True`` when every user can do what it must and nothing it must not."""
        return not self.failures

    def raise_for_failures(self) -> None:
        """Raise when any check failed.

        Raises:
            ConfigurationError: (``field="acl"``) listing every failure.
        """
        if self.failures:
            detail = "; ".join(f.describe() for f in self.failures)
            raise ConfigurationError("acl", f"{len(self.failures)} ACL check(s) failed: {detail}")
