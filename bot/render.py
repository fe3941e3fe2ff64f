"""Every Chinese text the bot shows, rendered as Telegram HTML. Wording lives here and only here."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.store import AnswerRecord, Group, Member, PollRecord
from content.attendance import CampaignSummary
from content.model import Document, Reading, Section
from content.questions import Question
from content.readings import covered_sections
from content.scoring import QuestionResult, rank, round_summary, section_stats, streak, weakest_sections
from content.search import Page
from content.split import split_text as split_at_sentences
from content.split import stripped_pieces, utf16_len
from content.typography import to_display
from records import wording
from records.chart import MASTERY_MOST_MEMBERS
from records.ledger import Summary as RecordSummary
from schedules.due import format_weekdays

if TYPE_CHECKING:  # wording only: the organizer's view of robot channels imports this module
    from bot.channels_view import ChannelStatus
    from bot.robots.channels import ChannelConfig

MESSAGE_LIMIT = 4096
# Room left under Telegram's limit for the breadcrumb, markup and escaping.
TEXT_BUDGET = 3500


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def plain(text: str) -> str:
    """The HTML message as plain terminal text."""
    marked = text.replace("<u>", "【").replace("</u>", "】")
    return html.unescape(re.sub(r"</?(b|i|s|code|pre|blockquote)>", "", marked))


def split_text(text: str, budget: int = TEXT_BUDGET) -> list[str]:
    """Split text into trimmed chunks of at most `budget` characters, at sentence ends where possible."""
    return stripped_pieces(text, lambda piece: len(piece) <= budget)


def section_name(section: Section) -> str:
    """'二、3 强化学习…' for a point, '二、突出重点…' for a part, '开头' / '结语' otherwise."""
    if section.kind == "point":
        return f"{section.label} {to_display(section.heading)}"
    if section.kind == "part":
        return f"{section.label}、{to_display(section.heading)}"
    return section.label


def short_name(section: Section) -> str:
    """'第二部分', '二、3', '开头', '结语'."""
    return f"第{section.label}部分" if section.kind == "part" else section.label


def breadcrumb(doc: Document, section: Section) -> str:
    return " › ".join(section_name(s) for s in doc.breadcrumb(section))


def outline(doc: Document) -> str:
    lines = [f"📖 <b>{esc(to_display(doc.title))}</b>", ""]
    if doc.opening is not None:
        lines.append(f"<b>开头</b>　{command_for(doc.opening.ref)}")
    for part in doc.parts:
        lines.append(f"<b>{esc(section_name(part.section))}</b>　〔{part.section.ref}〕")
        for point in part.points:
            lines.append(f"　{point.point}. {esc(to_display(point.heading))}　〔{point.ref}〕")
    if doc.closing is not None:
        lines.append(f"<b>结语</b>　{command_for(doc.closing.ref)}")
    lines += ["", "点下方按钮查看，或发送 /section 2.3（或 二、3）"]
    return "\n".join(lines)


def outline_messages(doc: Document) -> list[str]:
    """The outline in as many messages as it needs: a long speech's outline can pass Telegram's limit."""
    return split_lines(outline(doc))


def split_lines(text: str, budget: int = TEXT_BUDGET) -> list[str]:
    """Split at line ends (every line's markup is balanced on its own) into chunks of at most `budget`."""
    chunks: list[list[str]] = [[]]
    size = -1
    for line in text.split("\n"):
        if chunks[-1] and size + 1 + len(line) > budget:
            chunks.append([])
            size = -1
        chunks[-1].append(line)
        size += 1 + len(line)
    return ["\n".join(chunk) for chunk in chunks]


def section_messages(doc: Document, section: Section) -> list[str]:
    """The section's full text (a part with all its points), split across messages at sentence ends."""
    if section.kind == "part" and section.part is not None:
        pieces = [section.text, *(p.text for p in doc.part(section.part).points)]
        text = "\n\n".join(pieces)
    else:
        text = section.text
    header = f"📍 <b>{esc(breadcrumb(doc, section))}</b>"
    chunks = split_text(text)
    messages = []
    for i, chunk in enumerate(chunks):
        page = f"（{i + 1}/{len(chunks)}）" if len(chunks) > 1 else ""
        messages.append(f"{header}{page}\n\n{esc(to_display(chunk))}")
    return messages


def search_results(query: str, result: Page) -> str:
    """Hits of one page, the true number of matches, and how to see the next page."""
    query = query.strip()
    shown = esc(query[:40])
    if not query:
        return "请在 /search 后写上要找的词，例如：/search 终身学习（翻页：/search 终身学习 2）"
    if not result.total:
        return (f"没有找到“{shown}”。\n试试更短的词或换个说法，例如：/search 学习 理念\n"
                "也可以用 /toc 查看全文目录。")
    if not result.hits:
        return f"“{shown}”共找到 {result.total} 处，只有 {result.pages} 页。第一页：/search {shown}"
    last = result.first + len(result.hits) - 1
    if result.page == 1 and last == result.total:
        count = f"找到 {result.total} 处"
    elif result.page == 1:
        count = f"找到 {result.total} 处，显示前 {len(result.hits)} 处"
    else:
        count = f"找到 {result.total} 处，显示第 {result.first}–{last} 处"
    lines = [f"🔎 “{shown}”：{count}"]
    for hit in result.hits:
        lines.append(f"\n<b>〔{esc(hit.section.label)}〕</b> {esc(to_display(hit.section.heading))}\n"
                     f"{_snippet(hit.segments)}")
    lines.append("\n查看全文：点下方按钮，或发送 /section 加上方括号里的编号")
    if result.page < result.pages:
        lines.append(f"更多结果：/search {shown} {result.page + 1}")
    return "\n".join(lines)


SEARCH_DATA_LIMIT = 64  # Telegram's callback data, in bytes


def search_page_data(query: str, page: int) -> str | None:
    """Callback data for page `page` of a search ("srch:PAGE:QUERY"), None when the query is too long to carry."""
    data = f"srch:{page}:{query.strip()}"
    return data if len(data.encode()) <= SEARCH_DATA_LIMIT else None


def search_keyboard(query: str, result: Page) -> InlineKeyboardMarkup | None:
    """A button per hit (opens the section in a new message) and ◀ ▶ pages that edit the results in place.

    A query too long for the callback data gets no page buttons: the text's /search … line still says how."""
    if not result.hits:
        return None
    rows = _rows([InlineKeyboardButton(f"📖 {hit.section.label}", callback_data=f"open:{hit.section.ref}")
                  for hit in result.hits])
    pager = []
    if result.page > 1 and (back := search_page_data(query, result.page - 1)):
        pager.append(InlineKeyboardButton(f"◀ 上一页（{result.page - 1}/{result.pages}）", callback_data=back))
    if result.page < result.pages and (more := search_page_data(query, result.page + 1)):
        pager.append(InlineKeyboardButton(f"下一页（{result.page + 1}/{result.pages}）▶", callback_data=more))
    if pager:
        rows.append(pager)
    return InlineKeyboardMarkup(rows)


def _snippet(segments: Sequence[tuple[str, bool]]) -> str:
    # Typography over the whole snippet (quotes nest across segments); it keeps lengths, so the cuts still hold.
    shown = to_display("".join(text for text, _ in segments))
    out, pos = [], 0
    for text, matched in segments:
        piece = esc(shown[pos : pos + len(text)])
        out.append(f"<b><u>{piece}</u></b>" if matched else piece)
        pos += len(text)
    return "".join(out)


def plan_summary(doc: Document, plan: Sequence[Reading]) -> str:
    lines = [f"《{esc(doc.title)}》每日学习计划：共 {len(plan)} 天"]
    for reading in plan:
        size = len("".join(reading.text.split()))
        labels = " / ".join(short_name(doc.section(r)) for r in reading.refs)
        first = reading.text.strip().splitlines()[0][:24]
        lines.append(f"第 {reading.day:>2} 天  {size:>4} 字  〔{esc(labels)}〕 {esc(first)}…")
    return "\n".join(lines)


# --- help and errors -----------------------------------------------------------------------------------------

COMMANDS: tuple[tuple[str, str], ...] = (
    ("toc", "全文目录"),
    ("section", "查看某部分或某一点，如 /section 2.3"),
    ("search", "全文搜索，如 /search 终身学习"),
    ("today", "今天的学习内容"),
    ("next", "下一次推送的内容"),
    ("quiz", "来一轮小测验，如 /quiz 5"),
    ("leaderboard", "测验排行榜"),
    ("mystats", "我的答题统计"),
    ("review", "私聊复习答错的题（间隔重复）"),
    ("progress", "本群学习进度"),
    ("settings", "查看推送设置"),
    ("subscribe", "订阅每日推送（管理员）"),
    ("help", "使用说明"),
)
ADMIN_COMMANDS = (
    "/subscribe 订阅每日推送　/unsubscribe 退订",
    "/settime 07:30 推送时间　/timezone 北京（或 UTC+8、Asia/Tokyo）时区",
    "/days 工作日 推送日（每天、工作日、周一,周三,周五）",
    "/pause 暂停　/resume 恢复　/goto 5（第5天）或 /goto 2.3 调整进度",
    "/dailyquiz 2 每次推送后附 2 道小题（0 关闭，最多 3）",
    "/stopquiz 结束正在进行的测验",
    "/roster 成员名单（完整名单私信给管理员；/roster remove @用户名 移出名单）",
    "/excuse @用户名 12-01..12-05 出差 登记请假（也可回复该成员的消息）",
    "/remind 20:30 推送日晚上提醒未打卡的成员（/remind off 关闭）",
    "/report 学习报告（week、month、all 或 12-01..12-07；明细私信发送）",
    "/export 学习台账 Excel（/export csv 为 CSV；私信发送）",
)


def help_text(doc: Document, private: bool, offline: bool = False) -> str:
    lines = [f"👋 我是学习助手，陪大家一起学习《{esc(doc.title)}》：", "",
             "📅 每天定时推送一小段原文（订阅后生效）",
             "🔍 随时查看任意部分、搜索关键词",
             "📝 在群里做小测验，积分排行", "", "<b>常用命令</b>"]
    # Each command once: those the admin block explains are left out of the common list.
    lines += [f"/{name} — {desc}" for name, desc in COMMANDS
              if not any(f"/{name} " in line for line in ADMIN_COMMANDS)]
    lines += ["", "<b>管理员命令</b>", *ADMIN_COMMANDS]
    if private:
        lines += ["", "在私聊里你就是管理员：发送 /subscribe 即可订阅个人的每日推送。"]
    lines += ["", "也可以直接发“目录”“搜索 终身学习”或“二、3”。"]
    if offline:
        lines += ["", "（本地离线模式：/pushnow 立即推送下一段，/as 小王 换成另一位成员发言）"]
    return "\n".join(lines)


def section_usage() -> str:
    return ("请在命令后写上要看的部分或要点，例如：\n/section 2.3　或　/section 二、3\n"
            "/section 2（整个第二部分）　/section_opening（开头）　/section_closing（结语）\n"
            "点一下就能打开：/section_2_3　用 /toc 查看目录。")


def ref_error(text: str, reason: str) -> str:
    return f"找不到“{esc(text.strip()[:30])}”。{esc(reason)}\n例如：/section 2.3　或用 /toc 查看目录。"


def unknown_command(command: str) -> str:
    return f"我不认识 {esc(command)} 这个命令。发送 /help 查看可用命令。"


def plain_text_hint() -> str:
    return "可以发送“目录”、“搜索 关键词”或要点编号（如 二、3），也可以用 /help 查看全部命令。"


def throttled() -> str:
    return "操作太频繁，请稍后再试。"


# --- issue 9d: a group over its reply budget ---------------------------------------------------------------

def group_over_budget() -> str:
    """Told once when a group sends more commands than the bot may answer in a minute (Telegram's ~20)."""
    return "本群命令太多：机器人每分钟最多回复约 20 条，多出的命令这次不会回复，请稍后再试。"


def chat_not_allowed() -> str:
    return "您好！这个学习助手只为指定的学习群服务，暂时不能在本群使用，我先退出了。如需使用，请联系机器人的管理者。"


def admins_only() -> str:
    return "抱歉，这个设置只有群管理员可以修改。"


# --- daily readings ------------------------------------------------------------------------------------------


def reading_title(doc: Document, reading: Reading) -> str:
    """一、1（续） — 一、2: every section the reading covers, and（续）where it starts inside one; a reading of one
    section names it in full (一、3 强化学习…)."""
    covered = covered_sections(doc, reading)
    if len(covered) == 1:
        section, continued = covered[0]
        return f"{short_name(section)}（续）{section.heading}" if continued else section_name(section)
    return " — ".join(short_name(section) + ("（续）" if continued else "") for section, continued in covered)


def reading_header(doc: Document, reading: Reading, total: int) -> str:
    return f"《{to_display(doc.title)}》第 {reading.day} 天 / 共 {total} 天 · {reading_title(doc, reading)}"


def reading_body(reading: Reading) -> str:
    """The reading's text as members read it: display typography over the stored text."""
    return to_display(reading.text.strip())


def reading_message(doc: Document, reading: Reading, total: int) -> str:
    return f"📖 <b>{esc(reading_header(doc, reading, total))}</b>\n\n{esc(reading_body(reading))}"


def reading_messages(doc: Document, reading: Reading, total: int) -> list[str]:
    """The daily push: one message, or several numbered parts when the reading is longer than a message allows."""
    whole = reading_message(doc, reading, total)
    if utf16_len(whole) <= MESSAGE_LIMIT:
        return [whole]
    head = f"📖 <b>{esc(reading_header(doc, reading, total))}</b>"
    # Room for "（12/12）" and the blank line; the escaped text is measured, so an entity never pushes a part over.
    room = MESSAGE_LIMIT - utf16_len(head) - utf16_len("（99/99）\n\n")
    parts = [p.strip() for p in split_at_sentences(reading_body(reading), room, lambda t: utf16_len(esc(t)))]
    parts = [p for p in parts if p]
    return [f"{head}（{i}/{len(parts)}）\n\n{esc(part)}" for i, part in enumerate(parts, start=1)]


def reading_note(upcoming: bool, started: bool) -> str:
    if upcoming:
        return "⏭ 下一次推送的内容：\n\n"
    return "" if started else "还没有开始推送，先看看第一天的内容（管理员可发 /subscribe 订阅）：\n\n"


def plan_finished(doc: Document, total: int) -> str:
    return f"🎉 本群已学完《{esc(doc.title)}》全部 {total} 天的内容！管理员可用 /goto 1 从头再学。"


def finished_push(doc: Document, total: int, restart: bool) -> str:
    tail = "下次推送起将从第 1 天重新开始。" if restart else "每日推送已结束，管理员可用 /goto 1 从头再学。"
    return f"🎉 恭喜！本群已学完《{esc(doc.title)}》全部 {total} 天的内容。{tail}"


# --- groups and settings -------------------------------------------------------------------------------------


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


# --- quizzes -------------------------------------------------------------------------------------------------

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
# Keeps results and leaderboards far below Telegram's 4096 characters, whatever the members' names.
RANKING_SHOWN = 20


def quiz_intro(count: int, scope: str, seconds: int) -> str:
    return (f"📝 <b>小测验开始！</b>共 {count} 题，范围：{esc(scope)}。每题 {seconds} 秒，"
            "答对一题得 1 分，每人只计第一次作答；多选题须选全、选对才得分。")


MULTIPLE_MARK = "（多选）"


def quiz_question(text: str, number: int, total: int, multiple: bool = False) -> str:
    """The poll's question: its number, full-width punctuation, and 多选 said when several options are right."""
    prefix = f"【{number}/{total}】"
    text = to_display(text)
    if multiple and "多选" not in text:
        prefix += MULTIPLE_MARK
    return prefix + text[: 300 - len(prefix)]


def quiz_option(text: str) -> str:
    return to_display(text)


def quiz_explanation(text: str) -> str:
    return to_display(text)


def percent(part: int, whole: int) -> int:
    """A share in whole percent, rounded half up (2 of 3 is 67%)."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def medal(place: int, score: int) -> str:
    """🥇🥈🥉 for the first three places, but only with a point or more; otherwise the place number."""
    return MEDALS[place] if place in MEDALS and score >= 1 else f"{place}."


def section_tags(doc: Document, refs: Sequence[str]) -> str:
    """〔三、3〕〔开头〕: sections named as readers name them, each in its own brackets."""
    return "".join(f"〔{esc(doc.section(r).label if doc.has(r) else r)}〕" for r in refs)


def section_command(doc: Document, ref: str) -> str:
    """ "/section_3_3" or "/section_opening": one tap opens it (in Telegram "/section 开头" is tappable only up to
    the space)."""
    return command_for(ref) if doc.has(ref) else f"/section {esc(ref)}"


def quiz_already_running() -> str:
    return "本群正在进行一轮测验，请先答完（或由发起人、管理员发送 /stopquiz 结束）。"


def quiz_no_questions(scope: str) -> str:
    return f"“{esc(scope)}”范围内暂时没有题目。试试 /quiz all 从全文出题。"


def quiz_usage(max_questions: int) -> str:
    return (f"用法：/quiz [题数] [范围]。题数 1–{max_questions}，默认 5；范围可写 today（今天的内容）、"
            "all（全文）或要点编号如 2.3，默认是本群已学过的内容。例如：/quiz 3 二、1")


def quiz_cannot_send_polls() -> str:
    return "⚠️ 我在这个群里无法发送投票，测验已结束。请管理员在群权限中允许发送投票后再试。"


def quiz_not_running() -> str:
    return "本群当前没有进行中的测验。发送 /quiz 开始一轮。"


def quiz_stop_refused() -> str:
    return "只有发起本轮测验的人或群管理员可以结束测验。"


def member_name(names: dict[int, str], user_id: int) -> str:
    return esc(_clip(names.get(user_id, f"成员{user_id}"), 24))


def quiz_results(doc: Document, polls: Sequence[PollRecord], answers: Sequence[AnswerRecord],
                 names: dict[int, str], questions: dict[str, Question], stopped: bool) -> str:
    results = [QuestionResult(p.poll_id, p.ref, {a.user_id: a.correct for a in answers if a.poll_id == p.poll_id})
               for p in polls]
    summary = round_summary(results)
    head = "⏹ <b>测验已结束</b>" if stopped else "🏁 <b>本轮测验结束</b>"
    lines = [f"{head}（共 {summary.questions} 题，{summary.participants} 人参与）"]
    if not summary.participants:
        lines.append("这一轮没有人作答。下次一起来吧！")
        return "\n".join(lines)
    lines.append("")
    for place, user_id, score in summary.ranking[:RANKING_SHOWN]:
        assert isinstance(user_id, int)
        lines.append(f"{medal(place, score)} {member_name(names, user_id)}　{score}/{summary.questions}")
    if len(summary.ranking) > RANKING_SHOWN:
        lines.append(f"……等共 {len(summary.ranking)} 人")
    by_poll = {p.poll_id: p for p in polls}
    if summary.most_missed:
        lines += ["", "<b>错得最多的题</b>（建议回看原文）："]
        for missed in summary.most_missed:
            question = questions.get(by_poll[missed.question_id].question_id)
            text = to_display(question.question.split("\n", 1)[0]) if question else missed.question_id
            lines.append(f"· {esc(_clip(text, 36))} {section_tags(doc, [missed.ref])}{missed.wrong}/{missed.answered}"
                         f" 人答错　{section_command(doc, missed.ref)}")
    lines.append("\n发送 /leaderboard 查看排行榜，/mystats 查看个人统计。")
    return "\n".join(lines)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def leaderboard_usage() -> str:
    return "排行榜可以看总榜或本周榜：/leaderboard（总榜）、/leaderboard week（近 7 天）。"


def leaderboard(scores: dict[int, tuple[int, int]], names: dict[int, str], week: bool) -> str:
    title = "本周排行榜（近 7 天）" if week else "总排行榜"
    if not scores:
        return f"🏆 <b>{title}</b>\n还没有人答过题。发送 /quiz 开始一轮测验！"
    lines = [f"🏆 <b>{title}</b>"]
    ranking = rank({user: correct for user, (correct, _) in scores.items()})
    for place, user_id, correct in ranking[:RANKING_SHOWN]:
        answered = scores[user_id][1]
        lines.append(f"{medal(place, correct)} {member_name(names, user_id)}　{correct} 分"
                     f"（答 {answered} 题，正确率 {percent(correct, answered)}%）")
    other = "/leaderboard all 查看总榜" if week else "/leaderboard week 查看本周榜"
    lines.append(f"\n{other}")
    return "\n".join(lines)


def member_stats(doc: Document, name: str, answers: Sequence[AnswerRecord], today: date) -> str:
    if not answers:
        return f"{esc(name)}，你在本群还没有答过题。发送 /quiz 开始一轮测验！"
    correct = sum(a.correct for a in answers)
    stats = section_stats((a.ref, {a.poll_id: a.correct}) for a in answers)
    weak = weakest_sections(stats)
    lines = [f"📈 <b>{esc(name)} 的答题统计</b>",
             f"答题：{len(answers)} 题　答对：{correct} 题　正确率：{percent(correct, len(answers))}%",
             f"连续答题：{streak((a.local_date for a in answers), today)} 天"]
    if weak:
        lines.append(f"薄弱环节：{section_tags(doc, weak)}（可用 {section_command(doc, weak[0])} 回看）")
    return "\n".join(lines)


# --- campaign records: /report, /export, the weekly digest (issue 10b) ------------------------------------------
# The words written into export files and charts live in records/wording.py, a catalogue this section owns.

REPORT_DAYS_SHOWN = 14  # per-day lines in the group summary; older days are in the private table and the export
REPORT_TOP_SHOWN = 5


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _period_text(summary: RecordSummary) -> str:
    p = summary.campaign.period
    return f"{esc(p.label)}：{p.first:%m-%d}" + (f" 至 {p.last:%m-%d}" if p.last != p.first else "")


def report_group(summary: RecordSummary, members_total: int | None, link: str | None, sent: bool) -> str:
    """The group's short report: counts and rates only, a few top names; the full table goes in private."""
    c = summary.campaign
    lines = [f"📊 <b>学习报告</b> · {esc(_clip(c.title, 30))}（{_period_text(summary)}）"]
    roster = len(summary.members)
    counted = f"{roster} 人" + (f"（群成员 {members_total} 人）" if members_total else "")
    lines.append(f"推送天数：{summary.days_pushed} 天　记录在册：{counted}")
    if summary.days:
        lines.append(f"打卡率：平均 {_pct(summary.rate)}")
        shown = summary.days[-REPORT_DAYS_SHOWN:]
        if len(summary.days) > len(shown):
            lines.append(f"  （只列最近 {len(shown)} 天）")
        lines += [f"  {d.local_date:%m-%d} 第 {d.day} 天　{d.checked}/{d.expected}（{_pct(d.rate)}）"
                  + (f" 含补学 {d.late}" if d.late else "") for d in shown]
    else:
        lines.append("这段时间还没有推送。")
    if summary.quiz_answers:
        lines.append(f"测验：{summary.quiz_members} 人参与，作答 {summary.quiz_answers} 次，正确率 "
                     f"{_pct(summary.accuracy)}")
    else:
        lines.append("测验：这段时间没有人作答。")
    if summary.today_missing is not None:
        lines.append(f"今天还有 {summary.today_missing} 人未打卡。")
    top = [m for m in summary.top(REPORT_TOP_SHOWN) if m.checked > 0]  # no star for 0 days
    if top:
        names = "、".join(f"{esc(_clip(m.name, 12))}（{m.checked} 天）" for m in top)
        lines.append(f"🏅 学习之星：{names}")
    if sent:
        lines.append("\n完整的成员明细已私信发给你。")
    elif link:
        lines.append(f'\n完整的成员明细只在私聊里发送：请先<a href="{esc(link)}">点这里打开与我的私聊</a>，'
                     "点“开始”后我就发给你。")
    return "\n".join(lines)


def report_private(summary: RecordSummary) -> list[str]:
    """The admin's full per-member table, fewest check-ins first, split to fit Telegram's limit."""
    c = summary.campaign
    head = [f"📋 <b>成员明细</b> · {esc(_clip(c.title, 30))}（{_period_text(summary)}）",
            f"推送 {summary.days_pushed} 天；格式：打卡 已打/应打（打卡率）· 连续 · 答对/答题", ""]
    rows = sorted(summary.members, key=lambda m: (m.rate, m.checked, m.name, m.user_id))
    lines = []
    for m in rows:
        line = (f"{esc(_clip(m.name, 16))}　打卡 {m.checked}/{m.expected}（{_pct(m.rate)}）"
                f" · 连续 {m.streak} · 答对 {m.correct}/{m.answered}")
        if m.late:
            line += f" · 补学 {m.late}"
        if m.excused:
            line += f" · 请假 {m.excused} 天"
        if m.weakest:
            line += f" · 薄弱 {esc(' '.join(m.weakest))}"
        lines.append(line)
    if not lines:
        lines.append("还没有记录到成员。")
    lines += ["", "完整台账（每人每天一行）：在群里发送 /export（CSV：/export csv）。"]
    return split_lines("\n".join(head + lines))


def report_table_attached(members: int) -> str:
    return (f"成员较多（{members} 人），以上只列出打卡率最低的一部分；完整的成员明细见下面的 CSV 文件，"
            "每人每天的记录请在群里发送 /export。")


def report_usage() -> str:
    return ("用法：/report [week|month|all|开始日期..结束日期]\n例如：/report　/report month　/report 12-01..12-07\n"
            "（默认近 7 天）")


def export_usage() -> str:
    return ("用法：/export [week|month|all|开始日期..结束日期] [csv]\n例如：/export　/export month csv\n"
            "（默认全部日期，Excel 文件）")


def records_admins_only() -> str:
    return "抱歉，学习报告和台账只有群管理员可以查看。"


def records_in_group_only() -> str:
    return "请在学习群里发送这个命令（我需要知道是哪个群）。"


def records_link_expired() -> str:
    return "这个链接对应的群找不到了，或你已不是该群的管理员。"


def chart_caption(summary: RecordSummary) -> str:
    return f"📈 {esc(_clip(summary.campaign.title, 30))}：每日打卡率与各章节测验正确率（{_period_text(summary)}）"


def export_caption(summary: RecordSummary, fmt: str) -> str:
    kind = "Excel 表格" if fmt == "xlsx" else "CSV 文件（压缩包，Excel 可直接打开）"
    sheets = (*wording.SHEETS, *((wording.CHANNELS_SHEET,) if summary.campaign.channels else ()))  # robot channels
    return (f"📒 学习台账 · {esc(_clip(summary.campaign.title, 30))}（{_period_text(summary)}）\n{kind}："
            f"共 {len(sheets)} 张表（{'、'.join(sheets)}）。内含成员姓名，请妥善保管。")


def export_sent() -> str:
    return "学习台账已私信发给你。"


def export_link(link: str) -> str:
    return (f'学习台账只在私聊里发送：请先<a href="{esc(link)}">点这里打开与我的私聊</a>，'
            "点“开始”后我就把文件发给你。")


def export_failed() -> str:
    return "生成台账时出错了，请稍后再试。"


def digest_intro(title: str) -> str:
    return f"🗓 每周学习简报 · {esc(_clip(title, 30))}（上周）"


def plan_finished_export() -> str:
    return "🎓 本群已学完全部内容，附上完整的学习台账，供存档和上报。"


# --- campaign records: check-ins, roster, excuses, reminders, daily quiz, end of plan (issue 10a) ------------

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


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{esc(_clip(name, 24))}</a>'


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
    return ("用法：/excuse @用户名 12-01..12-05 出差，或回复该成员的消息发送 /excuse 12-01..12-05 出差。"
            "日期可写 12-01、12-01..12-05、今天；取消请假：/excuse @用户名 取消。")


def excuse_unknown(who: str) -> str:
    return (f"名单里没有找到“{esc(_clip(who, 24))}”。请用 @用户名，或回复该成员的消息再发送 /excuse。"
            "（成员在群里发过言或点过按钮后才会出现在名单里。）")


def excuse_ambiguous(who: str, count: int) -> str:
    return f"名单里有 {count} 人叫“{esc(_clip(who, 24))}”，请用 @用户名，或回复该成员的消息再发送 /excuse。"


def excuse_done(name: str, start: date, end: date, reason: str) -> str:
    when = f"{start:%m-%d}" if start == end else f"{start:%m-%d} 至 {end:%m-%d}"
    why = f"（{esc(_clip(reason, 40))}）" if reason else ""
    return f"✅ 已登记 {esc(_clip(name, 24))} 请假：{when}{why}。请假期间不计缺勤，也不会被提醒。"


def excuse_cancelled(name: str, count: int) -> str:
    if not count:
        return f"{esc(_clip(name, 24))} 今天起没有请假记录。"
    return f"✅ 已取消 {esc(_clip(name, 24))} 今天起的请假。"


def roster_usage() -> str:
    return "用法：/roster 查看名单（完整名单私信发给管理员），/roster remove @用户名 把已离开的人移出名单。"


def roster_count(present: int, chat_size: int | None, sent_privately: bool) -> str:
    size = f"（群成员共 {chat_size} 人，不含机器人）" if chat_size is not None else ""
    where = "完整名单已私信发给你。" if sent_privately else ""
    return f"📋 本群名单已登记 {present} 人{size}。{where}"


def private_needed(link: str) -> str:
    return f'完整名单只发在私聊里：请先<a href="{esc(link)}">点这里和我私聊</a>，再回到群里发送命令。'


def roster_table(title: str, members: Sequence[Member], excused_today: Collection[int], zone: str) -> list[str]:
    """The full roster for an admin's private chat, split into messages under Telegram's limit."""
    lines = [f"📋 <b>{esc(title)}</b> 名单（{sum(m.status == 'present' for m in members)} 人在群）", ""]
    status = {"present": "", "left": "（已退群）", "removed": "（已移出名单）"}
    for i, m in enumerate(members, 1):
        at = f" @{esc(m.username)}" if m.username else ""
        joined = (f" · {datetime.fromtimestamp(m.joined_at, ZoneInfo(zone)):%Y-%m-%d} 入群"
                  if m.joined_at is not None else "")
        off = " · 今天请假" if m.user_id in excused_today else ""
        lines.append(f"{i}. {esc(_clip(m.name, 24))}{at}{status.get(m.status, '')}{joined}{off}")
    if not members:
        lines.append("还没有登记任何成员：成员在群里发言、点按钮或答题后会自动登记。")
    return split_lines("\n".join(lines))


def roster_removed(name: str) -> str:
    return f"✅ 已把 {esc(_clip(name, 24))} 移出名单（以往的学习记录保留）。"


def roster_not_found(who: str) -> str:
    return f"名单里没有找到“{esc(_clip(who, 24))}”。请用 @用户名，或回复该成员的消息再发送 /roster remove。"


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
# --- personal review (private chat) ----------------------------------------------------------------------------

REVIEW_BUTTON = "📚 去私聊复习"


def review_link(bot_username: str, chat_id: int) -> str:
    """A t.me deep link that opens the private chat and tells the bot which group the member came from."""
    return f"https://t.me/{bot_username}?start=review_{chat_id}"


def review_link_keyboard(bot_username: str | None, chat_id: int) -> InlineKeyboardMarkup | None:
    if not bot_username:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(REVIEW_BUTTON, url=review_link(bot_username, chat_id))]])


def review_in_group() -> str:
    return "个人复习在私聊里进行：点下面的按钮打开与我的私聊，发送 /review 开始。"


def review_no_groups() -> str:
    return ("你还没有在任何学习群里答过题。先在群里参加一轮测验（/quiz），答错的题会在这里按间隔重复出现，"
            "帮你记牢。")


def review_choose_group() -> str:
    return "你在多个学习群里答过题，请选择要复习哪个群的内容："


def review_groups_keyboard(groups: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_clip(title or str(chat_id), 30),
                                                       callback_data=f"rv:grp:{chat_id}")]
                                 for chat_id, title in groups])


def review_intro(title: str, count: int) -> str:
    where = f"“{esc(title)}”" if title else "本群"
    return (f"📚 <b>复习开始</b>：{where}的 {count} 道到期题目，一次一题。"
            "答对的题下次间隔更长，答错的题明天再来。")


def review_question(text: str, number: int, multiple: bool = False) -> str:
    prefix = f"［复习第 {number} 题］" + (MULTIPLE_MARK if multiple and "多选" not in text else "")
    return prefix + to_display(text)[: 300 - len(prefix)]


def review_missed(doc: Document, question: Question, proof: str | None) -> str:
    label = doc.section(question.ref).label if doc.has(question.ref) else question.ref
    lines = [f"✘ 正确答案：<b>{esc(to_display('、'.join(question.answers)))}</b>"]
    if proof:
        lines.append(f"原文：“{esc(to_display(proof))}”〔{esc(label)}〕")
    else:
        lines.append(f"出处：〔{esc(label)}〕")
    lines.append(f"回看原文：/section {esc(question.ref)}")
    return "\n".join(lines)


def _when(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    day = {0: "今天", 1: "明天", 2: "后天"}.get(days, f"{local.month}月{local.day}日")
    return f"{day} {local:%H:%M}"


def review_done(right: int, total: int, when: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    lines = [f"✅ <b>本次复习完成</b>：答对 {right} / {total} 题。"]
    if when is not None:
        lines.append(f"下一道复习题 {_when(when, zone, now)} 到期，到时发送 /review 继续。")
    lines.append("设置每日提醒：/reminder 21:00")
    return "\n".join(lines)


def review_nothing_due(title: str, when: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    where = f"“{esc(title)}”" if title else "这个群"
    if when is None:
        head = f"👍 {where}目前没有需要复习的题。在群里答错的题会出现在这里。"
    else:
        head = f"👍 {where}目前没有到期的复习题，下一道 {_when(when, zone, now)} 到期。"
    return head + "\n想多练几道？点下面的按钮，来几道最近学过内容的新题。"


def review_fresh_keyboard(chat_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("🆕 来几道新题", callback_data=f"rv:new:{chat_id}")]])


def review_no_fresh() -> str:
    return "最近学过的内容暂时没有新题了，过几天再来看看。"


def review_reminder(due: int) -> str:
    return f"⏰ 今天有 {due} 道复习题到期。发送 /review 开始复习（关闭提醒：/reminder off）。"


def reminder_set(at: str, zone: str) -> str:
    return f"⏰ 已设置：每天 {esc(at)}（{esc(zone)}）有到期复习题时提醒你。关闭：/reminder off"


def reminder_off() -> str:
    return "已关闭复习提醒。"


def reminder_usage(current: str | None) -> str:
    now = f"当前：每天 {esc(current)} 提醒。" if current else "当前：未设置提醒。"
    return f"{now}\n用法：/reminder 21:00 设置每日复习提醒，/reminder off 关闭（只在私聊中使用）。"


def private_only() -> str:
    return "这个命令只能在与我的私聊中使用。"


def forget_confirm() -> str:
    return ("确定要删除你的全部个人复习记录吗？包括复习卡片、复习进度和提醒设置（群里的测验成绩不受影响）。"
            "此操作无法撤销。")


def forget_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("确认删除", callback_data="rv:forget:yes"),
                                  InlineKeyboardButton("取消", callback_data="rv:forget:no")]])


def forgotten(cards: int) -> str:
    return f"已删除你的个人复习记录（{cards} 张复习卡片）和提醒设置。"


def forget_cancelled() -> str:
    return "已取消，复习记录保留。"


def review_stale() -> str:
    return "这个按钮已失效。"


def chart_file_name(summary: RecordSummary) -> str:
    return f"学习报告图表_{summary.campaign.period.first:%Y%m%d}-{summary.campaign.period.last:%Y%m%d}.png"


def mastery_file_name(summary: RecordSummary) -> str:
    return f"掌握度热力图_{summary.campaign.period.first:%Y%m%d}-{summary.campaign.period.last:%Y%m%d}.png"


def mastery_caption(summary: RecordSummary) -> str:
    shown = min(len(summary.campaign.mastery), MASTERY_MOST_MEMBERS)
    return (f"🧠 各章节掌握度热力图（{shown} 人，掌握最弱的在上）：绿色掌握好，红色需加强，灰色尚未接触。"
            "数值见台账的“掌握度”工作表。")


def mastery_lines(doc: Document, strong: Sequence[str], weak: Sequence[str], figures: dict[str, float]) -> str:
    """/mystats' mastery line: strongest and weakest sections with their figures (rounded half up)."""
    def named(refs: Sequence[str]) -> str:
        return "".join(f"〔{esc(doc.section(r).label if doc.has(r) else r)}〕{_percent(figures[r])}" for r in refs)

    lines = []
    if strong:
        lines.append(f"掌握较好：{named(strong)}")
    if weak:
        lines.append(f"需要加强：{named(weak)}（私聊 /review 复习）")
    return "\n".join(lines)


def _percent(share: float) -> str:
    return f"{int(share * 100 + 0.5)}%"  # half up, as `percent`


# --- navigation by inline buttons (issue 11) -----------------------------------------------------------------
# Callback data: "toc[:page]" and "sec:REF[:page[:day]]" edit the pressed message in place; "open:REF" and "opentoc"
# (under a daily reading or search hits, which stay as they were sent) post a new message; "rd:REF[:day]" opens a
# reading's sections; "srch:PAGE:QUERY" shows another page of search hits in place.

ROW_SIZE = 5


def command_for(ref: str) -> str:
    """A tappable command for a section: /section_2_3, /section_2, /section_opening (commands are [a-z0-9_])."""
    return "/section_" + ref.replace(".", "_")


def ref_of_command(tail: str) -> str:
    """The reverse of command_for: '2_3' → '2.3'."""
    return tail.replace("_", ".")


def _rows(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i:i + ROW_SIZE]) for i in range(0, len(buttons), ROW_SIZE)]


def toc_keyboard(doc: Document, page: int = 0, pages: int = 1) -> InlineKeyboardMarkup:
    """One row per part: the part, then its points; the opening and closing on their own rows."""
    rows: list[list[InlineKeyboardButton]] = []
    if doc.opening is not None:
        rows.append([InlineKeyboardButton("📖 开头", callback_data="sec:opening")])
    for part in doc.parts:
        buttons = [InlineKeyboardButton(f"📖 {short_name(part.section)}", callback_data=f"sec:{part.section.ref}")]
        buttons += [InlineKeyboardButton(p.label, callback_data=f"sec:{p.ref}") for p in part.points]
        rows += _rows(buttons)
    if doc.closing is not None:
        rows.append([InlineKeyboardButton("📖 结语", callback_data="sec:closing")])
    if pages > 1:
        rows.append(_pager("toc", page, pages))
    return InlineKeyboardMarkup(rows)


def _pager(prefix: str, page: int, pages: int, suffix: str = "") -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(f"◀ 上一页（{page}/{pages}）", callback_data=f"{prefix}:{page - 1}{suffix}"))
    if page + 1 < pages:
        row.append(InlineKeyboardButton(f"下一页（{page + 2}/{pages}）▶", callback_data=f"{prefix}:{page + 1}{suffix}"))
    return row


def section_keyboard(doc: Document, section: Section, page: int = 0, pages: int = 1,
                     reading: Reading | None = None) -> InlineKeyboardMarkup:
    """Pages of a long section, the reading's other sections (opened from 读全文), then ◀ previous · 目录 · next ▶."""
    day = f":{reading.day}" if reading is not None else ""
    rows: list[list[InlineKeyboardButton]] = []
    if pages > 1:
        rows.append(_pager(f"sec:{section.ref}", page, pages, day))
    if reading is not None and len(reading.refs) > 1:
        rows.append([InlineKeyboardButton(("✔ " if ref == section.ref else "📖 ") + short_name(doc.section(ref)),
                                          callback_data=f"sec:{ref}:0{day}") for ref in reading.refs])
    before, after = doc.neighbours(section.ref)
    nav = []
    if before is not None:
        nav.append(InlineKeyboardButton(f"◀ {short_name(before)}", callback_data=f"sec:{before.ref}"))
    nav.append(InlineKeyboardButton("目录", callback_data="toc"))
    if after is not None:
        nav.append(InlineKeyboardButton(f"{short_name(after)} ▶", callback_data=f"sec:{after.ref}"))
    rows.append(nav)
    return InlineKeyboardMarkup(rows)


READING_DAY = re.compile(r"第 (\d+) 天 / 共")


def reading_day_in(text: str) -> int | None:
    """The plan day a reading message names in its header (a push's 读全文 button carries only a reference)."""
    found = READING_DAY.search(text)
    return int(found.group(1)) if found else None


def offline_private_label() -> str:
    return "🔒 私聊 · 学习助手"


def offline_file_saved(path: str, caption: str) -> str:
    return (f"{caption}\n" if caption else "") + f"📎 文件已保存：{path}"


def demo_filled(days: int, checkins: int, answers: int) -> str:
    return (f"  （本地演示：已模拟 8 位成员一周的学习记录——新增推送 {days} 天、打卡 {checkins} 次、答题 {answers} 次。"
            "试试 /report、/export、/export csv）\n")


# --- robot channels (WeCom, DingTalk, Feishu): plain wording, laid out per platform by bot/robots/formats.py ----


def robot_title(reading: Reading) -> str:
    """DingTalk shows this short title in the notification preview."""
    return f"每日学习 · 第 {reading.day} 天"


def robot_refs(doc: Document, reading: Reading) -> str:
    return "出处：" + "；".join(section_name(doc.section(r)) for r in reading.refs) if reading.refs else ""


def robot_part(text: str, part: int, parts: int) -> str:
    return f"{text}（{part}/{parts}）" if parts > 1 else text


def robot_question(question: str, options: Sequence[str]) -> str:
    lines = [f"📝 每日一题：{question}", *(f"{'ABCDEFGHIJ'[i]}. {o}" for i, o in enumerate(options))]
    return "\n".join([*lines, "（答案和解析随明天的推送公布）"])


def robot_question_title() -> str:
    return "每日一题"


def robot_answer(question: str, letter: str, answer: str, explanation: str) -> str:
    tail = f"\n解析：{explanation}" if explanation else ""
    return f"✅ 昨日一题「{question}」答案：{letter}. {answer}{tail}"


def robot_test_message(name: str) -> str:
    return f"学习助手测试消息：机器人「{name}」已连通，每日学习内容将按计划发到本群。"


# --- robot channels for the organizer: /report, /export, the weekly digest, the stop notice (issue 14b) -------

CHANNEL_PLATFORMS = {"wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书"}
CHANNEL_STOP_CAUSES = {
    "removed": "机器人已被移出群聊，或它的 Webhook 地址已重置",
    "signature": "签名校验失败（加签密钥不对，或服务器时间与平台相差超过一小时）",
    "keyword": "消息里没有机器人安全设置中的自定义关键词",
    "ip": "服务器的 IP 地址不在机器人的 IP 白名单里",
    "refused": "平台拒收了消息",
}


def channel_platform(kind: str) -> str:
    return CHANNEL_PLATFORMS.get(kind, kind)


def channel_when(channel: ChannelConfig) -> str:
    if channel.schedule is None:
        return "跟随本群推送"
    s = channel.schedule
    return f"{format_weekdays(s.weekdays)} {s.time:%H:%M}（{zone_label(s.timezone)}）"


def channel_state(status: ChannelStatus) -> str:
    """正常, 连续失败 n 次, or 已停止 with why (never the platform's raw answer: it may be English)."""
    if status.stopped:
        return f"已停止：{CHANNEL_STOP_CAUSES[status.cause]}"
    if status.row.failures:
        return f"最近连续失败 {status.row.failures} 次"
    return "正常"


def report_channels(statuses: Sequence[ChannelStatus]) -> str:
    """Lines under the group's /report summary: channels have no members, so days posted, last post, state."""
    lines = ["🤖 <b>机器人渠道</b>"]
    for s in statuses:
        last = f"最近 {s.row.last_pushed:%m-%d}" if s.row.last_pushed else "还没有推送过"
        mark = "⚠️ " if s.failing else ""
        lines.append(f"  {mark}{esc(s.channel.name)}（{channel_platform(s.channel.kind)}，{channel_when(s.channel)}）："
                     f"本期推送 {s.days_posted} 天，{last}，{channel_state(s)}")
    return "\n".join(lines)


def digest_channels_failing(names: Sequence[str]) -> str:
    return (f"⚠️ 机器人渠道 {'、'.join(esc(n) for n in names)} 一直推送失败或已停止，请检查机器人设置"
            "（服务器上运行 studybot groups 可看详情）。")


def channel_stopped(name: str, kind: str, cause: str) -> str:
    """The one private notice to the group's admins when a channel stops."""
    platform = channel_platform(kind)
    return (f"⚠️ 机器人渠道「{esc(name)}」（{platform}）已停止推送：{CHANNEL_STOP_CAUSES[cause]}。\n"
            f"请在{platform}群里检查这个机器人的设置，或修改配置文件中的 channels，然后在服务器上运行 "
            f"<code>studybot channels test {esc(name)}</code>；测试消息发送成功后，渠道会恢复每天推送。")

