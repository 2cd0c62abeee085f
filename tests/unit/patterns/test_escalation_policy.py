"""Escalation schedules and escalated copies (pure), and the escalation config."""

from __future__ import annotations

import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.patterns import (
    EscalationConfig,
    EscalationPolicy,
    EscalationTier,
    Notification,
    escalation_schedule,
)

POLICY = EscalationPolicy(
    name="margin-call",
    tiers=(
        EscalationTier(after=300, recipients=("desk-oncall",)),
        EscalationTier(after=600, recipients=("head-risk", "cro"), template_id="esc.final"),
    ),
)


def original() -> Notification:
    return Notification(
        notification_id="n-1",
        user_id="trader-7",
        category="risk",
        priority=Priority.CRITICAL,
        template_id="margin.call",
        params={"account": "A-1"},
        escalation_policy="margin-call",
    )


def test_schedule_is_cumulative() -> None:
    assert escalation_schedule(POLICY, 1000.0) == (1300.0, 1900.0)
    assert POLICY.span == 900.0


def test_next_due_follows_the_actual_fire_time() -> None:
    assert POLICY.next_due(-1, 1000.0) == 1300.0  # the first tier, after the original
    assert POLICY.next_due(0, 1310.0) == 1910.0  # tier 0 fired late: tier 1 counts from then
    assert POLICY.next_due(1, 2000.0) is None  # after the last tier


def test_escalated_copy() -> None:
    n = original()
    copy = POLICY.escalate(n, 1, "cro")
    assert copy.user_id == "cro"
    assert copy.priority is Priority.CRITICAL
    assert copy.template_id == "esc.final"
    assert copy.escalation_of == "n-1"
    assert copy.escalation_tier == 2
    assert copy.escalation_policy is None  # copies never escalate themselves
    assert copy.params == n.params
    assert copy.root_id == "n-1"
    # Deterministic: a retried step produces the same notification id and dedup key.
    again = POLICY.escalate(n, 1, "cro")
    assert (copy.notification_id, copy.dedup_key) == (again.notification_id, again.dedup_key)
    assert POLICY.escalate(n, 0, "desk-oncall").template_id == "margin.call"
    # A copy of a copy still points at the root.
    assert POLICY.escalate(copy, 0, "desk-oncall").escalation_of == "n-1"


def test_long_ids_stay_within_the_id_limit() -> None:
    n = original().model_copy(update={"notification_id": "x" * 160})
    copy = POLICY.escalate(n, 0, "desk-oncall")
    assert len(copy.notification_id) <= 160
    Notification.model_validate(copy.model_dump())  # still a valid notification


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EscalationTier(after=-1, recipients=("a",)), "tiers.after"),
        (lambda: EscalationTier(after=1, recipients=()), "tiers.recipients"),
        (lambda: EscalationTier(after=1, recipients="abc"), "tiers.recipients"),  # type: ignore[arg-type]
        (lambda: EscalationPolicy(name="p", tiers=()), "escalation.tiers"),
        (lambda: EscalationPolicy(name="", tiers=POLICY.tiers), "escalation.name"),
        (lambda: EscalationConfig(lease=0), "escalation.lease"),
        (lambda: EscalationConfig(batch=0), "escalation.batch"),
        (lambda: EscalationConfig(key_prefix="a{b}"), "escalation.key_prefix"),
    ],
)
def test_validation_names_the_field(make: object, field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field
