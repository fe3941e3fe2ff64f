"""Wording of the offline local chat only: the private-chat label, saved files, /demo."""

from __future__ import annotations


def offline_private_label(member: str | None = None) -> str:
    """The private chat with the bot: yours, or a member's after `/as 小王`."""
    return f"🔒 {member}的私聊 · 学习助手" if member else "🔒 私聊 · 学习助手"


def offline_private_usage(prefix: str) -> str:
    return f"本地：在与机器人的私聊里发言，例如 {prefix} /review 或 {prefix} /help"


def offline_deep_link(payload: str) -> str:
    return f"本地：这个按钮打开与机器人的私聊，并替你发送 /start {payload}"


def offline_join_usage(names: list[str]) -> str:
    return f"本地：让一位成员入群或退群，例如 /join 小赵、/leave 小王；可选：{'、'.join(names)}"


def offline_joined(name: str, joins: bool) -> str:
    return f"本地：{name} {'加入了' if joins else '退出了'}群聊"


def offline_reply_usage(prefix: str) -> str:
    return f"本地：回复某人在群里的最新一条消息，例如 {prefix} 小王 /excuse 今天 病假"


def offline_reply_nothing(name: str) -> str:
    return f"本地：{name} 在这次运行里还没有在群里发过言，没有可以回复的消息（先 /as {name} 说一句话）"


def offline_text_link(text: str) -> str:
    return f"🔗 {text}"


def offline_private_stopped() -> str:
    return ("本地：你停用了与机器人的私聊（如同从未打开过），机器人不能再先给你发消息；"
            "在私聊里发言，或点群里的 t.me 链接，即可恢复")


def offline_link(url: str) -> str:
    return f"本地：这个按钮在 Telegram 里打开网址 {url}"


def offline_toast(text: str) -> str:
    return f"弹出提示：{text}"


def offline_file_saved(path: str, caption: str) -> str:
    return (f"{caption}\n" if caption else "") + f"📎 文件已保存：{path}"


def demo_filled(days: int, checkins: int, answers: int) -> str:
    return (f"  （本地演示：已模拟 8 位成员一周的学习记录——新增推送 {days} 天、打卡 {checkins} 次、答题 {answers} 次。"
            "试试 /report、/export、/export csv）\n")


def demo_nothing(database: str) -> str:
    return f"  （本地演示：学习计划已经全部推送完，没有新的日子可以模拟。想从头再来：退出后删除 {database} 再运行。）\n"


def offline_demo_clock(when: str, zone: str) -> str:
    return f"本地：模拟的一周排在上次推送之后，时钟已快进到 {when}，{zone}"


def offline_remind_first() -> str:
    return "本地：还没有设置打卡提醒，先发送 /remind 20:30，再用 /remindnow 快进到提醒时间"


def offline_clock_to_reminder(when: str, zone: str) -> str:
    return f"本地：时钟快进到今晚的提醒时间 {when}，{zone}"


def offline_no_reminder() -> str:
    return "本地：这次没有发出提醒：今天还没有推送、今天已经提醒过，或者大家都已打卡或请假"


def offline_banner(title: str, members: list[str]) -> str:
    """What the offline chat prints at start: what it is, how to reach Telegram instead, what to try."""
    return (
        "studybot — 离线本地聊天（offline）。没有配置 Telegram 令牌，机器人正连接内置的本地 Bot API 替身运行。\n"
        "To connect to Telegram: set TELEGRAM_BOT_TOKEN (or telegram.token in config.yaml) and run `studybot run` "
        "again.\n"
        f"你是演示群“{title}”的群主，群里还有{'、'.join(members)}。试试：/toc、/section 2.3、/search 终身学习、"
        "/subscribe、/pushnow、/quiz 3；/as 小王 换成另一位成员发言；/demo 模拟一周的学习记录，再试 /report、/export；"
        "私聊 /review 在与机器人的私聊里发言；输入 /help 查看全部命令，Ctrl-D 或 Ctrl-C 退出。\n"
    )


def offline_bot_label(edited: bool = False) -> str:
    """Who speaks in the demo group: the bot (an edited message says so)."""
    return "🤖 学习助手" + ("（已编辑）" if edited else "")


def offline_poll_closed() -> str:
    return "（投票已结束）"


def offline_poll_label() -> str:
    return "📊 测验"


def offline_poll(question: str, options: list[str]) -> str:
    lines = "\n".join(f"  {i}) {option}" for i, option in enumerate(options, start=1))
    return f"{question}\n{lines}\n（输入选项编号作答，例如 2）"


def offline_buttons(labels: list[str]) -> str:
    numbered = "  ".join(f"#{i} {text}" for i, text in enumerate(labels, start=1))
    return f"  按钮：{numbered}（输入 #编号 点击）"


def offline_no_day_button(day: int) -> str:
    return f"本地：这次运行里没有第 {day} 天的推送消息，或它下面没有这个编号的按钮"


def offline_no_button() -> str:
    return "没有这个按钮"


def offline_as_usage(choices: list[str]) -> str:
    return f"本地：/as 名字 以另一位成员的身份发言，可选：{'、'.join(choices)}；/as 我 换回自己"


def offline_speaking_as(name: str, owner: bool) -> str:
    return f"本地：现在以 {name}（{'群主' if owner else '普通成员'}）的身份发言"


def offline_no_poll() -> str:
    return "（没有可以作答的测验，或选项编号不对）"


def offline_already_answered() -> str:
    return "（这道题你已经答过了）"


def offline_verdict(correct: bool, right_answer: str, question: str = "") -> str:
    """Right or wrong, after the question's number when it has one (【1/2】: several may be open at once)."""
    which = question[:question.index("】") + 1] if question.startswith("【") and "】" in question else ""
    return which + ("✔ 回答正确！" if correct else f"✘ 回答错误，正确答案：{right_answer}")


def offline_plan_finished() -> str:
    return "本地：学习计划已经全部推送完，没有下一次推送了（管理员可用 /goto 1 从头再学）"


def offline_clock_to_plan_end(when: str, zone: str) -> str:
    return (f"本地：计划已全部推送，时钟快进到最后一天结束（当天测验截止）{when}，{zone}："
            "本群收到学习总结，管理员收到完整台账")


def offline_subscribe_first() -> str:
    return "本地：请先发送 /subscribe 订阅每日推送，或 /resume 恢复"


def offline_clock_jumped(when: str, zone: str) -> str:
    return f"本地：时钟快进到下一次推送时间 {when}，{zone}"
