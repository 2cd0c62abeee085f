"""The ``rfsdk`` command line (needs the ``cli`` extra: typer + rich)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``rfsdk`` command; return its exit code.

    Without the ``cli`` extra installed this prints a one-line install hint instead of a
    traceback.
    """
    try:
        from redis_fintech_sdk.cli._app import build_app
    except ImportError as exc:  # typer or rich missing
        missing = getattr(exc, "name", None) or "typer"
        print(
            f"rfsdk needs the '{missing}' package: pip install 'redis-fintech-sdk[cli]'",
            file=sys.stderr,
        )
        return 1
    app = build_app()
    try:
        app(args=argv, prog_name="rfsdk")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
