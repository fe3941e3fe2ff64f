"""The daily reading: its header, its text split into messages, and the end of the plan."""

from __future__ import annotations

import re

from bot.render.core import MESSAGE_LIMIT, esc, section_name, short_name
from content.model import Document, Reading
from content.readings import covered_sections
from content.split import split_text as split_at_sentences
from content.split import utf16_len
from content.typography import to_display


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


def reading_note(upcoming: bool, started: bool, day: int = 1, subscribed: bool = False) -> str:
    """The line above /today or /next; before the first push, /today shows what it will send (day 1, or the day an
    admin's /goto chose) and says how to get going: subscribe, or wait for the push to check in under it."""
    if upcoming:
        return "⏭ 下一次推送的内容：\n\n"
    if started:
        return ""
    what = "第一天的内容" if day == 1 else f"第一次推送的第 {day} 天内容"
    how = "推送后在推送下方点“✅ 已学习”打卡" if subscribed else "管理员可发 /subscribe 订阅"
    return f"还没有开始推送，先看看{what}（{how}）：\n\n"


def plan_finished(doc: Document, total: int) -> str:
    return f"🎉 本群已学完《{esc(doc.title)}》全部 {total} 天的内容！管理员可用 /goto 1 从头再学。"


def finished_push(doc: Document, total: int, restart: bool) -> str:
    tail = "下次推送起将从第 1 天重新开始。" if restart else "每日推送已结束，管理员可用 /goto 1 从头再学。"
    return f"🎉 恭喜！本群已学完《{esc(doc.title)}》全部 {total} 天的内容。{tail}"


READING_DAY = re.compile(r"第 (\d+) 天 / 共")


def reading_day_in(text: str) -> int | None:
    """The plan day a reading message names in its header (a push's 读全文 button carries only a reference)."""
    found = READING_DAY.search(text)
    return int(found.group(1)) if found else None
