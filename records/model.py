"""The campaign record's inputs, as frozen values: what the store knows, handed over in one piece.

Nothing here reads the clock or the database: the bot's store adapter builds a `Campaign`, the functions in
`records.ledger` turn it into the numbers of a report or the rows of an export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class PushDay:
    """A plan day the group received, on its local date."""

    local_date: date
    day: int  # the day of the plan
    reading: str  # the reading's title
    sections: tuple[str, ...]  # the section refs it covers, e.g. ("2.3", "2.4")


@dataclass(frozen=True)
class Member:
    """Someone on the group's roster; `joined`/`left` bound the days they are counted for (None: no bound)."""

    user_id: int
    name: str
    joined: date | None = None
    left: date | None = None

    def present(self, day: date) -> bool:
        return (self.joined is None or self.joined <= day) and (self.left is None or day < self.left)


@dataclass(frozen=True)
class CheckIn:
    """One press of 已学习: for the push of `push_date`, at local time `at` (a later date = 补学)."""

    user_id: int
    push_date: date
    at: datetime

    @property
    def late(self) -> bool:
        return is_late(self.at, self.push_date)


def is_late(at: datetime, push_date: date) -> bool:
    """补学: pressed on a later local date than the push it belongs to."""
    return at.date() > push_date


@dataclass(frozen=True)
class Excuse:
    user_id: int
    first: date
    last: date
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Answer:
    """A member's counted answer to one quiz question, on its local date."""

    user_id: int
    question_id: str
    ref: str
    correct: bool
    local_date: date


@dataclass(frozen=True)
class Asked:
    """One quiz question put to the group (one poll)."""

    question_id: str
    ref: str
    text: str
    local_date: date


@dataclass(frozen=True)
class Mastery:
    """How well one member knows each section they have met (0–1), as personal review measures it."""

    user_id: int
    sections: tuple[tuple[str, float], ...]  # (section ref as the record names it, figure), in reading order


@dataclass(frozen=True)
class Period:
    """Inclusive local dates; `label` names it in replies (近 7 天, 11 月, 全部, 12-01..12-05). `dates_typed`: the
    label is the dates themselves (a typed range), so a reply does not name them a second time."""

    first: date
    last: date
    label: str
    dates_typed: bool = False

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True)
class ChannelRecord:
    """A robot channel (WeCom, DingTalk or Feishu group) of the group: no members, only its own push record."""

    name: str
    platform: str
    when: str  # its schedule, or that it follows the group
    days_posted: int  # in the period
    last_posted: date | None
    state: str


@dataclass(frozen=True)
class Tallies:
    """The period's check-ins and answers, counted the way the rules in `records.ledger` need them.

    `records.ledger.tally` counts them from a campaign's raw facts (the rule); for a big group the bot has SQLite
    count them (bot/reports.py, bot/store.py `record_tallies`) instead of loading 600,000 rows as objects, and a
    property test holds the two equal (tests/test_reports_tallies.py).
    """

    checkins: Mapping[int, Mapping[date, datetime]]  # member -> push date -> local time of the first press
    by_ref: Mapping[int, Mapping[str, tuple[int, int]]]  # member -> section ref -> (answered, correct)
    # Only an export needs these (None: not counted, as for a report, whose summary does not read them; or the
    # answers per day only as the store's texts, Campaign.member_days, which is all the 台账 writers read).
    daily: Mapping[int, Mapping[date, tuple[int, int]]] | None = None  # member -> local date -> (answered, correct)
    questions: Mapping[str, tuple[str, int, int]] | None = None  # question -> (ref of its earliest answer, n, correct)


SEP = "\x02"  # between the fields and items of `MemberDays`' texts: never in a date, a number or a 0/1


@dataclass(frozen=True)
class MemberDays:
    """The check-ins and the answers per day of `Tallies`, as the store hands them over: one text per member,
    fields and items separated by SEP. The 台账 writers (records/export.py) turn a member's text into cells with a
    few C string calls (split, slices, zip) instead of a Python step per row: 300,000 rows at 5,000 x 60.

    checkins: push date, local date and local time (HH:MM:SS) of the first press, and 1 if pressed on a later
    date (补学) else 0 — four fields per press. daily: local date and "answered,correct".
    """

    checkins: Mapping[int, str]
    daily: Mapping[int, str]


@dataclass(frozen=True)
class Campaign:
    """Everything recorded for one group, already limited to `period` by whoever built it."""

    chat_id: int
    title: str
    period: Period
    today: date  # the group's local date now
    push_days: tuple[PushDay, ...]
    members: tuple[Member, ...]
    checkins: tuple[CheckIn, ...] = ()
    excuses: tuple[Excuse, ...] = ()
    answers: tuple[Answer, ...] = ()
    asked: tuple[Asked, ...] = field(default=())
    mastery: tuple[Mastery, ...] = ()  # per member, from quiz answers and personal review (schedules/review.py)
    sections: tuple[str, ...] = ()  # the speech's sections as the record names them, in reading order
    channels: tuple[ChannelRecord, ...] = ()  # the group's robot channels (bot/channels_view.py), for the export
    # Already counted (by the store, for a big group): then `checkins` and `answers` stay empty and are not read.
    tallies: Tallies | None = None
    # The same check-ins and answers per day as the store's texts, for the 台账 writers (None: from `tallies`).
    member_days: MemberDays | None = None
