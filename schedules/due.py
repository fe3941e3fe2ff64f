"""What is due now: pure functions over a group's push schedule and an injected instant.

The scheduler ticks once a minute and asks, for every group, whether a push is due. Nothing here reads the
clock or keeps state, so a restart or a changed schedule needs no job surgery: the answer only depends on the
schedule, the last local date the group received a push, and `now`.

Conventions:
- Weekdays follow Python: 0 = Monday ... 6 = Sunday (`date.weekday()`). PTB's `run_daily` counts 0 = Sunday;
  we do not, and only this module converts user text into day numbers.
- A push belongs to a *local date* in the group's time zone. That date is the idempotency key the store
  records, so a group receives at most one push per local date.
- DST: a push time that does not exist on a date (spring-forward gap) happens at the first valid instant after
  the gap (02:30 in a 02:00→03:00 gap happens at 03:00); a time that exists twice (fall-back) happens at its
  FIRST occurrence (fold=0), never twice.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

UTC = dt.UTC
ALL_DAYS: frozenset[int] = frozenset(range(7))
WORKDAYS: frozenset[int] = frozenset(range(5))
WEEKEND: frozenset[int] = frozenset({5, 6})
# Long enough to survive a restart or a slow deploy, short enough that a reading does not arrive at night.
DEFAULT_GRACE = dt.timedelta(hours=3)
# More than this and two consecutive dates' windows could overlap (a DST day has 23 hours), which would make
# "the date due now" ambiguous.
MAX_GRACE = dt.timedelta(hours=22)


@dataclass(frozen=True)
class PushSchedule:
    """When a group gets its daily reading: wall-clock `time` in IANA `timezone` on `weekdays` (0=Mon)."""

    time: dt.time
    timezone: str
    weekdays: frozenset[int] = ALL_DAYS

    def __post_init__(self) -> None:
        # Accept any iterable of ints, but store a frozenset so schedules hash (due_groups groups by them).
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        if self.time.tzinfo is not None:
            raise ValueError("push time must be a naive wall-clock time; the zone goes in `timezone`")
        if self.time.second or self.time.microsecond:
            raise ValueError("push time must be a whole minute: the scheduler ticks once a minute")
        if not self.weekdays:
            raise ValueError("a schedule needs at least one weekday")
        if not self.weekdays <= ALL_DAYS:
            raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {sorted(self.weekdays)}")
        _zone(self.timezone)  # raises ValueError for an unknown zone


# --- Parsing (admin commands and config) ---
# Errors are English ValueErrors; the bot's renderer words them for the chat.

_AM_WORDS = ("凌晨", "早上", "早晨", "上午", "清晨", "早")
_PM_WORDS = ("下午", "傍晚", "晚上", "晚间", "夜里", "晚")
_NOON_WORDS = ("中午",)
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_CN_HOUR_RE = re.compile(r"(\d{1,2})(?:点|点钟|时)(?:(半)|(\d{1,2})分?)?")


def parse_time(text: str) -> dt.time:
    """Parse a push time such as "08:00", "8:00", "08：30", "20:05", "8点", "8点半", "晚上8点15"."""
    if not isinstance(text, str):
        # PyYAML turns an unquoted 12:30 into the integer 750: say so instead of guessing.
        raise ValueError(f'time must be text such as "08:00" (quote it in YAML), got {text!r}')
    s = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    period = ""
    for word in (*_AM_WORDS, *_PM_WORDS, *_NOON_WORDS):
        if s.startswith(word):
            period, s = word, s[len(word) :]
            break
    m = _CLOCK_RE.fullmatch(s)
    if m:
        hour, minute = int(m[1]), int(m[2])
    elif m := _CN_HOUR_RE.fullmatch(s):
        hour = int(m[1])
        minute = 30 if m[2] else int(m[3] or 0)
    else:
        raise ValueError(f'cannot read time {text!r}: use HH:MM such as "08:00" or "20:05", or "8点"/"8点半"')
    if period and hour <= 12:
        if (period in _PM_WORDS and hour < 12) or (period in _NOON_WORDS and hour < 11):
            hour += 12
        elif period in _AM_WORDS and hour == 12:
            hour = 0
    elif period in _AM_WORDS:
        raise ValueError(f"time {text!r}: {period} with hour {hour} is contradictory")
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"time {text!r} is out of range: hours 0-23, minutes 0-59")
    return dt.time(hour, minute)


# What people type for a zone besides its IANA name. All of mainland China keeps Beijing time (Asia/Shanghai);
# Asia/Urumqi is the local Xinjiang time (UTC+6) that IANA records for 乌鲁木齐.
_CHINA_CITIES = (
    "北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "武汉", "成都", "西安", "长沙", "郑州", "济南",
    "青岛", "沈阳", "大连", "哈尔滨", "长春", "昆明", "贵阳", "南宁", "福州", "厦门", "南昌", "合肥", "太原",
    "石家庄", "呼和浩特", "兰州", "西宁", "银川", "海口", "三亚", "拉萨", "苏州", "宁波", "无锡", "邵阳",
)
_TZ_ALIASES = {
    **{city: "Asia/Shanghai" for city in _CHINA_CITIES},
    **{f"{city}时间": "Asia/Shanghai" for city in _CHINA_CITIES},
    "中国": "Asia/Shanghai",
    "中国时间": "Asia/Shanghai",
    "东八区": "Asia/Shanghai",
    "东八": "Asia/Shanghai",
    "北京时区": "Asia/Shanghai",
    "asia/beijing": "Asia/Shanghai",
    "beijing": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "乌鲁木齐": "Asia/Urumqi",
    "乌鲁木齐时间": "Asia/Urumqi",
    "新疆时间": "Asia/Urumqi",
    "香港": "Asia/Hong_Kong",
    "澳门": "Asia/Macau",
    "台北": "Asia/Taipei",
    "新加坡": "Asia/Singapore",
    "东京": "Asia/Tokyo",
    "首尔": "Asia/Seoul",
    "伦敦": "Europe/London",
    "巴黎": "Europe/Paris",
    "柏林": "Europe/Berlin",
    "莫斯科": "Europe/Moscow",
    "纽约": "America/New_York",
    "洛杉矶": "America/Los_Angeles",
    "悉尼": "Australia/Sydney",
}
# UTC+8, GMT+8, UTC+08:00, +08:00, +8, +0800, UTC-5, UTC+5:30
_OFFSET_RE = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
# Offsets that are not whole hours have no Etc/ zone: the zone that keeps that offset all year stands in.
_HALF_HOUR_ZONES = {
    (1, 3, 30): "Asia/Tehran", (1, 4, 30): "Asia/Kabul", (1, 5, 30): "Asia/Kolkata", (1, 5, 45): "Asia/Kathmandu",
    (1, 6, 30): "Asia/Yangon", (1, 8, 45): "Australia/Eucla", (1, 9, 30): "Australia/Darwin",
    (-1, 9, 30): "Pacific/Marquesas",
}
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "十一": 11, "十二": 12}
_CN_ZONE_RE = re.compile(r"(东|西)(十[一二]?|[一二三四五六七八九])区?")


@lru_cache(maxsize=1)
def _zone_names_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _offset_zone(sign: int, hours: int, minutes: int) -> str | None:
    """The zone for a fixed UTC offset; POSIX-style Etc zones invert the sign (UTC+8 is Etc/GMT-8)."""
    if minutes:
        return _HALF_HOUR_ZONES.get((sign, hours, minutes))
    if hours == 0:
        return "UTC"
    if (sign > 0 and hours <= 14) or (sign < 0 and hours <= 12):
        return f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
    return None


def parse_timezone(name: str) -> str:
    """Canonical IANA zone name for what a person types: "Asia/Shanghai", "北京", "东八区", "UTC+8", "+08:00"."""
    if not isinstance(name, str):
        raise ValueError(f'time zone must be text such as "Asia/Shanghai", got {name!r}')
    s = unicodedata.normalize("NFKC", name).strip().replace(" ", "").replace("−", "-")
    alias = _TZ_ALIASES.get(s) or _TZ_ALIASES.get(s.lower())
    if alias is not None:
        return alias
    found: str | None = None
    if m := _OFFSET_RE.fullmatch(s):
        found = _offset_zone(1 if m[1] == "+" else -1, int(m[2]), int(m[3] or 0))
    elif m := _CN_ZONE_RE.fullmatch(s):
        found = _offset_zone(1 if m[1] == "东" else -1, _CN_DIGITS[m[2]], 0)
    else:
        found = _zone_names_by_lower().get(s.lower())
    if found is None:
        hint = 'use an IANA name such as "Asia/Shanghai", a city such as 北京, or an offset such as UTC+8'
        raise ValueError(f"unknown time zone {name!r}: {hint}")
    return found


@cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    """ZoneInfo for `name`, cached (a tick over 10,000 groups must not re-resolve zones)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


_CN_DAY_CHARS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_EN_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EN_DAY_RE = re.compile(r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*")
_CN_DAY_RE = re.compile(r"(?:周|星期|礼拜|週)?([一二三四五六日天七])")
_CN_DAY_SEQ_RE = re.compile(r"(?:(?:周|星期|礼拜|週)[一二三四五六日天七]+)+")
_WHOLE_PHRASES: dict[str, frozenset[int]] = {
    **dict.fromkeys(("每天", "每日", "天天", "每周", "全周"), ALL_DAYS),
    **dict.fromkeys(("daily", "everyday", "every day", "all", "*"), ALL_DAYS),
    **dict.fromkeys(("工作日", "周一至周五", "weekdays", "weekday", "workdays", "workday"), WORKDAYS),
    **dict.fromkeys(("周末", "双休日", "weekends", "weekend"), WEEKEND),
}
_LIST_SEP_RE = re.compile(r"[,，、;；/\s]+|和|及")
_RANGE_SEP_RE = re.compile(r"\s*(?:-|~|至|到|—|–)\s*")  # spaces around a range dash belong to the range


def _parse_day(token: str, original: str) -> int:
    t = token.strip()
    if t.isdigit():
        n = int(t)
        if 1 <= n <= 7:
            return n - 1
        raise ValueError(f"weekday number {t} in {original!r}: use 1 (Monday) to 7 (Sunday)")
    if m := _EN_DAY_RE.fullmatch(t):
        return _EN_DAYS.index(m[1])
    if m := _CN_DAY_RE.fullmatch(t):
        return _CN_DAY_CHARS[m[1]]
    raise ValueError(f"cannot read weekday {token!r} in {original!r}")


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse weekday text into 0=Monday days.

    Accepts "每天", "工作日", "周末", "mon-fri", "1-5" (1 = Monday, 7 = Sunday), "一至五", "周一,周三,周五",
    "周六日", and ranges that wrap past Sunday such as "fri-mon".
    """
    if not isinstance(text, str):
        raise ValueError(f'weekdays must be text such as "mon-fri" or "工作日", got {text!r}')
    s = unicodedata.normalize("NFKC", text).strip().lower()
    if s in _WHOLE_PHRASES:
        return _WHOLE_PHRASES[s]
    days: set[int] = set()
    s = _RANGE_SEP_RE.sub("-", s)  # "mon - fri" must not split into three list items
    for item in filter(None, _LIST_SEP_RE.split(s)):
        if item in _WHOLE_PHRASES:
            days |= _WHOLE_PHRASES[item]
            continue
        ends = _RANGE_SEP_RE.split(item)
        if len(ends) == 2 and all(ends):
            first, last = _parse_day(ends[0], text), _parse_day(ends[1], text)
            # A range may wrap past Sunday: "fri-mon" is Fri, Sat, Sun, Mon.
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        elif len(ends) == 1 and _CN_DAY_SEQ_RE.fullmatch(item):
            days.update(_CN_DAY_CHARS[m[1]] for m in _CN_DAY_RE.finditer(item))  # "周一周三周五"
        elif len(ends) == 1:
            days.add(_parse_day(item, text))
        else:
            raise ValueError(f"cannot read weekday range {item!r} in {text!r}")
    if not days:
        raise ValueError(f'no weekdays in {text!r}: try "每天", "工作日", "周一,周三,周五" or "mon-fri"')
    return frozenset(days)


_CN_DAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def format_weekdays(days: Iterable[int]) -> str:
    """Chinese summary: "每天", "工作日", "周末", "周一至周四", "周一、周三、周五", "周一至周三、周六"."""
    ds = sorted(set(days))
    if not ds or not set(ds) <= ALL_DAYS:
        raise ValueError(f"weekdays must be a non-empty subset of 0-6, got {ds}")
    named = {ALL_DAYS: "每天", WORKDAYS: "工作日", WEEKEND: "周末"}.get(frozenset(ds))
    if named:
        return named
    runs: list[list[int]] = []
    for d in ds:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_CN_DAY_NAMES[run[0]]}至{_CN_DAY_NAMES[run[-1]]}")
        else:
            parts.extend(_CN_DAY_NAMES[d] for d in run)
    return "、".join(parts)


# --- Instants ---


def _require_aware(now: dt.datetime) -> dt.datetime:
    """`now` in UTC. Converting matters: == across zones is always False for an ambiguous time (PEP 495)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"`now` must be timezone-aware (UTC), got naive {now!r}")
    return now.astimezone(UTC)


@lru_cache(maxsize=32768)  # ~250 bytes an entry; covers 10,000 distinct schedules × 3 dates
def _push_instant_utc(time: dt.time, tz_name: str, local_date: dt.date) -> dt.datetime:
    """UTC instant of `time` on `local_date` in `tz_name` under the module's DST rule; cached across ticks."""
    tz = _zone(tz_name)
    wall = dt.datetime.combine(local_date, time)
    first = wall.replace(tzinfo=tz, fold=0)
    utc_first = first.astimezone(UTC)
    if utc_first.astimezone(tz).replace(tzinfo=None) == wall:
        return utc_first  # exists (once, or twice and fold=0 picks the first occurrence)
    # In a gap, fold=0 reads the wall time with the offset from before the transition and fold=1 with the one
    # after, so the transition instant lies between the two readings: binary-search it to the second.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # still before the transition
    hi = utc_first  # already after it
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def local_push_datetime(schedule: PushSchedule, local_date: dt.date) -> dt.datetime:
    """The aware local instant of the push on `local_date` (gap → first instant after it; overlap → first).

    Compare the result in UTC (`.astimezone(UTC)`): Python's == between zones is always False for an ambiguous
    local time.
    """
    instant = _push_instant_utc(schedule.time, schedule.timezone, local_date)
    return instant.astimezone(_zone(schedule.timezone))


def _open_date(schedule: PushSchedule, now: dt.datetime, grace: dt.timedelta) -> dt.date | None:
    """The latest push weekday whose window [push, push + grace) holds `now`, ignoring what was delivered."""
    today = now.astimezone(_zone(schedule.timezone)).date()
    # Yesterday covers a window that crosses local midnight; the day before covers a gap pushed past midnight.
    for offset in range(3):
        d = today - dt.timedelta(days=offset)
        if d.weekday() not in schedule.weekdays:
            continue
        start = _push_instant_utc(schedule.time, schedule.timezone, d)
        if start <= now < start + grace:
            return d
        if start <= now:
            return None  # this date's window has closed: an older date cannot be due after a newer one passed
    return None


def _check_grace(grace: dt.timedelta) -> None:
    if not dt.timedelta(0) < grace <= MAX_GRACE:
        raise ValueError(f"grace must be positive and at most {MAX_GRACE}, got {grace}")


def due_date(
    schedule: PushSchedule, last_pushed: dt.date | None, now: dt.datetime, grace: dt.timedelta = DEFAULT_GRACE
) -> dt.date | None:
    """The local date whose push should happen now, or None.

    Due iff that date is a push weekday, `now` lies in [push instant, push instant + grace), and nothing was
    pushed for that date or a later one (`last_pushed` < date). The date may be yesterday's when the window
    crosses local midnight. A window missed entirely is skipped: the reading itself is not lost, because
    progress only advances on delivery.
    """
    _check_grace(grace)
    d = _open_date(schedule, _require_aware(now), grace)
    if d is None or (last_pushed is not None and last_pushed >= d):
        return None
    return d


def due_groups(
    groups: Iterable[tuple[K, PushSchedule, dt.date | None]],
    now: dt.datetime,
    grace: dt.timedelta = DEFAULT_GRACE,
) -> list[tuple[K, dt.date]]:
    """(key, local date) for every group due now, in input order; a shared schedule is evaluated once."""
    _check_grace(grace)
    now = _require_aware(now)
    open_by_schedule: dict[PushSchedule, dt.date | None] = {}
    due: list[tuple[K, dt.date]] = []
    for key, schedule, last_pushed in groups:
        try:
            d = open_by_schedule[schedule]
        except KeyError:
            d = open_by_schedule[schedule] = _open_date(schedule, now, grace)
        if d is not None and (last_pushed is None or last_pushed < d):
            due.append((key, d))
    return due


def held_date(before: PushSchedule | None, after: PushSchedule, last_pushed: dt.date | None, now: dt.datetime,
              grace: dt.timedelta = DEFAULT_GRACE) -> dt.date | None:
    """The local date a settings change would make due at once, which then must not be pushed; None: nothing to hold.

    Catch-up is for downtime only: an admin who sets 07:30 at 07:45 (or subscribes, resumes, changes the zone or the
    days so that today's time has just passed) gets the push tomorrow, not within a minute in the middle of setting
    up. A date that was already due before the change (`before`: the old schedule, None if pushes were off) stays due.
    """
    d = due_date(after, last_pushed, now, grace)
    if d is None or (before is not None and due_date(before, last_pushed, now, grace) == d):
        return None
    return d


def next_push_after(schedule: PushSchedule, now: dt.datetime, last_pushed: dt.date | None = None) -> dt.datetime:
    """The first scheduled push instant strictly after `now`, as an aware datetime in the group's zone.

    A date already pushed (`last_pushed` or earlier) gets no second push, so it is skipped here too: after a changed
    push time, "today 20:00" is not promised when today's reading went out at 08:00.
    """
    now = _require_aware(now)
    start = now.astimezone(_zone(schedule.timezone)).date() - dt.timedelta(days=1)
    if last_pushed is not None and last_pushed >= start:
        # A date pushed ahead of `now` (a clock moved back, or the offline chat's fast clock in an earlier run):
        # the next push is still the first scheduled date after it, not an error.
        start = last_pushed + dt.timedelta(days=1)
    for offset in range(12):  # a week plus slack for a date swallowed by a zone change or already pushed
        d = start + dt.timedelta(days=offset)
        if d.weekday() in schedule.weekdays and (last_pushed is None or d > last_pushed):
            instant = _push_instant_utc(schedule.time, schedule.timezone, d)
            if instant > now:
                return instant.astimezone(_zone(schedule.timezone))
    raise AssertionError("unreachable: every non-empty weekday set recurs within a week")  # pragma: no cover
