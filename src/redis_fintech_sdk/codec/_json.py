"""The one place that picks the JSON library.

orjson is a hard dependency of the SDK and measured fastest on this workload (see
``benchmarks/codec.py``: about 4x the stdlib for a 200-byte tick), so it is used directly.
Swap the two functions below to change libraries everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["JSONDecodeError", "json_dumps", "json_loads"]

JSONDecodeError = orjson.JSONDecodeError


def json_dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Serialise ``obj`` to compact UTF-8 JSON bytes (non-str keys are refused)."""
    return orjson.dumps(obj, default=default)


def json_loads(data: bytes | memoryview) -> Any:
    """Parse UTF-8 JSON bytes (nesting deeper than 1024 levels is refused)."""
    return orjson.loads(data)
