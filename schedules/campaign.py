"""When a campaign's own events happen: excuse date ranges, the evening reminder, the daily quiz's closing time.

Pure functions of the values passed in (`now`, `today`); the bot reads the clock and the store.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from records.period import check_order

# 12-01, 12/01, 12.01, 12月1日, 2026-12-01; a range joins two with .., ~, -, 到, 至.
_ONE = r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?"
RANGE = re.compile(rf"^{_ONE}(?:\s*(?:\.\.|~|～|到|至|—|–|-)\s*{_ONE})?$")
WORD_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "today": 0, "tomorrow": 1}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(h|小时|m|min|分钟)$", re.IGNORECASE)
LONGEST_EXCUSE = timedelta(days=366)


def parse_date_range(text: str, today: date) -> tuple[date, date]:
    """'12-01..12-05', '12-01', '12月1日到12月5日', '今天' as inclusive (start, end); ValueError if not a range.

    A date without a year is the one nearest `today` (an excuse in January for 12-28 means last December); an end
    earlier in the calendar than its start is in the next year (12-30..01-02), unless that makes half a year or
    more: 12-05..12-03 is typed end first, refused (records.period.ReversedPeriod, one rule with /report).
    """
    typed = unicodedata.normalize("NFKC", text).strip().lower()
    if typed in WORD_DAYS:
        day = today + timedelta(days=WORD_DAYS[typed])
        return day, day
    found = RANGE.match(typed)
    if found is None:
        raise ValueError(f"not a date or date range: {text!r}")
    y1, m1, d1, y2, m2, d2 = found.groups()
    start = _nearest(today, y1, m1, d1)
    if m2 is None:
        return start, start
    end = _nearest(start, y2, m2, d2)
    if y2 is None and end < start:
        end = _on(start.year + 1, int(m2), int(d2))
    check_order(start, end, y2 is not None)
    if end - start > LONGEST_EXCUSE:
        raise ValueError(f"a range longer than a year: {text!r}")
    return start, end


def _on(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"no such date: {year}-{month:02}-{day:02}") from None


def _nearest(anchor: date, year: str | None, month: str, day: str) -> date:
    if year is not None:
        return _on(int(year), int(month), int(day))
    candidates = []
    for y in (anchor.year - 1, anchor.year, anchor.year + 1):
        try:
            candidates.append(date(y, int(month), int(day)))
        except ValueError:
            continue  # 02-29 outside a leap year
    if not candidates:
        raise ValueError(f"no such date: {month}-{day}")
    return min(candidates, key=lambda d: (abs((d - anchor).days), d < anchor))


def reminder_due(remind_at: time, zone: str, now: datetime, reminded_on: date | None) -> date | None:
    """The local date to remind for, if the group's clock has passed `remind_at` today and today is not done yet."""
    local = now.astimezone(ZoneInfo(zone))
    if local.time().replace(tzinfo=None) < remind_at:
        return None
    today = local.date()
    return today if reminded_on is None or reminded_on < today else None


def parse_open_until(text: str) -> time | timedelta:
    """The daily quiz's open period as config writes it: a local time ('22:00') or a duration ('3h', '90m')."""
    typed = unicodedata.normalize("NFKC", text).strip()
    found = DURATION.match(typed)
    if found is not None:
        amount, unit = float(found.group(1)), found.group(2).lower()
        span = timedelta(hours=amount) if unit in ("h", "小时") else timedelta(minutes=amount)
        if not timedelta(minutes=5) <= span <= timedelta(hours=24):
            raise ValueError(f"a duration between 5 minutes and 24 hours, got {text!r}")
        return span
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", typed)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"a local time like 22:00 or a duration like 3h, got {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def daily_quiz_close(pushed_at: datetime, zone: str, until: time | timedelta,
                     minimum: timedelta = timedelta(hours=1)) -> datetime:
    """When the quiz sent with a push closes: at `until` local time that day (or after a duration), never sooner
    than `minimum` after the push (a push at 21:30 keeps its quiz open until 22:30)."""
    local = pushed_at.astimezone(ZoneInfo(zone))
    if isinstance(until, timedelta):
        closes = pushed_at + until
    else:
        closes = datetime.combine(local.date(), until, tzinfo=ZoneInfo(zone))
    return max(closes, pushed_at + minimum).astimezone(pushed_at.tzinfo)
