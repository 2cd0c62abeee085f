"""The routing table: message facts in, (channel, deployment) targets out. Sans-I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError, PolicyError

from ._routing_check import RoutingProblem, find_problems
from ._routing_load import parse_table
from ._routing_model import Deployment, MessageView, RouteTarget, RoutingDecision, RoutingRule

__all__ = ["RoutingTable"]


class RoutingTable:
    """Ordered routing rules, checked when built, evaluated per message.

    Evaluation: rules run by descending ``precedence`` (ties keep declaration order). Every
    matching rule adds its targets (fan-out) until a matching rule has ``stop``. A message
    with a tenant lands in ``tenant:<id>:…`` channels unless ``tenant_namespaces`` is off.

    Building the table fails on: duplicate rule names, unknown deployments, rules that an
    earlier ``stop`` rule makes unreachable, conflicting ``exclusive`` rules, and rules that
    send a region-bound classification to a deployment in another region.

    Example:
        >>> table = RoutingTable.from_dict({"rules": [
        ...     {"name": "prices", "match": {"type": "market.price"},
        ...      "channels": ["market.price.{symbol}"]}]})
        >>> table.route(MessageView(type="market.price", headers={"symbol": "AAPL"})).channels
        (Channel('market.price.AAPL'),)
    """

    def __init__(
        self,
        rules: Sequence[RoutingRule],
        *,
        deployments: Iterable[Deployment] = (),
        default_deployment: str | None = None,
        residency: Mapping[str, Iterable[str]] | None = None,
        tenant_namespaces: bool = True,
    ) -> None:
        """Build and check the table.

        Args:
            rules: the rules, in declaration order.
            deployments: the named Redis deployments rules may target.
            default_deployment: the deployment of rules that name none (``None``: the
                client's own connection).
            residency: classification → regions its messages may be stored in.
            tenant_namespaces: prefix channels of tenant messages with ``tenant:<id>:``.

        Raises:
            ConfigurationError: the table has problems; ``field`` locates the first, the
                message lists all of them.
        """
        self._deployments = {d.name: d for d in deployments}
        self._default = default_deployment
        self._residency = {k: frozenset(v) for k, v in (residency or {}).items()}
        self._tenant_namespaces = tenant_namespaces
        indexed = list(enumerate(rules))
        # sorted() is stable, so equal precedence keeps declaration order.
        self._ordered = sorted(indexed, key=lambda pair: -pair[1].precedence)
        problems = find_problems(
            self._ordered,
            deployments=self._deployments,
            default_deployment=default_deployment,
            residency=self._residency,
        )
        if default_deployment is not None and default_deployment not in self._deployments:
            problems.insert(
                0,
                RoutingProblem(
                    "routing.default_deployment", f"unknown deployment {default_deployment!r}"
                ),
            )
        if problems:
            detail = "; ".join(str(p) for p in problems)
            raise ConfigurationError(
                problems[0].field, f"{len(problems)} problem(s) in routing table: {detail}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingTable:
        """Build a table from a plain structure (e.g. the result of ``yaml.safe_load``).

        Args:
            data: ``{"rules": [...], "deployments": {...}, "default_deployment": ...,
                "residency": {...}, "tenant_namespaces": bool}``; see ``docs/channels.md``.

        Raises:
            ConfigurationError: the structure is malformed or the table has problems.
        """
        return cls(**parse_table(data))

    @property
    def rules(self) -> tuple[RoutingRule, ...]:
        """The rules in evaluation order."""
        return tuple(rule for _, rule in self._ordered)

    @property
    def deployments(self) -> Mapping[str, Deployment]:
        """The declared deployments by name."""
        return dict(self._deployments)

    def route(self, message: MessageView) -> RoutingDecision:
        """Decide where ``message`` goes.

        Args:
            message: the header-level view of the message.

        Returns:
            The targets, deduplicated, in rule order; empty when no rule matched.

        Raises:
            PolicyError: the message's classification is bound to regions and a matching
                rule targets a deployment outside them (or one of unknown region).
            ConfigurationError: a template needs a header the message lacks, or a value
                that is not a single channel segment.
        """
        targets: dict[tuple[str, str | None], RouteTarget] = {}
        for index, rule in self._ordered:
            if not rule.match.matches(message):
                continue
            deployment = rule.deployment or self._default
            self._check_residency(message, rule, deployment)
            where = f"routing.rules[{index}] ({rule.name!r})"
            for template in rule.templates_for(message.priority):
                channel = template.render(message, where=where)
                if self._tenant_namespaces and message.tenant and channel.tenant is None:
                    channel = channel.in_tenant(message.tenant)
                key = (channel.name, deployment)
                targets.setdefault(key, RouteTarget(channel, deployment, rule.name))
            if rule.stop:
                break
        return RoutingDecision(tuple(targets.values()))

    def _check_residency(
        self, message: MessageView, rule: RoutingRule, deployment: str | None
    ) -> None:
        if message.classification is None:
            return
        allowed = self._residency.get(message.classification)
        if allowed is None:
            return
        known = self._deployments.get(deployment) if deployment is not None else None
        region = known.region if known is not None else None
        if region not in allowed:
            raise PolicyError(
                f"residency: classification {message.classification!r} may only be stored in "
                f"{', '.join(sorted(allowed))}; rule {rule.name!r} targets deployment "
                f"{deployment!r} in region {region!r}"
            )
