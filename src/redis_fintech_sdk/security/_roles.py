"""Ready-made roles for the usual FinTech services, least privilege first.

Each factory takes the channel and key patterns the service uses and returns a
:class:`~redis_fintech_sdk.security.Role` whose ``must`` / ``must_not`` checks are derived from
those same patterns (a sample name inside each pattern, and a name outside all of them), so
``ACL DRYRUN`` proves both directions for whatever patterns you pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from ._acl import KeyGrant, Role

__all__ = [
    "ROLE_FACTORIES",
    "admin_role",
    "audit_writer_role",
    "auditor_role",
    "market_data_publisher_role",
    "market_data_reader_role",
    "notifier_role",
    "trade_processor_role",
]

NS = "{ns}"
# Names no sane pattern of a role covers: used to prove that access stops at the patterns.
OUTSIDE_CHANNEL = "zz-outside.probe.X"
OUTSIDE_KEY = "zz-outside:probe"
# Administrative commands no non-admin role may run.
_FORBIDDEN: tuple[tuple[str, ...], ...] = (
    ("FLUSHALL",),
    ("CONFIG", "GET", "maxmemory"),
    ("KEYS", "*"),
    ("ACL", "LIST"),
    ("DEBUG", "SLEEP", "0"),
    ("SHUTDOWN",),
)
_CONNECTION = ("ping", "echo", "hello", "client|setname", "client|id")
_SUBSCRIBE = ("subscribe", "psubscribe", "unsubscribe", "punsubscribe")


def sample_name(pattern: str) -> str:
    r"""A name that ``pattern`` matches: ``*`` → ``sample``, ``?`` → ``x``, ``[ab]`` → ``a``.

    Escapes (``\*``) stand for the literal character.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            out.append("sample")
        elif ch == "?":
            out.append("x")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            body = pattern[i + 1 : end if end != -1 else len(pattern)]
            out.append(_class_member(body))
            i = end + 1 if end != -1 else len(pattern)
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _class_member(body: str) -> str:
    if body.startswith("^"):
        # Any byte not in the class: pick one of a few that channel grammars rarely list.
        excluded = set(body[1:])
        return next(c for c in "xyzq0" if c not in excluded)
    m = re.match(r"\\?(.)", body)
    return m.group(1) if m else "x"


def _ns(name: str) -> str:
    return NS + name


def _channel_checks(
    channels: Sequence[str], *, publish: bool, subscribe: bool
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    must: list[tuple[str, ...]] = []
    must_not: list[tuple[str, ...]] = []
    for pattern in channels:
        sample = _ns(sample_name(pattern))
        (must if subscribe else must_not).append(("SUBSCRIBE", sample))
        if subscribe:
            must.append(("PSUBSCRIBE", _ns(pattern)))
        (must if publish else must_not).append(("PUBLISH", sample, "x"))
    must_not.append(("SUBSCRIBE", _ns(OUTSIDE_CHANNEL)))
    must_not.append(("PUBLISH", _ns(OUTSIDE_CHANNEL), "x"))
    return must, must_not


def market_data_reader_role(
    channels: Sequence[str] = ("market.*",), keys: Sequence[str] = ("md:*",)
) -> Role:
    """Subscribes to market data and reads snapshots/replay streams; writes nothing.

    Args:
        channels: channel patterns it may subscribe to (also the exact ``PSUBSCRIBE``
            patterns allowed).
        keys: key / stream patterns it may read.
    """
    must, must_not = _channel_checks(channels, publish=False, subscribe=True)
    for pattern in keys:
        key = _ns(sample_name(pattern))
        must += [("GET", key), ("XRANGE", key, "-", "+"), ("XREAD", "STREAMS", key, "0")]
        must_not += [("SET", key, "x"), ("XADD", key, "*", "f", "v"), ("DEL", key)]
    must_not += [("GET", _ns(OUTSIDE_KEY)), *_FORBIDDEN]
    return Role(
        name="market-data-reader",
        description="subscribes to market data channels, reads market data keys",
        commands=(
            *_CONNECTION,
            *_SUBSCRIBE,
            "get",
            "mget",
            "exists",
            "xrange",
            "xrevrange",
            "xread",
            "xlen",
            "xinfo|stream",
        ),
        keys=tuple(KeyGrant(k, "r") for k in keys),
        channels=tuple(channels),
        must=(*must, ("PING",)),
        must_not=tuple(must_not),
    )


def market_data_publisher_role(
    channels: Sequence[str] = ("market.*",), keys: Sequence[str] = ("md:*",)
) -> Role:
    """Publishes market data and appends to replay streams; subscribes to nothing.

    Args:
        channels: channel patterns it may publish to.
        keys: key / stream patterns it may write (snapshots, replay streams).
    """
    must, must_not = _channel_checks(channels, publish=True, subscribe=False)
    for pattern in keys:
        key = _ns(sample_name(pattern))
        must += [("XADD", key, "*", "f", "v"), ("SET", key, "x")]
    must_not += [("SET", _ns(OUTSIDE_KEY), "x"), *_FORBIDDEN]
    return Role(
        name="market-data-publisher",
        description="publishes market data, appends market data streams",
        commands=(*_CONNECTION, "publish", "spublish", "xadd", "set", "get", "xlen"),
        keys=tuple(KeyGrant(k) for k in keys),
        channels=tuple(channels),
        must=tuple(must),
        must_not=tuple(must_not),
    )


def notifier_role(
    channels: Sequence[str] = ("notify.*",), keys: Sequence[str] = ("notify:*",)
) -> Role:
    """Publishes user notifications and tracks their delivery in streams.

    Args:
        channels: notification channel patterns it may publish to.
        keys: delivery-tracking key / stream patterns.
    """
    must, must_not = _channel_checks(channels, publish=True, subscribe=False)
    for pattern in keys:
        key = _ns(sample_name(pattern))
        must += [("XADD", key, "*", "f", "v"), ("SET", key, "x", "NX", "EX", "60")]
    must_not += [("GET", _ns(OUTSIDE_KEY)), *_FORBIDDEN]
    return Role(
        name="notifier",
        description="publishes notifications, tracks delivery",
        commands=(
            *_CONNECTION,
            "publish",
            "spublish",
            "xadd",
            "xlen",
            "xrange",
            "set",
            "get",
            "exists",
            "expire",
        ),
        keys=tuple(KeyGrant(k) for k in keys),
        channels=tuple(channels),
        must=tuple(must),
        must_not=tuple(must_not),
    )


def trade_processor_role(
    streams: Sequence[str] = ("trade:*",), channels: Sequence[str] = ("trade.*",)
) -> Role:
    """Consumes trade streams in consumer groups, dead-letters, publishes confirmations.

    Args:
        streams: stream (and dedup key) patterns it consumes and writes.
        channels: channel patterns it publishes confirmations to.
    """
    must, must_not = _channel_checks(channels, publish=True, subscribe=False)
    for pattern in streams:
        key = _ns(sample_name(pattern))
        must += [
            ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", key, ">"),
            ("XACK", key, "g", "0-1"),
            ("XAUTOCLAIM", key, "g", "c", "1000", "0-0"),
            ("XADD", key, "*", "f", "v"),
            ("EVALSHA", "0" * 40, "1", key),
        ]
        must_not += [("XDEL", key, "0-1"), ("DEL", key)]
    must_not += [("XADD", _ns(OUTSIDE_KEY), "*", "f", "v"), *_FORBIDDEN]
    return Role(
        name="trade-processor",
        description="consumes trade streams in groups, publishes confirmations",
        commands=(
            *_CONNECTION,
            "xreadgroup",
            "xack",
            "xautoclaim",
            "xclaim",
            "xpending",
            "xadd",
            "xlen",
            "xrange",
            "xgroup|create",
            "xgroup|createconsumer",
            "xinfo|stream",
            "xinfo|groups",
            "xinfo|consumers",
            "set",
            "get",
            "exists",
            "expire",
            "eval",
            "evalsha",
            "script|load",
            "publish",
            "spublish",
        ),
        keys=tuple(KeyGrant(k) for k in streams),
        channels=tuple(channels),
        must=tuple(must),
        must_not=tuple(must_not),
    )


def auditor_role(keys: Sequence[str] = ("audit:*",)) -> Role:
    """Reads (verifies, exports) audit streams; can change nothing.

    Args:
        keys: audit stream patterns.
    """
    must: list[tuple[str, ...]] = []
    must_not: list[tuple[str, ...]] = []
    for pattern in keys:
        key = _ns(sample_name(pattern))
        must += [("XRANGE", key, "-", "+"), ("HGETALL", key), ("XLEN", key)]
        must_not += [
            ("XADD", key, "*", "f", "v"),
            ("XDEL", key, "0-1"),
            ("XTRIM", key, "MAXLEN", "0"),
            ("DEL", key),
            ("HSET", key, "f", "v"),
        ]
    must_not += [("XRANGE", _ns(OUTSIDE_KEY), "-", "+"), ("SUBSCRIBE", _ns(OUTSIDE_CHANNEL))]
    return Role(
        name="auditor",
        description="reads audit trails",
        commands=(
            *_CONNECTION,
            "xrange",
            "xrevrange",
            "xlen",
            "xinfo|stream",
            "hget",
            "hgetall",
            "hmget",
            "exists",
        ),
        keys=tuple(KeyGrant(k, "r") for k in keys),
        must=tuple(must),
        must_not=(*must_not, *_FORBIDDEN),
    )


def audit_writer_role(keys: Sequence[str] = ("audit:*",)) -> Role:
    """Appends to audit streams (through the SDK's append script); cannot delete or trim.

    Args:
        keys: audit stream patterns.
    """
    must: list[tuple[str, ...]] = []
    must_not: list[tuple[str, ...]] = []
    for pattern in keys:
        key = _ns(sample_name(pattern))
        must += [("XADD", key, "*", "f", "v"), ("EVALSHA", "0" * 40, "2", key, key + ":head")]
        must_not += [
            ("XDEL", key, "0-1"),
            ("XTRIM", key, "MAXLEN", "0"),
            ("DEL", key),
            ("XSETID", key, "0-1"),
        ]
    must_not += [("XADD", _ns(OUTSIDE_KEY), "*", "f", "v"), *_FORBIDDEN]
    return Role(
        name="audit-writer",
        description="appends hash-chained audit events",
        commands=(*_CONNECTION, "xadd", "hset", "hget", "hmget", "eval", "evalsha", "script|load"),
        keys=tuple(KeyGrant(k) for k in keys),
        must=tuple(must),
        must_not=tuple(must_not),
    )


def admin_role() -> Role:
    """Everything (``+@all ~* &*``): for operators and provisioning only."""
    return Role(
        name="admin",
        description="operator: all commands, keys and channels",
        categories=("all",),
        denied_categories=(),
        keys=(KeyGrant("*"),),
        channels=("*",),
        must=(("CONFIG", "GET", "maxmemory"), ("ACL", "LIST"), ("SUBSCRIBE", "any.channel")),
    )


ROLE_FACTORIES: Mapping[str, Callable[[], Role]] = MappingProxyType(
    {
        "market-data-reader": market_data_reader_role,
        "market-data-publisher": market_data_publisher_role,
        "notifier": notifier_role,
        "trade-processor": trade_processor_role,
        "auditor": auditor_role,
        "audit-writer": audit_writer_role,
        "admin": admin_role,
    }
)
"""Role name → factory with default patterns."""
