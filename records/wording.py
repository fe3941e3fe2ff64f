"""The Chinese words of the campaign record's files and chart: sheet names, column headers, chart labels.

A catalogue owned by the renderer (`bot/render/reports.py` uses it): the writers in `records/` cannot import `bot/`,
so the words they write into files live here, next to them, and nowhere else.
"""

from __future__ import annotations

WEEK = "近 7 天"
MONTH = "近 30 天"
ALL = "全部"
LAST_WEEK = "上周"


def month_label(year: int, month: int, this_year: int) -> str:
    """11 月; 2025 年 11 月 when it is not this year's."""
    return f"{month} 月" if year == this_year else f"{year} 年 {month} 月"


LEDGER_SHEET = "台账"
SUMMARY_SHEET = "汇总"
QUIZ_SHEET = "测验"
DAYS_SHEET = "每日"
MASTERY_SHEET = "掌握度"
SHEETS = (LEDGER_SHEET, SUMMARY_SHEET, QUIZ_SHEET, DAYS_SHEET, MASTERY_SHEET)  # workbook order

# Headers whose columns the writers format (as a date, a date and time, a percentage): named once, used below.
DATE = "日期"
CHECKED_AT = "打卡时间"
CHECKIN_RATE = "打卡率"
ACCURACY = "正确率"
RATE_HEADERS = (CHECKIN_RATE, ACCURACY)

LEDGER_HEADERS = ("成员", "用户ID", DATE, "第几天", "阅读内容", "章节", CHECKED_AT, "补学", "请假", "请假事由",
                  "答题数", "答对数")
SUMMARY_HEADERS = ("成员", "用户ID", "应打卡天数", "已打卡天数", CHECKIN_RATE, "其中补学", "请假天数", "当前连续",
                   "最长连续", "答题数", "答对数", ACCURACY, "薄弱章节")
QUIZ_HEADERS = ("题目ID", "章节", "题目", "出题次数", "作答人次", "答对人次", ACCURACY)
DAYS_HEADERS = (DATE, "第几天", "阅读内容", "应打卡", "已打卡", "其中补学", CHECKIN_RATE)
MASTERY_HEADERS = ("成员", "用户ID")  # then one column per section, headed by its name
MASTERY_TITLE = "各章节掌握度（复习与测验）"
MASTERY_MEMBERS_AXIS = "成员"
YES = "是"
NO = ""

CHART_RATE_TITLE = "每日打卡率"
CHART_ACCURACY_TITLE = "各章节测验正确率"
CHART_NO_ANSWERS = "本期没有测验作答"
CHART_RATE_AXIS = CHECKIN_RATE
CHART_DATE_AXIS = DATE
CHART_SECTION_AXIS = "章节"

# Robot channels (issue 14b): a sheet only when the group has any.
CHANNELS_SHEET = "渠道"
CHANNELS_LAST_DATE = "最近推送日期"
CHANNELS_HEADERS = ("渠道", "平台", "推送方式", "本期推送天数", CHANNELS_LAST_DATE, "状态")

CSV_NAMES = {LEDGER_SHEET: "台账", SUMMARY_SHEET: "汇总", QUIZ_SHEET: "测验", DAYS_SHEET: "每日",
             MASTERY_SHEET: "掌握度"}  # the sheets every export has (a CSV of another sheet is named after it)
FILE_STEM = "学习台账"
MEMBERS_FILE = "成员明细"
