"""The lookup replies rendered once (bot/render/views.py) are exactly what the render functions make."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(("query", "page"), [("终身学习", 1), ("学习", 1), ("学习", 2), ("学习", 99), ("改革 发展", 1),
                                             ("没有这个词组合", 1), ("", 1), ("  学习  ", 1)])
def test_a_search_page_is_what_the_index_and_render_functions_give(doc: Document, index: SearchIndex, query: str,
                                                                   page: int) -> None:
    views = LookupViews(doc, index)
    result, text, keyboard = views.search(query, page)
    expected = index.page(query, page)
    assert result == expected
    assert text == render.search_results(query, expected)
    assert keyboard == render.search_keyboard(query, expected)
    assert views.search(query, page)[1] is text


def test_searches_kept_are_bounded_and_the_least_recently_used_goes_first(doc: Document, index: SearchIndex) -> None:
    views = LookupViews(doc, index, searches=2)
    study = views.search("学习")[1]
    people = views.search("人民")[1]
    assert views.search("学习")[1] is study  # used again: now the most recent
    views.search("改革")  # a third: 人民, the least recently used, is dropped; 学习 stays
    assert len(views._searches) == 2
    assert views.search("学习")[1] is study
    again = views.search("人民")[1]  # made again (and 改革 dropped for it), the same text
    assert again is not people and again == people
