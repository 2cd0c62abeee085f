"""Field types for financial messages: money as ``Decimal`` + ISO-4217, nanosecond timestamps.

* :data:`Amount` — a ``Decimal`` that refuses floats, NaN and infinities. On the wire it is a
  decimal string (``"189.125"``), so no precision is lost in any language.
* :data:`CurrencyCode` — an upper-case ISO-4217 alphabetic code from :data:`ISO_4217`.
* :class:`Money` — amount + currency.
* :class:`Timestamp` — UTC instant with nanosecond resolution. Accepts an aware ``datetime``,
  integer nanoseconds since the epoch, or RFC 3339 text with up to nine fractional digits; on
  the wire it is RFC 3339 UTC text with nine digits (``"2024-05-01T12:00:00.123456789Z"``),
  which JavaScript and Rust parse without losing precision (unlike a 64-bit integer in JSON).
* :data:`Sensitive` — marks a field whose value is redacted in ``repr``, logs and errors.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
import time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "ISO_4217",
    "Amount",
    "CurrencyCode",
    "Money",
    "Sensitive",
    "SensitiveStr",
    "Timestamp",
]

_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD
    JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU
    XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_TEXT.split())
"""Active ISO-4217 alphabetic codes (including funds and precious-metal codes)."""


class _SensitiveMarker:
    """Annotation marker: ``Annotated[str, Sensitive]`` redacts the field in repr and errors."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Sensitive"


Sensitive = _SensitiveMarker()
"""Mark a message field as sensitive: ``card: Annotated[str, Sensitive]``."""

SensitiveStr = Annotated[str, Sensitive]
"""A string field that is redacted in ``repr``, logs and error text."""


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money amounts must be Decimal, int or a decimal string, never float")
    return value


Amount = Annotated[decimal.Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
"""A monetary amount: ``Decimal``; floats are refused; serialised as a decimal string."""


def _iso4217(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError("not an ISO-4217 currency code")
    return value


CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_iso4217)]
"""An ISO-4217 alphabetic currency code such as ``"USD"``."""


class Money(BaseModel):
    """An amount of money in one currency.

    Attributes:
        amount: the amount, as ``Decimal``.
        currency: the ISO-4217 code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount
    currency: CurrencyCode


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})\Z"
)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_SECOND = _dt.timedelta(seconds=1)
_MAX_NS = (1 << 63) - 1


class Timestamp:
    """A UTC instant with nanosecond resolution (immutable, ordered, hashable).

    Args:
        ns: nanoseconds since the Unix epoch, ``0 <= ns < 2**63``.

    Raises:
        ValueError: ``ns`` is not an int in range.
    """

    __slots__ = ("_ns",)

    def __init__(self, ns: int) -> None:
        if not isinstance(ns, int) or isinstance(ns, bool) or not 0 <= ns <= _MAX_NS:
            raise ValueError("timestamp nanoseconds must be an int in 0..2**63-1")
        self._ns = ns

    @property
    def ns(self) -> int:
        """Nanoseconds since the Unix epoch."""
        return self._ns

    @classmethod
    def now(cls) -> Timestamp:
        """The current time from :func:`time.time_ns`."""
        return cls(time.time_ns())

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> Timestamp:
        """Convert an aware ``datetime`` (microsecond resolution).

        Raises:
            ValueError: ``value`` is naive.
        """
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware")
        delta = value - _EPOCH
        return cls((delta // _SECOND) * 1_000_000_000 + delta.microseconds * 1000)

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        """Parse RFC 3339 text with an offset and up to nine fractional digits.

        Raises:
            ValueError: malformed text, a missing offset or an impossible date.
        """
        m = _RFC3339.match(text)
        if m is None:
            raise ValueError("expected RFC 3339 text with a UTC offset")
        y, mo, d, h, mi, s, frac, off = m.groups()
        tz = _dt.timezone.utc
        if off not in ("Z", "z"):
            sign = -1 if off[0] == "-" else 1
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
        base = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
        nanos = int((frac or "").ljust(9, "0"))
        return cls(((base - _EPOCH) // _SECOND) * 1_000_000_000 + nanos)

    def to_datetime(self) -> _dt.datetime:
        """Return an aware UTC ``datetime`` (truncated to microseconds)."""
        return _EPOCH + _dt.timedelta(microseconds=self._ns // 1000)

    def isoformat(self) -> str:
        """RFC 3339 UTC text with nine fractional digits."""
        secs, nanos = divmod(self._ns, 1_000_000_000)
        base = _EPOCH + _dt.timedelta(seconds=secs)
        return f"{base:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"

    def __rfsdk_wire__(self) -> str:
        return self.isoformat()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and other._ns == self._ns

    def __lt__(self, other: Timestamp) -> bool:
        return self._ns < other._ns

    def __le__(self, other: Timestamp) -> bool:
        return self._ns <= other._ns

    def __gt__(self, other: Timestamp) -> bool:
        return self._ns > other._ns

    def __ge__(self, other: Timestamp) -> bool:
        return self._ns >= other._ns

    def __hash__(self) -> int:
        return hash(self._ns)

    def __repr__(self) -> str:
        return f"Timestamp({self.isoformat()!r})"

    @classmethod
    def _coerce(cls, value: Any) -> Timestamp:
        if isinstance(value, Timestamp):
            return value
        if isinstance(value, bool):
            raise ValueError("not a timestamp")
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, _dt.datetime):
            return cls.from_datetime(value)
        raise ValueError("expected a Timestamp, aware datetime, int nanoseconds or RFC 3339 text")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.isoformat(), when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time"}
