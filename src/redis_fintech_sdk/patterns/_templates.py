"""Notification templates: ``str.format`` syntax with a formatter that cannot be abused.

A template such as ``"Trade {trade_id} filled: {quantity} {symbol} at {price:,.2f}"`` names
its parameters. :class:`SafeFormatter` only looks parameters up by plain name: attribute
access (``{user.__class__}``), indexing (``{items[0]}``), positional fields (``{}``,
``{0}``), nested fields inside a format spec (``{price:{width}}``) and the ``!r``/``!a``
conversions are refused when the template is registered, so a template can never reach into
Python objects and a parameter value can never widen a field to gigabytes. Parameter values
are inserted as they are; they are never parsed as templates themselves.

A ``Decimal`` travels as a decimal string, so a numeric format spec (``:,.2f``, ``:d``,
``:%``) also accepts a decimal string and formats it as a ``Decimal``.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from redis_fintech_sdk.errors import ConfigurationError

from ._errors import TemplateError
from ._notification import Notification, RenderedNotification

__all__ = ["NotificationTemplate", "SafeFormatter", "TemplateRegistry"]

_NUMERIC_TYPES = frozenset("eEfFgGn%")
_INT_TYPES = frozenset("dbox")
_MAX_FORMAT_SPEC = 32
_MAX_WIDTH = 256
_NUMBERS = re.compile(r"\d+")


class SafeFormatter(string.Formatter):
    """A :class:`string.Formatter` that substitutes named parameters and nothing else.

    Use :meth:`fields` to check a template once, then :meth:`format` with keyword
    parameters. Errors are :class:`TemplateError` and name fields, never values.
    """

    def fields(self, template_id: str, text: str) -> tuple[str, ...]:
        """The parameter names ``text`` uses, in order of first use.

        Raises:
            TemplateError: bad syntax, or a refused construct (see the module docs).
        """
        names: list[str] = []
        try:
            parsed = list(self.parse(text))
        except ValueError as exc:
            raise TemplateError(template_id, f"bad template syntax ({exc})") from None
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if not name.isidentifier():
                # "", "0", "a.b", "a[0]" all land here: only plain names are looked up.
                raise TemplateError(
                    template_id,
                    "only named fields are allowed (no positional, attribute or index access)",
                    fields=(name,),
                )
            if conversion not in (None, "s"):
                raise TemplateError(
                    template_id, f"conversion !{conversion} is not allowed", fields=(name,)
                )
            if spec and (
                "{" in spec
                or "}" in spec
                or len(spec) > _MAX_FORMAT_SPEC
                or any(int(n) > _MAX_WIDTH for n in _NUMBERS.findall(spec))
            ):
                raise TemplateError(
                    template_id,
                    f"format specs may not contain fields, and widths stop at {_MAX_WIDTH}",
                    fields=(name,),
                )
            if name not in names:
                names.append(name)
        return tuple(names)

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Look a field up by plain name only (never attributes or items)."""
        if not field_name.isidentifier():
            raise KeyError(field_name)
        return kwargs[field_name], field_name

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Refuse positional fields."""
        if isinstance(key, int):
            raise KeyError(key)
        return kwargs[key]

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        """Only ``!s`` is allowed (checked again here)."""
        if conversion is None:
            return value
        if conversion == "s":
            return str(value)
        raise ValueError("conversion not allowed")

    def format_field(self, value: Any, format_spec: str) -> Any:
        """Format one value; a decimal string under a numeric spec is formatted as Decimal."""
        if isinstance(value, str) and format_spec:
            kind = format_spec[-1]
            if kind in _NUMERIC_TYPES or kind in _INT_TYPES:
                try:
                    number = Decimal(value)
                except InvalidOperation:
                    pass
                else:
                    if kind in _INT_TYPES and number == number.to_integral_value():
                        return format(int(number), format_spec)
                    if kind in _NUMERIC_TYPES:
                        return format(number, format_spec)
        return format(value, format_spec)


_FORMATTER = SafeFormatter()


@dataclass(frozen=True, kw_only=True)
class NotificationTemplate:
    """A title and a body template, checked at construction.

    Attributes:
        template_id: the id notifications refer to.
        title: the title template (``str.format`` syntax, named fields only).
        body: the body template.

    Raises:
        TemplateError: a template uses a refused construct or has bad syntax.
        ConfigurationError: an empty ``template_id``.
    """

    template_id: str
    title: str
    body: str
    params: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The parameter names the templates use (computed)."""

    def __post_init__(self) -> None:
        if not self.template_id:
            raise ConfigurationError("template_id", "must not be empty")
        names = list(_FORMATTER.fields(self.template_id, self.title))
        names += [n for n in _FORMATTER.fields(self.template_id, self.body) if n not in names]
        object.__setattr__(self, "params", tuple(names))

    def render(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """Return ``(title, body)`` with ``params`` substituted.

        Raises:
            TemplateError: a parameter is missing, or a value does not fit its format spec.
        """
        missing = tuple(name for name in self.params if name not in params)
        if missing:
            raise TemplateError(
                self.template_id, f"missing parameter(s): {', '.join(missing)}", fields=missing
            )
        try:
            return _FORMATTER.vformat(self.title, (), params), _FORMATTER.vformat(
                self.body, (), params
            )
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # The message of a format error may quote the value: report the class only.
            raise TemplateError(
                self.template_id, f"a parameter does not fit its format spec ({type(exc).__name__})"
            ) from None


class TemplateRegistry:
    """Templates by id; renders notifications.

    Args:
        templates: the initial templates.

    Raises:
        ConfigurationError: two templates share an id.
    """

    def __init__(self, templates: Iterable[NotificationTemplate] = ()) -> None:
        self._templates: dict[str, NotificationTemplate] = {}
        self._lock = threading.Lock()
        for template in templates:
            self.add(template)

    def add(self, template: NotificationTemplate, *, replace: bool = False) -> None:
        """Register a template.

        Raises:
            ConfigurationError: the id is taken and ``replace`` is false.
        """
        with self._lock:
            if template.template_id in self._templates and not replace:
                raise ConfigurationError(
                    "template_id", f"{template.template_id!r} is already registered"
                )
            self._templates[template.template_id] = template

    def get(self, template_id: str) -> NotificationTemplate:
        """The template with this id.

        Raises:
            TemplateError: unknown id.
        """
        template = self._templates.get(template_id)
        if template is None:
            raise TemplateError(template_id, "unknown template")
        return template

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates

    def render(
        self, notification: Notification, *, template_id: str | None = None
    ) -> RenderedNotification:
        """Apply the notification's template (or ``template_id``) to its parameters.

        Raises:
            TemplateError: unknown template, missing parameter, or a value that does not
                fit its format spec.
        """
        template = self.get(template_id or notification.template_id)
        title, body = template.render(notification.params)
        return RenderedNotification(
            notification_id=notification.notification_id,
            user_id=notification.user_id,
            category=notification.category,
            priority=notification.priority,
            title=title,
            body=body,
            data=dict(notification.data),
            escalation_of=notification.escalation_of,
            escalation_tier=notification.escalation_tier,
            created_at=notification.created_at,
        )
