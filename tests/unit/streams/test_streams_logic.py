"""Pure logic of the Streams layer: keys, decisions, trim planning, dead letters, buffers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import redis_fintech_sdk.streams as streams
from redis_fintech_sdk.channels import keyslot
from redis_fintech_sdk.errors import ConfigurationError
from redis_fintech_sdk.streams import (
    AckPolicy,
    ConsumerConfig,
    DeadLetter,
    DeadLetterReason,
    Effects,
    GroupPosition,
    RawFrameCodec,
    Retention,
    TrimPolicy,
    plan_trim,
    related_key,
)
from redis_fintech_sdk.streams._deadletter import dead_letter_fields, error_summary
from redis_fintech_sdk.streams._decisions import (
    AckBuffer,
    Outcome,
    decide_delivery,
    decide_outcome,
    entry_id_lt,
)
from redis_fintech_sdk.streams._reading import entries_of


def test_all_is_sorted() -> None:
    assert streams.__all__ == sorted(streams.__all__)


@given(st.text(alphabet="abcxyz:.-{}", min_size=1, max_size=20))
def test_related_keys_share_the_slot(name: str) -> None:
    try:
        key = related_key(name, ":dlq")
    except ConfigurationError:
        return
    assert keyslot(key) == keyslot(name)


def test_related_key_keeps_an_existing_tag() -> None:
    assert related_key("orders:{eu}", ":dlq") == "orders:{eu}:dlq"
    assert related_key("trades", ":dlq") == "{trades}:dlq"
    with pytest.raises(ConfigurationError):
        related_key("a}b", ":x")


@pytest.mark.parametrize(
    ("policy", "failed", "attempt", "expected"),
    [
        (AckPolicy.NACK_ON_ERROR, False, 1, Outcome.ACK),
        (AckPolicy.NACK_ON_ERROR, True, 1, Outcome.NACK),
        (AckPolicy.NACK_ON_ERROR, True, 3, Outcome.DEAD_LETTER),
        (AckPolicy.REJECT_ON_ERROR, True, 1, Outcome.DEAD_LETTER),
        (AckPolicy.ACK, True, 1, Outcome.ACK),
        (AckPolicy.ACK_FIRST, True, 1, Outcome.LEAVE),
        (AckPolicy.MANUAL, False, 1, Outcome.LEAVE),
    ],
)
def test_decide_outcome(policy: AckPolicy, failed: bool, attempt: int, expected: Outcome) -> None:
    assert decide_outcome(policy, failed=failed, attempt=attempt, max_attempts=3) is expected


def test_decide_delivery() -> None:
    assert decide_delivery(3, 3) is None
    assert decide_delivery(4, 3) is Outcome.DEAD_LETTER


def test_plan_trim_clamps_to_oldest_needed_entry() -> None:
    groups = [GroupPosition("a", "100-5", "50-0"), GroupPosition("b", "80-0", None)]
    plan = plan_trim("90-0", groups, TrimPolicy.REFUSE)
    assert (plan.minid, plan.clamped, plan.blocking_group) == ("50-0", True, "a")
    assert plan_trim("40-0", groups, TrimPolicy.REFUSE).clamped is False
    warn = plan_trim("90-0", groups, TrimPolicy.WARN)
    assert (warn.minid, warn.clamped) == ("90-0", True)
    # A group that has not read everything protects what it has not read yet.
    assert plan_trim("90-0", [GroupPosition("c", "70-1", None)], TrimPolicy.REFUSE).minid == "70-2"


@given(
    st.lists(
        st.tuples(
            st.integers(0, 1000), st.integers(0, 1000), st.one_of(st.none(), st.integers(0, 1000))
        ),
        max_size=5,
    ),
    st.integers(0, 2000),
)
def test_plan_trim_never_passes_a_needed_entry(
    raw: list[tuple[int, int, int | None]], cut: int
) -> None:
    groups = [
        GroupPosition(f"g{i}", f"{last}-0", None if p is None else f"{min(p, last)}-0")
        for i, (last, _, p) in enumerate(raw)
    ]
    plan = plan_trim(f"{cut}-0", groups, TrimPolicy.REFUSE)
    assert plan.minid is not None
    for g in groups:
        if g.oldest_pending_id is not None:
            assert not entry_id_lt(g.oldest_pending_id, plan.minid)


def test_dead_letter_round_trip_and_repr_hides_frame() -> None:
    exc = ValueError("password=hunter2 declined")
    etype, text = error_summary(exc, limit=100)
    assert etype == "ValueError"
    assert "hunter2" not in text
    fields = dead_letter_fields(
        frame=b"SECRET",
        original_id="1-0",
        stream="s",
        group="g",
        consumer="c",
        attempts=3,
        reason=DeadLetterReason.HANDLER_ERROR,
        error_type=etype,
        error=text,
        message_id="m1",
    )
    letter = DeadLetter.from_entry("9-0", fields)
    assert (letter.attempts, letter.reason, letter.frame, letter.message_id) == (
        3,
        DeadLetterReason.HANDLER_ERROR,
        b"SECRET",
        "m1",
    )
    assert "SECRET" not in repr(letter)


def test_error_summary_truncates() -> None:
    assert len(error_summary(RuntimeError("x" * 1000), limit=10)[1]) == 10


def test_ack_buffer_batches_and_puts_back() -> None:
    buf = AckBuffer(2)
    assert not buf.add("1-0")
    assert buf.add("2-0")
    batch = buf.take()
    buf.add("3-0")
    buf.put_back(batch)
    assert buf.take() == ["1-0", "2-0"]
    assert buf.clear() == 1


def test_effects_script_args() -> None:
    eff = Effects()
    eff.incrby("{s}:bal", 5)
    eff.hset("{s}:h", {"a": 1})
    assert eff.keys() == ["{s}:bal", "{s}:h"]
    assert eff.script_args() == [2, 3, "INCRBY", "{s}:bal", 5, 4, "HSET", "{s}:h", "a", 1]


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError):
        ConsumerConfig(group="")
    with pytest.raises(ConfigurationError):
        ConsumerConfig(group="g", batch_size=0)
    with pytest.raises(ConfigurationError):
        Retention()
    assert ConsumerConfig(group="g").consumer


def test_entries_of_resp2_and_resp3() -> None:
    resp2 = [[b"s", [(b"1-0", {b"f": b"x"})]]]
    resp3 = {b"s": [[(b"1-0", {b"f": b"x"})]]}
    assert entries_of(resp2) == entries_of(resp3) == [(b"1-0", {b"f": b"x"})]
    assert entries_of([]) == entries_of({}) == []


def test_raw_codec() -> None:
    codec = RawFrameCodec()
    assert codec.encode(b"x", channel="s") == b"x"
    with pytest.raises(Exception, match="empty"):
        codec.decode(b"", channel="s")
