"""Which dates a report or export covers: `week`, `month`, `all`, or `DATE..DATE`, read against the local date."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from records import wording
from records.model import Period

WEEK_WORDS = {"", "week", "w", "本周", "周", "一周", "近7天", "7"}
MONTH_WORDS = {"month", "m", "本月", "月", "一月", "近30天", "30"}
ALL_WORDS = {"all", "全部", "所有", "全程"}
LAST_WEEK_WORDS = {"lastweek", "上周", "上一周"}
LAST_MONTH_WORDS = {"lastmonth", "上月", "上个月", "上一月"}
LONGEST = 400  # days: a typo such as 2062-12-01 gets an answer, not a 40-year table
HALF_YEAR = timedelta(days=183)
_SEPARATORS = re.compile(r"\s*(?:\.\.|～|~|至|到|—|--)\s*")
_DATE = re.compile(r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?$")
# A calendar month: 11月, 11月份, 2026年11月, 2026-11 (a date needs a day, so neither form is a date).
_MONTH = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月份?$|^(\d{4})[-/.](\d{1,2})$")


class ReversedPeriod(ValueError):
    """A period typed end first (12-07..12-01, or 2026-12-05..2026-12-01): its `start` and `end` as read, so the
    answer can name them the right way round (`with_years`: the end was typed with a year, so say the years)."""

    def __init__(self, start: date, end: date, with_years: bool) -> None:
        super().__init__(f"the period ends ({end}) before it starts ({start})")
        self.start, self.end, self.with_years = start, end, with_years


def check_order(start: date, end: date, end_has_year: bool) -> None:
    """ReversedPeriod if `start..end` was typed the wrong way round.

    With a year, an end before the start. Without one, an end earlier in the calendar than the start was read in
    the next year: that crosses the new year as meant when it makes a short period (12-28..01-03), but half a year
    or more is a range typed end first (12-07..12-01 typed on 12-02 is not 360 days from last December).
    """
    if end < start:
        raise ReversedPeriod(start, end, end_has_year)
    if not end_has_year and (end.month, end.day) < (start.month, start.day) and end - start >= HALF_YEAR:
        raise ReversedPeriod(start, end, False)


def _typed(text: str) -> tuple[int | None, int, int]:
    """(year or None, month, day) of 2026-12-01, 12-01, 12/1 or 12月1日."""
    match = _DATE.match(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    year, month, day = match.groups()
    return (int(year) if year else None), int(month), int(day)


def parse_date(text: str, today: date) -> date:
    """2026-12-01, 12-01, 12/1 or 12月1日; without a year, the latest such date not after today."""
    year, month, day = _typed(text)
    if year is not None:
        return date(year, month, day)
    found = date(today.year, month, day)
    return found if found <= today else date(today.year - 1, month, day)


def parse_end(text: str, start: date) -> date:
    """A period's end as `parse_date` reads dates, but without a year the first such date on or after `start`:
    12-01..12-07 typed on 12-02 is this week, not last year's (a period may run on past today)."""
    year, month, day = _typed(text)
    if year is not None:
        return date(year, month, day)
    found = date(start.year, month, day)
    return found if found >= start else date(start.year + 1, month, day)


def parse_period(text: str, today: date, first_push: date | None = None) -> Period:
    """The period named by `text`; ValueError (with a short English reason) if it names none."""
    word = text.strip().lower().replace(" ", "")
    if word in WEEK_WORDS:
        return Period(today - timedelta(days=6), today, wording.WEEK)
    if word in MONTH_WORDS:
        return Period(today - timedelta(days=29), today, wording.MONTH)
    if word in ALL_WORDS:
        return Period(min(first_push or today, today), today, wording.ALL)
    if word in LAST_WEEK_WORDS:
        return last_week(today)
    if word in LAST_MONTH_WORDS:
        previous = today.replace(day=1) - timedelta(days=1)
        return calendar_month(previous.year, previous.month, today)
    month = _MONTH.match(word)
    if month is not None:
        year, number = (month[1], month[2]) if month[2] else (month[3], month[4])
        return _month_named(int(year) if year else None, int(number), today)
    parts = _SEPARATORS.split(text.strip())
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"not a period: {text!r}")
    # Without a year, the start is the latest such date up to today (a report looks back), and the end the first
    # on or after the start: 12-28..01-03 crosses the new year, 12-01..12-07 in that week is this year's, and
    # 12-07..12-01 is refused as typed end first (check_order).
    first = parse_date(parts[0], today)
    last = parse_end(parts[-1], first) if len(parts) == 2 else first
    check_order(first, last, _typed(parts[-1])[0] is not None)
    if (last - first).days >= LONGEST:
        raise ValueError(f"a period is at most {LONGEST} days")
    label = f"{first:%m-%d}" if first == last else f"{first:%m-%d}..{last:%m-%d}"
    if first.year != today.year or last.year != today.year:
        label = f"{first}" if first == last else f"{first}..{last}"
    return Period(first, last, label, dates_typed=True)


def calendar_month(year: int, month: int, today: date) -> Period:
    """The whole calendar month (it may run on past today, as a typed range may)."""
    first = date(year, month, 1)
    last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    return Period(first, last, wording.month_label(year, month, today.year))


def _month_named(year: int | None, month: int, today: date) -> Period:
    """11月 without a year is the latest November that has begun by today (a report looks back)."""
    if not 1 <= month <= 12:
        raise ValueError(f"not a month: {month}")
    if year is None:
        year = today.year if date(today.year, month, 1) <= today else today.year - 1
    return calendar_month(year, month, today)


def last_week(today: date) -> Period:
    """The calendar week (Monday to Sunday) before the one `today` is in: the weekly digest's period."""
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(days=7), monday - timedelta(days=1), wording.LAST_WEEK)


def digest_week(local_now: datetime, at: time) -> date | None:
    """The Monday that starts last week, if `local_now` is a Monday at or after `at`; else None.

    The digest is claimed per group and week in the store, so a tick every few minutes (or a restart) sends it once.
    """
    if local_now.weekday() != 0 or local_now.time() < at:
        return None
    return last_week(local_now.date()).first
