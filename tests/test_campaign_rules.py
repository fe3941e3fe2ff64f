"""The pure campaign rules: excuse date ranges, reminder times, the daily quiz's close, reminders and summaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.attendance import current_cycle, summarize, to_remind
from records.period import ReversedPeriod
from schedules.campaign import daily_quiz_close, parse_date_range, parse_open_until, reminder_due

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(("text", "expected"), [
    ("12-01..12-05", (date(2026, 12, 1), date(2026, 12, 5))),
    ("12-01", (date(2026, 12, 1), date(2026, 12, 1))),
    ("12月3日到12月4日", (date(2026, 12, 3), date(2026, 12, 4))),
    ("１２－０２～１２－０３", (date(2026, 12, 2), date(2026, 12, 3))),
    ("12/30..01/02", (date(2026, 12, 30), date(2027, 1, 2))),  # over new year
    ("01-03", (date(2027, 1, 3), date(2027, 1, 3))),  # nearer next January than last
    ("11-20", (date(2026, 11, 20), date(2026, 11, 20))),  # a past excuse recorded late
    ("2027-02-01..2027-02-03", (date(2027, 2, 1), date(2027, 2, 3))),
    ("今天", (TODAY, TODAY)),
    ("明天", (TODAY + timedelta(days=1), TODAY + timedelta(days=1))),
])
def test_excuse_dates_read_as_written(text: str, expected: tuple[date, date]) -> None:
    assert parse_date_range(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "出差", "13-01", "02-30", "12-05..2026-12-01", "2026-01-01..2027-06-01",
                                  "12-01..", "1201"])
def test_what_is_not_a_date_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date_range(text, TODAY)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("12-05..12-03", date(2026, 12, 5), date(2027, 12, 3)),  # was an excuse of 363 days, shown as 12-05 至 12-03
    ("2026-12-05..2026-12-03", date(2026, 12, 5), date(2026, 12, 3)),
])
def test_an_excuse_typed_end_first_is_refused_with_its_dates(text: str, start: date, end: date) -> None:
    with pytest.raises(ReversedPeriod) as refused:
        parse_date_range(text, TODAY)
    assert (refused.value.start, refused.value.end) == (start, end)


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.integers(0, 60))
def test_a_range_without_years_is_never_more_than_half_a_year_from_today(today: date, span: int) -> None:
    start = today + timedelta(days=span)
    end = start + timedelta(days=span % 10)
    got = parse_date_range(f"{start:%m-%d}..{end:%m-%d}", today)
    if (start.month, start.day) != (2, 29):
        assert got == (start, end)


def test_the_reminder_is_due_once_the_local_time_passes_and_once_a_day() -> None:
    evening = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    assert reminder_due(time(20, 30), "Asia/Shanghai", evening, None) == TODAY
    assert reminder_due(time(20, 30), "Asia/Shanghai", evening - timedelta(minutes=1), None) is None
    assert reminder_due(time(20, 30), "Asia/Shanghai", evening, TODAY) is None
    assert reminder_due(time(20, 30), "Asia/Shanghai", evening, TODAY - timedelta(days=1)) == TODAY


def test_the_daily_quiz_closes_at_the_evening_time_but_never_within_an_hour_of_the_push() -> None:
    zone = "Asia/Shanghai"
    morning = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 local
    assert daily_quiz_close(morning, zone, time(22, 0)) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    late = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # 21:30 local: open until 22:30
    assert daily_quiz_close(late, zone, time(22, 0)) == late + timedelta(hours=1)
    assert daily_quiz_close(morning, zone, timedelta(hours=3)) == morning + timedelta(hours=3)
    assert daily_quiz_close(morning, zone, timedelta(minutes=10)) == morning + timedelta(hours=1)
    assert parse_open_until("22:00") == time(22, 0) and parse_open_until("90m") == timedelta(minutes=90)
    assert parse_open_until("3h") == timedelta(hours=3)
    for bad in ("25:00", "3 days", "0h", "48h"):
        with pytest.raises(ValueError):
            parse_open_until(bad)


def test_reminders_name_members_neither_checked_in_nor_excused_in_roster_order() -> None:
    assert to_remind([5, 3, 9, 1], checked_in={3}, excused={1}) == [5, 9]


def test_the_summary_counts_the_last_run_and_excused_days_do_not_break_full_attendance() -> None:
    d = [date(2026, 12, i) for i in (1, 2, 3)]
    pushes = [(date(2026, 11, 1), 3), (d[0], 1), (d[1], 2), (d[2], 3)]
    assert [day for _, day in current_cycle(pushes)] == [1, 2, 3]
    summary = summarize(d, members=[1, 2, 3], checkins=[(1, d[0]), (1, d[1]), (1, d[2]), (2, d[0]), (2, d[2]),
                                                       (9, d[0]), (3, date(2026, 11, 1))],
                        excused=[(2, d[1])], answers=[True, False, True, True])
    assert (summary.days, summary.members, summary.checkins, summary.full_attendance) == (3, 3, 6, 2)
    assert summary.checkin_rate == 67 and summary.accuracy == 75
