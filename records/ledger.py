"""The numbers of the campaign record: per push day, per member, per question, and the summary of a period.

Rules, in one place:
- A member is *expected* on a push day when they are on the roster that day and not excused — unless they checked
  in anyway, which always counts (an excused member who studied is not held against the rate, nor hidden).
- A check-in belongs to the push it was pressed on; pressed on a later date it is 补学 and still counts for that day.
- Streaks run over the push days a member was expected; excused days neither break nor extend them; today's push,
  not yet checked in, does not break the current streak (the day is not over).
- Quiz figures count the answers of the period, whatever round they came from.

Everything here reads the period's facts as `Tallies` (records/model.py): `tally()` counts them from a campaign's
check-ins and answers as objects, or the store has SQLite count them the same way for a big group
(bot/reports.py `load_campaign`; tests/test_reports_tallies.py holds the two equal on random ledgers).
"""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from itertools import compress
from typing import Any

from records.model import Campaign, Excuse, Member, PushDay, Tallies, is_late

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


def tally(campaign: Campaign) -> Tallies:
    """The rule for counting a campaign's raw facts: the first press of a member for a push counts; every answer
    of the period counts, for its member, its local date, its section and its question."""
    if campaign.tallies is not None:
        return campaign.tallies
    checkins: dict[int, dict[date, datetime]] = defaultdict(dict)
    for c in campaign.checkins:
        mine = checkins[c.user_id]
        old = mine.get(c.push_date)
        if old is None or c.at < old:
            mine[c.push_date] = c.at  # the first press wins
    daily: dict[int, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    by_ref: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    questions: dict[str, list[Any]] = {}
    for a in campaign.answers:
        day = daily[a.user_id][a.local_date]
        ref = by_ref[a.user_id][a.ref]
        question = questions.setdefault(a.question_id, [a.ref, 0, 0])
        day[0] += 1
        ref[0] += 1
        question[1] += 1
        if a.correct:
            day[1] += 1
            ref[1] += 1
            question[2] += 1
    return Tallies(
        checkins=dict(checkins),
        daily={u: {d: (n, c) for d, (n, c) in days.items()} for u, days in daily.items()},
        by_ref={u: {r: (n, c) for r, (n, c) in refs.items()} for u, refs in by_ref.items()},
        questions={q: (ref, n, c) for q, (ref, n, c) in questions.items()})


def _excuses(campaign: Campaign) -> dict[int, list[Excuse]]:
    out: dict[int, list[Excuse]] = defaultdict(list)
    for e in campaign.excuses:
        out[e.user_id].append(e)
    return out


def _excuse(excuses: list[Excuse] | None, day: date) -> Excuse | None:
    if not excuses:
        return None  # most members, most days
    return next((e for e in excuses if e.covers(day)), None)


LedgerEntry = tuple[Member, PushDay, "datetime | None", "Excuse | None", int, int]


def ledger_entries(campaign: Campaign) -> Iterator[LedgerEntry]:
    """The 台账 as (member, push day, first press or None, excuse or None, answered, correct): one per member per
    push day they were on the roster (or checked in), member by member. The writers format these straight into
    cells (a dataclass per row would be a third of an export's time at 300,000 rows)."""
    tallies = tally(campaign)
    if tallies.daily is None:
        raise ValueError("the campaign was counted for a report: its answers per day are not there")
    excuses = _excuses(campaign)
    no_checkins: Mapping[date, datetime] = {}
    no_answers: Mapping[date, tuple[int, int]] = {}
    for member in campaign.members:
        mine = tallies.checkins.get(member.user_id, no_checkins)
        answered = tallies.daily.get(member.user_id, no_answers)
        excused = excuses.get(member.user_id)
        joined, left = member.joined, member.left
        for push in campaign.push_days:
            day = push.local_date
            at = mine.get(day)
            if at is None and not ((joined is None or joined <= day) and (left is None or day < left)):
                continue  # not on the roster that day (Member.present)
            n, c = answered.get(day, (0, 0))
            yield member, push, at, _excuse(excused, day), n, c


def ledger_rows(campaign: Campaign) -> Iterable[LedgerRow]:
    """The 台账 as rows, one per member per push day they were on the roster (or checked in)."""
    for member, push, at, excuse, answered, correct in ledger_entries(campaign):
        yield LedgerRow(
            user_id=member.user_id, name=member.name, local_date=push.local_date, day=push.day,
            reading=push.reading, sections=" ".join(push.sections), checked_at=at,
            late=at is not None and is_late(at, push.local_date), excused=excuse is not None,
            excuse_reason=excuse.reason if excuse else "", answered=answered, correct=correct)


@lru_cache(maxsize=4096)  # a few dozen refs, looked up for every member's every section
def ref_key(ref: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of section refs: 2.9 before 2.10; words (开头) after numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in ref.split("."))


def _member_stat(member: Member, campaign: Campaign, checkins: Mapping[date, datetime],
                 excuses: list[Excuse] | None, by_ref: Mapping[str, tuple[int, int]],
                 per_day: list[list[int]]) -> MemberStat:
    """One member's figures; adds their (expected, checked, late) to `per_day` on the way (one pass for both)."""
    expected = checked = late = excused = run = best = 0
    joined, left, today = member.joined, member.left, campaign.today
    for push, day_counts in zip(campaign.push_days, per_day, strict=True):
        day = push.local_date
        at = checkins.get(day)
        if at is None:
            present = (joined is None or joined <= day) and (left is None or day < left)  # Member.present
            if not present:
                continue
            if excuses and _excuse(excuses, day) is not None:
                excused += 1  # excused, on the roster, and did not check in: not expected
                continue
            expected += 1
            day_counts[0] += 1
            if day != today:
                run = 0  # today's push, not yet checked in, does not break the streak: the day is not over
            continue
        expected += 1  # a check-in always counts, excused or not
        checked += 1
        run += 1
        best = max(best, run)
        day_counts[0] += 1
        day_counts[1] += 1
        if is_late(at, day):
            late += 1
            day_counts[2] += 1
    return _with_answers(member, expected, checked, late, excused, run, best, by_ref)


def _with_answers(member: Member, expected: int, checked: int, late: int, excused: int, streak: int, best: int,
                  by_ref: Mapping[str, tuple[int, int]]) -> MemberStat:
    """A member's figures: the check-in counts given, the quiz figures from their answers per section."""
    answered = sum(n for n, _ in by_ref.values())
    correct = sum(c for _, c in by_ref.values())
    weak = sorted((c / n, -n, ref_key(ref), ref) for ref, (n, c) in by_ref.items() if c < n)
    return MemberStat(
        user_id=member.user_id, name=member.name, expected=expected, checked=checked, late=late, excused=excused,
        streak=streak, best_streak=best, answered=answered, correct=correct,
        weakest=tuple(ref for *_, ref in weak[:WEAKEST_SHOWN]))


class _Steady:
    """The members on the roster every push day of the period and never excused (most of a real group): expected
    every push day, so `_member_stat`'s rule per day comes down to which push days they checked in on. Their
    figures are counted with C calls over those days (bytes of 0/1, split and stripped) instead of a Python step
    a day, and what they add to each day is added once, at the end (`add_to`)."""

    def __init__(self, campaign: Campaign) -> None:
        self.days = [push.local_date for push in campaign.push_days]
        self.first, self.last = (min(self.days), max(self.days)) if self.days else (date.max, date.min)
        self.positions = range(len(self.days))
        self.today_at = [n for n, day in enumerate(self.days) if day == campaign.today][::-1]  # last first
        self.members = 0
        self.checked: Counter[int] = Counter()  # push day (its position) -> steady members checked in, 补学
        self.late: Counter[int] = Counter()

    def holds(self, member: Member, excuses: Sequence[Excuse] | None) -> bool:
        return not excuses and (member.joined is None or member.joined <= self.first) and (
            member.left is None or self.last < member.left)

    def stat(self, member: Member, checkins: Mapping[date, datetime], by_ref: Mapping[str, tuple[int, int]]
             ) -> MemberStat:
        days = self.days
        flags = bytearray(map(checkins.__contains__, days))  # 1 for a push day checked in, else 0
        pressed = list(compress(self.positions, flags))
        pressed_days = list(compress(days, flags))
        # 补学 (records.model.is_late): pressed on a later date than the push
        late = list(compress(pressed, map(operator.gt, map(datetime.date, map(checkins.__getitem__, pressed_days)),
                                          pressed_days)))
        self.members += 1
        self.checked.update(pressed)
        self.late.update(late)
        # The rule's streak: a push day not checked in ends the run, except today's (the day is not over), which
        # neither ends nor extends it: so leave today out, then runs of 1s are the streaks, the last one current.
        for n in self.today_at:
            if not flags[n]:
                del flags[n]
        best = max(map(len, flags.split(b"\x00")))
        current = len(flags) - len(flags.rstrip(b"\x01"))
        return _with_answers(member, len(days), len(pressed), len(late), 0, current, best, by_ref)

    def add_to(self, per_day: list[list[int]]) -> None:
        for n, counts in enumerate(per_day):
            counts[0] += self.members
            counts[1] += self.checked[n]
            counts[2] += self.late[n]


def summarize(campaign: Campaign) -> Summary:
    """All the figures of a report, computed once."""
    tallies = tally(campaign)
    excuses = _excuses(campaign)
    per_day = [[0, 0, 0] for _ in campaign.push_days]  # expected, checked, late
    steady = _Steady(campaign)
    members = tuple(
        steady.stat(m, tallies.checkins.get(m.user_id, {}), tallies.by_ref.get(m.user_id, {}))
        if steady.holds(m, excuses.get(m.user_id)) else
        _member_stat(m, campaign, tallies.checkins.get(m.user_id, {}), excuses.get(m.user_id),
                     tallies.by_ref.get(m.user_id, {}), per_day)
        for m in campaign.members)
    steady.add_to(per_day)
    days = [DayStat(push.local_date, push.day, push.reading, *counts)
            for push, counts in zip(campaign.push_days, per_day, strict=True)]
    sections: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    quiz_members = quiz_answers = quiz_correct = 0
    for refs in tallies.by_ref.values():  # everyone who answered, on the roster or not
        answered = 0
        for ref, (n, c) in refs.items():
            sections[ref][0] += n
            sections[ref][1] += c
            answered += n
            quiz_correct += c
        quiz_members += answered > 0
        quiz_answers += answered
    today = next((d for d in days if d.local_date == campaign.today), None)
    # In reading order (开头 first, 结语 last), as the 掌握度 sheet; a ref the speech does not have (a changed
    # speech) after those, by number.
    order = {ref: i for i, ref in enumerate(campaign.sections)}
    return Summary(
        campaign=campaign, days=tuple(days), members=members,
        sections=tuple(SectionStat(ref, n, c) for ref, (n, c) in sorted(
            sections.items(), key=lambda kv: (order.get(kv[0], len(order)), ref_key(kv[0])))),
        quiz_members=quiz_members, quiz_answers=quiz_answers, quiz_correct=quiz_correct, today=today)


def question_stats(campaign: Campaign) -> tuple[QuestionStat, ...]:
    """The 测验 sheet: every question asked (or answered) in the period, how often, and how it was answered."""
    about: dict[str, tuple[str, str]] = {}  # question id -> (ref, text)
    asked: dict[str, int] = defaultdict(int)
    for q in campaign.asked:
        about.setdefault(q.question_id, (q.ref, q.text))
        asked[q.question_id] += 1
    answers = tally(campaign).questions
    if answers is None:
        raise ValueError("the campaign was counted for a report: its answers per question are not there")
    for qid, (ref, _, _) in answers.items():
        about.setdefault(qid, (ref, ""))
    out = [QuestionStat(qid, ref, text, asked.get(qid, 0), *answers.get(qid, ("", 0, 0))[1:])
           for qid, (ref, text) in about.items()]
    out.sort(key=lambda q: (ref_key(q.ref), q.question_id))
    return tuple(out)
