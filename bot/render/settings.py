"""A group's push settings: time zones, the settings card, changes and their errors, progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.render.core import esc
from bot.render.readings import reading_header
from bot.store import Group
from content.model import Document, Reading
from schedules.due import format_weekdays

# Zones by the name people use for them; other zones show their IANA name with the offset now in force.
ZONE_NAMES = {"Asia/Shanghai": "北京时间", "Asia/Urumqi": "新疆时间", "Asia/Hong_Kong": "香港时间",
              "Asia/Macau": "澳门时间", "Asia/Taipei": "台北时间"}


def utc_offset(zone: str, when: datetime | None = None) -> str:
    """UTC+8, UTC-5, UTC+5:30 — the offset `zone` has at `when` (now if not given)."""
    offset = (when or datetime.now(ZoneInfo(zone))).astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def zone_label(zone: str, when: datetime | None = None) -> str:
    """北京时间（UTC+8）, UTC+8 for a fixed offset (never Etc/GMT-8, whose sign reads backwards), else the IANA name."""
    offset = utc_offset(zone, when)
    if zone == "UTC" or zone.startswith("Etc/"):
        return "UTC" if offset == "UTC+0" else offset
    return f"{ZONE_NAMES.get(zone, zone)}（{offset}）"


def greeting(doc: Document, group: Group) -> str:
    when = f"{format_weekdays(group.weekdays)} {group.push_time:%H:%M}，{zone_label(group.timezone)}"
    return (f"大家好！我是学习助手，陪大家一起学习《{esc(doc.title)}》。\n\n"
            f"管理员发送 /subscribe 即可订阅每日推送（默认{esc(when)}），"
            "可用 /settime、/timezone、/days 调整。\n发送 /help 查看全部命令，/toc 查看目录。")


def settings(group: Group, total: int, upcoming: datetime | None, now: datetime) -> str:
    if not group.subscribed:
        state = "未订阅（管理员发送 /subscribe 订阅）"
    elif group.paused:
        state = "已暂停（/resume 恢复）"
    elif group.finished:
        state = "已学完"
    else:
        state = "已订阅"
    lines = ["⚙️ <b>推送设置</b>", f"状态：{state}",
             f"时间：{format_weekdays(group.weekdays)} {group.push_time:%H:%M}",
             f"时区：{esc(zone_label(group.timezone, now))}",
             f"进度：已学完全部 {total} 天" if group.finished
             else f"进度：下一次推送第 {group.next_day} 天 / 共 {total} 天",
             f"推送后小测验：{f'{group.daily_quiz} 题' if group.daily_quiz else '关闭'}（/dailyquiz 设置）"]
    if upcoming is not None and upcoming <= now:
        lines.append("下次推送：一分钟内（今天的还没有推送）")
    elif upcoming is not None:
        local = upcoming.astimezone(ZoneInfo(group.timezone))
        lines.append(f"下次推送：{local:%Y-%m-%d %H:%M}")
    return "\n".join(lines)


def current_setting(setting: str, group: Group, now: datetime) -> str:
    """A settings command sent without an argument: the value now, and how to change it."""
    value, example = {
        "push_time": (f"推送时间：{group.push_time:%H:%M}", "/settime 07:30（也可以写 7点半、晚上8点）"),
        "timezone": (f"时区：{zone_label(group.timezone, now)}",
                     "/timezone 北京、/timezone UTC+8 或 /timezone Asia/Tokyo"),
        "weekdays": (f"推送日：{format_weekdays(group.weekdays)}", "/days 工作日、/days 每天 或 /days 周一,周三,周五"),
        "daily_quiz": (f"推送后小测验：{f'{group.daily_quiz} 题' if group.daily_quiz else '关闭'}",
                       "/dailyquiz 2（0 关闭，最多 3）"),
    }[setting]
    return f"当前{esc(value)}\n修改示例：{esc(example)}"


def subscribed_note() -> str:
    return "✅ 已订阅每日推送。\n\n"


def unsubscribed_note() -> str:
    return "已退订每日推送，学习进度会保留。需要时发送 /subscribe 重新订阅。"


def changed_note() -> str:
    return "✅ 已更新。\n\n"


def paused_note() -> str:
    return "⏸ 已暂停每日推送，进度保留。\n\n"


def resumed_note() -> str:
    return "▶️ 已恢复每日推送。\n\n"


def not_subscribed_note() -> str:
    return "本群还没有订阅每日推送：管理员发送 /subscribe 订阅后才会开始推送。\n\n"


def bad_time() -> str:
    return "时间格式不对。请写成 时:分，例如 /settime 07:30 或 /settime 20:00。"


def bad_timezone() -> str:
    return ("不认识这个时区。可以写城市、时区或与 UTC 的时差，例如 /timezone 北京、/timezone 东八区、"
            "/timezone UTC+8，或标准时区名 /timezone Asia/Shanghai、/timezone Europe/London。")


def bad_days() -> str:
    return "不认识这些日子。例如：/days 每天、/days 工作日、/days 周末、/days 周一,周三,周五。"


def dailyquiz_usage() -> str:
    return "请写 0 到 3 之间的题数，例如 /dailyquiz 2（每次推送后附 2 道小题），/dailyquiz 0 关闭。"


def goto_usage(total: int) -> str:
    return f"请写上要跳到的天数或要点，例如：/goto 5（第 5 天，共 {total} 天）或 /goto 2.3。"


def goto_done(doc: Document, reading: Reading, total: int) -> str:
    where = reading_header(doc, reading, total).split("·")[-1].strip()
    return f"✅ 已调整进度：下一次推送第 {reading.day} 天 / 共 {total} 天 · {esc(where)}"


def progress(doc: Document, group: Group, plan: Sequence[Reading]) -> str:
    total = len(plan)
    done = total if group.finished else max(group.next_day - 1, 0)
    filled = round(10 * done / total) if total else 0
    bar = "▓" * filled + "░" * (10 - filled)
    lines = [f"📊 <b>学习进度</b>　{bar} {done}/{total} 天"]
    if group.finished:
        lines.append("已学完全部内容 🎉")
    else:
        nxt = plan[min(group.next_day, total) - 1]
        lines.append(f"下一次：{esc(reading_header(doc, nxt, total))}")
    if group.last_pushed is not None:
        lines.append(f"上次推送：{group.last_pushed:%Y-%m-%d}")
    return "\n".join(lines)
