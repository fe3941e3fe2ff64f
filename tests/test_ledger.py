"""The push ledger's rules of exactly-once, as a hypothesis state machine over a fake clock.

Two owners (processes) race for three groups' days, each group on its own local date (groups in time zones a day
apart): they claim, send, fail, crash (their claim stays behind until its lease runs out), renew, record (sometimes
twice, as after a lost answer), and the clock moves on. The same steps run against the in-memory reference and the
SQLite store; both must keep the invariants, for every group:

- never two confirmed sends for one (target, date): a send is confirmed when the ledger records it, and a second
  owner's record for a date already recorded (or a record by an owner whose claim was taken over) is refused;
- never a plan day skipped while subscribed: every send carries the day after the last one recorded, and the days
  recorded, in date order, are 1, 2, 3, ... with the progress right after the last.

Claims and records also come in batches (`claim_many`, `record_many`: one transaction for what a broadcast asks in
one loop turn, across groups and their dates), which must mean exactly the asks one after the other: a live claim
is not taken by a later ask of the same batch, and a record refused in a batch leaves the others standing. In
SQLite a batch is one transaction: a store fault at any statement of it (inside the k-th ask, or at its COMMIT)
leaves nothing of it behind, and the same batch asked again answers what it would have answered had the fault never
happened (checked against a copy of the database taken before).

A send that went out but was never recorded (a crash in between) is sent again by whoever takes the claim over:
that is the at-least-once window Telegram's lack of an idempotency key leaves (README, "Known limit").
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlite_utils import Database

from bot.store import SqliteLedger, Store
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

KEYS = (telegram_key(-1), telegram_key(-2), telegram_key(-3))
KEY = KEYS[0]
OWNERS = ("a", "b")
Pair = tuple[str, str]  # (owner, key)
PAIRS: list[Pair] = [(owner, key) for owner in OWNERS for key in KEYS]
LEASE = 60.0
PLAN = PlanRule(1000)
START = dt.date(2026, 3, 2)
# What a real store fault raises: the disk, a corrupt page, a constraint (each a different sqlite3 class).
FAULTS: tuple[type[sqlite3.Error], ...] = (sqlite3.OperationalError, sqlite3.DatabaseError, sqlite3.IntegrityError)


def failing_at(k: int, fault: type[sqlite3.Error]) -> Callable[[str, Any], None]:
    """A sqlite-utils tracer that fails the k-th statement (from 0) as a real fault of it would: every statement of
    the store goes through `Database.execute`, which calls its tracer just before the statement runs."""
    count = itertools.count()

    def tracer(sql: str, parameters: Any) -> None:
        if next(count) == k:
            raise fault(f"injected at statement {k}: {' '.join(sql.split()[:3])}")

    return tracer


def untokened(answers: Sequence[Claim | Progress | LostClaim | None]) -> list[object]:
    """Answers to compare across two stores: a claim's token is random, a LostClaim's message is not the point."""
    return [replace(a, token="") if isinstance(a, Claim) else LostClaim if isinstance(a, LostClaim) else a
            for a in answers]


class LedgerMachine(RuleBasedStateMachine):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._tmp: TemporaryDirectory[str] | None = None
        if self.backend == "sqlite":
            self._tmp = TemporaryDirectory()
            self.store: Store | None = Store(Path(self._tmp.name) / "ledger.db", plan=PLAN)
            self.ledger: Ledger = self.store.ledger
        else:
            self.store = None
            self.ledger = InMemoryLedger()
        self.now = 1_772_400_000.0
        self.dates = {key: START + dt.timedelta(days=i % 2) for i, key in enumerate(KEYS)}  # zones a day apart
        self.held: dict[Pair, Claim] = {}  # what each live owner believes it holds, per group
        self.sent: set[Pair] = set()  # the held claims whose send went out (always a subset of held)
        self.confirmed: dict[str, dict[dt.date, list[tuple[str, int]]]] = {key: {} for key in KEYS}

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # --- one ask at a time ----------------------------------------------------------------------------------

    @rule(owner=st.sampled_from(OWNERS), key=st.sampled_from(KEYS))
    def claim(self, owner: str, key: str) -> None:
        if (owner, key) in self.held:
            return
        self._took(owner, key, self.ledger.claim(key, self.dates[key], owner, self.now, PLAN, LEASE))

    @rule(owner=st.sampled_from(OWNERS), key=st.sampled_from(KEYS))
    def send(self, owner: str, key: str) -> None:
        """The owner sends the reading, after checking (renewing) that the claim is still its own."""
        claim = self.held.get((owner, key))
        if claim is None or not self.ledger.renew(claim, self.now, LEASE):
            # Lost meanwhile: whatever went out is the at-least-once window; this owner records nothing.
            self.held.pop((owner, key), None)
            self.sent.discard((owner, key))
            return
        assert claim.day == self.ledger.progress(key).next_day  # never a day skipped (nor one already recorded)
        self.sent.add((owner, key))

    @rule(owner=st.sampled_from(OWNERS))
    def broadcast(self, owner: str) -> None:
        """A tick: the owner claims every group in one batch and sends to each whose claim it holds."""
        asks = self._claim_asks([(owner, key) for key in KEYS])
        if asks:
            self._claimed(asks, self.ledger.claim_many(asks))
        for _, key in [p for p in self.held if p[0] == owner]:
            self.send(owner, key)

    @rule(owner=st.sampled_from(OWNERS), key=st.sampled_from(KEYS), twice=st.booleans())
    def record(self, owner: str, key: str, twice: bool) -> None:
        claim = self.held.get((owner, key))
        if claim is None or (owner, key) not in self.sent:
            return
        try:
            progress = self.ledger.record(claim, 1, PLAN)
        except LostClaim:
            pass  # taken over while sending: the taker records the day, this owner may not
        else:
            # What record() answers is the progress as now stored (the SQLite one works it out, not reads it back).
            assert progress == self.ledger.progress(key)
            self.confirmed[key].setdefault(claim.local_date, []).append((owner, claim.day))
            if twice:  # the first answer was lost on the way back: recorded again, changing nothing
                again = self.ledger.record(claim, 1, PLAN)
                assert again.next_day == claim.day + 1 and again == self.ledger.progress(key)
        del self.held[(owner, key)]
        self.sent.discard((owner, key))

    @rule(owner=st.sampled_from(OWNERS), key=st.sampled_from(KEYS))
    def fail(self, owner: str, key: str) -> None:
        """The send failed and nothing went out: the claim is released."""
        claim = self.held.get((owner, key))
        if claim is None or (owner, key) in self.sent:
            return
        self.ledger.release(claim)
        del self.held[(owner, key)]

    @rule(owner=st.sampled_from(OWNERS))
    def crash(self, owner: str) -> None:
        """kill -9: the process forgets everything; its claims stay in the store until their leases run out."""
        for pair in [p for p in self.held if p[0] == owner]:
            del self.held[pair]
            self.sent.discard(pair)

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0, 600.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(key=st.sampled_from(KEYS))
    def next_day(self, key: str) -> None:
        """The group's next local date: whatever was left unsent on this one is the next date's day (progress
        held). Only once nobody holds a claim on the group's date."""
        if any(k == key for _, k in self.held):
            return
        self.dates[key] += dt.timedelta(days=1)
        self.now += 86_400

    # --- batches: what a broadcast asks in one loop turn ----------------------------------------------------

    @rule(picks=st.lists(st.sampled_from(PAIRS), min_size=1, max_size=6))
    def claim_in_a_batch(self, picks: list[Pair]) -> None:
        asks = self._claim_asks(picks)
        if asks:
            self._claimed(asks, self.ledger.claim_many(asks))

    @rule(data=st.data(), twice=st.booleans())
    def record_in_a_batch(self, data: st.DataObject, twice: bool) -> None:
        asks = self._record_asks(data, twice)
        if asks:
            self._recorded(asks, self.ledger.record_many(asks))

    @precondition(lambda self: self.store is not None)
    @rule(data=st.data(), records=st.booleans(), fault=st.sampled_from(FAULTS))
    def a_batch_fails_midway(self, data: st.DataObject, records: bool, fault: type[sqlite3.Error]) -> None:
        """A store fault at the k-th statement of a batch, for every k (in one of its asks, at its BEGIN or its
        COMMIT): nothing of the batch persists, and the batch asked again answers what it would have answered had
        the fault never happened."""
        assert self.store is not None
        claims: list[ClaimAsk] = []
        recs: list[RecordAsk] = []
        if records:
            recs = self._record_asks(data, data.draw(st.booleans(), label="twice"))
        else:
            claims = self._claim_asks(data.draw(st.lists(st.sampled_from(PAIRS), min_size=2, max_size=6)))
        if not claims and not recs:
            return

        def batch(ledger: Ledger) -> Sequence[Claim | Progress | LostClaim | None]:
            return ledger.record_many(recs) if records else ledger.claim_many(claims)

        db = self.store.db
        before = self._rows(db)
        twin = Database(sqlite3.connect(":memory:"))  # the store as it is now, to run the batch unharmed on
        db.conn.backup(twin.conn)
        statements: list[str] = []
        with twin.tracer(lambda sql, _: statements.append(sql)):
            expected = untokened(batch(SqliteLedger(twin, threading.RLock())))
        twin.conn.close()
        for k, statement in enumerate(statements):  # the fault at each statement in turn
            with db.tracer(failing_at(k, fault)), pytest.raises(fault):
                batch(self.ledger)
            assert not db.conn.in_transaction, "the failed batch's transaction was left open"
            assert self._rows(db) == before, f"a batch failed at {statement!r} (#{k}) left some of it behind"
        answers = batch(self.ledger)  # asked again (a retry, the next tick): as if the fault never happened
        assert untokened(answers) == expected
        if records:
            self._recorded(recs, [a for a in answers if isinstance(a, Progress | LostClaim)])
        else:
            self._claimed(claims, [a if isinstance(a, Claim) else None for a in answers])

    def _claim_asks(self, picks: list[Pair]) -> list[ClaimAsk]:
        """One turn's claims: groups on their own dates, one asked again (a racing tick, or the other owner)."""
        return [ClaimAsk(key, self.dates[key], owner, self.now, PLAN, LEASE)
                for owner, key in picks if (owner, key) not in self.held]

    def _claimed(self, asks: list[ClaimAsk], claims: Sequence[Claim | None]) -> None:
        assert len(claims) == len(asks)
        asked: set[str] = set()
        for ask, claim in zip(asks, claims, strict=True):
            if ask.key in asked:
                assert claim is None  # the group's first ask in the batch left a live claim (or was refused too)
            asked.add(ask.key)
            self._took(ask.owner, ask.key, claim)

    def _took(self, owner: str, key: str, claim: Claim | None) -> None:
        if claim is not None:
            self.held[(owner, key)] = claim
            self.sent.discard((owner, key))

    def _record_asks(self, data: st.DataObject, twice: bool) -> list[RecordAsk]:
        """Every sent claim, of every group, in one batch in any order (each twice: an answer lost, asked again)."""
        asks = [RecordAsk(self.held[pair], 1, PLAN) for pair in sorted(self.sent) for _ in range(2 if twice else 1)]
        return list(data.draw(st.permutations(asks), label="records"))

    def _recorded(self, asks: list[RecordAsk], answers: Sequence[Progress | LostClaim]) -> None:
        assert len(answers) == len(asks)
        by_pair: dict[Pair, list[Progress | LostClaim]] = {}
        for ask, answer in zip(asks, answers, strict=True):
            by_pair.setdefault((ask.claim.owner, ask.claim.key), []).append(answer)
        for (owner, key), got in by_pair.items():
            claim = self.held.pop((owner, key))
            self.sent.discard((owner, key))
            if isinstance(got[0], LostClaim):
                assert all(isinstance(a, LostClaim) for a in got)  # taken over: refused each time, others stand
                continue
            assert all(a == got[0] for a in got) and got[0].next_day == claim.day + 1
            assert got[0] == self.ledger.progress(key)
            self.confirmed[key].setdefault(claim.local_date, []).append((owner, claim.day))

    def _rows(self, db: Database) -> list[tuple[Any, ...]]:
        """Everything the ledger keeps, as committed (the caller checks that no transaction is open)."""
        return [*db.execute("SELECT * FROM ledger_days ORDER BY key, local_date").fetchall(),
                *db.execute("SELECT * FROM ledger_progress ORDER BY key").fetchall()]

    # --- the invariants, for every group --------------------------------------------------------------------

    @invariant()
    def at_most_one_confirmed_send_per_group_and_date(self) -> None:
        for key, dates in self.confirmed.items():
            for local_date, sends in dates.items():
                assert len(sends) <= 1, f"{key} {local_date}: sent by {sends}"

    @invariant()
    def each_groups_days_recorded_follow_each_other_without_a_gap(self) -> None:
        for key, dates in self.confirmed.items():
            days = [sends[0][1] for _, sends in sorted(dates.items())]
            assert days == list(range(1, len(days) + 1)), key
            progress = self.ledger.progress(key)
            assert progress.next_day == len(days) + 1, key
            assert progress.last_date == (max(dates) if dates else None), key


class SqliteLedgerMachine(LedgerMachine):
    backend = "sqlite"


TestInMemoryLedger = LedgerMachine.TestCase
TestInMemoryLedger.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestSqliteLedger = SqliteLedgerMachine.TestCase
TestSqliteLedger.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)


def test_a_crashed_owners_claim_is_taken_over_only_after_its_lease_and_resumes_after_the_parts_sent() -> None:
    ledger = InMemoryLedger()
    first = ledger.claim(KEY, START, "a", 0.0, PLAN, LEASE)
    assert first is not None
    ledger.record_part(first, 2, 11)  # two parts of a long reading went out, then the process died
    assert ledger.claim(KEY, START, "b", LEASE - 1, PLAN, LEASE) is None
    ledger.set_next_day(KEY, 7)  # a /goto meanwhile does not change the day half sent
    taken = ledger.claim(KEY, START, "b", LEASE, PLAN, LEASE)
    assert taken is not None and (taken.day, taken.parts_sent) == (1, 2)
    with pytest.raises(LostClaim):
        ledger.record(first, 12, PLAN)
    assert ledger.record(taken, 13, PLAN).next_day == 7  # the /goto still wins


def test_a_claim_and_its_record_are_one_read_and_the_writes_each(tmp_path: Path) -> None:
    """In a broadcast each statement hands the GIL between the store thread and the event loop: a claim reads its
    day record and the progress in one statement, and so does the record (by token, after a migration too)."""
    store = Store(tmp_path / "ledger.db", plan=PLAN)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        claim = store.ledger.claim(KEY, START, "a", 1_772_400_000.0, PLAN, LEASE)
        assert claim is not None and claim.day == 1
        assert len(statements) == 4, statements  # BEGIN IMMEDIATE, the read, the insert, COMMIT
        statements.clear()
        store.ledger.move(KEY, telegram_key(-100))  # a migration while the push is on its way
        statements.clear()
        progress = store.ledger.record(claim, 7, PLAN)
        assert len(statements) == 5, statements  # BEGIN IMMEDIATE, the read, the day, the progress, COMMIT
        assert progress == store.ledger.progress(telegram_key(-100)) and progress.next_day == 2
        assert progress.last_date == START
    finally:
        store.close()


def test_a_batch_is_one_read_and_one_write_per_table_whatever_its_size(tmp_path: Path) -> None:
    """Set based: a broadcast's batch of claims (or records) costs the statements of one ask, not of each ask."""
    store = Store(tmp_path / "ledger.db", plan=PLAN)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        asks = [ClaimAsk(key, START, "a", 1_772_400_000.0, PLAN, LEASE) for key in KEYS]
        claims = store.ledger.claim_many([*asks, asks[0]])  # the same date twice: the second ask is refused
        assert len(statements) == 4, statements  # BEGIN IMMEDIATE, the read, the insert, COMMIT
        assert [c is not None for c in claims] == [True, True, True, False]
        statements.clear()
        held = [c for c in claims if c is not None]
        answers = store.ledger.record_many([RecordAsk(c, 7, PLAN) for c in [*held, held[0]]])
        assert len(statements) == 5, statements  # BEGIN IMMEDIATE, the read, the days, the progress, COMMIT
        assert all(a == Progress(next_day=2, last_date=START) for a in answers)  # the repeat: already done
    finally:
        store.close()
