"""Keeping secrets and sensitive fields out of logs, and classification checks.

:class:`RedactionFilter` is a :class:`logging.Filter` that rewrites each record before any
handler formats it: known secret values become ``***``, ``password=…``-style fragments and URL
passwords are cut (:func:`redis_fintech_sdk.errors.redact`), values of sensitive message
fields (those annotated :data:`~redis_fintech_sdk.codec.Sensitive`) are masked when they show
up as ``field=value`` / ``"field": "value"``, and :class:`~redis_fintech_sdk.codec.Message`
arguments are logged as their ``redacted()`` form. Install it with :func:`install_redaction`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from redis_fintech_sdk.codec import Message, MessageRegistry, MessageSpec, default_registry
from redis_fintech_sdk.errors import PolicyError, redact
from redis_fintech_sdk.settings import Secret

__all__ = [
    "CLASSIFICATION_ORDER",
    "RedactionFilter",
    "field_classifications",
    "install_redaction",
    "require_encryption",
    "sensitive_field_names",
]

CLASSIFICATION_ORDER: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
"""Classification levels, least to most sensitive."""

_MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words
_PAN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_pan(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    # PCI DSS 3.4: at most the first six and last four digits may be shown.
    return f"{digits[:6]}{_MASK}{digits[-4:]}" if _luhn_ok(digits) else match.group(0)


def sensitive_field_names(registry: MessageRegistry | None = None) -> frozenset[str]:
    """Names of every field marked ``Sensitive`` in the registered message types."""
    reg = registry or default_registry
    names: set[str] = set()
    for type_name in reg.type_names():
        spec = reg.get(type_name)
        if spec is not None:
            names |= spec.sensitive
    return frozenset(names)


def field_classifications(spec: MessageSpec) -> dict[str, str]:
    """Each field's classification: sensitive fields are at least ``confidential``.

    Other fields take the type's classification capped at ``internal`` — a confidential
    trade's symbol is not itself confidential; its account number is.
    """
    type_level = CLASSIFICATION_ORDER.index(spec.classification)
    sensitive = spec.sensitive
    out: dict[str, str] = {}
    for name in spec.fields:
        level = max(type_level, 2) if name in sensitive else min(type_level, 1)
        out[name] = CLASSIFICATION_ORDER[level]
    return out


def require_encryption(spec: MessageSpec, *, encrypted: bool, where: str = "") -> None:
    """Refuse to store or send a confidential or restricted type unencrypted.

    The codec enforces this on every frame; call this on other paths (caches, exports).

    Raises:
        PolicyError: the type must be encrypted and ``encrypted`` is False.
    """
    if not encrypted and (spec.encrypted or spec.classification in ("confidential", "restricted")):
        raise PolicyError(
            f"{spec.type_name} ({spec.classification}) must be encrypted", channel=where or None
        )


class RedactionFilter(logging.Filter):
    """A logging filter that masks secrets and sensitive values in every record.

    Args:
        secrets: exact values to mask (strings or :class:`~redis_fintech_sdk.settings.Secret`).
        sensitive_fields: field names whose values are masked; default: every ``Sensitive``
            field of the message registry (re-read as types get registered).
        registry: the message registry to read sensitive fields from.
        mask_card_numbers: mask Luhn-valid 13-19 digit numbers anywhere in the text (keeping
            the first six and last four digits, as PCI DSS 3.4 allows).

    The filter never drops a record; it returns ``True`` after rewriting it.
    """

    def __init__(
        self,
        secrets: Iterable[str | Secret] = (),
        *,
        sensitive_fields: Iterable[str] | None = None,
        registry: MessageRegistry | None = None,
        mask_card_numbers: bool = True,
    ) -> None:
        super().__init__()
        self._mask_pans = mask_card_numbers
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._fixed_fields = frozenset(sensitive_fields) if sensitive_fields is not None else None
        self._registry = registry or default_registry
        self._field_re: re.Pattern[str] | None = None
        self._field_key: frozenset[str] | None = None
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, value: str | Secret) -> None:
        """Mask ``value`` from now on (values shorter than 4 characters are ignored)."""
        text = value.reveal() if isinstance(value, Secret) else value
        if isinstance(text, str) and len(text) >= _MIN_SECRET:
            with self._lock:
                self._secrets.add(text)

    def _fields(self) -> frozenset[str]:
        if self._fixed_fields is not None:
            return self._fixed_fields
        return sensitive_field_names(self._registry)

    def _field_pattern(self) -> re.Pattern[str] | None:
        fields = self._fields()
        if fields != self._field_key:
            names = "|".join(sorted((re.escape(f) for f in fields), key=len, reverse=True))
            # name=value, name: value, 'name': 'value', "name": "value"
            self._field_re = (
                re.compile(
                    rf"""(?P<k>['"]?\b(?:{names})\b['"]?\s*[:=]\s*)(?P<q>['"]?)(?P<v>[^'",}}\s)]+)"""
                )
                if names
                else None
            )
            self._field_key = fields
        return self._field_re

    def scrub(self, text: str) -> str:
        """Return ``text`` with secrets and sensitive values masked."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        pattern = self._field_pattern()
        if pattern is not None:
            text = pattern.sub(lambda m: m.group("k") + m.group("q") + _MASK, text)
        if self._mask_pans:
            text = _PAN.sub(_mask_pan, text)
        return redact(text)

    def _arg(self, value: Any) -> Any:
        if isinstance(value, Message):
            return value.redacted()
        if isinstance(value, msgspec.Struct):
            return repr(value)  # registered Structs with Sensitive fields redact their repr
        if isinstance(value, Mapping):
            fields = self._fields()
            return {k: (_MASK if k in fields else self._arg(v)) for k, v in value.items()}
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; always keep it."""
        args = record.args
        if isinstance(args, Mapping):
            record.args = self._arg(args)
        elif isinstance(args, tuple):
            record.args = tuple(self._arg(a) for a in args)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw text, never the args
            message = str(record.msg)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            # Handlers that render exc_info themselves would bypass the scrubbed text.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


def install_redaction(
    secrets: Iterable[str | Secret] = (),
    *,
    handlers: Iterable[logging.Handler] | None = None,
    sensitive_fields: Iterable[str] | None = None,
) -> RedactionFilter:
    """Attach one :class:`RedactionFilter` to logging handlers.

    Filters on a *logger* only see records logged on that very logger, so the filter goes on
    the handlers, which see every propagated record.

    Args:
        secrets: values to mask.
        handlers: the handlers to protect; default every handler of the root logger.
        sensitive_fields: see :class:`RedactionFilter`.

    Returns:
        The filter (call :meth:`RedactionFilter.add_secret` to add values later).
    """
    flt = RedactionFilter(secrets, sensitive_fields=sensitive_fields)
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        handler.addFilter(flt)
    return flt
