"""The notification message, dedup fingerprints and the public namespace."""

from __future__ import annotations

import importlib
import inspect
from decimal import Decimal

import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.codec import Codec, default_registry
from redis_fintech_sdk.errors import ConfigurationError, SchemaError
from redis_fintech_sdk.patterns import (
    Notification,
    RouterConfig,
    WebhookConfig,
    dedup_fingerprint,
    priority_rank,
)


def make(**kw: object) -> Notification:
    base: dict[str, object] = {
        "user_id": "u1",
        "category": "trading",
        "template_id": "t",
        "params": {"a": 1},
    }
    base.update(kw)
    return Notification.model_validate(base)


def test_patterns_namespace_is_sorted_complete_and_documented() -> None:
    mod = importlib.import_module("redis_fintech_sdk.patterns")
    exported = list(mod.__all__)
    assert exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    undocumented = [
        name
        for name in exported
        if (inspect.isclass(obj := getattr(mod, name)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert not undocumented


def test_message_types_are_registered() -> None:
    for name in (
        "rfsdk.notification",
        "rfsdk.notification.rendered",
        "rfsdk.trade.executed",
        "rfsdk.trade.settled",
        "rfsdk.account.balance",
        "rfsdk.risk.alert",
        "rfsdk.fraud.alert",
        "rfsdk.compliance.event",
        "rfsdk.regulatory.report_trigger",
    ):
        assert default_registry.get(name) is not None, name
    compliance = default_registry.get("rfsdk.compliance.event")
    assert compliance is not None
    assert compliance.encrypted


def test_notification_round_trips_through_the_codec() -> None:
    codec = Codec()
    n = make(priority="critical", params={"amount": Decimal("10.50"), "n": 3, "ok": True})
    back = codec.decode(codec.encode(n, channel="q"), channel="q").payload
    assert back.notification_id == n.notification_id
    assert back.priority is Priority.CRITICAL
    assert back.params == {"amount": "10.50", "n": 3, "ok": True}  # Decimal -> decimal string
    assert back.created_at == n.created_at


@pytest.mark.parametrize(
    "bad",
    [
        {"user_id": "has space"},
        {"user_id": "a.b"},  # would break the channel name
        {"category": "Upper"},
        {"priority": "urgent"},
        {"params": {"x": [1, 2]}},
        {"notification_id": ""},
    ],
)
def test_bad_notifications_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((ValueError, SchemaError)):
        make(**bad)


def test_fingerprints() -> None:
    a = make(notification_id="n1")
    assert dedup_fingerprint(a) == dedup_fingerprint(make(notification_id="n2"))
    assert dedup_fingerprint(a) != dedup_fingerprint(make(user_id="u2"))
    assert dedup_fingerprint(a) != dedup_fingerprint(make(params={"a": 2}))
    assert dedup_fingerprint(a) != dedup_fingerprint(make(tenant="t1"))
    keyed = make(dedup_key="margin:A-1", params={"a": 1})
    assert dedup_fingerprint(keyed) == dedup_fingerprint(
        make(dedup_key="margin:A-1", params={"a": 99})
    )


def test_priority_rank_orders_priorities() -> None:
    ranks = [priority_rank(p) for p in ("low", "normal", "high", "critical")]
    assert ranks == sorted(ranks) == [0, 1, 2, 3]
    with pytest.raises(ConfigurationError):
        priority_rank("urgent")


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError) as info:
        RouterConfig(dedup_window=0)
    assert info.value.field == "dedup_window"
    with pytest.raises(ConfigurationError) as info:
        RouterConfig(key_prefix="")
    assert info.value.field == "key_prefix"
    with pytest.raises(ConfigurationError) as info:
        WebhookConfig(dead_letter_maxlen=0)
    assert info.value.field == "dead_letter_maxlen"
