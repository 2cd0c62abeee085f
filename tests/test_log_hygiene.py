"""No password, key, token or sensitive field value in any log record of the whole run.

The collector and the secret registry live in ``tests/_log_hygiene_plugin.py``; the final test
here is moved to the end of the session by that plugin, so it sees every record the suite
produced (SDK loggers at DEBUG).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from redis_fintech_sdk.codec import Keyring, keyring_to_json
from redis_fintech_sdk.errors import TokenError
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


def _key_material(keyset_json: str) -> set[str]:
    """Every way a key of a keyset JSON could show up in a log line."""
    doc = json.loads(keyset_json)
    keys = (
        doc["keys"].values() if isinstance(doc["keys"], dict) else [k["key"] for k in doc["keys"]]
    )
    out: set[str] = set()
    for encoded in keys:
        raw = base64.b64decode(encoded)
        out |= {encoded, base64.urlsafe_b64encode(raw).decode(), raw.hex(), repr(raw)[2:-1]}
    return out


def test_sdk_security_paths_log_no_key_material(log_secrets: set[str]) -> None:
    """Key handling with DEBUG logging on: the expected records appear, no secret in any.

    Self-contained: the records are captured here. The secrets are also registered with the
    session-wide scan (``test_no_secret_in_any_log_record``), which checks later records.
    """
    capture = _Capture()
    sdk = logging.getLogger("redis_fintech_sdk")
    saved = sdk.level
    sdk.addHandler(capture)
    sdk.setLevel(logging.DEBUG)
    try:
        ring = Keyring.generate()
        new = ring.generate_key()
        ring.promote(new)  # the SDK logs rotations (ids only)
        ring.disable(1)
        keyset = keyring_to_json(ring)
        hkeys = HmacKeySet.generate("h1")
        token = TokenIssuer(hmac_keys=hkeys).issue("u", [ChannelGrant.of("a.b", "subscribe")])
        verifier = TokenVerifier(hmac_keys=hkeys)
        logger = logging.getLogger("redis_fintech_sdk.tests.hygiene")
        # What an application typically logs: objects' reprs, events, errors.
        logger.debug("ring %r keys %r verifier %r", ring, hkeys, verifier)
        logger.info("event %r", AuditEvent(kind="key_rotated", actor="ops", key_id=str(new)))
        with pytest.raises(TokenError) as refused:  # a subscribe-only token may not publish
            verifier.authorize(token, "publish", "a.b")
        logger.warning("refused: %s", refused.value)
        # A RedactionFilter in front of a handler keeps even a careless log call clean.
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (token,), None)
        RedactionFilter([token]).filter(record)
        logger.info(record.getMessage())
    finally:
        sdk.removeHandler(capture)
        sdk.setLevel(saved)

    secrets = {keyset, hkeys.to_json(), token, *token.split(".")}
    secrets |= _key_material(keyset) | _key_material(hkeys.to_json())
    secrets = {x for x in secrets if len(x) >= 12}  # shorter values would match ordinary words
    log_secrets.update(secrets)  # and the session-wide scan keeps looking for them
    texts = capture.texts
    # Count only: a failure message must not print the secret it found.
    leaked = sum(1 for text in texts if any(secret in text for secret in secrets))
    assert leaked == 0, f"{leaked} record(s) carry key material or a token"
    # The records the paths above must produce did appear (so the scan saw something).
    expected = [
        f"keyring: key {new} promoted to primary",
        "keyring: key 1 is now disabled",
        "ring Keyring(primary=",
        "material=***",
        "event AuditEvent(",
        "refused: ",
        "token=***",
    ]
    for fragment in expected:
        assert any(fragment in text for text in texts), f"no record with {fragment!r}: {texts}"


class _Capture(logging.Handler):
    """Rendered text of every record (message and traceback), in order."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


def test_no_secret_in_any_log_record(hygiene: Any) -> None:
    assert hygiene.COLLECTOR.count > 0
    assert hygiene.SECRETS, "no secret was registered: the scan would be vacuous"
    leaks = hygiene.leaks()
    assert not leaks, "secrets found in log records:\n" + "\n".join(map(str, leaks[:20]))
