"""The campaign record's numbers (records/ledger.py) and periods (records/period.py), from literal inputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.ledger import ledger_rows, question_stats, ref_key, summarize
from records.model import Answer, Asked, Campaign, CheckIn, Excuse, Mastery, Member, Period, PushDay
from records.period import ReversedPeriod, digest_week, last_week, parse_period

D1, D2, D3 = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
WANG, LI, ZHANG, ZHAO = 1, 2, 3, 4


def campaign(**changes: object) -> Campaign:
    base: dict[str, object] = dict(
        chat_id=-100, title="学习小组", period=Period(D1, D3, "近 7 天"), today=D3,
        push_days=(PushDay(D1, 1, "开头", ("开头",)), PushDay(D2, 2, "一、1", ("1.1",)),
                   PushDay(D3, 3, "一、2", ("1.2", "1.3"))),
        members=(Member(WANG, "小王"), Member(LI, "小李"), Member(ZHANG, "小张", joined=D2),
                 Member(ZHAO, "小赵", left=D3)),
        checkins=(CheckIn(WANG, D1, datetime(2026, 12, 1, 8, 5)), CheckIn(WANG, D2, datetime(2026, 12, 2, 9, 0)),
                  CheckIn(WANG, D3, datetime(2026, 12, 3, 7, 59)),
                  CheckIn(LI, D1, datetime(2026, 12, 2, 21, 0)),  # 补学 the next day
                  CheckIn(LI, D1, datetime(2026, 12, 3, 21, 0)),  # a second press: the first one counts
                  CheckIn(ZHANG, D2, datetime(2026, 12, 2, 12, 0))),
        excuses=(Excuse(LI, D2, D3, "出差"),),
        answers=(Answer(WANG, "q1", "1.1", True, D2), Answer(WANG, "q2", "1.2", False, D3),
                 Answer(LI, "q1", "1.1", False, D2), Answer(ZHANG, "q2", "1.2", True, D3)),
        asked=(Asked("q1", "1.1", "问题一", D2), Asked("q2", "1.2", "问题二", D3), Asked("q3", "1.3", "问题三", D3)),
        mastery=(Mastery(WANG, (("1.1", 1.0), ("1.2", 0.25))), Mastery(LI, (("开头", 0.5), ("1.1", 0.0)))),
    )
    base.update(changes)
    return Campaign(**base)  # type: ignore[arg-type]


def test_day_rates_count_roster_joins_leaves_excuses_and_late_checkins() -> None:
    s = summarize(campaign())
    d1, d2, d3 = s.days
    # Day 1: 王, 李, 赵 on the roster (张 joins on day 2); 王 and 李 (补学) checked in.
    assert (d1.expected, d1.checked, d1.late) == (3, 2, 1)
    # Day 2: 李 excused; 王, 张 checked in, 赵 did not.
    assert (d2.expected, d2.checked, d2.late) == (3, 2, 0)
    # Day 3: 李 excused, 赵 left; 王 checked in, 张 not yet.
    assert (d3.expected, d3.checked) == (2, 1)
    assert s.today_missing == 1
    assert s.days_pushed == 3
    assert s.rate == pytest.approx(5 / 8)


def test_member_figures_streaks_and_weakest_sections() -> None:
    s = summarize(campaign())
    by = {m.user_id: m for m in s.members}
    wang, li, zhang, zhao = by[WANG], by[LI], by[ZHANG], by[ZHAO]
    assert (wang.expected, wang.checked, wang.streak, wang.best_streak) == (3, 3, 3, 3)
    assert (li.expected, li.checked, li.late, li.excused, li.streak) == (1, 1, 1, 2, 1)
    # 张 checked in on day 2; day 3 is today and not over, so the streak stands.
    assert (zhang.expected, zhang.checked, zhang.streak) == (2, 1, 1)
    assert (zhao.expected, zhao.checked, zhao.streak, zhao.best_streak) == (2, 0, 0, 0)
    assert (wang.answered, wang.correct, wang.weakest) == (2, 1, ("1.2",))
    assert li.weakest == ("1.1",) and zhang.weakest == ()
    assert (s.quiz_members, s.quiz_answers, s.quiz_correct) == (3, 4, 2)
    assert [m.name for m in s.top(2)] == ["小王", "小张"]


def test_a_missed_day_breaks_the_streak_unless_it_is_today() -> None:
    checkins = (CheckIn(WANG, D1, datetime(2026, 12, 1, 8)), CheckIn(WANG, D3, datetime(2026, 12, 3, 8)))
    s = summarize(campaign(checkins=checkins, excuses=()))
    wang = next(m for m in s.members if m.user_id == WANG)
    assert (wang.streak, wang.best_streak) == (1, 1)
    s = summarize(campaign(checkins=checkins[:1], excuses=(), today=date(2026, 12, 9)))
    assert next(m for m in s.members if m.user_id == WANG).streak == 0


def test_ledger_has_one_row_per_member_per_day_on_the_roster() -> None:
    rows = list(ledger_rows(campaign()))
    assert len(rows) == 3 + 3 + 2 + 2  # 王 3, 李 3, 张 from day 2, 赵 until day 3
    li = [r for r in rows if r.user_id == LI]
    assert [(r.local_date, r.late, r.excused, r.excuse_reason) for r in li] == [
        (D1, True, False, ""), (D2, False, True, "出差"), (D3, False, True, "出差")]
    assert li[0].checked_at == datetime(2026, 12, 2, 21, 0)
    wang_d2 = next(r for r in rows if r.user_id == WANG and r.local_date == D2)
    assert (wang_d2.reading, wang_d2.sections, wang_d2.answered, wang_d2.correct) == ("一、1", "1.1", 1, 1)


def test_question_stats_count_asked_and_answered() -> None:
    stats = {q.question_id: q for q in question_stats(campaign())}
    assert (stats["q1"].asked, stats["q1"].answered, stats["q1"].correct) == (1, 2, 1)
    assert (stats["q3"].asked, stats["q3"].answered, stats["q3"].rate) == (1, 0, 0.0)
    assert stats["q2"].text == "问题二"


def test_ref_order_is_natural() -> None:
    assert sorted(["2.10", "2.9", "开头", "10.1", "1"], key=ref_key) == ["1", "2.9", "2.10", "10.1", "开头"]


TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(("text", "first", "last"), [
    ("", date(2026, 11, 27), TODAY),
    ("week", date(2026, 11, 27), TODAY),
    ("month", date(2026, 11, 4), TODAY),
    ("all", date(2026, 10, 1), TODAY),
    ("12-01..12-03", date(2026, 12, 1), TODAY),
    ("11-28", date(2026, 11, 28), date(2026, 11, 28)),
    ("12-20..12-31", date(2025, 12, 20), date(2025, 12, 31)),  # no year and in the future: last year's
    ("2026-11-01~2026-11-30", date(2026, 11, 1), date(2026, 11, 30)),
    ("11月1日至11月3日", date(2026, 11, 1), date(2026, 11, 3)),
    ("12-20..01-05", date(2025, 12, 20), date(2026, 1, 5)),
    # The campaign's week, typed in its first days: this year's, running on past today (it was last year's).
    ("12-01..12-07", date(2026, 12, 1), date(2026, 12, 7)),
    ("11-30..12-31", date(2026, 11, 30), date(2026, 12, 31)),
    ("2026-12-01..12-07", date(2026, 12, 1), date(2026, 12, 7)),
])
def test_periods(text: str, first: date, last: date) -> None:
    period = parse_period(text, TODAY, first_push=date(2026, 10, 1))
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize("text", ["yesterday", "2026-12-05..2026-12-01", "13-01", "2026-01-01..2028-01-01",
                                  "..", "1..2..3"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text, TODAY)


@pytest.mark.parametrize(("text", "start", "end", "with_years"), [
    ("12-07..12-01", date(2025, 12, 7), date(2026, 12, 1), False),  # was 360 days from last December
    ("12-05..12-03", date(2025, 12, 5), date(2026, 12, 3), False),  # a start after today: was 363 days
    ("11-20..10-01", date(2026, 11, 20), date(2027, 10, 1), False),
    ("2026-12-05..2026-12-01", date(2026, 12, 5), date(2026, 12, 1), True),
])
def test_a_period_typed_end_first_is_refused_with_its_dates(text: str, start: date, end: date,
                                                           with_years: bool) -> None:
    with pytest.raises(ReversedPeriod) as refused:
        parse_period(text, TODAY)
    assert (refused.value.start, refused.value.end, refused.value.with_years) == (start, end, with_years)


def test_a_short_period_over_the_new_year_is_read_as_meant() -> None:
    assert parse_period("12-28..01-03", date(2027, 1, 2)) == Period(date(2026, 12, 28), date(2027, 1, 3),
                                                                      "2026-12-28..2027-01-03", dates_typed=True)
    assert parse_period("11-01..02-28", TODAY).last == date(2027, 2, 28)  # 119 days over the new year


@pytest.mark.parametrize(("text", "first", "last", "label"), [
    ("上周", date(2026, 11, 23), date(2026, 11, 29), "上周"),  # TODAY is a Thursday
    ("lastweek", date(2026, 11, 23), date(2026, 11, 29), "上周"),
    ("上月", date(2026, 11, 1), date(2026, 11, 30), "11 月"),
    ("上个月", date(2026, 11, 1), date(2026, 11, 30), "11 月"),
    ("11月", date(2026, 11, 1), date(2026, 11, 30), "11 月"),
    ("11月份", date(2026, 11, 1), date(2026, 11, 30), "11 月"),
    ("12月", date(2026, 12, 1), date(2026, 12, 31), "12 月"),  # this month, whole: it may run on past today
    ("1月", date(2026, 1, 1), date(2026, 1, 31), "1 月"),  # January has begun this year: this year's
    ("2025年12月", date(2025, 12, 1), date(2025, 12, 31), "2025 年 12 月"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024 年 2 月"),
    ("2026/9", date(2026, 9, 1), date(2026, 9, 30), "9 月"),
])
def test_calendar_weeks_and_months(text: str, first: date, last: date, label: str) -> None:
    period = parse_period(text, TODAY)
    assert (period.first, period.last, period.label, period.dates_typed) == (first, last, label, False)


def test_a_month_not_yet_begun_this_year_is_last_years() -> None:
    assert parse_period("12月", date(2027, 1, 15)) == Period(date(2026, 12, 1), date(2026, 12, 31), "2026 年 12 月")
    assert parse_period("上月", date(2027, 1, 15)).label == "2026 年 12 月"


@pytest.mark.parametrize("text", ["13月", "0月", "2026-13", "2026-00", "月份"])
def test_months_that_are_none_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text, TODAY)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_last_month_is_the_whole_calendar_month_before(today: date) -> None:
    month = parse_period("上月", today)
    assert month.first.day == 1 and month.last + timedelta(days=1) == today.replace(day=1)
    assert parse_period(f"{month.first.year}-{month.first.month}", today) == month


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_last_week_is_the_monday_to_sunday_before(today: date) -> None:
    week = last_week(today)
    assert week.first.weekday() == 0 and week.last - week.first == timedelta(days=6)
    assert week.last < today <= week.last + timedelta(days=7)


def test_the_digest_is_due_on_monday_from_its_time_for_last_week() -> None:
    at = time(9, 0)
    assert digest_week(datetime(2026, 11, 30, 9, 0), at) == date(2026, 11, 23)
    assert digest_week(datetime(2026, 11, 30, 23, 59), at) == date(2026, 11, 23)
    assert digest_week(datetime(2026, 11, 30, 8, 59), at) is None
    assert digest_week(datetime(2026, 12, 1, 9, 0), at) is None


# Push days as offsets from D1 (a repeat is a second push on one date), members' presses as (member, push offset,
# days late), today as an offset.
steady_days = st.lists(st.integers(0, 7), min_size=0, max_size=8).map(sorted)
steady_presses = st.lists(st.tuples(st.integers(1, 4), st.integers(0, 8), st.integers(0, 2)), max_size=30)


@settings(max_examples=300)
@given(steady_days, steady_presses, st.integers(0, 9))
def test_members_on_the_roster_all_period_count_as_the_rule_per_day(
        offsets: list[int], presses: list[tuple[int, int, int]], today: int) -> None:
    """Members on the roster every push day and never excused are counted by bytes of 0/1 (records.ledger._Steady);
    the same members, each given an excuse that covers no push day, go through the rule a day at a time: every
    member's figures and every day's are the same."""
    days = [D1 + timedelta(days=n) for n in offsets]
    c = campaign(period=Period(D1 - timedelta(days=1), D1 + timedelta(days=9), "p"),
                 today=D1 + timedelta(days=today),
                 push_days=tuple(PushDay(d, n + 1, f"第{n + 1}天", ("1.1",)) for n, d in enumerate(days)),
                 members=tuple(Member(uid, f"m{uid}", joined=D1 if uid == 2 else None) for uid in range(1, 5)),
                 checkins=tuple(CheckIn(uid, D1 + timedelta(days=push), datetime.combine(
                     D1 + timedelta(days=push + late), time(8))) for uid, push, late in presses),
                 excuses=(), answers=(), asked=(), mastery=())
    by_rule = replace(c, excuses=tuple(Excuse(uid, D1 - timedelta(days=30), D1 - timedelta(days=29))
                                       for uid in range(1, 5)))
    fast, slow = summarize(c), summarize(by_rule)
    assert (fast.members, fast.days, fast.today) == (slow.members, slow.days, slow.today)


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)),
       st.dates(min_value=date(2001, 1, 1), max_value=date(2001, 12, 31)),
       st.dates(min_value=date(2001, 1, 1), max_value=date(2001, 12, 31)))
def test_a_range_typed_without_years_starts_by_today_and_ends_within_a_year_after(today: date, start: date,
                                                                                  end: date) -> None:
    """As typed (months and days), the start the latest by today, the end the first on or after the start; unless
    that end is earlier in the calendar and half a year or more on: then it was typed end first, and refused."""
    typed = f"{start:%m-%d}..{end:%m-%d}"
    try:
        period = parse_period(typed, today)
    except ReversedPeriod as refused:
        assert (end.month, end.day) < (start.month, start.day)
        assert refused.end - refused.start >= timedelta(days=183)
        assert (refused.start.month, refused.start.day, refused.end.month, refused.end.day) == (
            start.month, start.day, end.month, end.day)
        return
    assert (period.first.month, period.first.day, period.last.month, period.last.day) == (
        start.month, start.day, end.month, end.day)
    assert period.first <= today and today - period.first < timedelta(days=366)
    assert period.first <= period.last and period.last - period.first < timedelta(days=366)


def test_the_sections_quiz_accuracy_is_in_reading_order() -> None:
    """The chart's 各章节测验正确率 put 开头 after 2.3 (refs sorted by number, names last); reading order puts it
    first, as the 掌握度 sheet does; a ref the speech no longer has comes last."""
    answers = tuple(Answer(WANG, f"q{ref}", ref, True, D2) for ref in ("2.10", "9.9", "结语", "开头", "2.9"))
    summary = summarize(campaign(answers=answers, sections=("开头", "1.1", "2.9", "2.10", "结语")))
    assert [s.ref for s in summary.sections] == ["开头", "2.9", "2.10", "结语", "9.9"]
