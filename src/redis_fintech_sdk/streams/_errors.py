"""Classification of errors the Streams loops react to (sans-I/O)."""

from __future__ import annotations

from redis_fintech_sdk.errors import ResponseError

__all__ = ["is_busygroup", "is_nogroup", "is_unsupported"]


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc)]
    if exc.__cause__ is not None:
        out.append(str(exc.__cause__))
    return out


def is_nogroup(exc: BaseException) -> bool:
    """Whether ``exc`` says the stream or its consumer group is gone.

    ``NOGROUP``, or (Redis 7.0) ``UNBLOCKED the stream key no longer exists`` for a read
    that was blocked when the stream was deleted or flushed.
    """
    return isinstance(exc, ResponseError) and any(
        "NOGROUP" in t or "UNBLOCKED" in t for t in _texts(exc)
    )


def is_busygroup(exc: BaseException) -> bool:
    """Whether ``exc`` says the consumer group exists already (``BUSYGROUP``)."""
    return isinstance(exc, ResponseError) and any("BUSYGROUP" in t for t in _texts(exc))


def is_unsupported(exc: BaseException) -> bool:
    """Whether a probe failed because the server does not know the command or option.

    On a Cluster, redis-py refuses a command missing from the server's ``COMMAND`` table
    before sending it (``"<CMD> command doesn't exist in Redis commands"``): unsupported too.
    """
    if "doesn't exist in redis commands" in " ".join(_texts(exc)).lower():
        return True
    if not isinstance(exc, ResponseError):
        return False
    text = " ".join(_texts(exc)).lower()
    return any(
        needle in text
        for needle in ("unknown command", "syntax error", "invalid stream id", "unknown")
    )
