"""Webhook signatures: HMAC-SHA256 over timestamp and body, Stripe style (pure).

The sender adds one header::

    Rfsdk-Signature: t=1718000000,kid=k2,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e7...

``v1`` is the lower-case hex HMAC-SHA256, under the key ``kid``, of ``f"{t}."`` followed by
the exact request body bytes. The receiver recomputes it with :func:`verify_webhook`, which
refuses a timestamp more than ``tolerance`` seconds away from its clock (a replayed
request) and compares in constant time. Keys come from a
:class:`~redis_fintech_sdk.security.HmacKeySet`: during a rotation the receiver holds the
old and the new key and accepts either; a header may carry several ``v1`` values.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from redis_fintech_sdk.security import HmacKeySet

from ._errors import WebhookSignatureError

__all__ = ["SIGNATURE_HEADER", "sign_webhook", "verify_webhook"]

SIGNATURE_HEADER = "Rfsdk-Signature"
"""The header carrying the signature."""

_MAX_HEADER = 4096


def _payload(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode() + b"." + body


def sign_webhook(body: bytes, keys: HmacKeySet, *, timestamp: int | None = None) -> str:
    """The ``Rfsdk-Signature`` header value for ``body``, signed with the primary key.

    Args:
        body: the exact request body.
        keys: the endpoint's key set.
        timestamp: Unix seconds (default: now).
    """
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},kid={keys.primary},v1={keys.mac(_payload(t, body))}"


def verify_webhook(
    body: bytes,
    header: str | None,
    keys: HmacKeySet,
    *,
    tolerance: float = 300.0,
    now: Callable[[], float] = time.time,
) -> int:
    """Check a received webhook; return its signed timestamp.

    Args:
        body: the exact request body bytes (before any JSON parsing).
        header: the ``Rfsdk-Signature`` header value.
        keys: the receiver's key set for this sender.
        tolerance: seconds the timestamp may differ from ``now`` (either way).
        now: the receiver's clock.

    Raises:
        WebhookSignatureError: ``reason`` is ``malformed``, ``stale`` or ``mismatch``.
    """
    if not header or len(header) > _MAX_HEADER:
        raise WebhookSignatureError("malformed", "missing or oversized signature header")
    timestamp: int | None = None
    kid: str | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed", "expected comma-separated name=value pairs")
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise WebhookSignatureError("malformed", "t is not a Unix timestamp")
            timestamp = int(value)
        elif name == "kid":
            kid = value
        elif name == "v1":
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise WebhookSignatureError("malformed", "v1 is not hex") from None
            if len(raw) != hashlib.sha256().digest_size:
                raise WebhookSignatureError("malformed", "v1 has the wrong length")
            signatures.append(raw)
        # other schemes (v0, future v2) are ignored, as Stripe does
    if timestamp is None or not signatures:
        raise WebhookSignatureError("malformed", "t and at least one v1 are required")
    if abs(now() - timestamp) > tolerance:
        raise WebhookSignatureError("stale", f"timestamp outside the {tolerance:g}s tolerance")
    data = _payload(timestamp, body)
    candidates = [kid] if kid is not None and kid in keys else keys.key_ids()
    for candidate in candidates:
        for signature in signatures:
            if keys.verify(data, signature, candidate):  # hmac.compare_digest inside
                return timestamp
    raise WebhookSignatureError("mismatch", "no signature matched")
