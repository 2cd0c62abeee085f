"""pytest plugin: keep every log record of the session, and every secret the tests used.

* A handler on the root logger records the rendered text (message, exception, stack) of
  every record emitted while the suite runs; the SDK's loggers are set to DEBUG so that their
  debug records are produced and checked too.
* Secrets come from the session-wide ``log_secrets`` fixture (tests add the passwords, keys,
  tokens and sensitive field values they use) and, automatically, from any fixture value that
  carries ``users`` (name → password) or ``password`` / ``auth`` attributes (the
  ``RedisServer`` launchers).
* ``tests/test_log_hygiene.py::test_no_secret_in_any_log_record`` is moved to the very end of
  the run and asserts that no secret occurs in any record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Mapping
from typing import Any

import pytest

SDK_LOGGER = "redis_fintech_sdk"
FINAL_TEST = "test_no_secret_in_any_log_record"
_MIN_SECRET = 6  # shorter values would match ordinary words


class LogCollector(logging.Handler):
    """Keeps the distinct rendered texts of every record, with the first logger seen."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.texts: dict[str, str] = {}
        self.count = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} {record.args!r}"
        # As logging.Formatter does: a cached (possibly redacted) exc_text wins.
        if record.exc_text:
            text += "\n" + record.exc_text
        elif record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + record.stack_info
        with self._guard:
            self.count += 1
            self.texts.setdefault(text, record.name)


COLLECTOR = LogCollector()
SECRETS: set[str] = set()


def add_secret(value: object) -> None:
    """Register a value that must never appear in a log record."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and len(value) >= _MIN_SECRET:
        SECRETS.add(value)


def leaks() -> list[tuple[str, str, str]]:
    """``(logger, secret prefix, record excerpt)`` for every record containing a secret."""
    found = []
    for text, logger_name in list(COLLECTOR.texts.items()):
        for secret in SECRETS:
            if secret in text:
                at = text.index(secret)
                excerpt = text[max(0, at - 40) : at].replace("\n", " ")
                found.append((logger_name, secret[:3] + "…", excerpt + "<SECRET>"))
    return found


_saved_level: list[int] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    root = logging.getLogger()
    root.addHandler(COLLECTOR)
    sdk = logging.getLogger(SDK_LOGGER)
    _saved_level.append(sdk.level)
    sdk.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(COLLECTOR)
    if _saved_level:
        logging.getLogger(SDK_LOGGER).setLevel(_saved_level.pop())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [i for i in items if i.name == FINAL_TEST]
    if last:
        items[:] = [i for i in items if i.name != FINAL_TEST] + last


def _harvest(value: Any) -> None:
    users = getattr(value, "users", None)
    if isinstance(users, Mapping):
        for pw in users.values():
            add_secret(pw)
    for attr in ("password",):
        add_secret(getattr(value, attr, None))
    auth = getattr(value, "auth", None)
    if isinstance(auth, tuple) and len(auth) == 2:
        add_secret(auth[1])


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, Any, None]:
    outcome = yield
    try:
        result = outcome.get_result()
    except BaseException:
        return
    try:
        _harvest(result)
    except Exception:  # a fixture value with odd attributes: nothing to harvest
        return


class _SecretSet(set[str]):
    """A set whose additions also register the value with the plugin."""

    def add(self, value: str) -> None:
        add_secret(value)
        super().add(value)

    def update(self, *others: Any) -> None:
        for other in others:
            for value in other:
                self.add(value)


@pytest.fixture(scope="session")
def log_secrets() -> set[str]:
    """Add every password, key, token and sensitive value your test uses to this set."""
    return _SecretSet()
