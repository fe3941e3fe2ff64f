"""Campaign records in the group: check-in, roster, excuses, the evening reminder, the daily quiz."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render.core import clip, esc, mention, split_lines
from bot.store import Member
from content.attendance import CampaignSummary
from content.model import Document

CHECKIN_PREFIX = "✅ 已学习"


# A reminder names at most this many members, so it stays one message far below 4096 characters.
REMINDER_NAMED = 60


def reading_keyboard(ref: str | None, checkin: tuple[str, int] | None = None,
                     day: int | None = None) -> InlineKeyboardMarkup:
    """The buttons under a reading: outline and the full text of its sections (each in a new message, the reading
    stays as sent) and, for a pushed reading, 已学习 with its live count.

    `checkin` is (callback data, count so far); `day` the plan day (a push's header names it when it is not given).
    """
    row = [InlineKeyboardButton("📖 目录", callback_data="opentoc")]
    if ref is not None:
        row.append(InlineKeyboardButton("读全文（本段所在各部分）",
                                        callback_data=f"rd:{ref}" + (f":{day}" if day is not None else "")))
    rows = [row]
    if checkin is not None:
        rows.append([InlineKeyboardButton(checkin_label(checkin[1]), callback_data=checkin[0])])
    return InlineKeyboardMarkup(rows)


def checkin_label(count: int) -> str:
    return f"{CHECKIN_PREFIX}（{count}）" if count > 0 else CHECKIN_PREFIX


def checkin_done(day: int, late: bool) -> str:
    return f"✅ 打卡成功：第 {day} 天（补学）" if late else f"✅ 打卡成功：第 {day} 天"


def checkin_already(day: int) -> str:
    return f"已记录：第 {day} 天"


def checkin_stale() -> str:
    return "这条消息的打卡已失效，请发送 /today 在最新的内容下打卡。"


def organizers_only() -> str:
    return "抱歉，这个命令只有群管理员可以使用。"


def group_only() -> str:
    return "请在群里使用这个命令。"


def reminder(day: int, members: Sequence[tuple[int, str]]) -> str:
    shown = "、".join(mention(uid, name) for uid, name in members[:REMINDER_NAMED])
    more = f" 等 {len(members)} 人" if len(members) > REMINDER_NAMED else ""
    return (f"⏰ 今天（第 {day} 天）的内容还没有打卡：{shown}{more}\n"
            "读完后点推送下方的“✅ 已学习”，或发送 /today 打卡。")


def remind_usage() -> str:
    return "用法：/remind 20:30 设置每晚提醒未打卡的成员，/remind off 关闭。"


def remind_set(at: time) -> str:
    return f"✅ 已设置：推送日 {at:%H:%M} 提醒当天还没有打卡的成员（请假的除外）。/remind off 关闭。"


def remind_off() -> str:
    return "已关闭打卡提醒。"


def remind_status(at: time | None) -> str:
    if at is None:
        return "打卡提醒：关闭。" + remind_usage()
    return f"打卡提醒：推送日 {at:%H:%M}。/remind off 关闭。"


def excuse_usage() -> str:
    return ("用法：/excuse @用户名 12-01..12-05 出差（没有用户名的成员写名单上的名字，如 /excuse 小王 12-01 病假），"
            "或回复该成员的消息发送 /excuse 12-01..12-05 出差。"
            "日期可写 12-01、12-01..12-05、今天；取消请假：/excuse @用户名 取消。")


def excuse_unknown(who: str) -> str:
    return (f"名单里没有找到“{esc(clip(who, 24))}”。请用 @用户名或名单上的名字（/roster 查看），"
            "或回复该成员的消息再发送 /excuse。（成员在群里发过言或点过按钮后才会出现在名单里。）")


def excuse_ambiguous(who: str, count: int) -> str:
    return f"名单里有 {count} 人叫“{esc(clip(who, 24))}”，请用 @用户名，或回复该成员的消息再发送 /excuse。"


def excuse_done(name: str, start: date, end: date, reason: str) -> str:
    when = f"{start:%m-%d}" if start == end else f"{start:%m-%d} 至 {end:%m-%d}"
    why = f"（{esc(clip(reason, 40))}）" if reason else ""
    return f"✅ 已登记 {esc(clip(name, 24))} 请假：{when}{why}。请假期间不计缺勤，也不会被提醒。"


def excuse_cancelled(name: str, count: int) -> str:
    if not count:
        return f"{esc(clip(name, 24))} 今天起没有请假记录。"
    return f"✅ 已取消 {esc(clip(name, 24))} 今天起的请假。"


def roster_usage() -> str:
    return "用法：/roster 查看名单（完整名单私信发给管理员），/roster remove @用户名 把已离开的人移出名单。"


def roster_count(present: int, chat_size: int | None, sent_privately: bool) -> str:
    size = f"（群成员共 {chat_size} 人，不含机器人）" if chat_size is not None else ""
    where = "完整名单已私信发给你。" if sent_privately else ""
    return f"📋 本群名单已登记 {present} 人{size}。{where}"


def private_needed(link: str) -> str:
    return f'完整名单只发在私聊里：请先<a href="{esc(link)}">点这里打开与我的私聊</a>，点“开始”后我就发给你。'


def roster_table(title: str | None, members: Sequence[Member], excused_today: Collection[int], zone: str
                 ) -> list[str]:
    """The full roster for an admin's private chat, split into messages under Telegram's limit."""
    lines = [f"📋 <b>{esc(title or '本群')}</b> 名单（{sum(m.status == 'present' for m in members)} 人在群）", ""]
    status = {"present": "", "left": "（已退群）", "removed": "（已移出名单）"}
    for i, m in enumerate(members, 1):
        at = f" @{esc(m.username)}" if m.username else ""
        joined = (f" · {datetime.fromtimestamp(m.joined_at, ZoneInfo(zone)):%Y-%m-%d} 入群"
                  if m.joined_at is not None else "")
        off = " · 今天请假" if m.user_id in excused_today else ""
        lines.append(f"{i}. {esc(clip(m.name, 24))}{at}{status.get(m.status, '')}{joined}{off}")
    if not members:
        lines.append("还没有登记任何成员：成员在群里发言、点按钮或答题后会自动登记。")
    return split_lines("\n".join(lines))


def roster_removed(name: str) -> str:
    return f"✅ 已把 {esc(clip(name, 24))} 移出名单（以往的学习记录保留）。"


def roster_not_found(who: str) -> str:
    return (f"名单里没有找到“{esc(clip(who, 24))}”。请用 @用户名或名单上的名字，"
            "或回复该成员的消息再发送 /roster remove。")


def daily_quiz_intro(count: int, closes: datetime) -> str:
    return (f"📝 <b>今日小测验</b>：共 {count} 题，{closes:%H:%M} 前都可以作答，截止后公布结果。"
            "答对一题得 1 分，每人只计第一次作答。")


def daily_quiz_closed() -> str:
    return "⏰ 今日小测验已截止。\n"


def completion_summary(doc: Document, summary: CampaignSummary) -> str:
    lines = [f"🎓 <b>《{esc(doc.title)}》学习总结</b>",
             f"推送 {summary.days} 天，名单 {summary.members} 人，累计打卡 {summary.checkins} 人次"
             f"（打卡率 {summary.checkin_rate}%），全勤 {summary.full_attendance} 人。"]
    if summary.answers:
        lines.append(f"测验共答 {summary.answers} 题，正确率 {summary.accuracy}%。")
    lines.append("感谢大家的坚持！管理员可用 /goto 1 从头再学。")
    return "\n".join(lines)
