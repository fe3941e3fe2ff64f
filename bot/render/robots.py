"""Robot channels (WeCom, DingTalk, Feishu): the plain wording each platform's format lays out
(bot/robots/formats.py), and what the organizer sees of the channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.render.core import esc, section_name
from bot.render.settings import zone_label
from content.model import Document, Reading
from schedules.due import format_weekdays

if TYPE_CHECKING:  # wording only: the organizer's view of robot channels imports this module
    from bot.channels_view import ChannelStatus
    from bot.robots.channels import ChannelConfig


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
