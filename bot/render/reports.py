"""The organizer's reports: /report in the group and in private, exports, charts and the weekly digest."""

from __future__ import annotations

from datetime import date

from bot.render.core import clip, esc, split_lines
from records import wording
from records.chart import MASTERY_MOST_MEMBERS
from records.ledger import Summary as RecordSummary
from records.model import Period

# The words written into export files and charts live in records/wording.py, a catalogue this module owns.

REPORT_DAYS_SHOWN = 14  # per-day lines in the group summary; older days are in the private table and the export


REPORT_TOP_SHOWN = 5


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _period_text(summary: RecordSummary) -> str:
    """近 7 天：11-26 至 12-02; a typed range is its own label (2025-12-01 至 2025-12-07 when not this year)."""
    return _period_label(summary.campaign.period)


def _dates(p: Period) -> str:
    return f"{p.first:%m-%d}" + (f" 至 {p.last:%m-%d}" if p.last != p.first else "")


def _period_label(p: Period) -> str:
    return esc(p.label.replace("..", " 至 ")) if p.dates_typed else f"{esc(p.label)}：{_dates(p)}"


def _period_phrase(p: Period) -> str:
    """The period as the subject of a sentence: 上周（11-23 至 11-29）, or a typed range's own dates."""
    return _period_label(p) if p.dates_typed else f"{esc(p.label)}（{_dates(p)}）"


def report_group(summary: RecordSummary, members_total: int | None, link: str | None, sent: bool) -> str:
    """The group's short report: counts and rates only, a few top names; the full table goes in private."""
    c = summary.campaign
    lines = [f"📊 <b>学习报告</b> · {esc(clip(c.title, 30))}（{_period_text(summary)}）"]
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
        lines.append(f"今天还有 {summary.today_missing} 人未打卡。" if summary.today_missing else "今天全员已打卡 👏")
    top = [m for m in summary.top(REPORT_TOP_SHOWN) if m.checked > 0]  # no star for 0 days
    if top:
        names = "、".join(f"{esc(clip(m.name, 12))}（{m.checked} 天）" for m in top)
        lines.append(f"🏅 学习之星：{names}")
    if sent:
        lines.append("\n完整的成员明细已私信发给你。")
    elif link:
        lines.append(f'\n完整的成员明细只在私聊里发送：请先<a href="{esc(link)}">点这里打开与我的私聊</a>，'
                     "点“开始”后我就发给你。")
    return "\n".join(lines)


def records_nothing(period: Period, first_push: date | None, command: str) -> str:
    """/report or /export of a period with no push and no answer (before the campaign, say): no table, no file."""
    text = f"📊 {_period_phrase(period)}：这段时间没有推送，也没有人答题，没有可统计的记录。"
    if first_push is None:
        return text + "本群还没有推送过（管理员发 /subscribe 订阅后每天推送，推送后即可打卡）。"
    return text + f"本群从 {first_push:%Y-%m-%d} 开始推送，发 {command} all 可查看全部。"


def report_private(summary: RecordSummary) -> list[str]:
    """The admin's full per-member table, fewest check-ins first, split to fit Telegram's limit."""
    c = summary.campaign
    head = [f"📋 <b>成员明细</b> · {esc(clip(c.title, 30))}（{_period_text(summary)}）",
            f"推送 {summary.days_pushed} 天；格式：打卡 已打/应打（打卡率）· 连续 · 答对/答题", ""]
    rows = sorted(summary.members, key=lambda m: (m.rate, m.checked, m.name, m.user_id))
    lines = []
    for m in rows:
        line = (f"{esc(clip(m.name, 16))}　打卡 {m.checked}/{m.expected}（{_pct(m.rate)}）"
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
    return ("用法：/report [week|month|上周|上月|11月|all|开始日期..结束日期]\n"
            "例如：/report　/report 上月　/report 12-01..12-07\n（默认近 7 天；month 为近 30 天，11月、上月为整月）")


def period_reversed(start: date, end: date, with_years: bool) -> str:
    """A date range typed end first (records.period.ReversedPeriod): its dates the right way round."""
    shown = "%Y-%m-%d" if with_years else "%m-%d"
    return (f"结束日期 {end:{shown}} 在开始日期 {start:{shown}} 之前。是要写 {end:{shown}}..{start:{shown}} 吗？"
            "跨年的时段请写上年份，例如 2026-12-28..2027-01-03。")


def export_usage() -> str:
    return ("用法：/export [week|month|上周|上月|11月|all|开始日期..结束日期] [csv]\n"
            "例如：/export　/export 11月 csv\n（默认全部日期，Excel 文件）")


def records_admins_only() -> str:
    return "抱歉，学习报告和台账只有群管理员可以查看。"


def records_in_group_only() -> str:
    return "请在学习群里发送这个命令（我需要知道是哪个群）。"


def records_link_expired() -> str:
    return "这个链接对应的群找不到了，或你已不是该群的管理员。"


def chart_caption(summary: RecordSummary) -> str:
    return f"📈 {esc(clip(summary.campaign.title, 30))}：每日打卡率与各章节测验正确率（{_period_text(summary)}）"


def export_caption(summary: RecordSummary, fmt: str) -> str:
    kind = "Excel 表格" if fmt == "xlsx" else "CSV 文件（压缩包，Excel 可直接打开）"
    sheets = (*wording.SHEETS, *((wording.CHANNELS_SHEET,) if summary.campaign.channels else ()))  # robot channels
    return (f"📒 学习台账 · {esc(clip(summary.campaign.title, 30))}（{_period_text(summary)}）\n{kind}："
            f"共 {len(sheets)} 张表（{'、'.join(sheets)}）。内含成员姓名，请妥善保管。")


def export_sent() -> str:
    return "学习台账已私信发给你。"


def export_link(link: str) -> str:
    return (f'学习台账只在私聊里发送：请先<a href="{esc(link)}">点这里打开与我的私聊</a>，'
            "点“开始”后我就把文件发给你。")


def export_failed() -> str:
    return "生成台账时出错了，请稍后再试。"


def digest_intro(title: str) -> str:
    return f"🗓 每周学习简报 · {esc(clip(title, 30))}（上周）"


def plan_finished_export() -> str:
    return "🎓 本群已学完全部内容，附上完整的学习台账，供存档和上报。"


def chart_file_name(summary: RecordSummary) -> str:
    return f"学习报告图表_{summary.campaign.period.first:%Y%m%d}-{summary.campaign.period.last:%Y%m%d}.png"


def mastery_file_name(summary: RecordSummary) -> str:
    return f"掌握度热力图_{summary.campaign.period.first:%Y%m%d}-{summary.campaign.period.last:%Y%m%d}.png"


def mastery_caption(summary: RecordSummary) -> str:
    shown = min(len(summary.campaign.mastery), MASTERY_MOST_MEMBERS)
    return (f"🧠 各章节掌握度热力图（{shown} 人，掌握最弱的在上）：绿色掌握好，红色需加强，灰色尚未接触。"
            "数值见台账的“掌握度”工作表。")
