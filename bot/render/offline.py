"""Wording of the offline local chat only: the private-chat label, saved files, /demo."""

from __future__ import annotations


def offline_private_label() -> str:
    return "🔒 私聊 · 学习助手"


def offline_toast(text: str) -> str:
    return f"弹出提示：{text}"


def offline_file_saved(path: str, caption: str) -> str:
    return (f"{caption}\n" if caption else "") + f"📎 文件已保存：{path}"


def demo_filled(days: int, checkins: int, answers: int) -> str:
    return (f"  （本地演示：已模拟 8 位成员一周的学习记录——新增推送 {days} 天、打卡 {checkins} 次、答题 {answers} 次。"
            "试试 /report、/export、/export csv）\n")
