"""Where the router reads preferences from: a protocol, a static map and a Redis store."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ConfigurationError

from ._preferences import UserPreferences

__all__ = ["PreferenceSource", "RedisPreferenceStore", "StaticPreferences"]


def _default(user_id: str) -> UserPreferences:
    return UserPreferences(user_id=user_id)


@runtime_checkable
class PreferenceSource(Protocol):
    """Anything that returns a user's preferences."""

    async def get(self, user_id: str) -> UserPreferences:
        """The preferences of ``user_id`` (defaults when the user has none stored)."""
        ...


class StaticPreferences:
    """Preferences from a mapping (configuration files, tests).

    Args:
        preferences: user id -> preferences.
        default: makes the preferences of a user not in the mapping (default: in-app only
            for every category).
    """

    def __init__(
        self,
        preferences: Mapping[str, UserPreferences] | None = None,
        *,
        default: Callable[[str], UserPreferences] = _default,
    ) -> None:
        self._prefs = dict(preferences or {})
        self._default = default

    async def get(self, user_id: str) -> UserPreferences:
        """The stored preferences of ``user_id``, or the default."""
        found = self._prefs.get(user_id)
        return found if found is not None else self._default(user_id)

    def set(self, preferences: UserPreferences) -> None:
        """Replace one user's preferences."""
        self._prefs[preferences.user_id] = preferences


class RedisPreferenceStore:
    """Preferences as one JSON string per user, shared by every router process.

    Args:
        client: the SDK client.
        key_prefix: keys are ``<key_prefix>:prefs:<user id>``.
        default: makes the preferences of a user with nothing stored.

    Raises:
        ConfigurationError: an empty ``key_prefix``.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        key_prefix: str = "rfsdk:notify",
        default: Callable[[str], UserPreferences] = _default,
    ) -> None:
        if not key_prefix:
            raise ConfigurationError("key_prefix", "must not be empty")
        self._client = client
        self._prefix = key_prefix
        self._default = default

    def key(self, user_id: str) -> str:
        """The Redis key of one user's preferences."""
        return f"{self._prefix}:prefs:{user_id}"

    async def get(self, user_id: str) -> UserPreferences:
        """The stored preferences of ``user_id``, or the default.

        Raises:
            RedisError: Redis could not be reached.
            ConfigurationError: the stored document is invalid.
        """
        key = self.key(user_id)
        with self._client.translate_errors("GET", key=key):
            raw = await self._client.redis.get(key)
        if raw is None:
            return self._default(user_id)
        try:
            data = json.loads(raw)
        except ValueError:
            raise ConfigurationError(
                "preferences", f"stored preferences of {user_id} are not JSON"
            ) from None
        return UserPreferences.from_dict(data)

    async def set(self, preferences: UserPreferences) -> None:
        """Store one user's preferences (replacing what was there).

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.key(preferences.user_id)
        with self._client.translate_errors("SET", key=key):
            await self._client.redis.set(key, json.dumps(preferences.to_dict()))

    async def delete(self, user_id: str) -> None:
        """Forget one user's preferences (the default applies again).

        Raises:
            RedisError: Redis could not be reached.
        """
        key = self.key(user_id)
        with self._client.translate_errors("DEL", key=key):
            await self._client.redis.delete(key)
