"""Quiz rounds in the group: questions, options, results, the leaderboard and a member's own figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.render.core import clip, command_for, esc, member_name, percent
from bot.store import AnswerRecord, PollRecord
from content.model import Document
from content.questions import Question
from content.scoring import QuestionResult, rank, round_summary, section_stats, streak, weakest_sections
from content.typography import to_display

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


# Keeps results and leaderboards far below Telegram's 4096 characters, whatever the members' names.
RANKING_SHOWN = 20


SCOPE_LABELS = {"all": "全文", "today": "今天的内容", "read": "已学内容"}


def scope_label(scope: str) -> str:
    """How a quiz's scope is named in the chat: the whole speech (all), today's reading (today), all read so far."""
    return SCOPE_LABELS[scope]


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
            lines.append(f"· {esc(clip(text, 36))} {section_tags(doc, [missed.ref])}{missed.wrong}/{missed.answered}"
                         f" 人答错　{section_command(doc, missed.ref)}")
    lines.append("\n发送 /leaderboard 查看排行榜，/mystats 查看个人统计。")
    return "\n".join(lines)


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
