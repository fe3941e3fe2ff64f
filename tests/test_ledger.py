"""The push ledger's rules of exactly-once, as a hypothesis state machine over a fake clock.

Two owners (processes) race for the same target's days: they claim, send, fail, crash (their claim stays behind
until its lease runs out), renew, record (sometimes twice, as after a lost answer), and the clock moves on. The same
steps run against the in-memory reference and the SQLite store; both must keep the invariants:

- never two confirmed sends for one (target, date): a send is confirmed when the ledger records it, and a second
  owner's record for a date already recorded (or a record by an owner whose claim was taken over) is refused;
- never a plan day skipped while subscribed: every send carries the day after the last one recorded, and the days
  recorded, in date order, are 1, 2, 3, ... with the progress right after the last.

Claims and records also come in batches (`claim_many`, `record_many`: one transaction for what a broadcast asks in
one loop turn), which must mean exactly the asks one after the other: a live claim is not taken by a later ask of
the same batch, and a record refused in a batch leaves the others standing.

A send that went out but was never recorded (a crash in between) is sent again by whoever takes the claim over:
that is the at-least-once window Telegram's lack of an idempotency key leaves (README, "Known limit").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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

KEY = telegram_key(-1)
OWNERS = ("a", "b")
LEASE = 60.0
PLAN = PlanRule(1000)
START = dt.date(2026, 3, 2)


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
        self.date = START
        self.held: dict[str, Claim] = {}  # what each live owner believes it holds
        self.sent: dict[str, int] = {}  # owner -> parts of its claim's day it has sent (a send went out)
        self.confirmed: dict[dt.date, list[tuple[str, int]]] = {}  # date -> confirmed sends (owner, day)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    @rule(owner=st.sampled_from(OWNERS))
    def claim(self, owner: str) -> None:
        if owner in self.held:
            return
        claim = self.ledger.claim(KEY, self.date, owner, self.now, PLAN, LEASE)
        if claim is not None:
            self.held[owner] = claim
            self.sent.pop(owner, None)

    @rule(owner=st.sampled_from(OWNERS), asks=st.integers(1, 3))
    def claim_in_a_batch(self, owner: str, asks: int) -> None:
        """The owner's claims of one loop turn in one `claim_many` (the same date asked again: a racing tick)."""
        if owner in self.held:
            return
        claims = self.ledger.claim_many([ClaimAsk(KEY, self.date, owner, self.now, PLAN, LEASE)] * asks)
        assert len(claims) == asks and all(c is None for c in claims[1:])  # the first ask's claim is live
        if claims[0] is not None:
            self.held[owner] = claims[0]
            self.sent.pop(owner, None)

    @rule(twice=st.booleans())
    def record_in_a_batch(self, twice: bool) -> None:
        """Every sent claim recorded in one `record_many` (each ask twice: an answer lost and asked again)."""
        owners = [o for o in OWNERS if o in self.held and o in self.sent]
        if not owners:
            return
        asks = [RecordAsk(self.held[o], 1, PLAN) for o in owners for _ in range(2 if twice else 1)]
        answers = iter(self.ledger.record_many(asks))
        last: Progress | None = None
        for owner in owners:
            claim = self.held.pop(owner)
            del self.sent[owner]
            first = next(answers)
            again = next(answers) if twice else first
            if isinstance(first, LostClaim):
                assert isinstance(again, LostClaim)  # taken over: refused each time, the batch's others stand
                continue
            assert again == first and first.next_day == claim.day + 1
            self.confirmed.setdefault(claim.local_date, []).append((owner, claim.day))
            last = first
        if last is not None:
            assert last == self.ledger.progress(KEY)

    @rule(owner=st.sampled_from(OWNERS))
    def send(self, owner: str) -> None:
        """The owner sends the reading, after checking (renewing) that the claim is still its own."""
        claim = self.held.get(owner)
        if claim is None or not self.ledger.renew(claim, self.now, LEASE):
            self.held.pop(owner, None)
            return
        assert claim.day == self.ledger.progress(KEY).next_day  # never a day skipped (nor one already recorded)
        self.sent[owner] = 1

    @rule(owner=st.sampled_from(OWNERS), twice=st.booleans())
    def record(self, owner: str, twice: bool) -> None:
        claim = self.held.get(owner)
        if claim is None or owner not in self.sent:
            return
        try:
            progress = self.ledger.record(claim, 1, PLAN)
        except LostClaim:
            pass  # taken over while sending: the taker records the day, this owner may not
        else:
            # What record() answers is the progress as now stored (the SQLite one works it out, not reads it back).
            assert progress == self.ledger.progress(KEY)
            self.confirmed.setdefault(claim.local_date, []).append((owner, claim.day))
            if twice:  # the first answer was lost on the way back: recorded again, changing nothing
                again = self.ledger.record(claim, 1, PLAN)
                assert again.next_day == claim.day + 1 and again == self.ledger.progress(KEY)
        del self.held[owner]
        del self.sent[owner]

    @rule(owner=st.sampled_from(OWNERS))
    def fail(self, owner: str) -> None:
        """The send failed and nothing went out: the claim is released."""
        claim = self.held.get(owner)
        if claim is None or owner in self.sent:
            return
        self.ledger.release(claim)
        del self.held[owner]

    @rule(owner=st.sampled_from(OWNERS))
    def crash(self, owner: str) -> None:
        """kill -9: the process forgets everything; its claim stays in the store until the lease runs out."""
        self.held.pop(owner, None)
        self.sent.pop(owner, None)

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0, 600.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @precondition(lambda self: not self.held)
    @rule()
    def next_day(self) -> None:
        """The next local date: whatever was left unsent on this one is the next date's day (progress held)."""
        self.date += dt.timedelta(days=1)
        self.now += 86_400

    @invariant()
    def at_most_one_confirmed_send_per_date(self) -> None:
        for local_date, sends in self.confirmed.items():
            assert len(sends) <= 1, f"{local_date}: sent by {sends}"

    @invariant()
    def days_recorded_follow_each_other_without_a_gap(self) -> None:
        days = [sends[0][1] for _, sends in sorted(self.confirmed.items())]
        assert days == list(range(1, len(days) + 1))
        progress = self.ledger.progress(KEY)
        assert progress.next_day == len(days) + 1
        assert progress.last_date == (max(self.confirmed) if self.confirmed else None)


class SqliteLedgerMachine(LedgerMachine):
    backend = "sqlite"


TestInMemoryLedger = LedgerMachine.TestCase
TestInMemoryLedger.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestSqliteLedger = SqliteLedgerMachine.TestCase
TestSqliteLedger.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


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
