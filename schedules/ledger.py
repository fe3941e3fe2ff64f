"""The push ledger: the one owner of "this target gets plan day N on local date D exactly once".

Every push target (a Telegram group, a robot channel) has a *key* (`telegram_key(chat_id)` is ``"tg:<id>"``; another
channel uses its own prefix, e.g. ``"wecom:team"``) and two kinds of records, kept by the store:

- its **progress**: the plan day the next push sends (`Progress.next_day`). It moves only when a push is recorded, or
  when an admin jumps (/goto). "Finished" is not stored: it is `next_day` past the plan's end under ``at_end: stop``
  (so a plan that shrank finishes, or with ``at_end: restart`` starts again at day 1).
- one **day record** per (key, local date): who holds it and until when, how many parts went out, and whether the day
  is sent. "Was date D pushed?" and "the last pushed date" are read from these records, nowhere else.

The state machine of a day record (the rules below; the store applies them inside one write transaction)::

    (none) ──claim──▶ claimed ──record──▶ sent          (terminal: never claimed again)
                        │  ▲  └──release──▶ released ──claim──▶ claimed
                        │  └── renew (same token, pushes the lease on)
                        └── lease expired ──claim by anyone──▶ claimed (new token; parts already sent are kept)

A live claim is never taken, not even by its own owner (a second tick in the same process is refused too); an
expired one is taken over, and the taker resumes after the parts the dead owner recorded. Each claim has its own
token, so a record or renewal by an owner whose claim was taken over is refused (`LostClaim`) instead of counting
twice. Recording is idempotent: a retry after an answer lost in transit finds the day already sent and succeeds.

Batches (`claim_many`, `record_many`): a broadcast asks for many claims and records at once, and in SQLite each
transaction of its own costs a BEGIN, a COMMIT and the pages written with it. A batch is one transaction and means
exactly what its asks would mean made one after the other, in order (each ask the same compare-and-set, so two asks
for one date in a batch: the first wins); it lands whole or not at all. A record refused (`LostClaim`) is that ask's
answer, in its place in the list, and undoes none of the others.

`schedules/` holds the rules and the interface; `bot/store.py` implements it in SQLite, and `InMemoryLedger` here
implements it for tests and for checking the store against (tests/test_ledger.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

# Long enough for a send that waits out flood control and retries (a live owner renews every third of it), short
# enough that a crashed process's groups are taken over within the minute after.
DEFAULT_LEASE = 60.0

State = Literal["claimed", "sent", "released"]


def telegram_key(chat_id: int) -> str:
    """The ledger key of a Telegram chat."""
    return f"tg:{chat_id}"


def channel_key(kind: str, name: str) -> str:
    """The ledger key of a robot channel (kind "wecom", "dingtalk" or "feishu"; name as in the config).

    The kind is part of it: a robot of another platform under the same name is another target.
    """
    return f"{kind}:{name}"


def telegram_chat(key: str) -> int | None:
    """The chat id of a Telegram ledger key, or None for another channel's key."""
    prefix, _, rest = key.partition(":")
    return int(rest) if prefix == "tg" and rest.lstrip("-").isdigit() else None


class LostClaim(Exception):
    """The claim is not this owner's any more (its lease expired and another owner took it over)."""


@dataclass(frozen=True)
class PlanRule:
    """How long the plan is today and what happens after its last day."""

    length: int
    at_end: Literal["stop", "restart"] = "stop"

    def day_to_send(self, next_day: int) -> int | None:
        """The day a push sends for this progress, or None when the plan is finished."""
        if next_day <= self.length:
            return max(next_day, 1)
        return 1 if self.at_end == "restart" and self.length > 0 else None

    def finished(self, next_day: int) -> bool:
        return self.day_to_send(next_day) is None


@dataclass(frozen=True)
class Progress:
    next_day: int = 1
    last_date: dt.date | None = None  # the latest local date whose push is recorded as sent


@dataclass(frozen=True)
class DayRecord:
    """One (key, local date): the claim on it and, once sent, the record of it."""

    key: str
    local_date: dt.date
    day: int
    state: State
    owner: str
    token: str
    lease_until: float  # seconds since the epoch
    parts_sent: int = 0
    message_id: int | None = None


@dataclass(frozen=True)
class Claim:
    """The right to send `day` to `key` for `local_date`, held by `owner` until `lease_until` unless renewed."""

    key: str
    local_date: dt.date
    day: int
    owner: str
    token: str
    lease_until: float
    parts_sent: int = 0  # parts a previous owner already sent (a takeover resumes after them)


@dataclass(frozen=True)
class ClaimAsk:
    """One claim of a batch (`Ledger.claim_many`): the arguments of `Ledger.claim`."""

    key: str
    local_date: dt.date
    owner: str
    now: float
    plan: PlanRule
    lease: float = DEFAULT_LEASE


@dataclass(frozen=True)
class RecordAsk:
    """One record of a batch (`Ledger.record_many`): the arguments of `Ledger.record`."""

    claim: Claim
    message_id: int | None
    plan: PlanRule


# --- the rules (pure) ------------------------------------------------------------------------------------------


def may_claim(record: DayRecord | None, now: float) -> bool:
    """A date may be claimed when it has no record, was released, or its claim's lease has run out."""
    if record is None or record.state == "released":
        return True
    return record.state == "claimed" and record.lease_until <= now


def take(record: DayRecord | None, key: str, local_date: dt.date, owner: str, progress: Progress, plan: PlanRule,
         now: float, lease: float) -> DayRecord | None:
    """The record after `owner` claims (key, local_date), or None if it may not (taken, sent, finished)."""
    if not may_claim(record, now):
        return None
    if record is not None and record.parts_sent > 0:
        day = record.day  # part of this day is out already: finish that day, whatever /goto said since
    else:
        found = plan.day_to_send(progress.next_day)
        if found is None:
            return None
        day = found
    return DayRecord(key=key, local_date=local_date, day=day, state="claimed", owner=owner,
                     token=uuid.uuid4().hex, lease_until=now + lease,
                     parts_sent=record.parts_sent if record is not None else 0,
                     message_id=record.message_id if record is not None else None)


def advanced(progress: Progress, record: DayRecord, plan_day_now: int | None) -> Progress:
    """Progress after `record`'s day is sent. A /goto while it was on its way (the day due is not the day sent) wins."""
    last = record.local_date if progress.last_date is None else max(progress.last_date, record.local_date)
    if plan_day_now is not None and plan_day_now != record.day:
        return replace(progress, last_date=last)
    return Progress(next_day=record.day + 1, last_date=last)


def claim_of(record: DayRecord) -> Claim:
    return Claim(key=record.key, local_date=record.local_date, day=record.day, owner=record.owner,
                 token=record.token, lease_until=record.lease_until, parts_sent=record.parts_sent)


# --- the interface the store implements ----------------------------------------------------------------------


class Ledger(Protocol):
    """Synchronous, one transaction per call; async code reaches the SQLite one through the store worker."""

    def claim(self, key: str, local_date: dt.date, owner: str, now: float, plan: PlanRule,
              lease: float = DEFAULT_LEASE) -> Claim | None: ...

    def renew(self, claim: Claim, now: float, lease: float = DEFAULT_LEASE) -> bool: ...

    def record_part(self, claim: Claim, parts_sent: int, message_id: int | None) -> None: ...

    def record(self, claim: Claim, message_id: int | None, plan: PlanRule) -> Progress: ...

    def release(self, claim: Claim) -> None: ...

    def claim_many(self, asks: Sequence[ClaimAsk]) -> list[Claim | None]:
        """`claim` for each ask in turn, in one transaction: a claim or None per ask, in order."""
        ...

    def record_many(self, asks: Sequence[RecordAsk]) -> list[Progress | LostClaim]:
        """`record` for each ask in turn, in one transaction: per ask its progress, or the LostClaim it was refused
        with (which leaves the other asks' records standing)."""
        ...

    def progress(self, key: str) -> Progress: ...

    def set_next_day(self, key: str, day: int) -> Progress: ...

    def move(self, old_key: str, new_key: str) -> None: ...


class InMemoryLedger:
    """The ledger in two dicts: the reference the SQLite store is tested against."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, dt.date], DayRecord] = {}
        self.next_days: dict[str, int] = {}

    def _by_token(self, claim: Claim) -> DayRecord:
        for record in self.days.values():
            if record.token == claim.token:
                return record
        raise LostClaim(f"{claim.key} {claim.local_date}: the claim was taken over")

    def claim(self, key: str, local_date: dt.date, owner: str, now: float, plan: PlanRule,
              lease: float = DEFAULT_LEASE) -> Claim | None:
        new = take(self.days.get((key, local_date)), key, local_date, owner, self.progress(key), plan, now, lease)
        if new is None:
            return None
        self.days[(key, local_date)] = new
        return claim_of(new)

    def renew(self, claim: Claim, now: float, lease: float = DEFAULT_LEASE) -> bool:
        try:
            record = self._by_token(claim)
        except LostClaim:
            return False
        if record.state != "claimed":
            return False
        self.days[(record.key, record.local_date)] = replace(record, lease_until=now + lease)
        return True

    def record_part(self, claim: Claim, parts_sent: int, message_id: int | None) -> None:
        record = self._by_token(claim)
        if record.state == "claimed":
            self.days[(record.key, record.local_date)] = replace(record, parts_sent=parts_sent,
                                                                message_id=message_id)

    def record(self, claim: Claim, message_id: int | None, plan: PlanRule) -> Progress:
        record = self._by_token(claim)
        if record.state == "sent":
            return self.progress(record.key)  # a repeated record: already done
        if record.state != "claimed":
            raise LostClaim(f"{claim.key} {claim.local_date}: released before it was recorded")
        sent = replace(record, state="sent", message_id=message_id if message_id is not None else record.message_id)
        self.days[(record.key, record.local_date)] = sent
        before = self.progress(record.key)
        after = advanced(before, sent, plan.day_to_send(before.next_day))
        self.next_days[record.key] = after.next_day
        return self.progress(record.key)

    def claim_many(self, asks: Sequence[ClaimAsk]) -> list[Claim | None]:
        return [self.claim(a.key, a.local_date, a.owner, a.now, a.plan, a.lease) for a in asks]

    def record_many(self, asks: Sequence[RecordAsk]) -> list[Progress | LostClaim]:
        answers: list[Progress | LostClaim] = []
        for ask in asks:
            try:
                answers.append(self.record(ask.claim, ask.message_id, ask.plan))
            except LostClaim as exc:
                answers.append(exc)
        return answers

    def release(self, claim: Claim) -> None:
        try:
            record = self._by_token(claim)
        except LostClaim:
            return
        if record.state == "claimed":
            self.days[(record.key, record.local_date)] = replace(record, state="released")

    def progress(self, key: str) -> Progress:
        sent = [d for (k, d), r in self.days.items() if k == key and r.state == "sent"]
        return Progress(next_day=self.next_days.get(key, 1), last_date=max(sent, default=None))

    def set_next_day(self, key: str, day: int) -> Progress:
        self.next_days[key] = day
        return self.progress(key)

    def move(self, old_key: str, new_key: str) -> None:
        if old_key in self.next_days:
            self.next_days[new_key] = self.next_days.pop(old_key)
        for (k, d), record in list(self.days.items()):
            if k == old_key:
                del self.days[(k, d)]
                self.days[(new_key, d)] = replace(record, key=new_key)
