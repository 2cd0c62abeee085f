"""Applying generated ACL users to a server and proving them with ``ACL DRYRUN``.

This file is the source of truth; ``security/_sync/acl.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis_fintech_sdk.connection import AsyncClient
from redis_fintech_sdk.errors import ResponseError

from .._acl import AclCheckFailure, AclCheckReport, AclUser

__all__ = ["AclAdmin"]


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class AclAdmin:
    """Creates, checks and removes generated ACL users through an admin connection.

    Args:
        client: a client whose user may run ``ACL SETUSER`` / ``ACL DRYRUN`` / ``ACL DELUSER``.

    Example:
        >>> users = [AclUser(name="md", role=market_data_reader_role(),
        ...                  passwords=(Secret("..."),))]  # doctest: +SKIP
        >>> report = await AsyncAclAdmin(admin_client).provision(users)  # doctest: +SKIP
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def apply(self, users: Sequence[AclUser], *, save: bool = False) -> None:
        """Create or replace each user with exactly its rules (``ACL SETUSER``).

        Args:
            users: the users to write.
            save: run ``ACL SAVE`` afterwards (the server must use an ``aclfile``).

        Raises:
            AuthorizationError: this client may not manage ACL users.
            RedisError: the server refused a rule or cannot be reached.
        """
        for user in users:
            # Never log or put the rule list in an error: it holds password hashes.
            await self._client.execute("ACL", "SETUSER", user.name, *user.rules())
        if save:
            await self._client.execute("ACL", "SAVE")

    async def check(self, users: Sequence[AclUser]) -> AclCheckReport:
        """Ask ``ACL DRYRUN`` about every ``must`` and ``must_not`` line of each user's role.

        Returns:
            The report; a command the server rejects outright (unknown command, wrong
            arity) counts as a failure of a ``must`` line and as refused for ``must_not``.

        Raises:
            AuthorizationError: this client may not run ``ACL DRYRUN``.
            RedisError: the server cannot be reached.
        """
        failures: list[AclCheckFailure] = []
        checked = 0
        for user in users:
            must, must_not = user.checks()
            for line, expect_ok in [(m, True) for m in must] + [(m, False) for m in must_not]:
                checked += 1
                reply = await self._dryrun(user.name, line)
                if (reply == "OK") != expect_ok:
                    failures.append(
                        AclCheckFailure(
                            user.name, tuple(line), "allowed" if expect_ok else "denied", reply
                        )
                    )
        return AclCheckReport(checked, tuple(failures))

    async def _dryrun(self, user: str, line: Sequence[str]) -> str:
        try:
            reply = await self._client.execute("ACL", "DRYRUN", user, *line)
        except ResponseError as exc:
            return f"error: {exc}"
        return _text(reply)

    async def provision(self, users: Sequence[AclUser], *, save: bool = False) -> AclCheckReport:
        """:meth:`apply` then :meth:`check`, raising when a role is not what it claims.

        Raises:
            ConfigurationError: a user can do something it must not, or cannot do
                something it must; the message lists every failure.
            AuthorizationError: this client may not manage ACL users.
            RedisError: the server refused a rule or cannot be reached.
        """
        await self.apply(users, save=save)
        report = await self.check(users)
        report.raise_for_failures()
        return report

    async def remove(self, users: Sequence[AclUser | str]) -> int:
        """Delete users (``ACL DELUSER``); return how many existed.

        Raises:
            AuthorizationError: this client may not manage ACL users.
            RedisError: the server cannot be reached.
        """
        names = [u if isinstance(u, str) else u.name for u in users]
        if not names:
            return 0
        return int(await self._client.execute("ACL", "DELUSER", *names))

    async def kill_sessions(self, user: AclUser | str) -> int:
        """Disconnect every live connection of ``user`` (after revoking or rotating).

        Redis re-checks channel permissions of live subscribers when a user's rules change,
        but not passwords of authenticated sessions: kill them after a password rotation.

        Raises:
            RedisError: the server cannot be reached or refused.
        """
        name = user if isinstance(user, str) else user.name
        return int(await self._client.execute("CLIENT", "KILL", "USER", name))
