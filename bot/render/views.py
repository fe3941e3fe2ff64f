"""Lookup replies rendered once: a section's pages and buttons, a search's page of hits.

The speech and its search index do not change while the bot runs, so `/section 2.3` gives the same text and buttons
every time, and `/search 学习` the same hits. Rendering them (typography, escaping, splitting at sentence ends, the
search's SQL and snippets) was about a twentieth of the CPU a lookup cost in a burst of them
(`python -m bench --only commands`). Sections are few and all kept; searches are kept up to `searches`, the least
recently used dropped first (a member can search for anything), keyed on the query's words as the search splits
them: "终身学习 " and "终身学习" are one entry. They are not folded (終身學習 and 终身学习 find the same hits yet are
two entries): the reply quotes the query as typed.
"""

from __future__ import annotations

from collections import OrderedDict

from telegram import InlineKeyboardMarkup

from bot.render.buttons import search_keyboard, section_keyboard
from bot.render.lookup import search_results, section_messages
from content.model import Document, Section
from content.search import SearchIndex, query_words

SEARCHES_KEPT = 512


class LookupViews:
    """`views.section(section)` and `views.search(query, page)`: the reply as the render functions make it, made
    once. What they return is shared between replies: strings, tuples and PTB's frozen markup, none of it mutable."""

    def __init__(self, doc: Document, index: SearchIndex, searches: int = SEARCHES_KEPT) -> None:
        self.doc = doc
        self.index = index
        self.searches = searches
        self._sections: dict[str, tuple[tuple[str, ...], InlineKeyboardMarkup]] = {}
        self._searches: OrderedDict[tuple[str, int], tuple[str, InlineKeyboardMarkup | None]] = OrderedDict()

    def section_pages(self, section: Section) -> tuple[str, ...]:
        """Every page of the section (render.section_messages)."""
        return self.section(section)[0]

    def section(self, section: Section) -> tuple[tuple[str, ...], InlineKeyboardMarkup]:
        """The section's pages and the buttons under its first page (no reading: render.section_keyboard)."""
        found = self._sections.get(section.ref)
        if found is None:
            pages = tuple(section_messages(self.doc, section))
            found = self._sections[section.ref] = (pages, section_keyboard(self.doc, section, 0, len(pages)))
        return found

    def search(self, query: str, page: int = 1) -> tuple[str, InlineKeyboardMarkup | None]:
        """Page `page` of the hits for `query`: its text (render.search_results) and its buttons."""
        query = " ".join(query_words(query))  # what the search sees; whitespace as typed would only split the cache
        key = (query, page)
        found = self._searches.get(key)
        if found is not None:
            self._searches.move_to_end(key)
            return found
        result = self.index.page(query, page)
        found = self._searches[key] = (search_results(query, result), search_keyboard(query, result))
        while len(self._searches) > self.searches:
            self._searches.popitem(last=False)
        return found
