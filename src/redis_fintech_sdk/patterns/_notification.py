"""The notification message types, delivery channels and priority order (sans-I/O)."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.codec import Message, Timestamp, message

__all__ = [
    "DeliveryChannel",
    "Notification",
    "ParamValue",
    "RenderedNotification",
    "priority_rank",
]

ParamValue = str | int | float | bool | Decimal | None
"""A template parameter: a JSON scalar (``Decimal`` travels as a decimal string)."""

_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}

# Ids end up in channel names (user ids) and Redis keys: keep them to safe characters.
UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
NotificationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,160}$")]
TemplateId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


def priority_rank(priority: Priority | str) -> int:
    """Order of a priority: low 0, normal 1, high 2, critical 3.

    Raises:
        ConfigurationError: ``priority`` is not a priority.
    """
    return _RANK[Priority.parse(priority)]


class DeliveryChannel(str, enum.Enum):
    """Where a notification can be delivered; a :class:`Sink` serves one of them."""

    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    WEBHOOK = "webhook"


def _new_id() -> str:
    return uuid.uuid4().hex


@message("rfsdk.notification", version=1)
class Notification(Message):
    """A notification for one user, before preferences and templates are applied.

    Attributes:
        notification_id: unique id (random by default); the tracking and acknowledgement key.
        user_id: the recipient (``[A-Za-z0-9_-]``, used in the channel name).
        category: what it is about (``trading``, ``security``, ``statements`` …); the
            preferences are per category.
        priority: ``low``, ``normal``, ``high`` or ``critical``.
        template_id: the template that renders it.
        params: the template's parameters (JSON scalars).
        dedup_key: notifications of one user with the same key within the dedup window
            are delivered once. Default: a hash of category, template and parameters.
        tenant: the tenant, for multi-tenant channel names.
        escalation_policy: the escalation policy of a critical notification, by name.
        escalation_of: for an escalated copy, the id of the original notification.
        escalation_tier: for an escalated copy, its tier (1 = first escalation).
        data: extra string data for the client (deep links, ids); not templated.
        created_at: when it was created.
    """

    notification_id: NotificationId = Field(default_factory=_new_id)
    user_id: UserId
    category: Category
    priority: Priority = Priority.NORMAL
    template_id: TemplateId
    params: dict[str, ParamValue] = Field(default_factory=dict)
    dedup_key: str | None = Field(default=None, max_length=512)
    tenant: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    escalation_policy: str | None = None
    escalation_of: NotificationId | None = None
    escalation_tier: int = Field(default=0, ge=0)
    data: dict[str, str] = Field(default_factory=dict)
    created_at: Timestamp = Field(default_factory=Timestamp.now)

    @property
    def root_id(self) -> str:
        """The id acknowledgements apply to: the original's for an escalated copy."""
        return self.escalation_of or self.notification_id


@message("rfsdk.notification.rendered", version=1)
class RenderedNotification(Message):
    """What a sink delivers: the notification after its template was applied.

    Attributes:
        notification_id: the notification's id (acknowledge with it).
        user_id: the recipient.
        category: the category.
        priority: the priority.
        title: the rendered title.
        body: the rendered body.
        data: the notification's extra data.
        escalation_of: the original's id for an escalated copy.
        escalation_tier: 0, or the escalation tier.
        created_at: when the notification was created.
    """

    notification_id: str
    user_id: str
    category: str
    priority: Priority
    title: str
    body: str
    data: dict[str, str] = Field(default_factory=dict)
    escalation_of: str | None = None
    escalation_tier: int = 0
    created_at: Timestamp
