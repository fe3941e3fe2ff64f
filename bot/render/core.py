"""Shared pieces of every message: Telegram's length limits, HTML escaping, section names, splitting, names."""

from __future__ import annotations

import html
import re

from content.model import Document, Section
from content.split import stripped_pieces
from content.typography import to_display

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


def percent(part: int, whole: int) -> int:
    """A share in whole percent, rounded half up (2 of 3 is 67%)."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def member_name(names: dict[int, str], user_id: int) -> str:
    return esc(clip(names.get(user_id, f"成员{user_id}"), 24))


def clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{esc(clip(name, 24))}</a>'


def command_for(ref: str) -> str:
    """A tappable command for a section: /section_2_3, /section_2, /section_opening (commands are [a-z0-9_])."""
    return "/section_" + ref.replace(".", "_")


def ref_of_command(tail: str) -> str:
    """The reverse of command_for: '2_3' → '2.3'."""
    return tail.replace("_", ".")
