"""schedules.due: parsing, DST resolution and the "is a push due now" rules, checked with literal instants."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.due import (
    ALL_DAYS,
    MAX_GRACE,
    WORKDAYS,
    PushSchedule,
    due_date,
    due_groups,
    format_weekdays,
    local_push_datetime,
    next_push_after,
    parse_time,
    parse_timezone,
    parse_weekdays,
)

UTC = dt.UTC
H3 = dt.timedelta(hours=3)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def sched(hhmm: str, tz: str, days: frozenset[int] = ALL_DAYS) -> PushSchedule:
    return PushSchedule(parse_time(hhmm), tz, days)


# --- parsing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", dt.time(8, 0)),
        ("8:00", dt.time(8, 0)),
        ("8点", dt.time(8, 0)),
        ("08：30", dt.time(8, 30)),  # full-width colon
        ("20:05", dt.time(20, 5)),
        ("０７:４５", dt.time(7, 45)),  # full-width digits
        ("8点半", dt.time(8, 30)),
        ("8点15分", dt.time(8, 15)),
        ("晚上8点", dt.time(20, 0)),
        ("下午3:30", dt.time(15, 30)),
        ("晚上20:00", dt.time(20, 0)),
        ("中午12点", dt.time(12, 0)),
        ("上午12点", dt.time(0, 0)),
        (" 7:05 ", dt.time(7, 5)),
        ("0:00", dt.time(0, 0)),
        ("23:59", dt.time(23, 59)),
    ],
)
def test_parse_time_accepts_common_forms(text: str, expected: dt.time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8:60", "8", "8:5", "eight", "", "上午15点", "8:00:00", "-1:00"])
def test_parse_time_rejects_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"time"):
        parse_time(text)


def test_parse_time_explains_yaml_integers() -> None:
    # PyYAML reads an unquoted 12:30 as the integer 750.
    with pytest.raises(ValueError, match="quote"):
        parse_time(750)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Asia/Shanghai", "Asia/Shanghai"),
        ("asia/shanghai", "Asia/Shanghai"),
        (" Europe/London ", "Europe/London"),
        ("北京时间", "Asia/Shanghai"),
        ("UTC", "UTC"),
        ("UTC+8", "Etc/GMT-8"),  # POSIX sign inversion
        ("GMT-5", "Etc/GMT+5"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_parse_timezone(name: str, expected: str) -> None:
    assert parse_timezone(name) == expected


@pytest.mark.parametrize("name", ["Asia", "Mars/Olympus", "", "../etc/passwd", "UTC+5:15", "Asia/Shanghai/x", "+15"])
def test_parse_timezone_rejects_unknown(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_timezone(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("Mon - Fri", {0, 1, 2, 3, 4}),
        ("1-5", {0, 1, 2, 3, 4}),
        ("一至五", {0, 1, 2, 3, 4}),
        ("周一到周五", {0, 1, 2, 3, 4}),
        ("工作日", {0, 1, 2, 3, 4}),
        ("每天", set(range(7))),
        ("daily", set(range(7))),
        ("周一,周三,周五", {0, 2, 4}),
        ("周一，周三，周五", {0, 2, 4}),
        ("周一、周三、周五", {0, 2, 4}),
        ("周一周三周五", {0, 2, 4}),
        ("星期二 星期四", {1, 3}),
        ("weekends", {5, 6}),
        ("周末", {5, 6}),
        ("周六日", {5, 6}),
        ("7", {6}),
        ("周日", {6}),
        ("星期天", {6}),
        ("sunday", {6}),
        ("fri-mon", {4, 5, 6, 0}),  # wraps past Sunday
        ("工作日、周六", {0, 1, 2, 3, 4, 5}),
        ("tue,thu", {1, 3}),
    ],
)
def test_parse_weekdays(text: str, expected: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", "0", "8", "周八", "mon-", "someday", "1-9", ",,"])
def test_parse_weekdays_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="weekday"):
        parse_weekdays(text)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (set(range(7)), "每天"),
        ({0, 1, 2, 3, 4}, "工作日"),
        ({5, 6}, "周末"),
        ({0, 2, 4}, "周一、周三、周五"),
        ({0, 1, 2, 3}, "周一至周四"),
        ({0, 1, 2, 5}, "周一至周三、周六"),
        ({6}, "周日"),
        ({0, 1}, "周一、周二"),
    ],
)
def test_format_weekdays(days: set[int], expected: str) -> None:
    assert format_weekdays(days) == expected


@given(st.frozensets(st.integers(0, 6), min_size=1))
def test_format_then_parse_weekdays_round_trips(days: frozenset[int]) -> None:
    assert parse_weekdays(format_weekdays(days)) == days


def test_push_schedule_validates() -> None:
    with pytest.raises(ValueError, match="naive"):
        PushSchedule(dt.time(8, tzinfo=UTC), "UTC")
    with pytest.raises(ValueError, match="whole minute"):
        PushSchedule(dt.time(8, 0, 30), "UTC")
    with pytest.raises(ValueError, match="at least one"):
        PushSchedule(dt.time(8), "UTC", frozenset())
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6"):
        PushSchedule(dt.time(8), "UTC", frozenset({7}))
    with pytest.raises(ValueError, match="time zone"):
        PushSchedule(dt.time(8), "Nowhere/Land")
    # A plain set is stored as a frozenset so schedules stay hashable.
    s = PushSchedule(dt.time(8), "UTC", {1, 2})  # type: ignore[arg-type]
    assert s.weekdays == frozenset({1, 2}) and hash(s) == hash(PushSchedule(dt.time(8), "UTC", frozenset({1, 2})))


# --- push instants and DST -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hhmm", "tz", "day", "expected_utc"),
    [
        ("08:00", "Asia/Shanghai", dt.date(2024, 6, 3), utc(2024, 6, 3, 0, 0)),
        ("08:00", "Asia/Kolkata", dt.date(2024, 6, 3), utc(2024, 6, 3, 2, 30)),
        ("08:00", "America/New_York", dt.date(2024, 1, 8), utc(2024, 1, 8, 13, 0)),  # EST
        ("08:00", "America/New_York", dt.date(2024, 6, 3), utc(2024, 6, 3, 12, 0)),  # EDT
        ("08:00", "Europe/London", dt.date(2024, 1, 8), utc(2024, 1, 8, 8, 0)),
        ("08:00", "Europe/London", dt.date(2024, 6, 3), utc(2024, 6, 3, 7, 0)),
        ("07:00", "Pacific/Auckland", dt.date(2024, 6, 3), utc(2024, 6, 2, 19, 0)),  # NZST, previous UTC day
        ("07:00", "Pacific/Auckland", dt.date(2024, 12, 2), utc(2024, 12, 1, 18, 0)),  # NZDT
    ],
)
def test_local_push_datetime_ordinary_days(hhmm: str, tz: str, day: dt.date, expected_utc: dt.datetime) -> None:
    got = local_push_datetime(sched(hhmm, tz), day)
    assert got.astimezone(UTC) == expected_utc
    assert got.tzinfo == ZoneInfo(tz) and got.date() == day and got.time() == parse_time(hhmm)


@pytest.mark.parametrize(
    ("hhmm", "tz", "day", "expected_utc", "expected_local"),
    [
        # New York 2024-03-10: 02:00 EST jumps to 03:00 EDT. Every time in the gap goes to 03:00 EDT.
        ("02:00", "America/New_York", dt.date(2024, 3, 10), utc(2024, 3, 10, 7, 0), "03:00"),
        ("02:30", "America/New_York", dt.date(2024, 3, 10), utc(2024, 3, 10, 7, 0), "03:00"),
        ("02:59", "America/New_York", dt.date(2024, 3, 10), utc(2024, 3, 10, 7, 0), "03:00"),
        ("01:59", "America/New_York", dt.date(2024, 3, 10), utc(2024, 3, 10, 6, 59), "01:59"),
        ("03:00", "America/New_York", dt.date(2024, 3, 10), utc(2024, 3, 10, 7, 0), "03:00"),
        # London 2024-03-31: 01:00 GMT jumps to 02:00 BST.
        ("01:30", "Europe/London", dt.date(2024, 3, 31), utc(2024, 3, 31, 1, 0), "02:00"),
        # Auckland 2024-09-29: 02:00 NZST jumps to 03:00 NZDT.
        ("02:30", "Pacific/Auckland", dt.date(2024, 9, 29), utc(2024, 9, 28, 14, 0), "03:00"),
    ],
)
def test_spring_forward_gap_resolves_to_first_instant_after_it(
    hhmm: str, tz: str, day: dt.date, expected_utc: dt.datetime, expected_local: str
) -> None:
    got = local_push_datetime(sched(hhmm, tz), day)
    assert got == expected_utc
    assert got.strftime("%H:%M") == expected_local and got.date() == day


@pytest.mark.parametrize(
    ("hhmm", "tz", "day", "expected_utc"),
    [
        # New York 2024-11-03: 01:00-01:59 happens first in EDT (UTC-4), then again in EST (UTC-5).
        ("01:30", "America/New_York", dt.date(2024, 11, 3), utc(2024, 11, 3, 5, 30)),
        # London 2024-10-27: 01:00-01:59 first in BST (UTC+1).
        ("01:30", "Europe/London", dt.date(2024, 10, 27), utc(2024, 10, 27, 0, 30)),
        # Auckland 2024-04-07: 02:00-02:59 first in NZDT (UTC+13).
        ("02:30", "Pacific/Auckland", dt.date(2024, 4, 7), utc(2024, 4, 6, 13, 30)),
    ],
)
def test_fall_back_ambiguity_resolves_to_first_occurrence(
    hhmm: str, tz: str, day: dt.date, expected_utc: dt.datetime
) -> None:
    got = local_push_datetime(sched(hhmm, tz), day)
    # Compare in UTC: Python's == between zones is always False for an ambiguous local time (PEP 495).
    assert got.astimezone(UTC) == expected_utc and got.fold == 0


def test_ambiguous_day_pushes_once_even_when_ticking_through_both_occurrences() -> None:
    s = sched("01:30", "America/New_York")
    last: dt.date | None = dt.date(2024, 11, 2)
    pushes = []
    t = utc(2024, 11, 3, 4, 0)
    while t < utc(2024, 11, 3, 9, 0):
        d = due_date(s, last, t, dt.timedelta(hours=2))
        if d is not None:
            pushes.append((d, t))
            last = d
        t += dt.timedelta(minutes=1)
    assert pushes == [(dt.date(2024, 11, 3), utc(2024, 11, 3, 5, 30))]


def test_second_occurrence_of_ambiguous_time_is_not_a_new_window() -> None:
    s = sched("01:30", "America/New_York")
    grace = dt.timedelta(minutes=30)
    # 06:30 UTC is 01:30 EST, the second 01:30 of the day: the window opened at 05:30 UTC and has closed.
    assert due_date(s, dt.date(2024, 11, 2), utc(2024, 11, 3, 6, 30), grace) is None
    assert due_date(s, dt.date(2024, 11, 2), utc(2024, 11, 3, 5, 59), grace) == dt.date(2024, 11, 3)


def test_spring_forward_gap_push_is_due_at_the_end_of_the_gap() -> None:
    s = sched("02:30", "America/New_York")
    grace = dt.timedelta(hours=1)
    last = dt.date(2024, 3, 9)
    assert due_date(s, last, utc(2024, 3, 10, 6, 59), grace) is None  # 01:59 EST
    assert due_date(s, last, utc(2024, 3, 10, 7, 0), grace) == dt.date(2024, 3, 10)  # 03:00 EDT
    assert due_date(s, last, utc(2024, 3, 10, 7, 59), grace) == dt.date(2024, 3, 10)
    assert due_date(s, last, utc(2024, 3, 10, 8, 0), grace) is None


# --- due_date --------------------------------------------------------------------------------------------------

SHANGHAI_8 = sched("08:00", "Asia/Shanghai")
MON = dt.date(2024, 6, 3)  # a Monday


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (utc(2024, 6, 2, 23, 59), None, None),  # 07:59 local: not yet
        (utc(2024, 6, 3, 0, 0), None, MON),  # 08:00 sharp
        (utc(2024, 6, 3, 2, 59), None, MON),  # last minute of grace
        (utc(2024, 6, 3, 3, 0), None, None),  # grace is half-open
        (utc(2024, 6, 3, 0, 5), dt.date(2024, 6, 2), MON),  # yesterday's push does not block today's
        (utc(2024, 6, 3, 0, 5), MON, None),  # restart after today's push: not again
        (utc(2024, 6, 3, 0, 5), dt.date(2024, 6, 4), None),  # a later date already pushed (zone moved east)
        (utc(2024, 6, 3, 11, 0), None, None),  # down from 07:00 to 19:00 local: today's push is skipped
    ],
)
def test_due_date_shanghai(now: dt.datetime, last: dt.date | None, expected: dt.date | None) -> None:
    assert due_date(SHANGHAI_8, last, now, H3) == expected


def test_due_date_respects_weekdays() -> None:
    s = sched("08:00", "Asia/Shanghai", WORKDAYS)
    assert due_date(s, None, utc(2024, 6, 3, 0, 0), H3) == MON
    assert due_date(s, None, utc(2024, 6, 8, 0, 0), H3) is None  # Saturday
    assert due_date(s, None, utc(2024, 6, 9, 0, 0), H3) is None  # Sunday


@pytest.mark.parametrize(
    ("s", "now", "expected"),
    [
        (sched("08:00", "America/New_York"), utc(2024, 6, 3, 12, 0), MON),
        (sched("08:00", "America/New_York"), utc(2024, 1, 8, 12, 30), None),  # 07:30 EST
        (sched("08:00", "America/New_York"), utc(2024, 1, 8, 13, 0), dt.date(2024, 1, 8)),
        (sched("08:00", "Europe/London"), utc(2024, 6, 3, 7, 0), MON),
        (sched("08:00", "Europe/London"), utc(2024, 6, 3, 6, 59), None),
        (sched("08:00", "Asia/Kolkata"), utc(2024, 6, 3, 2, 30), MON),
        (sched("08:00", "Asia/Kolkata"), utc(2024, 6, 3, 2, 29), None),
        # Auckland is a calendar day ahead of UTC: the due date is the LOCAL date.
        (sched("07:00", "Pacific/Auckland"), utc(2024, 6, 2, 19, 0), MON),
        (sched("07:00", "Pacific/Auckland", frozenset({0})), utc(2024, 6, 2, 19, 0), MON),
        (sched("07:00", "Pacific/Auckland", frozenset({6})), utc(2024, 6, 2, 19, 0), None),
    ],
)
def test_due_date_in_other_zones(s: PushSchedule, now: dt.datetime, expected: dt.date | None) -> None:
    assert due_date(s, None, now, H3) == expected


def test_window_crossing_local_midnight_is_due_for_yesterday() -> None:
    s = sched("23:50", "Asia/Shanghai", frozenset({0}))  # Mondays only
    now = utc(2024, 6, 3, 16, 30)  # Tuesday 00:30 local
    assert due_date(s, dt.date(2024, 5, 27), now, H3) == MON
    assert due_date(s, MON, now, H3) is None  # already pushed for Monday
    assert due_date(s, dt.date(2024, 6, 4), now, H3) is None  # a later date was pushed
    assert due_date(s, None, utc(2024, 6, 3, 18, 50), H3) is None  # Tuesday 02:50: grace over


def test_daily_window_crossing_midnight_then_the_next_day() -> None:
    s = sched("20:00", "Asia/Shanghai")
    grace = dt.timedelta(hours=6)
    assert due_date(s, dt.date(2024, 6, 2), utc(2024, 6, 3, 17, 30), grace) == MON  # Tue 01:30 local
    assert due_date(s, dt.date(2024, 6, 2), utc(2024, 6, 3, 18, 0), grace) is None  # Tue 02:00: closed
    assert due_date(s, dt.date(2024, 6, 2), utc(2024, 6, 4, 12, 0), grace) == dt.date(2024, 6, 4)
    assert due_date(s, MON, utc(2024, 6, 4, 12, 0), grace) == dt.date(2024, 6, 4)


def test_changed_push_time_is_just_a_new_schedule() -> None:
    pushed_at_8 = MON
    later = sched("20:00", "Asia/Shanghai")
    # Already pushed today at 08:00: moving the time to 20:00 does not push twice.
    assert due_date(later, pushed_at_8, utc(2024, 6, 3, 12, 0), H3) is None
    # Changed before today's push: due at the new time and not at the old one.
    assert due_date(later, dt.date(2024, 6, 2), utc(2024, 6, 3, 0, 0), H3) is None
    assert due_date(later, dt.date(2024, 6, 2), utc(2024, 6, 3, 12, 0), H3) == MON
    # A changed time zone is the same: London 08:00 is 07:00 UTC in summer.
    assert due_date(sched("08:00", "Europe/London"), dt.date(2024, 6, 2), utc(2024, 6, 3, 7, 0), H3) == MON


def test_due_date_rejects_naive_now_and_bad_grace() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_date(SHANGHAI_8, None, dt.datetime(2024, 6, 3, 0, 0), H3)
    for grace in (dt.timedelta(0), dt.timedelta(minutes=-1), MAX_GRACE + dt.timedelta(minutes=1)):
        with pytest.raises(ValueError, match="grace"):
            due_date(SHANGHAI_8, None, utc(2024, 6, 3, 0, 0), grace)


def test_due_date_accepts_non_utc_aware_now() -> None:
    now = dt.datetime(2024, 6, 3, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert due_date(SHANGHAI_8, None, now, H3) == MON


# --- next_push_after -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "now", "expected_utc"),
    [
        (SHANGHAI_8, utc(2024, 6, 2, 23, 0), utc(2024, 6, 3, 0, 0)),
        (SHANGHAI_8, utc(2024, 6, 3, 0, 0), utc(2024, 6, 4, 0, 0)),  # strictly after
        (sched("08:00", "Asia/Shanghai", frozenset({0, 2, 4})), utc(2024, 6, 7, 1, 0), utc(2024, 6, 10, 0, 0)),
        (sched("08:00", "Asia/Shanghai", frozenset({6})), utc(2024, 6, 3, 0, 0), utc(2024, 6, 9, 0, 0)),
        (sched("02:30", "America/New_York"), utc(2024, 3, 9, 8, 0), utc(2024, 3, 10, 7, 0)),  # gap
        (sched("07:00", "Pacific/Auckland"), utc(2024, 6, 2, 18, 0), utc(2024, 6, 2, 19, 0)),
    ],
)
def test_next_push_after(s: PushSchedule, now: dt.datetime, expected_utc: dt.datetime) -> None:
    got = next_push_after(s, now)
    assert got == expected_utc and got.tzinfo == ZoneInfo(s.timezone)


def test_next_push_after_skips_a_date_already_pushed() -> None:
    evening = sched("20:00", "Asia/Shanghai")
    at_ten = utc(2024, 6, 3, 2, 0)  # 10:00 in Shanghai; today's reading went out at 08:00 before the change
    assert next_push_after(evening, at_ten) == utc(2024, 6, 3, 12, 0)
    assert next_push_after(evening, at_ten, last_pushed=MON) == utc(2024, 6, 4, 12, 0)
    # A later push date agrees with due_date: the skipped date is never due either.
    assert due_date(evening, MON, utc(2024, 6, 3, 12, 1), dt.timedelta(hours=3)) is None


# --- due_groups ------------------------------------------------------------------------------------------------


def test_due_groups_keeps_order_and_per_group_history() -> None:
    ny = sched("08:00", "America/New_York")
    groups = [
        (101, SHANGHAI_8, None),
        (102, ny, None),  # 20:00 local Sunday in New York: not due
        (103, SHANGHAI_8, MON),  # already pushed
        (-100500, SHANGHAI_8, dt.date(2024, 6, 2)),
        (104, sched("08:00", "Asia/Shanghai", frozenset({5})), None),  # Saturdays only
    ]
    assert due_groups(groups, utc(2024, 6, 3, 0, 0), H3) == [(101, MON), (-100500, MON)]


def test_due_groups_with_ten_thousand_groups() -> None:
    zones = ["Asia/Shanghai", "America/New_York", "Europe/London", "Pacific/Auckland", "Asia/Kolkata"]
    groups = [(i, PushSchedule(dt.time(i % 24, (i * 7) % 60), zones[i % 5], ALL_DAYS), None) for i in range(10_000)]
    now = utc(2024, 6, 3, 0, 0)
    got = due_groups(groups, now, H3)
    assert got == [(k, d) for k, s, last in groups if (d := due_date(s, last, now, H3)) is not None]
    assert len(got) > 0


schedules_st = st.builds(
    PushSchedule,
    time=st.builds(dt.time, st.integers(0, 23), st.integers(0, 59)),
    timezone=st.sampled_from(
        ["Asia/Shanghai", "America/New_York", "Europe/London", "Pacific/Auckland", "Asia/Kolkata"]
    ),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
)


@given(
    st.lists(st.tuples(schedules_st, st.none() | st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31))), max_size=30),
    st.datetimes(dt.datetime(2024, 1, 2), dt.datetime(2024, 12, 30), timezones=st.just(UTC)),
)
def test_due_groups_matches_due_date(rows: list[tuple[PushSchedule, dt.date | None]], now: dt.datetime) -> None:
    groups = [(i, s, last) for i, (s, last) in enumerate(rows)]
    expected = [(i, d) for i, s, last in groups if (d := due_date(s, last, now, H3)) is not None]
    assert due_groups(groups, now, H3) == expected


# --- the exactly-once property over simulated days ------------------------------------------------------------

SIM_MINUTES = 10 * 24 * 60
SIM_ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
]
# Starts near DST transitions (both directions, both hemispheres) and one ordinary stretch.
SIM_STARTS = [
    utc(2024, 3, 5),
    utc(2024, 3, 26),
    utc(2024, 4, 1),
    utc(2024, 9, 24),
    utc(2024, 10, 1),
    utc(2024, 10, 22),
    utc(2024, 10, 30),
    utc(2024, 6, 10),
]


def _first_reached(tz: ZoneInfo, start: dt.datetime, minutes: int, push: dt.time) -> dict[dt.date, dt.datetime]:
    """Independent oracle: a date's push instant is the first minute whose local wall clock reaches the push time.

    That is the DST rule in other words (a gap's time is first reached just after the gap, an ambiguous time at
    its first occurrence). Dates already reached at `start` are left out.
    """
    reached: dict[dt.date, dt.datetime] = {}
    seen_before: set[dt.date] = set()
    for i in range(minutes):
        u = start + dt.timedelta(minutes=i)
        wall = u.astimezone(tz).replace(tzinfo=None)
        for d in (wall.date(), wall.date() - dt.timedelta(days=1)):
            if d in reached or d in seen_before:
                continue
            if wall >= dt.datetime.combine(d, push):
                if i == 0:
                    seen_before.add(d)
                else:
                    reached[d] = u
    return reached


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schedule=st.builds(
        PushSchedule,
        time=st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59])),
        timezone=st.sampled_from(SIM_ZONES),
        weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    ),
    start=st.sampled_from(SIM_STARTS),
    start_shift=st.integers(0, 3 * 24 * 60),
    tick_second=st.integers(0, 59),
    grace_minutes=st.integers(1, 12 * 60),
    downtime=st.lists(st.tuples(st.integers(0, SIM_MINUTES), st.integers(1, 2 * 24 * 60)), max_size=4),
)
def test_pushes_happen_exactly_once_per_local_date(
    schedule: PushSchedule,
    start: dt.datetime,
    start_shift: int,
    tick_second: int,
    grace_minutes: int,
    downtime: list[tuple[int, int]],
) -> None:
    grace = dt.timedelta(minutes=grace_minutes)
    t0 = start + dt.timedelta(minutes=start_shift)
    down = [(a, a + length) for a, length in downtime]
    live = [
        t0 + dt.timedelta(minutes=i, seconds=tick_second)
        for i in range(SIM_MINUTES)
        if not any(a <= i < b for a, b in down)
    ]

    last: dt.date | None = None
    pushes: list[tuple[dt.date, dt.datetime]] = []
    for now in live:
        d = due_date(schedule, last, now, grace)
        if d is not None:
            pushes.append((d, now))
            last = d  # the store records the date on delivery

    pushed_dates = [d for d, _ in pushes]
    assert len(pushed_dates) == len(set(pushed_dates)), "a local date was pushed twice"
    assert all(d.weekday() in schedule.weekdays for d in pushed_dates), "pushed on a non-weekday"
    for d, now in pushes:
        begin = local_push_datetime(schedule, d)
        assert begin <= now < begin + grace, "pushed outside its window"

    oracle = _first_reached(ZoneInfo(schedule.timezone), t0, SIM_MINUTES + 1, schedule.time)
    for d, begin in oracle.items():
        assert local_push_datetime(schedule, d).astimezone(UTC) == begin
        if d.weekday() not in schedule.weekdays:
            continue
        has_live_tick = any(begin <= now < begin + grace for now in live)
        assert (d in pushed_dates) == has_live_tick, f"{d}: live tick in window={has_live_tick}"
