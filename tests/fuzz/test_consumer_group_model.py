"""B2: a Hypothesis state machine of a consumer group, run against a real redis-server.

Rules: XADD, XREADGROUP ``>``, re-read of a consumer's own PEL (``0``), XACK, XAUTOCLAIM
(min idle 0), consumer crash (it stops acking; its entries stay pending until claimed).
Invariants, checked against the server after every step:

* every delivered entry is either acknowledged or pending, exactly once;
* delivery counts never go down;
* an entry changes owner only through a claim (never delivered to two consumers at once);
* the group's pending count and the server's PEL equal the model's.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from redis_fintech_sdk.testing import RedisBinary, RedisServer

CERTIFY = os.environ.get("RFSDK_CERTIFY", "") not in ("", "0")
CONSUMERS = ("c1", "c2", "c3")
_streams = itertools.count()


class ConsumerGroupModel(RuleBasedStateMachine):
    """The model: entries, the PEL (id -> owner, deliveries) and the acknowledged set."""

    client: Any  # redis.Redis; its reply types are unions too wide to be useful here

    def __init__(self) -> None:
        super().__init__()
        self.stream = f"model:{next(_streams)}"
        self.entries: list[bytes] = []
        self.delivered_upto = 0  # index into entries: the group's last-delivered position
        self.pending: dict[bytes, tuple[str, int]] = {}
        self.acked: set[bytes] = set()
        self.crashed: set[str] = set()
        self.seen_counts: dict[bytes, int] = {}

    @initialize()
    def create_group(self) -> None:
        self.client.xgroup_create(self.stream, "g", id="0", mkstream=True)

    def teardown(self) -> None:
        self.client.delete(self.stream)

    def _live(self) -> list[str]:
        return [c for c in CONSUMERS if c not in self.crashed]

    @rule(n=st.integers(1, 5))
    def xadd(self, n: int) -> None:
        for _ in range(n):
            self.entries.append(self.client.xadd(self.stream, {"v": "x"}))

    @rule(data=st.data(), count=st.integers(1, 4))
    def read_new(self, data: st.DataObject, count: int) -> None:
        consumer = data.draw(st.sampled_from(CONSUMERS))
        self.crashed.discard(consumer)  # a restarted consumer reads again
        reply = self.client.xreadgroup("g", consumer, {self.stream: ">"}, count=count)
        got = [entry_id for entry_id, _ in reply[0][1]] if reply else []
        expected = self.entries[self.delivered_upto : self.delivered_upto + count]
        assert got == expected
        self.delivered_upto += len(got)
        for entry_id in got:
            assert entry_id not in self.pending
            assert entry_id not in self.acked
            self.pending[entry_id] = (consumer, 1)

    @rule(data=st.data())
    def reread_own_pending(self, data: st.DataObject) -> None:
        consumer = data.draw(st.sampled_from(CONSUMERS))
        self.crashed.discard(consumer)
        reply = self.client.xreadgroup("g", consumer, {self.stream: "0"}, count=100)
        got = [entry_id for entry_id, _ in reply[0][1]] if reply else []
        mine = sorted((i for i, (owner, _) in self.pending.items() if owner == consumer), key=_key)
        assert got == mine
        for entry_id in got:
            owner, count = self.pending[entry_id]
            self.pending[entry_id] = (owner, count + 1)

    @precondition(lambda self: any(o not in self.crashed for o, _ in self.pending.values()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        candidates = sorted(
            (i for i, (o, _) in self.pending.items() if o not in self.crashed), key=_key
        )
        entry_id = data.draw(st.sampled_from(candidates))
        assert self.client.xack(self.stream, "g", entry_id) == 1
        del self.pending[entry_id]
        self.acked.add(entry_id)

    @rule(data=st.data(), count=st.integers(1, 4))
    def autoclaim(self, data: st.DataObject, count: int) -> None:
        consumer = data.draw(st.sampled_from(self._live() or list(CONSUMERS)))
        self.crashed.discard(consumer)
        reply = self.client.xautoclaim(self.stream, "g", consumer, 0, "0-0", count=count)
        got = [entry_id for entry_id, _ in reply[1]]
        expected = sorted(self.pending, key=_key)[:count]
        assert got == expected
        for entry_id in got:
            _, n = self.pending[entry_id]
            self.pending[entry_id] = (consumer, n + 1)

    @precondition(lambda self: len(self._live()) > 1)
    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        self.crashed.add(data.draw(st.sampled_from(self._live())))

    @invariant()
    def server_matches_model(self) -> None:
        rows = self.client.xpending_range(self.stream, "g", min="-", max="+", count=10_000)
        server = {r["message_id"]: (r["consumer"].decode(), r["times_delivered"]) for r in rows}
        assert server == self.pending
        delivered = set(self.entries[: self.delivered_upto])
        # Every delivered entry is acked or pending, exactly once.
        assert self.acked.isdisjoint(self.pending)
        assert self.acked | set(self.pending) == delivered
        for entry_id, (_, count) in server.items():
            assert count >= self.seen_counts.get(entry_id, 0), "delivery count went down"
            self.seen_counts[entry_id] = count
        group = next(g for g in self.client.xinfo_groups(self.stream) if g["name"] == b"g")
        assert group["pending"] == len(self.pending)


def _key(entry_id: bytes) -> tuple[int, int]:
    ms, seq = entry_id.split(b"-")
    return int(ms), int(seq)


@pytest.fixture(scope="module")
def model_server(redis_binary: RedisBinary) -> Iterator[RedisServer]:
    with RedisServer(redis_binary) as server:
        yield server


@pytest.mark.integration
def test_consumer_group_state_machine(model_server: RedisServer) -> None:
    with model_server.client() as client:
        machine: Any = type("Machine", (ConsumerGroupModel,), {"client": client})
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=1000 if CERTIFY else 40,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            ),
        )
