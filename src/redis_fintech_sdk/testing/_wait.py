"""Polling helper shared by the topologies."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis_fintech_sdk.errors import RedisError, RedisTimeoutError


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> None:
    """Poll ``condition`` until it is true; a :class:`RedisError` in it counts as false.

    Raises:
        RedisTimeoutError: ``condition`` was not true within ``timeout`` seconds; the message
            says ``what`` was awaited and the last error seen.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            if condition():
                return
        except RedisError as exc:
            last_error = f" (last error: {exc})"
        if time.monotonic() > deadline:
            raise RedisTimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what}{last_error}"
            )
        time.sleep(interval)
