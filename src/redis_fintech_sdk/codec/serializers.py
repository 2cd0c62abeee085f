"""Body serialisers: MessagePack (default), JSON, and the protocol for your own.

A serialiser turns the payload — plain data: dicts, lists, str, int, float, bool, None,
bytes — into bytes and back. Typed messages are dumped to that plain form first
(``model_dump(mode="json")``), so ``Decimal`` amounts and timestamps travel as strings and
every serialiser sees the same data.

The serialiser id travels in the low four bits of the frame's flags byte: ``0`` MessagePack,
``1`` JSON, ``2``-``7`` reserved for the SDK, ``8``-``15`` free for applications
(protobuf, Avro, ...).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import threading
import uuid
from typing import Any, Protocol, runtime_checkable

import msgpack
import msgspec

from ._json import json_dumps, json_loads

__all__ = [
    "JSON",
    "MSGPACK",
    "JsonSerializer",
    "MsgPackSerializer",
    "Serializer",
]


@runtime_checkable
class Serializer(Protocol):
    """What the codec needs from a body serialiser.

    Attributes:
        serializer_id: the wire id, ``0``-``15`` (``8``-``15`` for application serialisers).
        name: a short human-readable name, used in errors and benchmarks.
    """

    serializer_id: int
    name: str

    def dumps(self, obj: Any) -> bytes:
        """Serialise plain data to bytes.

        Raises:
            Exception: any error; the codec reports it as a ``SchemaError``.
        """
        ...

    def loads(self, data: bytes) -> Any:
        """Parse bytes back into plain data.

        Raises:
            Exception: any error; the codec reports it as a ``FrameError``.
        """
        ...


def _plain(obj: Any) -> Any:
    """Convert the few non-plain values callers hand over in raw dicts (never floats)."""
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    to_wire = getattr(obj, "__rfsdk_wire__", None)
    if to_wire is not None:
        return to_wire()
    raise TypeError(f"cannot serialise a {type(obj).__name__}")


def _no_ext(code: int, data: bytes | memoryview) -> Any:
    raise ValueError("MessagePack extension types are not allowed in a payload")


# msgspec holds no per-call state in a Decoder: one instance serves every thread. It decodes
# the standard timestamp extension (-1) to an aware datetime and calls the hook, which refuses,
# for every application extension type.
_DECODER = msgspec.msgpack.Decoder(ext_hook=_no_ext)


class MsgPackSerializer:
    """MessagePack bodies (the default): compact, fast, binary-safe.

    Strings are UTF-8 ``str`` types, bytes are ``bin`` types. Encoding uses msgpack-python
    (exact control of the bytes: the test vectors pin them); decoding uses msgspec, about
    twice as fast. Map keys are written as strings; the decoder also accepts other scalar
    keys (integers, for instance) and the standard timestamp extension (as an aware
    ``datetime``) from foreign producers, and refuses application extension types. Typed
    decoding (``Codec.decode(validate=True)``) refuses whatever does not fit the schema.

    ``loads(data)`` parses one value with no trailing bytes and raises ``ValueError``
    (msgspec's ``DecodeError``) on malformed data or an application extension type, and
    ``RecursionError`` on absurd nesting.
    """

    serializer_id = 0
    name = "msgpack"

    __slots__ = ("_local",)

    # The C function itself: no Python frame per decoded body (~0.1 us a message).
    loads = staticmethod(_DECODER.decode)

    def __init__(self) -> None:
        self._local = threading.local()

    def dumps(self, obj: Any) -> bytes:
        """Serialise to MessagePack.

        Raises:
            TypeError: a value has no MessagePack form.
        """
        # One Packer per thread: msgpack.packb would build a new one for every call.
        try:
            packer = self._local.packer
        except AttributeError:
            packer = self._local.packer = msgpack.Packer(default=_plain)
        return packer.pack(obj)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return "MsgPackSerializer()"


class JsonSerializer:
    """UTF-8 JSON bodies, for interop with tools that only speak JSON."""

    serializer_id = 1
    name = "json"

    __slots__ = ()

    def dumps(self, obj: Any) -> bytes:
        """Serialise to compact JSON.

        Raises:
            TypeError: a value has no JSON form.
        """
        return json_dumps(obj, _plain)

    def loads(self, data: bytes) -> Any:
        """Parse JSON.

        Raises:
            ValueError: malformed JSON or nesting deeper than 1024.
        """
        return json_loads(data)

    def __repr__(self) -> str:
        return "JsonSerializer()"


MSGPACK = MsgPackSerializer()
"""The shared MessagePack serialiser (wire id 0)."""

JSON = JsonSerializer()
"""The shared JSON serialiser (wire id 1)."""
