"""Errors of the FinTech pattern helpers (defined in :mod:`redis_fintech_sdk.errors`).

None of them carries a payload, a parameter value or a secret: only identifiers.
"""

from __future__ import annotations

from redis_fintech_sdk.errors import TemplateError, WebhookDeliveryError, WebhookSignatureError

__all__ = ["TemplateError", "WebhookDeliveryError", "WebhookSignatureError"]
