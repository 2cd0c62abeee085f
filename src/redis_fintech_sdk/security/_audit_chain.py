r"""The audit trail's hash chain: events, their canonical encoding, sealing and verification.

Sans-I/O. Each entry of an audit stream holds flat string fields::

    v seq ts tenant kind actor outcome channel msg kid reason origin akid prev mac

``seq`` counts from 1 in each stream; ``ts`` is UTC microseconds; ``prev`` is the ``mac`` of
the entry before (64 zeros for the first); ``mac`` is HMAC-SHA256 under the audit key
``akid`` (or plain SHA-256 when ``akid`` is ``sha256``) of::

    b"rfsdk-audit-v1\n" + JSON array [v, seq, ts, tenant, kind, actor, outcome, channel,
                                       msg, kid, reason, origin, akid, prev]

encoded with ``separators=(",", ":")`` and ASCII escapes — so any language can recompute it.

Editing an entry breaks its ``mac``; deleting one leaves a gap in ``seq`` and a ``prev`` that
points nowhere; reordering breaks both. Trimming the tail is caught against the stream's head
record (last ``seq``/``mac``), and a retention trim leaves an *anchor* (the ``seq``/``mac`` of
the last removed entry) so the remainder still verifies. Events never carry payloads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from redis_fintech_sdk.errors import ConfigurationError, redact

from ._hmac_keys import HmacKeySet

__all__ = [
    "AUDIT_FIELDS",
    "GENESIS",
    "AuditEvent",
    "AuditKind",
    "AuditOutcome",
    "ChainProblem",
    "ChainReport",
    "entries_from_jsonl",
    "entry_to_json",
    "seal_entry",
    "verify_chain",
]

AuditKind = Literal[
    "published",
    "consumed",
    "acked",
    "dead_lettered",
    "key_rotated",
    "permission_denied",
    "token_refused",
    "rate_limited",
    "retention",
    "access",
]
"""What happened. ``access`` is a generic access-log event (login, admin action)."""

AuditOutcome = Literal["success", "failure", "denied"]
"""How it ended."""

KINDS: frozenset[str] = frozenset(AuditKind.__args__)  # type: ignore[attr-defined]
OUTCOMES: frozenset[str] = frozenset(AuditOutcome.__args__)  # type: ignore[attr-defined]

VERSION = "1"
GENESIS = "0" * 64
"""The ``prev`` of the first entry of a chain."""
SHA256_ONLY = "sha256"
"""``akid`` of entries chained with plain SHA-256 (tamper-evident only against accidents)."""
_DOMAIN = b"rfsdk-audit-v1\n"
_MAX_TEXT = 256

AUDIT_FIELDS: tuple[str, ...] = (
    "v",
    "seq",
    "ts",
    "tenant",
    "kind",
    "actor",
    "outcome",
    "channel",
    "msg",
    "kid",
    "reason",
    "origin",
    "akid",
    "prev",
)
"""The fields covered by ``mac``, in the order of the canonical array."""


def _text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"event.{name}", "must be a string")
    if len(value) > _MAX_TEXT:
        raise ConfigurationError(f"event.{name}", f"at most {_MAX_TEXT} characters")
    return value


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One security-relevant event. Identifiers only: never payloads, never secrets.

    Attributes:
        kind: what happened.
        actor: who did it (ACL user, token subject, service id).
        outcome: ``success``, ``failure`` or ``denied``.
        channel: the channel or stream concerned.
        message_id: the message id concerned.
        key_id: the encryption / signing key id concerned (never the key).
        reason: a short reason; passed through :func:`redis_fintech_sdk.errors.redact`.
        origin: where the request came from (host, service instance, client address).

    Raises:
        ConfigurationError: unknown kind or outcome, or a field longer than 256 characters.
    """

    kind: AuditKind
    actor: str
    outcome: AuditOutcome = "success"
    channel: str = ""
    message_id: str = ""
    key_id: str = ""
    reason: str = ""
    origin: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigurationError("event.kind", f"must be one of {sorted(KINDS)}")
        if self.outcome not in OUTCOMES:
            raise ConfigurationError("event.outcome", f"must be one of {sorted(OUTCOMES)}")
        for name in ("actor", "channel", "message_id", "key_id", "origin"):
            _text(getattr(self, name), name)
        object.__setattr__(self, "reason", redact(_text(self.reason, "reason")))


def canonical(fields: Mapping[str, str]) -> bytes:
    """The bytes the ``mac`` covers (see the module docs).

    Raises:
        KeyError: a covered field is missing.
    """
    values = [fields[name] for name in AUDIT_FIELDS]
    return _DOMAIN + json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode()


def compute_mac(fields: Mapping[str, str], keys: HmacKeySet | None) -> str | None:
    """The ``mac`` of ``fields`` under their ``akid``; ``None`` when that key is unknown.

    Raises:
        KeyError: a covered field is missing.
    """
    data = canonical(fields)
    akid = fields["akid"]
    if akid == SHA256_ONLY:
        return hashlib.sha256(data).hexdigest()
    if keys is None or akid not in keys:
        return None
    return keys.mac(data, akid)


def seal_entry(
    event: AuditEvent,
    *,
    seq: int,
    prev: str,
    ts_us: int,
    tenant: str | None,
    keys: HmacKeySet | None,
) -> dict[str, str]:
    """Build the stream fields of ``event`` as entry ``seq`` after ``prev``.

    Args:
        event: the event.
        seq: its position in the chain, from 1.
        prev: the ``mac`` of entry ``seq - 1`` (:data:`GENESIS` for the first).
        ts_us: UTC microseconds.
        tenant: the tenant whose trail this is.
        keys: the audit HMAC keys (the primary is used); ``None`` chains with SHA-256.

    Raises:
        ConfigurationError: ``seq`` < 1.
    """
    if seq < 1:
        raise ConfigurationError("seq", "sequence numbers start at 1")
    fields = {
        "v": VERSION,
        "seq": str(seq),
        "ts": str(ts_us),
        "tenant": tenant or "",
        "kind": event.kind,
        "actor": event.actor,
        "outcome": event.outcome,
        "channel": event.channel,
        "msg": event.message_id,
        "kid": event.key_id,
        "reason": event.reason,
        "origin": event.origin,
        "akid": keys.primary if keys is not None else SHA256_ONLY,
        "prev": prev,
    }
    mac = compute_mac(fields, keys)
    assert mac is not None
    fields["mac"] = mac
    return fields


ProblemKind = Literal[
    "malformed", "altered", "unknown_key", "gap", "out_of_order", "broken_link", "truncated"
]


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with a chain.

    Attributes:
        index: position in the list given to the verifier (``-1`` for the tail).
        entry_id: the stream entry id.
        kind: ``altered`` (mac mismatch), ``gap`` (entries missing before it),
            ``out_of_order``, ``broken_link`` (``prev`` does not match), ``unknown_key``,
            ``malformed``, or ``truncated`` (entries missing at the end).
        detail: a human sentence.
    """

    index: int
    entry_id: str
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one chain.

    Attributes:
        entries: how many entries were looked at.
        first_seq: ``seq`` of the first entry (``0`` when empty).
        last_seq: ``seq`` of the last entry.
        last_mac: ``mac`` of the last entry.
        problems: what is wrong; empty for an intact chain.
    """

    entries: int
    first_seq: int = 0
    last_seq: int = 0
    last_mac: str = GENESIS
    problems: tuple[ChainProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """``True`` when the chain is intact."""
        return not self.problems


def verify_chain(
    entries: Sequence[tuple[str, Mapping[str, str]]],
    *,
    keys: HmacKeySet | None,
    anchor: tuple[int, str] | None = None,
    head: tuple[int, str] | None = None,
) -> ChainReport:
    """Check a chain: every ``mac``, the ``seq`` run and every ``prev`` link.

    Args:
        entries: ``(entry_id, fields)`` in stream order.
        keys: the audit HMAC keys (any ``akid`` that appears must be present).
        anchor: ``(seq, mac)`` of the last entry removed by retention, if any.
        head: ``(seq, mac)`` the writer recorded for the last entry; catches a cut tail.

    Returns:
        A report listing every problem; after a problem the walk resynchronises on the
        stored values, so one bad entry is reported once, not as a cascade.
    """
    expected_seq, expected_prev = (anchor[0] + 1, anchor[1]) if anchor else (1, GENESIS)
    problems: list[ChainProblem] = []
    first_seq = 0
    for index, (entry_id, fields) in enumerate(entries):
        try:
            seq = int(fields["seq"])
            want = compute_mac(fields, keys)
            stored = fields["mac"]
            prev = fields["prev"]
        except (KeyError, ValueError):
            problems.append(ChainProblem(index, entry_id, "malformed", "missing or bad fields"))
            continue
        first_seq = first_seq or seq
        if want is None:
            detail = f"audit key {fields['akid']!r} is not available"
            problems.append(ChainProblem(index, entry_id, "unknown_key", detail))
        elif not _equal(want, stored):
            problems.append(ChainProblem(index, entry_id, "altered", "mac does not match"))
        if seq > expected_seq:
            detail = f"seq {seq} follows {expected_seq - 1}: {seq - expected_seq} missing"
            problems.append(ChainProblem(index, entry_id, "gap", detail))
        elif seq < expected_seq:
            detail = f"seq {seq} after {expected_seq - 1}"
            problems.append(ChainProblem(index, entry_id, "out_of_order", detail))
        elif not _equal(prev, expected_prev):
            problems.append(
                ChainProblem(index, entry_id, "broken_link", "prev is not the previous mac")
            )
        expected_seq, expected_prev = seq + 1, stored
    last_seq, last_mac = expected_seq - 1, expected_prev
    if head is not None and (head[0], head[1]) != (last_seq, last_mac):
        detail = f"the writer recorded seq {head[0]} last, the stream ends at {last_seq}"
        problems.append(ChainProblem(-1, "", "truncated", detail))
    return ChainReport(len(entries), first_seq, last_seq, last_mac, tuple(problems))


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def entry_to_json(stream: str, entry_id: str, fields: Mapping[str, str]) -> str:
    """One JSON Lines record: ``{"stream": …, "id": …, <fields>…}`` with sorted keys."""
    record = {"stream": stream, "id": entry_id, **fields}
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def entries_from_jsonl(lines: Iterable[str]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Parse what :func:`entry_to_json` wrote, grouped by stream in file order.

    Raises:
        ConfigurationError: a line is not a JSON object of strings.
    """
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise ConfigurationError("jsonl", f"line {number} is not JSON") from None
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise ConfigurationError("jsonl", f"line {number} is not an object of strings")
        entry_id = doc.pop("id", "")
        stream = doc.pop("stream", "")
        out.setdefault(stream, []).append((entry_id, doc))
    return out
