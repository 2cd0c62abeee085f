"""Normalising redis-py's stream replies across RESP2 and RESP3 (sans-I/O)."""

from __future__ import annotations

from typing import Any

__all__ = ["entries_of", "text"]


def text(value: Any) -> str:
    """``bytes`` or ``str`` as ``str``."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def entries_of(reply: Any) -> list[tuple[Any, Any]]:
    """The ``(entry id, fields)`` pairs of an ``XREAD``/``XREADGROUP`` reply for one stream.

    RESP2 gives ``[[stream, entries]]``; RESP3 gives ``{stream: [entries]}`` (redis-py
    wraps the entries in one more list).
    """
    if not reply:
        return []
    if isinstance(reply, dict):
        out: list[tuple[Any, Any]] = []
        for value in reply.values():
            for chunk in value:
                if chunk and isinstance(chunk[0], (list, tuple)):
                    out.extend((e[0], e[1]) for e in chunk)
                elif chunk:
                    out.append((chunk[0], chunk[1]))
        return out
    out = []
    for _stream, entries in reply:
        out.extend((e[0], e[1]) for e in entries)
    return out
