"""Personal review in private chat: review polls, what was missed, reminders, mastery and /forgetme."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render.core import clip, esc
from bot.render.quiz import MULTIPLE_MARK
from content.model import Document
from content.questions import Question
from content.typography import to_display

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
    return InlineKeyboardMarkup([[InlineKeyboardButton(clip(title or str(chat_id), 30),
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
