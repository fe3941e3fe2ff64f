"""The lookup replies rendered once (bot/render/views.py) are exactly what the render functions make."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardMarkup

from bot import render
from bot.render.views import LookupViews
from content.loader import load_document
from content.model import Document
from content.search import SearchIndex


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document(None)


@pytest.fixture(scope="module")
def index(doc: Document) -> SearchIndex:
    return SearchIndex(doc)


def test_every_section_is_rendered_as_the_render_functions_render_it_and_only_once(
        doc: Document, index: SearchIndex) -> None:
    views = LookupViews(doc, index)
    for section in doc.sections():
        pages, keyboard = views.section(section)
        expected = render.section_messages(doc, section)
        assert list(pages) == expected
        assert keyboard == render.section_keyboard(doc, section, 0, len(expected))
        again = views.section(section)
        assert again[0] is pages and again[1] is keyboard  # kept, not made again
        assert views.section_pages(section) is pages


def buttons(keyboard: InlineKeyboardMarkup | None) -> list[list[tuple[str, str | None]]]:
    """The buttons as a member sees them: each row's labels, with the data a press sends."""
    if keyboard is None:
        return []
    return [[(b.text, b.callback_data if isinstance(b.callback_data, str) else None) for b in row]
            for row in keyboard.inline_keyboard]


@pytest.mark.parametrize(("query", "page"), [("终身学习", 1), ("学习", 1), ("学习", 2), ("学习", 99), ("改革 发展", 1),
                                             ("没有这个词组合", 1), ("", 1), ("  学习  ", 1)])
def test_a_search_page_is_what_the_index_and_render_functions_give(doc: Document, index: SearchIndex, query: str,
                                                                   page: int) -> None:
    views = LookupViews(doc, index)
    text, keyboard = views.search(query, page)
    expected = index.page(query, page)
    assert text == render.search_results(query, expected)
    assert keyboard == render.search_keyboard(query, expected)
    again = views.search(query, page)
    assert again[0] is text and again[1] is keyboard  # kept, not made again


def test_a_search_reply_shows_the_hits_counts_and_pages(doc: Document, index: SearchIndex) -> None:
    views = LookupViews(doc, index)
    total = index.page("学习").total
    assert total > 10  # three pages at least, so the second has both pagers
    text, keyboard = views.search("学习", 2)
    second = index.page("学习", 2).hits
    assert text.startswith(f"🔎 “学习”：找到 {total} 处，显示第 6–10 处")
    assert [f"〔{hit.section.label}〕" in text for hit in second] == [True] * 5
    *hits, pager = buttons(keyboard)
    assert [data for row in hits for _, data in row] == [f"open:{hit.section.ref}" for hit in second]
    assert [data for _, data in pager] == ["srch:1:学习", "srch:3:学习"]

    text, keyboard = views.search("学习", 99)
    assert f"共找到 {total} 处" in text and keyboard is None
    text, keyboard = views.search("没有这个词组合")
    assert text.startswith("没有找到“没有这个词组合”") and keyboard is None
    text, keyboard = views.search("   ")
    assert text.startswith("请在 /search 后写上要找的词") and keyboard is None


def test_a_query_differing_only_in_whitespace_shares_one_search_entry(doc: Document, index: SearchIndex) -> None:
    """The search splits the query on whitespace: "终身学习 " finds what "终身学习" does, and is kept once."""
    views = LookupViews(doc, index)
    typed = views.search("终身学习")
    for variant in ("终身学习 ", " 终身学习", "终身学习\u3000", "\n终身学习\t"):
        assert views.search(variant) is typed, repr(variant)
    two = views.search("终身学习 党校")
    assert views.search(" 终身学习\u3000 党校  ") is two
    paged = views.search("学习", 2)
    assert views.search("学习 ", 2) is paged
    assert len(views._searches) == 3
    # the one entry is what a first search of either spelling gives
    assert LookupViews(doc, index).search("终身学习 ") == typed
    assert buttons(typed[1]) == [[("📖 一、1", "open:1.1"), ("📖 三、1", "open:3.1"), ("📖 三、3", "open:3.3")]]
    assert typed[0].startswith("🔎 “终身学习”：找到 3 处")
    assert "“党校”" not in two[0] and "“终身学习 党校”" in two[0]


def test_searches_kept_are_bounded_and_the_least_recently_used_goes_first(doc: Document, index: SearchIndex) -> None:
    views = LookupViews(doc, index, searches=2)
    study = views.search("学习")
    people = views.search("人民")
    assert views.search("学习") is study  # used again: now the most recent
    views.search("改革")  # a third: 人民, the least recently used, is dropped; 学习 stays
    assert len(views._searches) == 2
    assert views.search("学习") is study
    again = views.search("人民")  # made again (and 改革 dropped for it), the same reply
    assert again is not people and again == people
