"""Value types of the routing table: the message view, match conditions, rules, targets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from redis_fintech_sdk.errors import ConfigurationError

from ._builders import Priority
from ._glob import glob_match
from ._names import Channel

__all__ = [
    "Deployment",
    "MessageView",
    "RouteMatch",
    "RouteTarget",
    "RoutingDecision",
    "RoutingRule",
    "Template",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}|[{}]")
_BUILTIN_FIELDS = frozenset({"type", "tenant", "region", "priority", "classification"})


@dataclass(frozen=True, kw_only=True)
class MessageView:
    """What routing may look at: header-level facts, never the payload.

    Attributes:
        type: the registered message type name (``"trade.execution"``).
        headers: plaintext envelope headers (``{"symbol": "AAPL"}``).
        priority: the message priority.
        tenant: the tenant id, or ``None`` for single-tenant traffic.
        region: where the message was produced (informational).
        classification: the data classification (``"public"``, ``"pii-eu"``…), which
            residency rules bind to regions.
    """

    type: str
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    priority: Priority = Priority.NORMAL
    tenant: str | None = None
    region: str | None = None
    classification: str | None = None


@dataclass(frozen=True, kw_only=True)
class RouteMatch:
    """Conditions of a rule. Every given condition must hold; an empty one holds always.

    Attributes:
        types: globs over the message type (``"market.*"``); any one may match.
        headers: header name → glob over its value; the header must be present.
        priorities: allowed priorities.
        tenants: allowed tenant ids.
        regions: allowed producing regions.
        classifications: allowed data classifications.
    """

    types: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    priorities: frozenset[Priority] = frozenset()
    tenants: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    classifications: frozenset[str] = frozenset()

    @property
    def is_catch_all(self) -> bool:
        """``True`` when the match has no condition at all."""
        return not (
            self.types
            or self.headers
            or self.priorities
            or self.tenants
            or self.regions
            or self.classifications
        )

    def matches(self, message: MessageView) -> bool:
        """Tell whether ``message`` meets every condition."""
        if self.types and not any(glob_match(t, message.type) for t in self.types):
            return False
        for name, value_glob in self.headers.items():
            value = message.headers.get(name)
            if value is None or not glob_match(value_glob, value):
                return False
        if self.priorities and message.priority not in self.priorities:
            return False
        if self.tenants and message.tenant not in self.tenants:
            return False
        if self.regions and message.region not in self.regions:
            return False
        return not (self.classifications and message.classification not in self.classifications)


class Template:
    """A channel template such as ``market.price.{symbol}``.

    Placeholders: ``{type}``, ``{tenant}``, ``{region}``, ``{priority}``,
    ``{classification}``, ``{headers.<name>}`` or a bare ``{<name>}`` for a header. ``{{`` and
    ``}}`` are literal braces, so a hash tag on a header is ``market.depth.{{{symbol}}}``.
    Each substituted value must be one segment (``[A-Za-z0-9_-]+``): a header can never add
    segments or a tenant prefix to the channel.
    """

    __slots__ = ("fields", "parts", "text")

    def __init__(self, text: str, *, where: str = "template") -> None:
        """Parse ``text``.

        Raises:
            ConfigurationError: a lone ``{``/``}``, or a template without placeholders
                that is not a valid channel name.
        """
        parts: list[tuple[bool, str]] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() > pos:
                parts.append((False, text[pos : m.start()]))
            token = m.group(0)
            if token in ("{{", "}}"):
                parts.append((False, token[0]))
            elif m.group(1) is not None:
                parts.append((True, m.group(1)))
            else:
                raise ConfigurationError(
                    where, f"{text!r}: unmatched {token!r} (write {token * 2!r} for a brace)"
                )
            pos = m.end()
        if pos < len(text):
            parts.append((False, text[pos:]))
        self.text = text
        self.parts = tuple(parts)
        self.fields = tuple(value for is_field, value in parts if is_field)
        if not self.fields:
            Channel(self.render_static())

    def render_static(self) -> str:
        """The text with escapes resolved (meaningful only without placeholders)."""
        return "".join(value for is_field, value in self.parts if not is_field)

    def render(self, message: MessageView, *, where: str) -> Channel:
        """Fill the placeholders from ``message`` and validate the result.

        Raises:
            ConfigurationError: a header is missing, a value is not one segment, or the
                result is not a valid channel. ``field`` names the message field.
        """
        out: list[str] = []
        for is_field, value in self.parts:
            if not is_field:
                out.append(value)
                continue
            out.append(_lookup(message, value, template=self.text, where=where))
        return Channel("".join(out))

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _lookup(message: MessageView, name: str, *, template: str, where: str) -> str:
    value: str | None
    if name in _BUILTIN_FIELDS:
        raw = getattr(message, name)
        value = raw.value if isinstance(raw, Priority) else raw
        field_name = f"message.{name}"
    else:
        header = name.removeprefix("headers.")
        value = message.headers.get(header)
        field_name = f"message.headers.{header}"
    if value is None:
        raise ConfigurationError(field_name, f"missing, but {where} uses it in {template!r}")
    if _SEGMENT.fullmatch(value) is None:
        raise ConfigurationError(
            field_name,
            f"{value!r} is not a single channel segment ([A-Za-z0-9_-]+), "
            f"needed by {where} in {template!r}",
        )
    return value


@dataclass(frozen=True, kw_only=True)
class RoutingRule:
    """One rule: when ``match`` holds, publish to ``channels`` on ``deployment``.

    Attributes:
        name: unique name, used in error messages and :class:`RouteTarget`.
        match: the conditions.
        channels: channel templates for the message.
        priority_channels: per-priority templates that *replace* ``channels`` for
            messages of that priority (``{high: ["trade.exec.high"]}``).
        deployment: the named Redis deployment, or ``None`` for the table default.
        precedence: higher runs first; equal precedence keeps declaration order.
        stop: when this rule matches, no later rule is consulted.
        exclusive: no other rule of the same precedence may route an overlapping set of
            messages to different targets (checked when the table is built).
    """

    name: str
    match: RouteMatch = field(default_factory=RouteMatch)
    channels: tuple[Template, ...] = ()
    priority_channels: Mapping[Priority, tuple[Template, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    deployment: str | None = None
    precedence: int = 0
    stop: bool = False
    exclusive: bool = False

    def templates_for(self, priority: Priority) -> tuple[Template, ...]:
        """The templates used for a message of ``priority``."""
        return self.priority_channels.get(priority, self.channels)

    def target_signature(self) -> tuple[object, ...]:
        """What the rule routes to, for comparing rules (deployment and templates)."""
        per_priority = tuple(sorted((p.value, t) for p, t in self.priority_channels.items()))
        return (self.deployment, self.channels, per_priority)


@dataclass(frozen=True)
class Deployment:
    """A named Redis deployment and the region its data lives in.

    Attributes:
        name: the deployment's name (``"eu-main"``).
        region: its region (``"eu-west-1"``), or ``None`` when unknown.
    """

    name: str
    region: str | None = None


@dataclass(frozen=True)
class RouteTarget:
    """One place a message goes.

    Attributes:
        channel: the rendered channel.
        deployment: the deployment name, or ``None`` for "the client's own".
        rule: the name of the rule that produced it.
    """

    channel: Channel
    deployment: str | None
    rule: str


@dataclass(frozen=True)
class RoutingDecision:
    """The result of :meth:`RoutingTable.route`: deduplicated targets in rule order.

    Attributes:
        targets: every (channel, deployment) pair, first rule wins on duplicates.
    """

    targets: tuple[RouteTarget, ...]

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The distinct channels, in order."""
        return tuple(dict.fromkeys(t.channel for t in self.targets))

    @property
    def matched(self) -> bool:
        """``True`` when at least one rule matched."""
        return bool(self.targets)
