"""Escalation policies for critical alerts: tiers, the schedule and escalated copies (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.errors import ConfigurationError

from ._notification import Notification

__all__ = ["EscalationPolicy", "EscalationTier", "escalation_schedule"]

_MAX_ID = 160


@dataclass(frozen=True, kw_only=True)
class EscalationTier:
    """One step of an escalation.

    Attributes:
        after: seconds without an acknowledgement after the previous step (the original
            notification for the first tier) before this tier is notified.
        recipients: user ids notified at this tier.
        template_id: the template of the escalated copies (default: the original's).

    Raises:
        ConfigurationError: ``after`` is negative or there are no recipients.
    """

    after: float
    recipients: tuple[str, ...]
    template_id: str | None = None

    def __post_init__(self) -> None:
        if not self.after >= 0:
            raise ConfigurationError("tiers.after", "must be >= 0 seconds")
        recipients: object = self.recipients
        if isinstance(recipients, str):
            raise ConfigurationError("tiers.recipients", "must be a sequence of user ids")
        object.__setattr__(self, "recipients", tuple(self.recipients))
        if not self.recipients or not all(self.recipients):
            raise ConfigurationError("tiers.recipients", "name at least one user id")


@dataclass(frozen=True, kw_only=True)
class EscalationPolicy:
    """Who is notified, and when, while a critical notification is not acknowledged.

    Example::

        EscalationPolicy(name="margin-call", tiers=(
            EscalationTier(after=300, recipients=("desk-oncall",)),
            EscalationTier(after=600, recipients=("head-of-risk", "cro")),
        ))

    Attributes:
        name: what notifications refer to (``Notification.escalation_policy``).
        tiers: the steps, in order.

    Raises:
        ConfigurationError: no name or no tiers.
    """

    name: str
    tiers: tuple[EscalationTier, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("escalation.name", "must not be empty")
        object.__setattr__(self, "tiers", tuple(self.tiers))
        if not self.tiers:
            raise ConfigurationError("escalation.tiers", "give at least one tier")

    @property
    def span(self) -> float:
        """Seconds from the original notification to the last tier, if nobody acknowledges."""
        return sum(t.after for t in self.tiers)

    def next_due(self, fired_tier: int, fired_at: float) -> float | None:
        """When the tier after ``fired_tier`` is due, or ``None`` after the last tier.

        ``fired_tier = -1`` means the original notification was sent at ``fired_at``.
        """
        following = fired_tier + 1
        if following >= len(self.tiers):
            return None
        return fired_at + self.tiers[following].after

    def escalate(self, original: Notification, tier: int, recipient: str) -> Notification:
        """The copy of ``original`` that tier ``tier`` (0-based) sends to ``recipient``.

        Its id is derived from the original's, the tier and the recipient, so a retried
        escalation step (after a crash) produces the same notification and is deduplicated.
        Copies are critical and never start an escalation of their own.
        """
        step = self.tiers[tier]
        root = original.root_id
        if len(root) + len(recipient) + 16 > _MAX_ID:
            root = hashlib.sha256(root.encode()).hexdigest()[:32]
        return original.model_copy(
            update={
                "notification_id": f"{root}.e{tier + 1}.{recipient}",
                "user_id": recipient,
                "priority": Priority.CRITICAL,
                "template_id": step.template_id or original.template_id,
                "dedup_key": f"escalation:{original.root_id}:{tier + 1}",
                "escalation_policy": None,
                "escalation_of": original.root_id,
                "escalation_tier": tier + 1,
            }
        )


def escalation_schedule(policy: EscalationPolicy, sent_at: float) -> Sequence[float]:
    """The times each tier fires if nobody ever acknowledges. Pure.

    Args:
        policy: the policy.
        sent_at: when the original notification was sent (epoch seconds).
    """
    out: list[float] = []
    at = sent_at
    for tier in policy.tiers:
        at += tier.after
        out.append(at)
    return tuple(out)
