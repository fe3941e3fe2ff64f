"""The help text, the command list and the short answers to bad, refused or throttled input."""

from __future__ import annotations

from bot.render.core import esc
from bot.render.refs import ref_problem
from content.model import Document
from content.refs import RefError

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
    "/excuse @用户名（或名单上的名字） 12-01..12-05 出差 登记请假（也可回复该成员的消息）",
    "/remind 20:30 推送日晚上提醒未打卡的成员（/remind off 关闭）",
    "/report 学习报告（week、month、上周、上月、11月、all 或 12-01..12-07；明细私信发送）",
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
        lines += ["", "（本地离线模式：/pushnow 立即推送下一段，/as 小王 换成另一位成员发言，"
                  "/demo 模拟一周的学习记录，/remindnow 快进到今晚的打卡提醒，私聊 /review 在与机器人的私聊里发言，"
                  "#3 第1天 点第 1 天推送下的按钮（补学），回复 小王 /excuse 今天 以回复的方式发言，"
                  "/join 小赵、/leave 小王 让成员入群或退群，私聊 /stop 关闭与机器人的私聊）"]
    return "\n".join(lines)


def section_usage() -> str:
    return ("请在命令后写上要看的部分或要点，例如：\n/section 2.3　或　/section 二、3\n"
            "/section 2（整个第二部分）　/section_opening（开头）　/section_closing（结语）\n"
            "点一下就能打开：/section_2_3　用 /toc 查看目录。")


def ref_error(text: str, doc: Document, error: RefError) -> str:
    """A /section reference that names nothing: why, and what would work (examples given once)."""
    reason = esc(ref_problem(doc, error))
    if error.problem == "unreadable":  # the reason already quotes the text and shows how to write one
        return f"{reason}\n或用 /toc 查看目录。"
    return f"找不到“{esc(text.strip()[:30])}”。{reason}\n例如：/section 2.3　或用 /toc 查看目录。"


def unknown_command(command: str) -> str:
    return f"我不认识 {esc(command)} 这个命令。发送 /help 查看可用命令。"


def plain_text_hint() -> str:
    return "可以发送“目录”、“搜索 关键词”或要点编号（如 二、3），也可以用 /help 查看全部命令。"


def throttled() -> str:
    return "操作太频繁，请稍后再试。"


def group_over_budget() -> str:
    """Told once when a group sends more commands than the bot may answer in a minute (Telegram's ~20)."""
    return "本群命令太多：机器人每分钟最多回复约 20 条，多出的命令这次不会回复，请稍后再试。"


def chat_not_allowed() -> str:
    return "您好！这个学习助手只为指定的学习群服务，暂时不能在本群使用，我先退出了。如需使用，请联系机器人的管理者。"


def admins_only() -> str:
    return "抱歉，这个设置只有群管理员可以修改。"
