from __future__ import annotations

from typing import Any

import pytest

from redis_fintech_sdk.channels import (
    Channel,
    MessageView,
    Priority,
    RoutingTable,
    Template,
)
from redis_fintech_sdk.errors import ConfigurationError, PolicyError

TABLE: dict[str, Any] = {
    "deployments": {
        "eu-main": {"region": "eu-west-1"},
        "us-main": {"region": "us-east-1"},
    },
    "default_deployment": "us-main",
    "residency": {"pii-eu": ["eu-west-1", "eu-central-1"]},
    "rules": [
        {
            "name": "urgent-exec",
            "match": {"type": "trade.execution", "priority": ["high", "critical"]},
            "channels": ["trade.exec.high"],
            "precedence": 10,
            "stop": True,
        },
        {
            "name": "exec",
            "match": {"type": "trade.execution"},
            "channels": ["trade.exec"],
            "priority_channels": {"low": ["trade.exec.low"]},
        },
        {
            "name": "prices",
            "match": {"type": "market.*", "headers": {"symbol": "*"}},
            "channels": ["market.price.{symbol}", "market.depth.{{{symbol}}}"],
        },
        {
            "name": "eu-users",
            "match": {"classification": "pii-eu"},
            "deployment": "eu-main",
            "channels": ["notify.user.{user_id}"],
            "stop": True,  # without it, "audit" would send EU PII to us-main: refused
        },
        {"name": "audit", "channels": ["compliance.event.audit"]},
    ],
}


def route(table: RoutingTable, **kwargs: Any) -> list[tuple[str, str | None]]:
    decision = table.route(MessageView(**kwargs))
    return [(str(t.channel), t.deployment) for t in decision.targets]


def test_example_table_routes() -> None:
    table = RoutingTable.from_dict(TABLE)
    assert next(r.name for r in table.rules) == "urgent-exec"  # precedence first
    assert route(table, type="trade.execution", priority=Priority.HIGH) == [
        ("trade.exec.high", "us-main")
    ]
    assert route(table, type="trade.execution") == [
        ("trade.exec", "us-main"),
        ("compliance.event.audit", "us-main"),
    ]
    assert route(table, type="trade.execution", priority=Priority.LOW)[0] == (
        "trade.exec.low",
        "us-main",
    )
    assert route(table, type="market.tick", headers={"symbol": "AAPL"}, tenant="t1")[:2] == [
        ("tenant:t1:market.price.AAPL", "us-main"),
        ("tenant:t1:market.depth.{AAPL}", "us-main"),
    ]
    assert route(table, type="user.notice", classification="pii-eu", headers={"user_id": "7"})[
        0
    ] == ("notify.user.7", "eu-main")


def test_decision_helpers() -> None:
    table = RoutingTable.from_dict(TABLE)
    decision = table.route(MessageView(type="x"))
    assert decision.matched
    assert decision.channels == (Channel("compliance.event.audit"),)
    empty = RoutingTable([]).route(MessageView(type="x"))
    assert not empty.matched
    assert empty.channels == ()


def test_header_values_cannot_inject_segments() -> None:
    table = RoutingTable.from_dict(TABLE)
    with pytest.raises(ConfigurationError, match=r"message\.headers\.symbol"):
        table.route(MessageView(type="market.tick", headers={"symbol": "AAPL.evil"}))
    with pytest.raises(ConfigurationError, match=r"message\.headers\.user_id"):
        table.route(MessageView(type="n", classification="pii-eu"))


def test_residency_refused_at_runtime() -> None:
    data = dict(TABLE)
    data["rules"] = [{"name": "all", "channels": ["notify.user.x"]}]
    table = RoutingTable.from_dict(data)
    with pytest.raises(PolicyError, match=r"residency.*pii-eu.*us-main"):
        table.route(MessageView(type="n", classification="pii-eu"))
    assert route(table, type="n", classification="public") == [("notify.user.x", "us-main")]


def test_residency_refused_at_load() -> None:
    data = dict(TABLE)
    data["rules"] = [
        {"name": "bad", "match": {"classification": "pii-eu"}, "channels": ["a.b"]},
    ]
    with pytest.raises(ConfigurationError, match=r"routing.rules\[0\].*'pii-eu'.*us-east-1"):
        RoutingTable.from_dict(data)


def test_unreachable_rule_reported() -> None:
    rules = [
        {"name": "catch-all", "channels": ["a.b"], "stop": True},
        {"name": "never", "match": {"type": "x"}, "channels": ["c.d"]},
    ]
    with pytest.raises(
        ConfigurationError,
        match=r"rules\[1\].*'never' is unreachable.*'catch-all'",
    ):
        RoutingTable.from_dict({"rules": rules})


def test_shadowed_by_more_general_stop_rule() -> None:
    rules: list[dict[str, Any]] = [
        {"name": "market", "match": {"type": "market.*"}, "channels": ["a.b"], "stop": True},
        {"name": "prices", "match": {"type": ["market.price"]}, "channels": ["c.d"]},
    ]
    with pytest.raises(ConfigurationError, match="'prices' is unreachable"):
        RoutingTable.from_dict({"rules": rules})
    # Not shadowed when the later rule has higher precedence, or the earlier does not stop.
    rules[1]["precedence"] = 1
    RoutingTable.from_dict({"rules": rules})
    rules[1]["precedence"] = 0
    rules[0]["stop"] = False
    RoutingTable.from_dict({"rules": rules})


def test_exclusive_conflict_reported() -> None:
    rules: list[dict[str, Any]] = [
        {"name": "a", "match": {"type": "trade.*"}, "channels": ["x.y"], "exclusive": True},
        {"name": "b", "match": {"type": "trade.execution"}, "channels": ["x.z"]},
    ]
    with pytest.raises(ConfigurationError, match="'b' conflicts with exclusive rule 'a'"):
        RoutingTable.from_dict({"rules": rules})
    # Disjoint matches, different precedence, or identical targets are fine.
    for change in (
        {"match": {"type": "market.price"}},
        {"precedence": 5},
        {"channels": ["x.y"]},
        {"match": {"type": "trade.execution", "priority": "low"}, "channels": ["x.y"]},
    ):
        RoutingTable.from_dict({"rules": [rules[0], {**rules[1], **change}]})


def test_disjoint_exclusive_globs_do_not_conflict() -> None:
    rules: list[dict[str, Any]] = [
        {"name": "a", "match": {"type": "trade.*"}, "channels": ["x.y"], "exclusive": True},
        {"name": "b", "match": {"type": "market.*"}, "channels": ["x.z"], "exclusive": True},
        {"name": "c", "match": {"headers": {"venue": "XNAS"}}, "channels": ["x.w"]},
    ]
    with pytest.raises(ConfigurationError, match="'c' conflicts"):
        RoutingTable.from_dict({"rules": rules})
    RoutingTable.from_dict({"rules": rules[:2]})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rules": [{"name": "a", "channels": ["a.b"], "colour": 1}]}, "routing.rules[0].colour"),
        ({"rules": [{"channels": ["a.b"]}]}, "routing.rules[0].name"),
        ({"rules": [{"name": "a"}]}, "routing.rules[0].channels"),
        (
            {"rules": [{"name": "a", "channels": ["a.b"], "match": {"priority": "urgent"}}]},
            "routing.rules[0].match.priority[0]",
        ),
        ({"rules": [{"name": "a", "channels": ["a.{b"]}]}, "routing.rules[0].channels[0]"),
        ({"rules": [{"name": "a", "channels": ["A.b"]}]}, "channel"),
        ({"rules": "nope"}, "routing.rules"),
        ({"rules": [], "extra": 1}, "routing.extra"),
        ({"rules": [{"name": "a", "channels": ["a.b"], "deployment": "nope"}]}, "routing.rules[0]"),
        ({"rules": [], "default_deployment": "nope"}, "routing.default_deployment"),
        (
            {"rules": [{"name": "a", "channels": ["a.b"]}, {"name": "a", "channels": ["c.d"]}]},
            "routing.rules[1]",
        ),
    ],
)
def test_malformed_tables_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RoutingTable.from_dict(data)
    assert info.value.field == field


def test_templates() -> None:
    t = Template("x.{type}.{headers.k}.{{{tenant}}}")
    assert t.fields == ("type", "headers.k", "tenant")
    msg = MessageView(type="t", headers={"k": "v"}, tenant="acme")
    assert str(t.render(msg, where="test")) == "x.t.v.{acme}"
    assert str(Template("a.{priority}").render(MessageView(type="t"), where="w")) == "a.normal"


def test_tenant_namespaces_can_be_disabled() -> None:
    table = RoutingTable.from_dict(
        {"tenant_namespaces": False, "rules": [{"name": "a", "channels": ["a.b"]}]}
    )
    assert route(table, type="t", tenant="acme") == [("a.b", None)]


def test_docs_example_loads_and_routes_as_documented() -> None:
    import re
    from pathlib import Path

    yaml = pytest.importorskip("yaml")
    text = (Path(__file__).parents[3] / "docs" / "channels.md").read_text()
    match = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert match is not None
    table = RoutingTable.from_dict(yaml.safe_load(match.group(1)))
    assert route(table, type="market.tick", headers={"symbol": "AAPL"}, tenant="t1") == [
        ("tenant:t1:market.price.AAPL", "us-main"),
        ("tenant:t1:market.depth.{AAPL}", "us-main"),
        ("tenant:t1:compliance.event.audit", "us-main"),
    ]
