"""Why a reference names no section (content/refs.py's RefError), said with what the speech does have."""

from __future__ import annotations

from content.model import CLOSING_REF, OPENING_REF, Document, Section
from content.parser import int_to_cn
from content.refs import RefError

SPECIAL_NAMES = {OPENING_REF: "开头", CLOSING_REF: "结语"}


def ref_problem(doc: Document, error: RefError) -> str:
    """The short explanation (plain text) of why `error`'s reference names nothing in `doc`."""
    if error.problem == "empty":
        return f"请写出要看的部分，例如 2.3 或 二、3。{_overview(doc)}"
    if error.problem == "unreadable":
        what = f"“{error.text}”" if error.text else "这个编号"
        return f"看不懂{what}。{_overview(doc)}{_examples(doc)}"
    if error.problem == "point_without_part":
        return f"请写明是哪一部分的第{_count_cn(error.number)}点，例如 二、{error.number}。{_overview(doc)}"
    if error.problem == "no_part":
        return f"没有第{_count_cn(error.number)}部分。{_overview(doc)}"
    if error.problem == "no_point":
        return _points_note(doc, error.part)
    return f"本讲话没有{SPECIAL_NAMES.get(error.ref, error.ref)}。{_overview(doc)}"


def _count_cn(number: int) -> str:
    return int_to_cn(number) if 0 <= number <= 99 else str(number)


def _overview(doc: Document) -> str:
    """``本讲话共四部分：一至四；开头、结语。`` (what can be named at the top level)."""
    count = len(doc.parts)
    span = doc.parts[0].section.label if count == 1 else f"{doc.parts[0].section.label}至{doc.parts[-1].section.label}"
    extras = [SPECIAL_NAMES[ref] for ref, present in ((OPENING_REF, doc.opening), (CLOSING_REF, doc.closing))
              if present is not None]
    tail = f"；{'、'.join(extras)}" if extras else ""
    amount = "两" if count == 2 else _count_cn(count)  # 共两部分, not 共二部分
    return f"本讲话共{amount}部分：{span}{tail}。"


def _points_note(doc: Document, part_number: int) -> str:
    part = doc.part(part_number)
    name = f"第{part.section.label}部分"
    if not part.points:
        return f"{name}没有分点，只能整体查看（{part.section.label}）。"
    return f"{name}只有 {len(part.points)} 点（{part.points[0].label} 至 {part.points[-1].label}）。"


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
