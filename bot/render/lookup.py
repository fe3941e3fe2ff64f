"""Looking the speech up: the outline, a section's full text, search hits and the plan summary."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.core import breadcrumb, command_for, esc, section_name, short_name, split_lines, split_text
from content.model import Document, Reading, Section
from content.search import Page
from content.typography import to_display


def outline(doc: Document) -> str:
    lines = [f"📖 <b>{esc(to_display(doc.title))}</b>", ""]
    if doc.opening is not None:
        lines.append(f"<b>开头</b>　{command_for(doc.opening.ref)}")
    for part in doc.parts:
        lines.append(f"<b>{esc(section_name(part.section))}</b>　〔{part.section.ref}〕")
        for point in part.points:
            lines.append(f"　{point.point}. {esc(to_display(point.heading))}　〔{point.ref}〕")
    if doc.closing is not None:
        lines.append(f"<b>结语</b>　{command_for(doc.closing.ref)}")
    lines += ["", "点下方按钮查看，或发送 /section 2.3（或 二、3）"]
    return "\n".join(lines)


def outline_messages(doc: Document) -> list[str]:
    """The outline in as many messages as it needs: a long speech's outline can pass Telegram's limit."""
    return split_lines(outline(doc))


def section_messages(doc: Document, section: Section) -> list[str]:
    """The section's full text (a part with all its points), split across messages at sentence ends."""
    if section.kind == "part" and section.part is not None:
        pieces = [section.text, *(p.text for p in doc.part(section.part).points)]
        text = "\n\n".join(pieces)
    else:
        text = section.text
    header = f"📍 <b>{esc(breadcrumb(doc, section))}</b>"
    chunks = split_text(text)
    messages = []
    for i, chunk in enumerate(chunks):
        page = f"（{i + 1}/{len(chunks)}）" if len(chunks) > 1 else ""
        messages.append(f"{header}{page}\n\n{esc(to_display(chunk))}")
    return messages


def search_results(query: str, result: Page) -> str:
    """Hits of one page, the true number of matches, and how to see the next page."""
    query = query.strip()
    shown = esc(query[:40])
    if not query:
        return "请在 /search 后写上要找的词，例如：/search 终身学习（翻页：/search 终身学习 2）"
    if not result.total:
        return (f"没有找到“{shown}”。\n试试更短的词或换个说法，例如：/search 学习 理念\n"
                "也可以用 /toc 查看全文目录。")
    if not result.hits:
        return f"“{shown}”共找到 {result.total} 处，只有 {result.pages} 页。第一页：/search {shown}"
    last = result.first + len(result.hits) - 1
    if result.page == 1 and last == result.total:
        count = f"找到 {result.total} 处"
    elif result.page == 1:
        count = f"找到 {result.total} 处，显示前 {len(result.hits)} 处"
    else:
        count = f"找到 {result.total} 处，显示第 {result.first}–{last} 处"
    lines = [f"🔎 “{shown}”：{count}"]
    for hit in result.hits:
        lines.append(f"\n<b>〔{esc(hit.section.label)}〕</b> {esc(to_display(hit.section.heading))}\n"
                     f"{_snippet(hit.segments)}")
    lines.append("\n查看全文：点下方按钮，或发送 /section 加上方括号里的编号")
    if result.page < result.pages:
        lines.append(f"更多结果：/search {shown} {result.page + 1}")
    return "\n".join(lines)


def _snippet(segments: Sequence[tuple[str, bool]]) -> str:
    # Typography over the whole snippet (quotes nest across segments); it keeps lengths, so the cuts still hold.
    shown = to_display("".join(text for text, _ in segments))
    out, pos = [], 0
    for text, matched in segments:
        piece = esc(shown[pos : pos + len(text)])
        out.append(f"<b><u>{piece}</u></b>" if matched else piece)
        pos += len(text)
    return "".join(out)


def plan_summary(doc: Document, plan: Sequence[Reading]) -> str:
    lines = [f"《{esc(doc.title)}》每日学习计划：共 {len(plan)} 天"]
    for reading in plan:
        size = len("".join(reading.text.split()))
        labels = " / ".join(short_name(doc.section(r)) for r in reading.refs)
        first = reading.text.strip().splitlines()[0][:24]
        lines.append(f"第 {reading.day:>2} 天  {size:>4} 字  〔{esc(labels)}〕 {esc(first)}…")
    return "\n".join(lines)
