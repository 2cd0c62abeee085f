"""No password, key, token or sensitive field value in any log record of the whole run.

The collector and the secret registry live in ``tests/_log_hygiene_plugin.py``; the final test
here is moved to the end of the session by that plugin, so it sees every record the suite
produced (SDK loggers at DEBUG).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from redis_fintech_sdk.codec import Keyring, keyring_to_json
from redis_fintech_sdk.security import (
    AuditEvent,
    ChannelGrant,
    HmacKeySet,
    RedactionFilter,
    TokenIssuer,
    TokenVerifier,
)


@pytest.fixture
def hygiene(request: pytest.FixtureRequest) -> Any:
    plugin = request.config.pluginmanager.get_plugin("_log_hygiene_plugin")
    assert plugin is not None, "tests/conftest.py must load _log_hygiene_plugin"
    return plugin


def test_collector_sees_sdk_debug_records(hygiene: Any) -> None:
    canary = "hygiene-canary-7c1e"
    logging.getLogger("redis_fintech_sdk.tests.hygiene").debug("canary %s", canary)
    assert any(canary in text for text in hygiene.COLLECTOR.texts)


def test_scanner_would_catch_a_leak(hygiene: Any) -> None:
    # A private collector, so the real one stays clean: prove detection is not vacuous.
    probe = hygiene.LogCollector()
    logger = logging.getLogger("redis_fintech_sdk.tests.hygiene.probe")
    logger.addHandler(probe)
    logger.propagate = False
    try:
        logger.error("oops password is %s", "leaky-secret-0001")
    finally:
        logger.removeHandler(probe)
        logger.propagate = True
    assert any("leaky-secret-0001" in text for text in probe.texts)


def test_sdk_security_paths_log_no_key_material(log_secrets: set[str]) -> None:
    """Exercise the key-handling paths with DEBUG logging on and register their secrets."""
    ring = Keyring.generate()
    new = ring.generate_key()
    ring.promote(new)
    ring.disable(1)
    keyset = keyring_to_json(ring)
    hkeys = HmacKeySet.generate("h1")
    token = TokenIssuer(hmac_keys=hkeys).issue("u", [ChannelGrant.of("a.b", "subscribe")])
    log_secrets.update((keyset, hkeys.to_json(), token))
    for part in token.split("."):
        log_secrets.add(part)
    verifier = TokenVerifier(hmac_keys=hkeys)
    logger = logging.getLogger("redis_fintech_sdk.tests.hygiene")
    # What an application typically logs: objects' reprs, events, errors.
    logger.debug("ring %r keys %r verifier %r", ring, hkeys, verifier)
    logger.info("event %r", AuditEvent(kind="key_rotated", actor="ops", key_id=str(new)))
    try:
        verifier.authorize(token, "publish", "a.b")
    except Exception as exc:
        logger.warning("refused: %s", exc)
    # A RedactionFilter in front of a handler keeps even a careless log call clean.
    flt = RedactionFilter([token])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (token,), None)
    flt.filter(record)
    logger.info(record.getMessage())


def test_no_secret_in_any_log_record(hygiene: Any) -> None:
    assert hygiene.COLLECTOR.count > 0
    assert hygiene.SECRETS, "no secret was registered: the scan would be vacuous"
    leaks = hygiene.leaks()
    assert not leaks, "secrets found in log records:\n" + "\n".join(map(str, leaks[:20]))
