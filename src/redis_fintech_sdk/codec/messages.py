"""Typed messages: pydantic models registered under a type name and a schema version.

::

    @message("trade.executed", version=2, classification="confidential")
    class TradeExecuted(Message):
        trade_id: str
        price: Money
        account: SensitiveStr

    @upcaster("trade.executed", from_version=1)
    def _v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
        payload["price"] = {"amount": payload.pop("px"), "currency": payload.pop("ccy")}
        return payload

A consumer that knows version 2 decodes version-1 frames by running the upcasters in order
(1 -> 2 -> ...), so producers can be upgraded after consumers. See ``docs/messages.md``.

A message class may also be a ``msgspec.Struct`` (the faster model type: about 0.6 us to dump
or validate a market tick where pydantic takes about 2.5 us). ``Decimal`` fields travel as
decimal strings and ``datetime`` fields as RFC 3339 text, as with :class:`Message`; fields
annotated ``Sensitive`` are redacted in ``repr`` and never appear in validation errors.
"""

from __future__ import annotations

import re
import threading
import typing
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

import msgspec
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigurationError, SchemaError
from .types import Sensitive
from .wire import CLASSIFICATIONS

__all__ = [
    "Classification",
    "Message",
    "MessageRegistry",
    "MessageSpec",
    "Upcaster",
    "default_registry",
    "message",
    "upcaster",
]

Classification = Literal["public", "internal", "confidential", "restricted"]
"""Data classification of a message type, least to most sensitive."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a payload of schema version ``n`` into one of version ``n + 1``."""

_M = TypeVar("_M")


class Message(BaseModel):
    """Base class of application payloads.

    Messages are frozen, ignore unknown fields (so adding an optional field is not a breaking
    change), and redact fields annotated with :data:`~redis_fintech_sdk.codec.Sensitive` in
    ``repr`` and ``str``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    __rfsdk_sensitive__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__rfsdk_sensitive__ = frozenset(
            name
            for name, info in cls.model_fields.items()
            if any(m is Sensitive for m in info.metadata)
        )

    def __repr_args__(self) -> Any:
        hidden = self.__rfsdk_sensitive__
        for name, value in super().__repr_args__():
            yield name, ("***" if name in hidden else value)

    def redacted(self) -> dict[str, Any]:
        """Return the JSON-mode dump with sensitive fields replaced by ``"***"`` (for logs)."""
        data = self.model_dump(mode="json")
        for name in self.__rfsdk_sensitive__:
            if name in data:
                data[name] = "***"
        return data


@dataclass(frozen=True)
class MessageSpec:
    """What the registry knows about one message type.

    Attributes:
        type_name: the wire type name.
        version: the current schema version.
        model: the model class of the current version: a :class:`Message` (pydantic)
            or a ``msgspec.Struct`` subclass.
        classification: the default data classification.
        encrypted: frames of this type must be encrypted (encode and decode refuse otherwise).
        fields: the model's field names.
        sensitive: the names of the fields marked ``Sensitive``.
        is_struct: the model is a ``msgspec.Struct`` (not a pydantic :class:`Message`).
    """

    type_name: str
    version: int
    model: type[Any]
    classification: Classification
    encrypted: bool
    fields: tuple[str, ...] = ()
    sensitive: frozenset[str] = field(default=frozenset())
    is_struct: bool = False

    def dump(self, message: Any) -> Any:
        """The message as plain wire data (decimal strings, RFC 3339 timestamps)."""
        if isinstance(message, msgspec.Struct):
            return msgspec.to_builtins(message, builtin_types=(bytes,))
        return message.model_dump(mode="json")


def _struct_sensitive(model: type[msgspec.Struct]) -> frozenset[str]:
    hints = typing.get_type_hints(model, include_extras=True)
    return frozenset(
        name
        for name in model.__struct_fields__
        if any(m is Sensitive for m in getattr(hints.get(name), "__metadata__", ()))
    )


def _redacting_repr(model: type[msgspec.Struct], hidden: frozenset[str]) -> None:
    # msgspec's repr shows every field; a Struct with sensitive fields gets one that does not.
    def __repr__(self: msgspec.Struct) -> str:
        parts = (
            f"{name}={'***' if name in hidden else repr(getattr(self, name))}"
            for name in model.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(parts)})"

    def __rich_repr__(self: msgspec.Struct) -> Any:
        for name in model.__struct_fields__:
            yield name, ("***" if name in hidden else getattr(self, name))

    model.__repr__ = __repr__  # type: ignore[method-assign,assignment]
    model.__rich_repr__ = __rich_repr__  # type: ignore[method-assign]


_QUOTED = re.compile(r"'[^']*'")


def _struct_error_text(exc: msgspec.ValidationError) -> str:
    # msgspec's message names the path; some kinds quote the input ("Invalid enum value
    # 'x'"): every quoted input is masked, the path after " - at " is kept.
    text = str(exc)
    what, _, where = text.partition(" - at ")
    what = _QUOTED.sub("***", what)
    return f"{where.strip('`') or '$'}: {what}"[:300]


def _validation_text(exc: ValidationError, sensitive: frozenset[str]) -> str:
    # Never str(exc): pydantic echoes input values, which may be secrets or payload bytes.
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['type']}")
    return "; ".join(parts)


class MessageRegistry:
    """Type name -> current model, plus the upcasters between schema versions.

    Raises:
        ConfigurationError: from the registration methods on a bad or duplicate entry.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, MessageSpec] = {}
        self._by_model: dict[type[Any], MessageSpec] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._lock = threading.Lock()
        self._watchers: weakref.WeakSet[Any] = weakref.WeakSet()

    def register(
        self,
        model: type[Any],
        type_name: str,
        *,
        version: int = 1,
        classification: Classification = "internal",
        encrypted: bool | None = None,
    ) -> MessageSpec:
        """Register ``model`` as the current version of ``type_name``.

        Args:
            model: a :class:`Message` subclass or a ``msgspec.Struct`` subclass.
            type_name: the wire name, e.g. ``"trade.executed"`` (1-255 bytes).
            version: the current schema version (``>= 1``).
            classification: default data classification of its frames.
            encrypted: require encryption; defaults to ``True`` for confidential and
                restricted types.

        Raises:
            ConfigurationError: a bad argument or a type name already taken by another model.
        """
        if not (isinstance(model, type) and issubclass(model, (Message, msgspec.Struct))):
            raise ConfigurationError("model", "must be a Message or msgspec.Struct subclass")
        if not isinstance(type_name, str) or not 0 < len(type_name.encode()) <= 255:
            raise ConfigurationError("type_name", "must be a string of 1-255 bytes")
        if not isinstance(version, int) or not 1 <= version <= 0xFFFFFFFF:
            raise ConfigurationError("version", "must be an int >= 1")
        if classification not in CLASSIFICATIONS:
            raise ConfigurationError("classification", f"must be one of {sorted(CLASSIFICATIONS)}")
        if encrypted is None:
            encrypted = classification in ("confidential", "restricted")
        if issubclass(model, msgspec.Struct):
            names: tuple[str, ...] = tuple(model.__struct_fields__)
            sensitive = _struct_sensitive(model)
            if sensitive:
                _redacting_repr(model, sensitive)
        else:
            names = tuple(model.model_fields)
            sensitive = model.__rfsdk_sensitive__
        spec = MessageSpec(
            type_name,
            version,
            model,
            classification,
            bool(encrypted),
            names,
            sensitive,
            issubclass(model, msgspec.Struct),
        )
        with self._lock:
            old = self._by_name.get(type_name)
            if old is not None and old.model is not model:
                raise ConfigurationError("type_name", f"{type_name!r} is already registered")
            self._by_name[type_name] = spec
            self._by_model[model] = spec
        self._changed()
        return spec

    def add_upcaster(self, type_name: str, from_version: int, func: Upcaster) -> None:
        """Register ``func`` to turn ``type_name`` payloads of ``from_version`` into the next.

        Raises:
            ConfigurationError: an upcaster for that step already exists.
        """
        key = (type_name, from_version)
        with self._lock:
            if key in self._upcasters:
                raise ConfigurationError("from_version", f"{type_name} v{from_version} exists")
            self._upcasters[key] = func
        self._changed()

    def _changed(self) -> None:
        # Codecs cache specs in their hot-path shapes: tell them to forget.
        with self._lock:  # a snapshot: codecs may be created on other threads meanwhile
            watchers = list(self._watchers)
        for codec in watchers:
            codec._forget_shapes()

    def _watch(self, codec: Any) -> None:
        """Tell ``codec`` (weakly held) about every registration from now on."""
        with self._lock:
            self._watchers.add(codec)

    def get(self, type_name: str) -> MessageSpec | None:
        """The spec registered under ``type_name``, or ``None``."""
        return self._by_name.get(type_name)

    def spec_for(self, model: type[Any]) -> MessageSpec:
        """The spec of a registered model class.

        Raises:
            SchemaError: the class is not registered.
        """
        spec = self._by_model.get(model)
        if spec is None:
            raise SchemaError(f"{model.__name__} is not a registered message type")
        return spec

    def upcast(self, type_name: str, version: int, payload: Any) -> Any:
        """Run the upcasters that bring ``payload`` from ``version`` to the current version.

        Raises:
            SchemaError: unknown type, a version newer than the registered one, a missing
                upcaster, or an upcaster that failed.
        """
        spec = self._by_name.get(type_name)
        if spec is None:
            raise SchemaError(f"unknown message type {type_name!r}")
        if version == spec.version:
            return payload
        if version > spec.version:
            raise SchemaError(
                f"{type_name} v{version} is newer than v{spec.version}; upgrade this consumer"
            )
        for step in range(version, spec.version):
            func = self._upcasters.get((type_name, step))
            if func is None:
                raise SchemaError(f"no upcaster for {type_name} v{step} -> v{step + 1}")
            if not isinstance(payload, dict):
                raise SchemaError(f"{type_name} v{step} payload is not a map")
            try:
                payload = func(dict(payload))
            except Exception as exc:
                raise SchemaError(
                    f"upcaster {type_name} v{step} failed ({type(exc).__name__})"
                ) from None
        return payload

    def validate(self, spec: MessageSpec, payload: Any) -> Any:
        """Validate an (already upcast) payload into the spec's model.

        Raises:
            SchemaError: validation failed; the text names fields and error types only.
        """
        if spec.is_struct:
            try:
                return msgspec.convert(payload, spec.model)
            except msgspec.ValidationError as exc:
                detail = _struct_error_text(exc)
                raise SchemaError(f"{spec.type_name} v{spec.version} invalid: {detail}") from None
        try:
            return spec.model.model_validate(payload)
        except ValidationError as exc:
            detail = _validation_text(exc, spec.model.__rfsdk_sensitive__)
            raise SchemaError(f"{spec.type_name} v{spec.version} invalid: {detail}") from None

    def type_names(self) -> list[str]:
        """All registered type names, sorted."""
        return sorted(self._by_name)


default_registry = MessageRegistry()
"""The registry :func:`message` and :func:`upcaster` use unless given another."""


def message(
    type_name: str,
    *,
    version: int = 1,
    classification: Classification = "internal",
    encrypted: bool | None = None,
    registry: MessageRegistry | None = None,
) -> Callable[[type[_M]], type[_M]]:
    """Class decorator registering a :class:`Message` or ``msgspec.Struct`` subclass.

    Arguments are those of :meth:`MessageRegistry.register`.

    Raises:
        ConfigurationError: a bad argument or a duplicate type name.
    """

    def deco(cls: type[_M]) -> type[_M]:
        (registry or default_registry).register(
            cls, type_name, version=version, classification=classification, encrypted=encrypted
        )
        return cls

    return deco


def upcaster(
    type_name: str, *, from_version: int, registry: MessageRegistry | None = None
) -> Callable[[Upcaster], Upcaster]:
    """Decorator registering an upcaster from ``from_version`` to ``from_version + 1``.

    Raises:
        ConfigurationError: an upcaster for that step already exists.
    """

    def deco(func: Upcaster) -> Upcaster:
        (registry or default_registry).add_upcaster(type_name, from_version, func)
        return func

    return deco
