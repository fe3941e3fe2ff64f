"""Every Chinese text the bot shows, rendered as Telegram HTML. Wording lives here and only here."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from content.model import Document, Hit, Reading, Section

MESSAGE_LIMIT = 4096
# Room left under Telegram's limit for the breadcrumb, markup and escaping.
TEXT_BUDGET = 3500
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])[”’」』）)]*|\n+")


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def plain(text: str) -> str:
    """The HTML message as plain terminal text."""
    return html.unescape(re.sub(r"</?(b|i|u|s|code|pre|blockquote)>", "", text))


def split_text(text: str, budget: int = TEXT_BUDGET) -> list[str]:
    """Split text into chunks of at most `budget` characters, at sentence ends where possible."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > budget:
        cut = 0
        for match in SENTENCE_END.finditer(rest, 0, budget + 1):
            if match.end() <= budget:
                cut = match.end()
        if cut == 0:
            cut = budget  # one sentence longer than a message: cut it, nothing else would fit
        chunks.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        chunks.append(rest)
    return chunks


def section_name(section: Section) -> str:
    """'二、3 强化学习…' for a point, '二、突出重点…' for a part, '开头' / '结语' otherwise."""
    if section.kind == "point":
        return f"{section.label} {section.heading}"
    if section.kind == "part":
        return f"{section.label}、{section.heading}"
    return section.label


def breadcrumb(doc: Document, section: Section) -> str:
    return " › ".join(section_name(s) for s in doc.breadcrumb(section))


def outline(doc: Document) -> str:
    lines = [f"📖 <b>{esc(doc.title)}</b>", ""]
    if doc.opening is not None:
        lines.append(f"<b>开头</b>　/section 开头")
    for part in doc.parts:
        lines.append(f"<b>{esc(section_name(part.section))}</b>　〔{part.section.ref}〕")
        for point in part.points:
            lines.append(f"　{point.point}. {esc(point.heading)}　〔{point.ref}〕")
    if doc.closing is not None:
        lines.append("<b>结语</b>　/section 结语")
    lines += ["", "查看某一部分或某一点：/section 2.3（或 二、3）"]
    return "\n".join(lines)


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
        messages.append(f"{header}{page}\n\n{esc(chunk)}")
    return messages


def search_results(doc: Document, query: str, hits: Sequence[Hit]) -> str:
    shown = esc(query.strip()[:40])
    if not query.strip():
        return "请在 /search 后写上要找的词，例如：/search 终身学习"
    if not hits:
        return (f"没有找到“{shown}”。\n试试更短的词或换个说法，例如：/search 学习 理念\n"
                "也可以用 /toc 查看全文目录。")
    lines = [f"🔎 “{shown}”：找到 {len(hits)} 处"]
    for hit in hits:
        snippet = "".join(f"<b>{esc(t)}</b>" if matched else esc(t) for t, matched in hit.segments)
        lines.append(f"\n<b>〔{esc(hit.section.label)}〕</b> {esc(hit.section.heading)}\n{snippet}")
    lines.append("\n查看全文：/section 加上方括号里的编号")
    return "\n".join(lines)


def plan_summary(doc: Document, plan: Sequence[Reading]) -> str:
    lines = [f"《{esc(doc.title)}》每日学习计划：共 {len(plan)} 天"]
    for reading in plan:
        size = len("".join(reading.text.split()))
        labels = "、".join(doc.section(r).label for r in reading.refs)
        first = reading.text.strip().splitlines()[0][:24]
        lines.append(f"第 {reading.day:>2} 天  {size:>4} 字  〔{esc(labels)}〕 {esc(first)}…")
    return "\n".join(lines)
