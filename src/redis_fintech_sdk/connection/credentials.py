"""Credential providers that pick up a rotated ACL password without a restart.

redis-py asks a :class:`redis.credentials.CredentialProvider` for ``(username, password)``
every time it opens a connection. The providers here read the current secret from a callable,
a file or an environment variable at that moment, so rotating the password in the secret
store and then letting connections cycle (or killing them) is enough.
"""

from __future__ import annotations

import os
from pathlib import Path

from redis.credentials import CredentialProvider

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.settings import Credentials, CredentialSource

__all__ = ["RotatingCredentialProvider", "env_source", "file_source", "provider_for"]


class RotatingCredentialProvider(CredentialProvider):
    """Ask ``source`` for ``(username, password)`` on every new connection.

    Args:
        source: a callable returning ``(username or None, password)``.
    """

    def __init__(self, source: CredentialSource) -> None:
        self._source = source

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        """Return the current credentials (called by redis-py on connect)."""
        username, password = self._source()
        if username:
            return (username, password)
        return (password,)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        """Async variant used by ``redis.asyncio`` connections."""
        return self.get_credentials()

    def __repr__(self) -> str:
        return "RotatingCredentialProvider(<source>)"


def file_source(path: str | os.PathLike[str], *, username: str | None = None) -> CredentialSource:
    """A source that reads the password (or ``user:password``) from a file at each connect.

    Kubernetes and Vault agents rotate secrets by rewriting such a file.

    Raises:
        ConfigurationError: the file does not exist (checked now, and again at each read).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError("credentials.source", f"password file not found: {p}")

    def read() -> tuple[str | None, str]:
        text = p.read_text(encoding="utf-8").strip()
        if username is None and ":" in text:
            user, _, password = text.partition(":")
            return user, password
        return username, text

    return read


def env_source(variable: str, *, username: str | None = None) -> CredentialSource:
    """A source that reads the password from an environment variable at each connect.

    Raises:
        ConfigurationError: the variable is not set (checked now).
    """
    if variable not in os.environ:
        raise ConfigurationError("credentials.source", f"environment variable {variable} unset")

    def read() -> tuple[str | None, str]:
        return username, os.environ.get(variable, "")

    return read


def provider_for(credentials: Credentials) -> CredentialProvider | None:
    """The redis-py provider for a :class:`Credentials` object (``None`` when anonymous)."""
    if credentials.source is not None:
        return RotatingCredentialProvider(credentials.source)
    if credentials.password is None and credentials.username is None:
        return None
    password = credentials.password.reveal() if credentials.password is not None else ""
    user = credentials.username
    return RotatingCredentialProvider(lambda: (user, password))
