"""Build routing rules from a plain dict / list structure (what ``yaml.safe_load`` gives)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError

from ._builders import Priority
from ._routing_model import Deployment, RouteMatch, RoutingRule, Template

__all__ = ["parse_table"]

_TABLE_KEYS = frozenset(
    {"rules", "deployments", "default_deployment", "residency", "tenant_namespaces"}
)
_RULE_KEYS = frozenset(
    {
        "name",
        "match",
        "channels",
        "priority_channels",
        "deployment",
        "precedence",
        "stop",
        "exclusive",
    }
)
_MATCH_KEYS = frozenset({"type", "headers", "priority", "tenant", "region", "classification"})


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(where, f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigurationError(where, f"keys must be strings, got {key!r}")
    return value


def _check_keys(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}.{unknown[0]}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
        )


def _strings(value: object, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or isinstance(items, (bytes, bytearray)):
        raise ConfigurationError(where, "expected a string or a list of strings")
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise ConfigurationError(f"{where}[{i}]", "expected a non-empty string")
        out.append(item)
    if not out:
        raise ConfigurationError(where, "must not be empty")
    return tuple(out)


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(where, "expected true or false")
    return value


def _priorities(value: object, where: str) -> frozenset[Priority]:
    out = set()
    for i, item in enumerate(_strings(value, where)):
        try:
            out.add(Priority.parse(item))
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}[{i}]", str(exc)) from None
    return frozenset(out)


def _templates(value: object, where: str) -> tuple[Template, ...]:
    return tuple(
        Template(text, where=f"{where}[{i}]") for i, text in enumerate(_strings(value, where))
    )


def _match(value: object, where: str) -> RouteMatch:
    data = _mapping(value, where)
    _check_keys(data, _MATCH_KEYS, where)
    headers: dict[str, str] = {}
    if "headers" in data:
        for name, glob in _mapping(data["headers"], f"{where}.headers").items():
            if not isinstance(glob, str):
                raise ConfigurationError(f"{where}.headers.{name}", "expected a string glob")
            headers[name] = glob
    return RouteMatch(
        types=_strings(data["type"], f"{where}.type") if "type" in data else (),
        headers=MappingProxyType(headers),
        priorities=(
            _priorities(data["priority"], f"{where}.priority")
            if "priority" in data
            else frozenset()
        ),
        tenants=frozenset(_strings(data.get("tenant", ()), f"{where}.tenant"))
        if "tenant" in data
        else frozenset(),
        regions=frozenset(_strings(data["region"], f"{where}.region"))
        if "region" in data
        else frozenset(),
        classifications=frozenset(_strings(data["classification"], f"{where}.classification"))
        if "classification" in data
        else frozenset(),
    )


def _rule(value: object, where: str) -> RoutingRule:
    data = _mapping(value, where)
    _check_keys(data, _RULE_KEYS, where)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{where}.name", "every rule needs a non-empty name")
    if "channels" not in data:
        raise ConfigurationError(f"{where}.channels", f"rule {name!r} has no channels")
    per_priority: dict[Priority, tuple[Template, ...]] = {}
    if "priority_channels" in data:
        pc_where = f"{where}.priority_channels"
        for key, templates in _mapping(data["priority_channels"], pc_where).items():
            try:
                level = Priority.parse(key)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{pc_where}.{key}", str(exc)) from None
            per_priority[level] = _templates(templates, f"{pc_where}.{key}")
    deployment = data.get("deployment")
    if deployment is not None and not isinstance(deployment, str):
        raise ConfigurationError(f"{where}.deployment", "expected a deployment name")
    precedence = data.get("precedence", 0)
    if not isinstance(precedence, int) or isinstance(precedence, bool):
        raise ConfigurationError(f"{where}.precedence", "expected an integer")
    return RoutingRule(
        name=name,
        match=_match(data["match"], f"{where}.match") if "match" in data else RouteMatch(),
        channels=_templates(data["channels"], f"{where}.channels"),
        priority_channels=MappingProxyType(per_priority),
        deployment=deployment,
        precedence=precedence,
        stop=_bool(data.get("stop", False), f"{where}.stop"),
        exclusive=_bool(data.get("exclusive", False), f"{where}.exclusive"),
    )


def parse_table(data: object) -> dict[str, Any]:
    """Turn a dict into the keyword arguments of :class:`RoutingTable`.

    Raises:
        ConfigurationError: the structure is wrong; ``field`` is a path such as
            ``routing.rules[2].match.priority[0]``.
    """
    root = "routing"
    table = _mapping(data, root)
    _check_keys(table, _TABLE_KEYS, root)
    rules_data = table.get("rules")
    if not isinstance(rules_data, Sequence) or isinstance(rules_data, (str, bytes)):
        raise ConfigurationError(f"{root}.rules", "expected a list of rules")
    deployments: list[Deployment] = []
    for name, spec in _mapping(table.get("deployments", {}), f"{root}.deployments").items():
        spec_map = _mapping(spec, f"{root}.deployments.{name}")
        _check_keys(spec_map, frozenset({"region"}), f"{root}.deployments.{name}")
        region = spec_map.get("region")
        if region is not None and not isinstance(region, str):
            raise ConfigurationError(f"{root}.deployments.{name}.region", "expected a string")
        deployments.append(Deployment(name, region))
    residency = {
        cls: frozenset(_strings(regions, f"{root}.residency.{cls}"))
        for cls, regions in _mapping(table.get("residency", {}), f"{root}.residency").items()
    }
    default = table.get("default_deployment")
    if default is not None and not isinstance(default, str):
        raise ConfigurationError(f"{root}.default_deployment", "expected a deployment name")
    return {
        "rules": [_rule(rule, f"{root}.rules[{i}]") for i, rule in enumerate(rules_data)],
        "deployments": deployments,
        "default_deployment": default,
        "residency": residency,
        "tenant_namespaces": _bool(
            table.get("tenant_namespaces", True), f"{root}.tenant_namespaces"
        ),
    }
