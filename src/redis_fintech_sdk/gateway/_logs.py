"""Keeping ``?token=`` out of the ASGI server's request and WebSocket log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis_fintech_sdk.errors import redact

__all__ = ["TokenLogFilter", "protect_server_logs"]

SERVER_LOGGERS: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")
"""The loggers uvicorn writes request lines (``uvicorn.access``) and WebSocket lines to."""


class TokenLogFilter(logging.Filter):
    """Masks ``token=…`` (and ``password=…``-style) fragments in a record's message and args.

    Unlike :class:`~redis_fintech_sdk.security.RedactionFilter`, it keeps the args a tuple:
    uvicorn's access formatter unpacks them. Browsers' WebSocket clients cannot set headers,
    so ``/v1/ws?token=`` shows up in the path the server logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; always keep it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def protect_server_logs(loggers: Iterable[str] = SERVER_LOGGERS) -> TokenLogFilter:
    """Attach one :class:`TokenLogFilter` to the server's loggers; return it.

    Call it after the server configured logging (``uvicorn.Config(...)`` does).
    """
    flt = TokenLogFilter()
    for name in loggers:
        logger = logging.getLogger(name)
        if flt not in logger.filters:
            logger.addFilter(flt)
    return flt
