"""The numbers of the campaign record: per push day, per member, per question, and the summary of a period.

Rules, in one place:
- A member is *expected* on a push day when they are on the roster that day and not excused — unless they checked
  in anyway, which always counts (an excused member who studied is not held against the rate, nor hidden).
- A check-in belongs to the push it was pressed on; pressed on a later date it is 补学 and still counts for that day.
- Streaks run over the push days a member was expected; excused days neither break nor extend them; today's push,
  not yet checked in, does not break the current streak (the day is not over).
- Quiz figures count the answers of the period, whatever round they came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from records.model import Answer, Campaign, CheckIn, Excuse, Member, PushDay

TOP_SHOWN = 5
WEAKEST_SHOWN = 3


@dataclass(frozen=True)
class DayStat:
    local_date: date
    day: int
    reading: str
    expected: int
    checked: int
    late: int  # of `checked`, how many were 补学

    @property
    def rate(self) -> float:
        return self.checked / self.expected if self.expected else 0.0


@dataclass(frozen=True)
class MemberStat:
    user_id: int
    name: str
    expected: int
    checked: int
    late: int
    excused: int  # push days excused (and not checked in)
    streak: int  # current run of checked-in push days
    best_streak: int
    answered: int
    correct: int
    weakest: tuple[str, ...]  # section refs with the lowest accuracy, worst first

    @property
    def rate(self) -> float:
        return self.checked / self.expected if self.expected else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class LedgerRow:
    """One member on one push day: the 台账 line."""

    user_id: int
    name: str
    local_date: date
    day: int
    reading: str
    sections: str
    checked_at: datetime | None
    late: bool
    excused: bool
    excuse_reason: str
    answered: int
    correct: int


@dataclass(frozen=True)
class QuestionStat:
    question_id: str
    ref: str
    text: str
    asked: int
    answered: int
    correct: int

    @property
    def rate(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class SectionStat:
    ref: str
    answered: int
    correct: int

    @property
    def rate(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class Summary:
    campaign: Campaign
    days: tuple[DayStat, ...]
    members: tuple[MemberStat, ...]  # every member counted in the period, in roster order
    sections: tuple[SectionStat, ...]
    quiz_members: int  # members who answered at least once
    quiz_answers: int
    quiz_correct: int
    today: DayStat | None  # today's push, if today is a push day in the period

    @property
    def days_pushed(self) -> int:
        return len(self.days)

    @property
    def rate(self) -> float:
        expected = sum(d.expected for d in self.days)
        return sum(d.checked for d in self.days) / expected if expected else 0.0

    @property
    def accuracy(self) -> float:
        return self.quiz_correct / self.quiz_answers if self.quiz_answers else 0.0

    @property
    def today_missing(self) -> int | None:
        return None if self.today is None else self.today.expected - self.today.checked

    def top(self, count: int = TOP_SHOWN) -> tuple[MemberStat, ...]:
        """The most diligent: most days checked in, then most correct answers; only members who did something."""
        active = [m for m in self.members if m.checked or m.answered]
        active.sort(key=lambda m: (-m.checked, -m.correct, -m.answered, m.name, m.user_id))
        return tuple(active[:count])


class _Index:
    """The campaign's facts keyed for lookups, so a 5,000 × 60 ledger is one pass."""

    def __init__(self, campaign: Campaign) -> None:
        self.checkins: dict[tuple[int, date], CheckIn] = {}
        for c in campaign.checkins:
            key = (c.user_id, c.push_date)
            old = self.checkins.get(key)
            if old is None or c.at < old.at:
                self.checkins[key] = c  # the first press wins
        self.excuses: dict[int, list[Excuse]] = defaultdict(list)
        for e in campaign.excuses:
            self.excuses[e.user_id].append(e)
        self.daily: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])  # answered, correct
        for a in campaign.answers:
            counts = self.daily[(a.user_id, a.local_date)]
            counts[0] += 1
            counts[1] += int(a.correct)

    def excuse(self, user_id: int, day: date) -> Excuse | None:
        if user_id not in self.excuses:
            return None  # most members, most days: no generator for them
        return next((e for e in self.excuses[user_id] if e.covers(day)), None)


def _counted(member: Member, push: PushDay, index: _Index) -> tuple[CheckIn | None, Excuse | None, bool]:
    """(check-in, excuse, expected) of one member on one push day."""
    checkin = index.checkins.get((member.user_id, push.local_date))
    excuse = index.excuse(member.user_id, push.local_date)
    expected = checkin is not None or (member.present(push.local_date) and excuse is None)
    return checkin, excuse, expected


def ledger_rows(campaign: Campaign) -> Iterable[LedgerRow]:
    """The 台账: one row per member per push day they were on the roster (or checked in), member by member."""
    index = _Index(campaign)
    for member in campaign.members:
        for push in campaign.push_days:
            checkin, excuse, _ = _counted(member, push, index)
            if checkin is None and not member.present(push.local_date):
                continue
            answered, correct = index.daily.get((member.user_id, push.local_date), (0, 0))
            yield LedgerRow(
                user_id=member.user_id, name=member.name, local_date=push.local_date, day=push.day,
                reading=push.reading, sections=" ".join(push.sections),
                checked_at=checkin.at if checkin else None, late=bool(checkin and checkin.late),
                excused=excuse is not None, excuse_reason=excuse.reason if excuse else "",
                answered=answered, correct=correct)


def ref_key(ref: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of section refs: 2.9 before 2.10; words (开头) after numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in ref.split("."))


def _member_stat(member: Member, campaign: Campaign, index: _Index, answers: Iterable[Answer],
                 per_day: list[list[int]]) -> MemberStat:
    """One member's figures; adds their (expected, checked, late) to `per_day` on the way (one pass for both)."""
    expected = checked = late = excused = run = best = 0
    for push, day_counts in zip(campaign.push_days, per_day, strict=True):
        checkin, excuse, counted = _counted(member, push, index)
        if not counted:
            excused += excuse is not None and member.present(push.local_date)
            continue
        expected += 1
        day_counts[0] += 1
        if checkin is not None:
            checked += 1
            late += checkin.late
            day_counts[1] += 1
            day_counts[2] += checkin.late
            run += 1
            best = max(best, run)
        elif push.local_date != campaign.today:
            run = 0
    per_ref: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in answers:
        per_ref[a.ref][0] += 1
        per_ref[a.ref][1] += int(a.correct)
    answered = sum(n for n, _ in per_ref.values())
    correct = sum(c for _, c in per_ref.values())
    weak = sorted((c / n, -n, ref_key(ref), ref) for ref, (n, c) in per_ref.items() if c < n)
    return MemberStat(
        user_id=member.user_id, name=member.name, expected=expected, checked=checked, late=late, excused=excused,
        streak=run, best_streak=best, answered=answered, correct=correct,
        weakest=tuple(ref for *_, ref in weak[:WEAKEST_SHOWN]))


def summarize(campaign: Campaign) -> Summary:
    """All the figures of a report, computed once."""
    index = _Index(campaign)
    by_member: dict[int, list[Answer]] = defaultdict(list)
    for a in campaign.answers:
        by_member[a.user_id].append(a)
    per_day = [[0, 0, 0] for _ in campaign.push_days]  # expected, checked, late
    members = tuple(_member_stat(m, campaign, index, by_member.get(m.user_id, []), per_day)
                    for m in campaign.members)
    days = [DayStat(push.local_date, push.day, push.reading, *counts)
            for push, counts in zip(campaign.push_days, per_day, strict=True)]
    sections: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in campaign.answers:
        sections[a.ref][0] += 1
        sections[a.ref][1] += int(a.correct)
    today = next((d for d in days if d.local_date == campaign.today), None)
    return Summary(
        campaign=campaign, days=tuple(days), members=members,
        sections=tuple(SectionStat(ref, n, c) for ref, (n, c) in sorted(sections.items(),
                                                                          key=lambda kv: ref_key(kv[0]))),
        quiz_members=len({a.user_id for a in campaign.answers}),
        quiz_answers=len(campaign.answers), quiz_correct=sum(a.correct for a in campaign.answers), today=today)


def question_stats(campaign: Campaign) -> tuple[QuestionStat, ...]:
    """The 测验 sheet: every question asked (or answered) in the period, how often, and how it was answered."""
    about: dict[str, tuple[str, str]] = {}  # question id -> (ref, text)
    asked: dict[str, int] = defaultdict(int)
    for q in campaign.asked:
        about.setdefault(q.question_id, (q.ref, q.text))
        asked[q.question_id] += 1
    answers: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in campaign.answers:
        about.setdefault(a.question_id, (a.ref, ""))
        answers[a.question_id][0] += 1
        answers[a.question_id][1] += int(a.correct)
    out = [QuestionStat(qid, ref, text, asked.get(qid, 0), *answers.get(qid, (0, 0)))
           for qid, (ref, text) in about.items()]
    out.sort(key=lambda q: (ref_key(q.ref), q.question_id))
    return tuple(out)
