"""Preferences, quiet hours and the delivery plan (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from redis_fintech_sdk.channels import Priority
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.patterns import (
    CategoryPreference,
    DeliveryChannel,
    Notification,
    QuietHours,
    UserPreferences,
    plan_delivery,
)

IN_APP, EMAIL, SMS, PUSH = (
    DeliveryChannel.IN_APP,
    DeliveryChannel.EMAIL,
    DeliveryChannel.SMS,
    DeliveryChannel.PUSH,
)
UTC = dt.timezone.utc


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 6, 3, hour, minute, tzinfo=UTC)


def note(priority: Priority = Priority.NORMAL, category: str = "trading") -> Notification:
    return Notification(user_id="u1", category=category, priority=priority, template_id="t")


NIGHT = QuietHours(start="22:00", end="07:00")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(21, 59, False), (22, 0, True), (23, 30, True), (0, 0, True), (6, 59, True), (7, 0, False)],
)
def test_quiet_hours_across_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert NIGHT.active(at(hour, minute)) is quiet


def test_quiet_hours_same_day_window_and_time_zone() -> None:
    lunch = QuietHours(start=dt.time(12), end=dt.time(13), timezone="America/New_York")
    # 16:30 UTC is 12:30 in New York in June (EDT, UTC-4).
    assert lunch.active(at(16, 30))
    assert not lunch.active(at(12, 30))
    with pytest.raises(ValueError, match="aware"):
        lunch.active(dt.datetime(2024, 6, 3, 12))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": "22:00", "end": "22:00"}, "quiet_hours.end"),
        ({"start": "25:00", "end": "07:00"}, "quiet_hours.start"),
        ({"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}, "quiet_hours.timezone"),
        ({"start": "22:00", "end": "07:00", "allow": {"pigeon"}}, "quiet_hours.allow"),
    ],
)
def test_quiet_hours_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        QuietHours(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_plan_uses_category_channels_in_a_stable_order() -> None:
    prefs = UserPreferences(
        user_id="u1",
        categories={"trading": CategoryPreference(channels=frozenset({SMS, IN_APP, EMAIL}))},
    )
    plan = plan_delivery(note(), prefs, now=at(12))
    assert plan.channels == (IN_APP, EMAIL, SMS)
    assert plan.suppressed is None
    # A category without its own entry uses the default (in-app).
    assert plan_delivery(note(category="news"), prefs, now=at(12)).channels == (IN_APP,)


def test_disabled_category_suppresses_even_critical() -> None:
    prefs = UserPreferences(
        user_id="u1", categories={"marketing": CategoryPreference(enabled=False)}
    )
    plan = plan_delivery(note(Priority.CRITICAL, "marketing"), prefs, now=at(12))
    assert plan.channels == ()
    assert plan.suppressed == "category_disabled"


def test_minimum_priority_category_overrides_user() -> None:
    prefs = UserPreferences(
        user_id="u1",
        min_priority=Priority.HIGH,
        categories={"statements": CategoryPreference(min_priority=Priority.LOW)},
    )
    assert (
        plan_delivery(note(Priority.NORMAL), prefs, now=at(12)).suppressed == "below_min_priority"
    )
    assert plan_delivery(note(Priority.HIGH), prefs, now=at(12)).channels == (IN_APP,)
    assert plan_delivery(note(Priority.LOW, "statements"), prefs, now=at(12)).channels == (IN_APP,)


def test_quiet_hours_keep_only_allowed_channels_except_for_critical() -> None:
    prefs = UserPreferences(
        user_id="u1",
        default=CategoryPreference(channels=frozenset({IN_APP, SMS, PUSH})),
        quiet_hours=NIGHT,
    )
    night = plan_delivery(note(Priority.HIGH), prefs, now=at(23))
    assert night.channels == (IN_APP,)
    assert night.skipped == {SMS: "quiet_hours", PUSH: "quiet_hours"}
    critical = plan_delivery(note(Priority.CRITICAL), prefs, now=at(23))
    assert critical.channels == (IN_APP, SMS, PUSH)
    assert not critical.skipped
    day = plan_delivery(note(Priority.HIGH), prefs, now=at(12))
    assert day.channels == (IN_APP, SMS, PUSH)


def test_quiet_hours_that_allow_nothing_suppress() -> None:
    prefs = UserPreferences(
        user_id="u1",
        default=CategoryPreference(channels=frozenset({SMS})),
        quiet_hours=QuietHours(start=dt.time(22), end=dt.time(7), allow=frozenset()),
    )
    plan = plan_delivery(note(), prefs, now=at(2))
    assert plan.channels == ()
    assert plan.suppressed == "quiet_hours"
    assert plan.skipped == {SMS: "quiet_hours"}


def test_preferences_round_trip_through_json_dict() -> None:
    prefs = UserPreferences(
        user_id="u1",
        min_priority=Priority.NORMAL,
        default=CategoryPreference(channels=frozenset({IN_APP, PUSH})),
        categories={
            "security": CategoryPreference(channels=frozenset({SMS}), min_priority=Priority.HIGH),
            "marketing": CategoryPreference(enabled=False),
        },
        quiet_hours=QuietHours(start=dt.time(23), end=dt.time(6, 30), timezone="Europe/London"),
    )
    assert UserPreferences.from_dict(prefs.to_dict()) == prefs


def test_bad_preferences_name_the_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        CategoryPreference(channels=frozenset({"fax"}))  # type: ignore[arg-type]
    assert info.value.field == "channels"
    with pytest.raises(ConfigurationError) as info:
        UserPreferences(user_id="u1", min_priority="urgent")  # type: ignore[arg-type]
    assert info.value.field == "priority"
    with pytest.raises(ConfigurationError):
        UserPreferences.from_dict({"default": {}})
