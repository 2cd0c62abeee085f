"""User notification preferences and the pure decision of where a notification goes.

Per category a user chooses the delivery channels, may switch the category off, and may set a
minimum priority; quiet hours hold back every non-critical notification except on the
channels they allow (in-app by default). :func:`plan_delivery` turns a notification, the
user's preferences and the time into a :class:`DeliveryPlan`; it does no I/O.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.errors import ConfigurationError

from ._notification import DeliveryChannel, Notification, priority_rank

__all__ = [
    "CategoryPreference",
    "DeliveryPlan",
    "QuietHours",
    "UserPreferences",
    "plan_delivery",
]


def _channels(name: str, values: Iterable[DeliveryChannel | str]) -> frozenset[DeliveryChannel]:
    out: set[DeliveryChannel] = set()
    for value in values:
        try:
            out.add(DeliveryChannel(value))
        except ValueError:
            allowed = ", ".join(c.value for c in DeliveryChannel)
            raise ConfigurationError(name, f"{value!r} is not a channel ({allowed})") from None
    return frozenset(out)


def _ordered(channels: Iterable[DeliveryChannel]) -> tuple[DeliveryChannel, ...]:
    chosen = set(channels)
    return tuple(c for c in DeliveryChannel if c in chosen)


def _time(name: str, value: dt.time | str) -> dt.time:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise ConfigurationError(name, "give a naive time; the zone is quiet_hours.timezone")
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(name, f"{value!r} is not a time like '22:00'") from None


@dataclass(frozen=True, kw_only=True)
class QuietHours:
    """A daily window in the user's time zone when only some channels may be used.

    ``start`` is inclusive and ``end`` exclusive; a window may cross midnight
    (``22:00``-``07:00``). Critical notifications ignore quiet hours.

    Attributes:
        start: when quiet hours begin (``datetime.time`` or ``"HH:MM"``).
        end: when they end.
        timezone: an IANA zone name such as ``"Europe/London"``.
        allow: channels still used during quiet hours (default: in-app only).

    Raises:
        ConfigurationError: a bad time or zone, ``start == end``, or an unknown channel.
    """

    start: dt.time
    end: dt.time
    timezone: str = "UTC"
    allow: frozenset[DeliveryChannel] = frozenset({DeliveryChannel.IN_APP})

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _time("quiet_hours.start", self.start))
        object.__setattr__(self, "end", _time("quiet_hours.end", self.end))
        if self.start == self.end:
            raise ConfigurationError("quiet_hours.end", "must differ from start")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                "quiet_hours.timezone", f"{self.timezone!r} is not a time zone"
            ) from None
        object.__setattr__(self, "allow", _channels("quiet_hours.allow", self.allow))

    def active(self, at: dt.datetime) -> bool:
        """Whether ``at`` (an aware datetime) falls in the quiet window.

        Raises:
            ValueError: ``at`` is naive.
        """
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        local = at.astimezone(zoneinfo.ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`UserPreferences.to_dict`)."""
        return {
            "start": self.start.isoformat(timespec="minutes"),
            "end": self.end.isoformat(timespec="minutes"),
            "timezone": self.timezone,
            "allow": [c.value for c in _ordered(self.allow)],
        }


@dataclass(frozen=True, kw_only=True)
class CategoryPreference:
    """What a user wants for one category.

    Attributes:
        channels: the delivery channels to use.
        enabled: ``False`` switches the category off.
        min_priority: deliver only at or above this priority (``None``: the user's
            global minimum).

    Raises:
        ConfigurationError: an unknown channel or priority.
    """

    channels: frozenset[DeliveryChannel] = frozenset({DeliveryChannel.IN_APP})
    enabled: bool = True
    min_priority: Priority | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", _channels("channels", self.channels))
        if self.min_priority is not None:
            object.__setattr__(self, "min_priority", Priority.parse(self.min_priority))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "channels": [c.value for c in _ordered(self.channels)],
            "enabled": self.enabled,
            "min_priority": None if self.min_priority is None else self.min_priority.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryPreference:
        """Parse :meth:`to_dict` output.

        Raises:
            ConfigurationError: a bad value.
        """
        return cls(
            channels=frozenset(data.get("channels", (DeliveryChannel.IN_APP,))),
            enabled=bool(data.get("enabled", True)),
            min_priority=data.get("min_priority"),
        )


@dataclass(frozen=True, kw_only=True)
class UserPreferences:
    """All notification preferences of one user.

    Attributes:
        user_id: the user.
        default: used for categories without their own entry.
        categories: per-category preferences.
        min_priority: the global minimum priority.
        quiet_hours: the quiet window, if any.

    Raises:
        ConfigurationError: a bad value.
    """

    user_id: str
    default: CategoryPreference = CategoryPreference()
    categories: Mapping[str, CategoryPreference] = field(default_factory=dict)
    min_priority: Priority = Priority.LOW
    quiet_hours: QuietHours | None = None

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ConfigurationError("user_id", "must not be empty")
        object.__setattr__(self, "min_priority", Priority.parse(self.min_priority))
        object.__setattr__(self, "categories", MappingProxyType(dict(self.categories)))

    def for_category(self, category: str) -> CategoryPreference:
        """The preference that applies to ``category``."""
        return self.categories.get(category, self.default)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "user_id": self.user_id,
            "default": self.default.to_dict(),
            "categories": {k: v.to_dict() for k, v in sorted(self.categories.items())},
            "min_priority": self.min_priority.value,
            "quiet_hours": None if self.quiet_hours is None else self.quiet_hours.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserPreferences:
        """Parse :meth:`to_dict` output.

        Raises:
            ConfigurationError: a bad or missing value.
        """
        if not isinstance(data, Mapping) or "user_id" not in data:
            raise ConfigurationError("user_id", "preferences need a user_id")
        quiet = data.get("quiet_hours")
        categories = data.get("categories") or {}
        if not isinstance(categories, Mapping):
            raise ConfigurationError("categories", "must be an object")
        return cls(
            user_id=str(data["user_id"]),
            default=CategoryPreference.from_dict(data.get("default") or {}),
            categories={str(k): CategoryPreference.from_dict(v) for k, v in categories.items()},
            min_priority=data.get("min_priority", Priority.LOW),
            quiet_hours=None
            if quiet is None
            else QuietHours(
                start=quiet["start"],
                end=quiet["end"],
                timezone=quiet.get("timezone", "UTC"),
                allow=frozenset(quiet.get("allow", (DeliveryChannel.IN_APP,))),
            ),
        )


@dataclass(frozen=True)
class DeliveryPlan:
    """Where one notification goes, and why it does not go elsewhere.

    Attributes:
        channels: the channels to deliver on, in :class:`DeliveryChannel` order.
        skipped: channel -> reason for each preferred channel that is not used
            (``quiet_hours``).
        suppressed: why nothing is delivered (``category_disabled``,
            ``below_min_priority``, ``no_channels``), or ``None``.
    """

    channels: tuple[DeliveryChannel, ...]
    skipped: Mapping[DeliveryChannel, str] = field(default_factory=dict)
    suppressed: str | None = None


def plan_delivery(
    notification: Notification, preferences: UserPreferences, *, now: dt.datetime
) -> DeliveryPlan:
    """Decide the channels of ``notification`` from the user's preferences. Pure.

    Rules, in order: a disabled category delivers nothing; a priority below the category's
    minimum (or the user's, when the category has none) delivers nothing; during quiet
    hours a non-critical notification uses only the channels quiet hours allow (the others
    are reported in ``skipped``). Critical notifications ignore quiet hours, but not a
    disabled category.

    Args:
        notification: the notification.
        preferences: the recipient's preferences.
        now: the current time (aware).
    """
    pref = preferences.for_category(notification.category)
    if not pref.enabled:
        return DeliveryPlan((), suppressed="category_disabled")
    floor = pref.min_priority if pref.min_priority is not None else preferences.min_priority
    if priority_rank(notification.priority) < priority_rank(floor):
        return DeliveryPlan((), suppressed="below_min_priority")
    wanted = _ordered(pref.channels)
    if not wanted:
        return DeliveryPlan((), suppressed="no_channels")
    quiet = preferences.quiet_hours
    if quiet is None or notification.priority is Priority.CRITICAL or not quiet.active(now):
        return DeliveryPlan(wanted)
    allowed = tuple(c for c in wanted if c in quiet.allow)
    skipped = {c: "quiet_hours" for c in wanted if c not in quiet.allow}
    if not allowed:
        return DeliveryPlan((), skipped=skipped, suppressed="quiet_hours")
    return DeliveryPlan(allowed, skipped=skipped)
