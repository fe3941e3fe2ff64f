"""Inline keyboards for moving through the speech: the outline, a section's pages and neighbours, search hits."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render.core import short_name
from content.model import Document, Reading, Section
from content.search import Page

# Callback data: "toc[:page]" and "sec:REF[:page[:day]]" edit the pressed message in place; "open:REF" and "opentoc"
# (under a daily reading or search hits, which stay as they were sent) post a new message; "rd:REF[:day]" opens a
# reading's sections; "srch:PAGE:QUERY" shows another page of search hits in place.

SEARCH_DATA_LIMIT = 64  # Telegram's callback data, in bytes


def search_page_data(query: str, page: int) -> str | None:
    """Callback data for page `page` of a search ("srch:PAGE:QUERY"), None when the query is too long to carry."""
    data = f"srch:{page}:{query.strip()}"
    return data if len(data.encode()) <= SEARCH_DATA_LIMIT else None


def search_keyboard(query: str, result: Page) -> InlineKeyboardMarkup | None:
    """A button per hit (opens the section in a new message) and ◀ ▶ pages that edit the results in place.

    A query too long for the callback data gets no page buttons: the text's /search … line still says how."""
    if not result.hits:
        return None
    rows = _rows([InlineKeyboardButton(f"📖 {hit.section.label}", callback_data=f"open:{hit.section.ref}")
                  for hit in result.hits])
    pager = []
    if result.page > 1 and (back := search_page_data(query, result.page - 1)):
        pager.append(InlineKeyboardButton(f"◀ 上一页（{result.page - 1}/{result.pages}）", callback_data=back))
    if result.page < result.pages and (more := search_page_data(query, result.page + 1)):
        pager.append(InlineKeyboardButton(f"下一页（{result.page + 1}/{result.pages}）▶", callback_data=more))
    if pager:
        rows.append(pager)
    return InlineKeyboardMarkup(rows)


ROW_SIZE = 5


def _rows(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i:i + ROW_SIZE]) for i in range(0, len(buttons), ROW_SIZE)]


def toc_keyboard(doc: Document, page: int = 0, pages: int = 1) -> InlineKeyboardMarkup:
    """One row per part: the part, then its points; the opening and closing on their own rows."""
    rows: list[list[InlineKeyboardButton]] = []
    if doc.opening is not None:
        rows.append([InlineKeyboardButton("📖 开头", callback_data="sec:opening")])
    for part in doc.parts:
        buttons = [InlineKeyboardButton(f"📖 {short_name(part.section)}", callback_data=f"sec:{part.section.ref}")]
        buttons += [InlineKeyboardButton(p.label, callback_data=f"sec:{p.ref}") for p in part.points]
        rows += _rows(buttons)
    if doc.closing is not None:
        rows.append([InlineKeyboardButton("📖 结语", callback_data="sec:closing")])
    if pages > 1:
        rows.append(_pager("toc", page, pages))
    return InlineKeyboardMarkup(rows)


def _pager(prefix: str, page: int, pages: int, suffix: str = "") -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(f"◀ 上一页（{page}/{pages}）", callback_data=f"{prefix}:{page - 1}{suffix}"))
    if page + 1 < pages:
        row.append(InlineKeyboardButton(f"下一页（{page + 2}/{pages}）▶", callback_data=f"{prefix}:{page + 1}{suffix}"))
    return row


def section_keyboard(doc: Document, section: Section, page: int = 0, pages: int = 1,
                     reading: Reading | None = None) -> InlineKeyboardMarkup:
    """Pages of a long section, the reading's other sections (opened from 读全文), then ◀ previous · 目录 · next ▶."""
    day = f":{reading.day}" if reading is not None else ""
    rows: list[list[InlineKeyboardButton]] = []
    if pages > 1:
        rows.append(_pager(f"sec:{section.ref}", page, pages, day))
    if reading is not None and len(reading.refs) > 1:
        rows.append([InlineKeyboardButton(("✔ " if ref == section.ref else "📖 ") + short_name(doc.section(ref)),
                                          callback_data=f"sec:{ref}:0{day}") for ref in reading.refs])
    before, after = doc.neighbours(section.ref)
    nav = []
    if before is not None:
        nav.append(InlineKeyboardButton(f"◀ {short_name(before)}", callback_data=f"sec:{before.ref}"))
    nav.append(InlineKeyboardButton("目录", callback_data="toc"))
    if after is not None:
        nav.append(InlineKeyboardButton(f"{short_name(after)} ▶", callback_data=f"sec:{after.ref}"))
    rows.append(nav)
    return InlineKeyboardMarkup(rows)
