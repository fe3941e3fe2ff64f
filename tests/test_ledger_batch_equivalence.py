"""A ledger batch (SqliteLedger.claim_many / record_many, set based) means its asks one after the other.

Differential: the same asks go to one store as batches and to a twin store (and to the in-memory ledger) one by one,
in order; the answers and everything the ledger keeps must agree after every step. The batches have what a
broadcast can put in one: the same group twice (a lease of 0 lets the second ask take it over within the batch),
another owner's live or expired claim, a record asked twice, a record of a claim already taken over, released, or
re-keyed by a chat migration; and times with fractions (a lease's end goes in through JSON).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from bot.store import Store
from schedules.ledger import (
    Claim,
    ClaimAsk,
    InMemoryLedger,
    Ledger,
    LostClaim,
    PlanRule,
    Progress,
    RecordAsk,
    telegram_key,
)

PLAN = PlanRule(1000)
KEYS = [telegram_key(-1), telegram_key(-2), telegram_key(-3), telegram_key(-100)]
OWNERS = ("a", "b")
LEASES = (0.0, 60.0)
START = dt.date(2026, 3, 2)


def untokened(answer: object) -> object:
    if isinstance(answer, Claim):
        return replace(answer, token="")
    if isinstance(answer, LostClaim):
        return LostClaim
    return answer


class BatchEqualsOneByOne(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = TemporaryDirectory()
        self.batched = Store(Path(self._tmp.name) / "batched.db", plan=PLAN)
        self.single = Store(Path(self._tmp.name) / "single.db", plan=PLAN)
        self.memory = InMemoryLedger()
        self.now = 1_772_400_000.123456789
        self.day_offset = 0
        # Each claim taken, as (the batched store's, the one-by-one store's, the in-memory ledger's).
        self.claims: list[tuple[Claim, Claim, Claim]] = []

    def teardown(self) -> None:
        self.batched.close()
        self.single.close()
        self._tmp.cleanup()

    @rule(picks=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(OWNERS), st.sampled_from(LEASES),
                                   st.integers(0, 1)), min_size=1, max_size=8))
    def claim_batch(self, picks: list[tuple[str, str, float, int]]) -> None:
        asks = [ClaimAsk(key, START + dt.timedelta(days=self.day_offset + d), owner, self.now, PLAN, lease)
                for key, owner, lease, d in picks]
        got = self.batched.ledger.claim_many(asks)
        one = [self.single.ledger.claim(a.key, a.local_date, a.owner, a.now, a.plan, a.lease) for a in asks]
        mem = [self.memory.claim(a.key, a.local_date, a.owner, a.now, a.plan, a.lease) for a in asks]
        assert [untokened(c) for c in got] == [untokened(c) for c in one] == [untokened(c) for c in mem]
        for g, o, m in zip(got, one, mem, strict=True):
            if g is not None and o is not None and m is not None:
                self.claims.append((g, o, m))
        self.check()

    @rule(data=st.data(), message_id=st.integers(1, 2**40))
    def record_batch(self, data: st.DataObject, message_id: int) -> None:
        if not self.claims:
            return
        picks = data.draw(st.lists(st.integers(0, len(self.claims) - 1), min_size=1, max_size=8), label="picks")
        got = self.batched.ledger.record_many([RecordAsk(self.claims[i][0], message_id, PLAN) for i in picks])
        one: list[Progress | LostClaim] = []
        mem: list[Progress | LostClaim] = []
        for i in picks:
            for ledger, index, answers in ((self.single.ledger, 1, one), (self.memory, 2, mem)):
                try:
                    answers.append(ledger.record(self.claims[i][index], message_id, PLAN))
                except LostClaim as exc:
                    answers.append(exc)
        assert [untokened(a) for a in got] == [untokened(a) for a in one] == [untokened(a) for a in mem]
        self.check()

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if not self.claims:
            return
        g, o, m = self.claims[data.draw(st.integers(0, len(self.claims) - 1), label="release")]
        self.batched.ledger.release(g)
        self.single.ledger.release(o)
        self.memory.release(m)
        self.check()

    @rule(data=st.data(), parts=st.integers(1, 3))
    def a_part_sent(self, data: st.DataObject, parts: int) -> None:
        if not self.claims:
            return
        triple = self.claims[data.draw(st.integers(0, len(self.claims) - 1), label="part")]
        outcomes: list[object] = []
        ledgers: tuple[Ledger, ...] = (self.batched.ledger, self.single.ledger, self.memory)
        for ledger, claim in zip(ledgers, triple, strict=True):
            try:
                ledger.record_part(claim, parts, 5)
                outcomes.append(None)
            except LostClaim:
                outcomes.append(LostClaim)
        assert outcomes[0] == outcomes[1] == outcomes[2]
        self.check()

    @rule(old=st.sampled_from(KEYS[:3]))
    def migrated(self, old: str) -> None:
        """A group became a supergroup: its ledger rows are re-keyed (its claims' tokens stay)."""
        new = KEYS[3]
        for ledger in (self.batched.ledger, self.single.ledger, self.memory):
            ledger.move(old, new)
        self.check()

    @rule(seconds=st.sampled_from([0.5, 30.25, 61.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def next_date(self) -> None:
        self.day_offset += 1

    def check(self) -> None:
        assert self._rows(self.batched) == self._rows(self.single)
        for key in KEYS:
            assert self.batched.ledger.progress(key) == self.single.ledger.progress(key) == self.memory.progress(key)
        # A lease's end is stored as the claim said (it goes in through JSON): what the store keeps is the answer's.
        kept = dict(self.batched.db.execute("SELECT token, lease_until FROM ledger_days").fetchall())
        for g, _, _ in self.claims:
            if g.token in kept:
                assert kept[g.token] == g.lease_until, (g, kept[g.token])

    @staticmethod
    def _rows(store: Store) -> list[tuple[Any, ...]]:
        days = store.db.execute("SELECT key, local_date, day, state, owner, lease_until, parts_sent, message_id, "
                                "attempts FROM ledger_days ORDER BY key, local_date").fetchall()
        progress = store.db.execute("SELECT key, next_day FROM ledger_progress ORDER BY key").fetchall()
        return [*days, *progress]


TestBatchEqualsOneByOne = BatchEqualsOneByOne.TestCase
TestBatchEqualsOneByOne.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
