"""Who studied: the pure rules behind check-in reminders and the end-of-plan summary (no clock, no store)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date


def to_remind(members: Sequence[int], checked_in: Collection[int], excused: Collection[int]) -> list[int]:
    """Members to name in the evening reminder, in roster order: not checked in today and not excused."""
    return [m for m in members if m not in checked_in and m not in excused]


def current_cycle(pushes: Sequence[tuple[date, int]]) -> list[tuple[date, int]]:
    """The pushes of the plan run that ended last: from the latest push of day 1 on (all of them if none)."""
    starts = [i for i, (_, day) in enumerate(pushes) if day == 1]
    return list(pushes[starts[-1]:] if starts else pushes)


@dataclass(frozen=True)
class CampaignSummary:
    days: int  # pushes in the run
    members: int  # on the roster at the end
    checkins: int  # presses counted (补学 included)
    full_attendance: int  # members who checked in on every pushed day they were not excused
    answers: int  # daily-quiz and /quiz answers during the run
    correct: int

    @property
    def checkin_rate(self) -> int:
        """Percent of member-days checked in, rounded half up."""
        possible = self.days * self.members
        return (self.checkins * 200 + possible) // (2 * possible) if possible else 0

    @property
    def accuracy(self) -> int:
        return (self.correct * 200 + self.answers) // (2 * self.answers) if self.answers else 0


def summarize(push_dates: Collection[date], members: Collection[int], checkins: Iterable[tuple[int, date]],
              excused: Iterable[tuple[int, date]], answers: Iterable[bool]) -> CampaignSummary:
    """Totals for one run of the plan: check-ins and excuses as (member, push date), answers as correct or not."""
    days, roster = set(push_dates), set(members)
    done: dict[int, set[date]] = {m: set() for m in roster}
    counted = 0
    for member, day in checkins:
        if day in days:
            counted += 1
            if member in done:
                done[member].add(day)
    for member, day in excused:
        if member in done and day in days:
            done[member].add(day)
    results = list(answers)
    return CampaignSummary(days=len(days), members=len(roster), checkins=counted,
                           full_attendance=sum(1 for m in roster if days and done[m] >= days),
                           answers=len(results), correct=sum(results))
