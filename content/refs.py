"""Resolve what a person types to name a section (``2.3``, ``二、3``, ``第二部分第三点``, ``结语``)."""

from __future__ import annotations

import re
import unicodedata

from .model import CLOSING_REF, OPENING_REF, Document, Section
from .parser import int_to_cn, to_int

OPENING_WORDS = frozenset({"开头", "开场", "开篇", "开场白", "引言", "opening", "open", "0", "〇", "零"})
CLOSING_WORDS = frozenset({"结语", "结尾", "结束语", "结束", "尾声", "closing", "close", "end"})

# Brackets and quotes people wrap a reference in; stripped from both ends.
_WRAPPERS = "〔〕［］[]【】()（）{}｛｝「」『』《》〈〉<>“”‘’\"'`"
# Words that only say "part"/"point": they separate the numbers and are otherwise ignored.
_NOISE = re.compile(r"第|部分|部|点|条|项|段|节|part|point|§|#")
_SEPARATORS = re.compile(r"[\s.\-、,:;/\\_·—~()]+")
_POINT_WORD = re.compile(r"点|条|项|point")
_NUMERAL = re.compile(r"[0-9]+|[〇零一二三四五六七八九十两]+")
_MAX_TEXT = 40  # longer input is not a reference; refuse it before any work


class RefError(ValueError):
    """The text names no section of this speech; the message (Chinese, for chat) says what exists."""


def _normalise(text: str) -> str:
    # NFKC folds full-width digits, letters and most punctuation (２．３ → 2.3); lower() handles OPENING.
    return unicodedata.normalize("NFKC", text).strip().strip(_WRAPPERS).strip().lower()


def _numbers(text: str) -> list[int] | None:
    """The numbers in a reference such as ``二、3`` or ``第二部分第三点``; None if anything else is in it."""
    spaced = _SEPARATORS.sub(" ", _NOISE.sub(" ", text))
    tokens: list[str] = []
    for chunk in spaced.split():
        pieces = _NUMERAL.findall(chunk)
        if "".join(pieces) != chunk:
            return None
        tokens.extend(pieces)
    values = [to_int(token) for token in tokens]
    if not values or any(value is None for value in values):
        return None
    return [value for value in values if value is not None]


def _count_cn(number: int) -> str:
    return int_to_cn(number) if 0 <= number <= 99 else str(number)


def _overview(doc: Document) -> str:
    """``本讲话共四部分：一至四；开头、结语。`` (what can be named at the top level)."""
    count = len(doc.parts)
    span = doc.parts[0].section.label if count == 1 else f"{doc.parts[0].section.label}至{doc.parts[-1].section.label}"
    extras = [name for name, present in (("开头", doc.opening), ("结语", doc.closing)) if present is not None]
    tail = f"；{'、'.join(extras)}" if extras else ""
    amount = "两" if count == 2 else _count_cn(count)  # 共两部分, not 共二部分
    return f"本讲话共{amount}部分：{span}{tail}。"


def _points_note(doc: Document, part_number: int) -> str:
    part = doc.part(part_number)
    name = f"第{part.section.label}部分"
    if not part.points:
        return f"{name}没有分点，只能整体查看（{part.section.label}）。"
    return f"{name}只有 {len(part.points)} 点（{part.points[0].label} 至 {part.points[-1].label}）。"


def resolve(doc: Document, text: str) -> Section:
    """The section `text` names, or RefError with a short Chinese explanation of what exists."""
    cleaned = _normalise(text[: _MAX_TEXT * 4])[: _MAX_TEXT + 1]
    if not cleaned:
        raise RefError(f"请写出要看的部分，例如 2.3 或 二、3。{_overview(doc)}")
    if len(cleaned) > _MAX_TEXT:
        raise RefError(f"看不懂这个编号。{_overview(doc)}{_examples(doc)}")
    if cleaned in OPENING_WORDS:
        return _special(doc, OPENING_REF, "开头")
    if cleaned in CLOSING_WORDS:
        return _special(doc, CLOSING_REF, "结语")
    numbers = _numbers(cleaned)
    if numbers is None or len(numbers) > 2:
        raise RefError(f"看不懂“{cleaned}”。{_overview(doc)}{_examples(doc)}")
    if numbers == [0]:
        return _special(doc, OPENING_REF, "开头")
    if len(numbers) == 1 and _POINT_WORD.search(cleaned) and "部" not in cleaned:
        # “第三点” alone names no part; guessing part three would show the wrong text.
        raise RefError(f"请写明是哪一部分的第{_count_cn(numbers[0])}点，例如 二、{numbers[0]}。{_overview(doc)}")
    part = numbers[0]
    if not 1 <= part <= len(doc.parts):
        raise RefError(f"没有第{_count_cn(part)}部分。{_overview(doc)}")
    if len(numbers) == 1:
        return doc.part(part).section
    point = numbers[1]
    points = doc.part(part).points
    if not 1 <= point <= len(points):
        raise RefError(_points_note(doc, part))
    return points[point - 1]


def _special(doc: Document, ref: str, name: str) -> Section:
    if not doc.has(ref):
        raise RefError(f"本讲话没有{name}。{_overview(doc)}")
    return doc.section(ref)


def format_ref_help(doc: Document) -> str:
    """A short Chinese explanation of how to name sections of this speech, with what exists."""
    lines = [_overview(doc)]
    for part in doc.parts:
        label = part.section.label
        if part.points:
            lines.append(f"{label}、{part.section.heading}（{part.points[0].label} 至 {part.points[-1].label}）")
        else:
            lines.append(f"{label}、{part.section.heading}（无分点）")
    lines.append(_examples(doc))
    return "\n".join(lines)


def _examples(doc: Document) -> str:
    example = next((p.points[-1] for p in doc.parts if p.points), doc.parts[0].section)
    return f"写法示例：{' 或 '.join(_example_forms(example))}。"


def _example_forms(section: Section) -> list[str]:
    assert section.part is not None
    part_cn = int_to_cn(section.part)
    if section.point is None:
        return [str(section.part), part_cn, f"第{part_cn}部分"]
    point_cn = int_to_cn(section.point)
    return [f"{section.part}.{section.point}", section.label, f"第{part_cn}部分第{point_cn}点"]
