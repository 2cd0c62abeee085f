"""The audit hash chain: an intact chain verifies; any single edit, deletion or swap is caught."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.security import (
    AuditEvent,
    HmacKeySet,
    RetentionPolicy,
    audit_stream_key,
    entries_from_jsonl,
    seal_entry,
    summarize,
    verify_chain,
)
from redis_fintech_sdk.security._audit_chain import (
    AUDIT_FIELDS,
    GENESIS,
    canonical,
    entry_to_json,
)
from redis_fintech_sdk.security._audit_policy import day_of_stream_key, utc_day

KEYS = HmacKeySet({"a1": b"k" * 32})
Entries = list[tuple[str, dict[str, str]]]

_kinds = st.sampled_from(
    ["published", "consumed", "acked", "dead_lettered", "key_rotated", "permission_denied"]
)
_events = st.builds(
    AuditEvent,
    kind=_kinds,
    actor=st.text(min_size=1, max_size=12),
    outcome=st.sampled_from(["success", "failure", "denied"]),
    channel=st.text(max_size=20),
    message_id=st.text(alphabet="0123456789abcdef", max_size=26),
    key_id=st.sampled_from(["", "1", "2"]),
)


def build(events: list[AuditEvent], keys: HmacKeySet | None = KEYS) -> Entries:
    out: Entries = []
    prev = GENESIS
    for i, event in enumerate(events, start=1):
        fields = seal_entry(
            event, seq=i, prev=prev, ts_us=1_700_000_000_000_000 + i, tenant="t", keys=keys
        )
        prev = fields["mac"]
        out.append((f"{i}-0", fields))
    return out


def head_of(entries: Entries) -> tuple[int, str]:
    return (int(entries[-1][1]["seq"]), entries[-1][1]["mac"]) if entries else (0, GENESIS)


@given(st.lists(_events, min_size=0, max_size=12))
def test_intact_chain_verifies(events: list[AuditEvent]) -> None:
    entries = build(events)
    report = verify_chain(entries, keys=KEYS, head=head_of(entries))
    assert report.ok, report.problems
    assert report.entries == len(events)
    assert report.last_seq == len(events)


@settings(max_examples=200)
@given(
    st.lists(_events, min_size=1, max_size=10),
    st.data(),
)
def test_mutating_any_field_of_any_entry_is_detected(
    events: list[AuditEvent], data: st.DataObject
) -> None:
    entries = build(events)
    head = head_of(entries)
    index = data.draw(st.integers(0, len(entries) - 1))
    name = data.draw(st.sampled_from([*AUDIT_FIELDS, "mac"]))
    fields = dict(entries[index][1])
    fields[name] = fields[name] + "x"
    tampered = [*entries[:index], (entries[index][0], fields), *entries[index + 1 :]]
    report = verify_chain(tampered, keys=KEYS, head=head)
    assert not report.ok
    assert any(p.index == index for p in report.problems)


@given(st.lists(_events, min_size=1, max_size=10), st.data())
def test_deleting_any_single_entry_is_detected(
    events: list[AuditEvent], data: st.DataObject
) -> None:
    entries = build(events)
    head = head_of(entries)
    index = data.draw(st.integers(0, len(entries) - 1))
    report = verify_chain(entries[:index] + entries[index + 1 :], keys=KEYS, head=head)
    assert not report.ok
    kinds = {p.kind for p in report.problems}
    assert kinds & {"gap", "truncated"}


@given(st.lists(_events, min_size=2, max_size=10), st.data())
def test_reordering_any_two_entries_is_detected(
    events: list[AuditEvent], data: st.DataObject
) -> None:
    entries = build(events)
    i = data.draw(st.integers(0, len(entries) - 2))
    j = data.draw(st.integers(i + 1, len(entries) - 1))
    swapped = list(entries)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    report = verify_chain(swapped, keys=KEYS, head=head_of(entries))
    assert not report.ok
    assert {p.kind for p in report.problems} & {"gap", "out_of_order"}


def test_forging_a_whole_entry_without_the_key_is_detected() -> None:
    entries = build([AuditEvent(kind="acked", actor="svc")] * 3)
    forger = HmacKeySet({"a1": b"f" * 32})  # same key id, different key
    forged = seal_entry(
        AuditEvent(kind="acked", actor="mallory"),
        seq=4,
        prev=entries[-1][1]["mac"],
        ts_us=1,
        tenant="t",
        keys=forger,
    )
    report = verify_chain([*entries, ("4-0", forged)], keys=KEYS)
    assert [p.kind for p in report.problems] == ["altered"]


def test_problem_is_reported_once_not_as_a_cascade() -> None:
    entries = build([AuditEvent(kind="acked", actor="svc")] * 6)
    del entries[2]
    report = verify_chain(entries, keys=KEYS, head=None)
    assert [(p.index, p.kind) for p in report.problems] == [(2, "gap")]


def test_unknown_audit_key_and_malformed_entries_are_reported() -> None:
    entries = build([AuditEvent(kind="acked", actor="svc")] * 2)
    other = HmacKeySet({"zz": b"z" * 32})
    assert [p.kind for p in verify_chain(entries, keys=other).problems] == ["unknown_key"] * 2
    broken = [("1-0", {"seq": "1"})]
    assert [p.kind for p in verify_chain(broken, keys=KEYS).problems] == ["malformed"]


def test_rotated_audit_key_verifies_old_and_new_entries() -> None:
    old = build([AuditEvent(kind="acked", actor="svc")] * 2)
    rotated = KEYS.with_key("a2", b"n" * 32, primary=True)
    new = seal_entry(
        AuditEvent(kind="key_rotated", actor="ops", key_id="a2"),
        seq=3,
        prev=old[-1][1]["mac"],
        ts_us=5,
        tenant="t",
        keys=rotated,
    )
    assert new["akid"] == "a2"
    assert verify_chain([*old, ("3-0", new)], keys=rotated).ok
    assert not verify_chain([*old, ("3-0", new)], keys=KEYS).ok


def test_sha256_only_chain_detects_accidents() -> None:
    entries = build([AuditEvent(kind="acked", actor="svc")] * 3, keys=None)
    assert entries[0][1]["akid"] == "sha256"
    assert verify_chain(entries, keys=None).ok
    entries[1][1]["actor"] = "other"
    assert not verify_chain(entries, keys=None).ok


def test_anchor_lets_a_trimmed_chain_verify() -> None:
    entries = build([AuditEvent(kind="acked", actor="svc")] * 5)
    anchor = (2, entries[1][1]["mac"])
    assert verify_chain(entries[2:], keys=KEYS, anchor=anchor, head=head_of(entries)).ok
    assert not verify_chain(entries[2:], keys=KEYS, head=head_of(entries)).ok


def test_canonical_encoding_is_stable_and_language_neutral() -> None:
    fields = {name: "" for name in AUDIT_FIELDS} | {"seq": "1", "actor": 'é"x'}
    data = canonical(fields)
    assert data.startswith(b"rfsdk-audit-v1\n[")
    assert json.loads(data.split(b"\n", 1)[1])[5] == 'é"x'
    assert data.isascii()


def test_events_never_take_payloads_and_reasons_are_redacted() -> None:
    event = AuditEvent(kind="access", actor="ops", reason="login password=hunter22 failed")
    assert "hunter22" not in event.reason
    with pytest.raises(TypeError):
        AuditEvent(kind="published", actor="x", payload=b"secret")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        AuditEvent(kind="nope", actor="x")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        AuditEvent(kind="acked", actor="x" * 300)


def test_jsonl_round_trip_keeps_streams_apart() -> None:
    a = build([AuditEvent(kind="acked", actor="svc")] * 2)
    b = build([AuditEvent(kind="consumed", actor="svc")] * 3)
    buf = io.StringIO()
    for stream, entries in (("s:a", a), ("s:b", b)):
        for entry_id, fields in entries:
            buf.write(entry_to_json(stream, entry_id, fields) + "\n")
    parsed = entries_from_jsonl(buf.getvalue().splitlines())
    assert sorted(parsed) == ["s:a", "s:b"]
    assert parsed["s:b"] == b
    assert all(verify_chain(v, keys=KEYS).ok for v in parsed.values())
    with pytest.raises(ConfigurationError):
        entries_from_jsonl(["{not json"])


def test_stream_keys_days_and_retention_presets() -> None:
    import datetime as dt

    day = dt.date(2024, 5, 1)
    assert audit_stream_key(day) == "audit:{2024-05-01}"
    key = audit_stream_key(day, tenant="acme")
    assert key == "tenant:acme:audit:{acme.2024-05-01}"
    assert day_of_stream_key(key) == day
    assert day_of_stream_key(key + ":head") is None
    assert utc_day(0) == dt.date(1970, 1, 1)
    assert RetentionPolicy.pci_dss().days >= 365
    assert RetentionPolicy.mifid_ii().days >= 5 * 365
    assert RetentionPolicy.sec_17a_4().days >= 6 * 365
    with pytest.raises(ConfigurationError):
        RetentionPolicy(0)


def test_summary_counts_kinds_outcomes_and_lists_refusals() -> None:
    events = [
        AuditEvent(kind="published", actor="svc"),
        AuditEvent(kind="permission_denied", actor="eve", outcome="denied", channel="x.y"),
        AuditEvent(kind="published", actor="svc"),
    ]
    entries = build(events)
    summary = summarize({"s": entries}, {"s": verify_chain(entries, keys=KEYS)})
    assert summary.entries == 3
    assert summary.by_kind == {"permission_denied": 1, "published": 2}
    assert summary.by_actor == {"eve": 1, "svc": 2}
    assert len(summary.denied) == 1
    assert summary.denied[0][1:4] == ("eve", "permission_denied", "x.y")
    assert summary.chains_ok == 1
    assert json.dumps(summary.as_dict())
