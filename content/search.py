"""Full-text search over the speech's sections: SQLite FTS5 (trigram) for long terms, instr() for short ones.

Grain: one row per section. A Hit is a section, and "all terms must match" is defined within a section, so indexing
sentences or paragraphs would only force us to regroup rows per section in SQL; snippets and match marking are done
in Python on the section text, which also covers the short terms FTS cannot see. With a few dozen sections bm25 at
section grain is as good as it gets.

Why two mechanisms (see STACK_NOTES): the trigram tokenizer matches substrings of 3+ characters only, and on SQLite
3.40 LIKE/GLOB on the FTS table wrongly misses 1–2 CJK characters. So a 1–2 character term is matched with instr()
on a case-folded copy of the text in the base table; longer terms go through MATCH as quoted phrases (every term
quoted, inner quotes doubled, so AND/OR/NOT/NEAR/*/-/^/:/() in user text are plain characters).

Threads: the index is read-only after it is built, so a single connection opened with check_same_thread=False and
guarded by a lock is safe to use from the event-loop thread (or any other) no matter where the index was built.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from dataclasses import dataclass

import opencc
import sqlite_utils

from content.model import Document, Hit, Section
from content.typography import FULL_STOPS, SEMICOLONS

MAX_TERMS = 8  # a pasted paragraph must not turn into hundreds of SQL conditions
MAX_TERM_CHARS = 64  # longer terms are cut: longer than any phrase a reader would search for
SHORT_TERM_CHARS = 2  # terms this short cannot be seen by the trigram tokenizer
SNIPPET_CHARS = 80  # target snippet width (text only, ellipses not counted)
SNIPPET_LEAD = 20  # how much text before the first match the snippet shows
HEADING_BONUS = 100.0  # per term found in the heading: a heading hit outranks any amount of body text
ELLIPSIS = "…"

_SENTENCE_END = FULL_STOPS + SEMICOLONS
_WHITESPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True)
class _Match:
    section: Section
    heading_terms: int
    relevance: float


# People type what their keyboard gives: ， for , and “ for " (or the reverse), full-width digits, traditional
# characters. Every such variant folds to one character, one for one, so offsets in folded text hold in the original.
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # full-width ASCII forms → ASCII
_QUOTES = dict.fromkeys(map(ord, "“”‘’「」『』〝〞\"'＂＇"), ord('"'))
_FOLD = str.maketrans({**_WIDTH, **_QUOTES, 0x3000: ord(" ")})
_STRIP = "\"" + _SENTENCE_END  # a term's own quotes and end marks are not part of what is looked for
_T2S = opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Fold width, quote style, letter case and traditional characters, keeping every position."""
    text = text.translate(_FOLD)
    simplified = _T2S.convert(text)
    if len(simplified) != len(text):  # a phrase changed length: convert character by character instead
        simplified = "".join(s if len(s := _T2S.convert(ch)) == 1 else ch for ch in text)
    lowered = simplified.lower()
    if len(lowered) == len(simplified):  # no letter grew (lower() never shrinks one): positions already hold
        return lowered
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in simplified)


def split_page(text: str) -> tuple[str, int]:
    """`学习 2` → (`学习`, 2): a whole number after the terms asks for that page of results."""
    words = text.split()
    if len(words) >= 2 and words[-1].isascii() and words[-1].isdigit():
        return " ".join(words[:-1]), max(1, int(words[-1]))
    return text, 1


@dataclass(frozen=True)
class Page:
    """One page of search results and where it stands among all of them."""

    hits: tuple[Hit, ...]
    total: int  # sections holding every term
    page: int
    per_page: int

    @property
    def first(self) -> int:
        """1-based rank of the first hit shown."""
        return (self.page - 1) * self.per_page + 1

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def query_words(query: str) -> list[str]:
    """The words of a query as typed: split on whitespace (full-width space too), a NUL counted as a space."""
    return query.replace("\x00", " ").split()  # str.split() also splits on U+3000; FTS5 stops at a NUL


def split_terms(query: str) -> tuple[str, ...]:
    """The distinct search terms of a query: its words (query_words), folded, capped."""
    terms: list[str] = []
    for raw in query_words(query):
        folded = fold(raw)
        term = (folded.strip(_STRIP) or folded)[:MAX_TERM_CHARS]
        if term and term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return tuple(terms)


def quote_fts(term: str) -> str:
    """An FTS5 string literal that matches `term` as a phrase, whatever characters it holds."""
    return '"' + term.replace('"', '""') + '"'


class SearchIndex:
    """A search index over one document's sections, built once in memory."""

    def __init__(self, doc: Document) -> None:
        self._sections = doc.sections()
        self._lock = threading.Lock()
        self._db = sqlite_utils.Database(sqlite3.connect(":memory:", check_same_thread=False))
        rows = [
            {
                "id": index,
                "ref": section.ref,
                # Opening and closing "headings" (开头/结语) are labels, not speech text: not searchable.
                "heading": fold(section.heading) if section.kind in ("part", "point") else "",
                "text": fold(section.text),
            }
            for index, section in enumerate(self._sections)
        ]
        with self._lock:
            table = self._db.table("sections")
            table.insert_all(rows, pk="id")
            table.enable_fts(["heading", "text"], tokenize="trigram")

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """The best sections containing every term of `query`, at most one hit per section, best first."""
        terms = split_terms(query)
        if not terms or limit <= 0:
            return []
        matches = sorted(self._matches(terms), key=lambda m: (-_score(m), m.section.start))
        return [
            Hit(section=m.section, segments=snippet(m.section.text, terms), score=_score(m)) for m in matches[:limit]
        ]

    def page(self, query: str, page: int = 1, per_page: int = 5) -> Page:
        """Page `page` (1-based) of the hits for `query`, with the true number of sections that match."""
        terms = split_terms(query)
        if not terms:
            return Page((), 0, 1, per_page)
        matches = sorted(self._matches(terms), key=lambda m: (-_score(m), m.section.start))
        start = (page - 1) * per_page
        hits = tuple(
            Hit(section=m.section, segments=snippet(m.section.text, terms), score=_score(m))
            for m in matches[start : start + per_page]
        )
        return Page(hits, len(matches), page, per_page)

    def count(self, query: str) -> int:
        """How many sections contain every term of `query`."""
        terms = split_terms(query)
        return len(self._matches(terms)) if terms else 0

    def _matches(self, terms: tuple[str, ...]) -> list[_Match]:
        long_terms = [t for t in terms if len(t) > SHORT_TERM_CHARS]
        short_terms = [t for t in terms if len(t) <= SHORT_TERM_CHARS]
        where = ["instr(s.text, ?) > 0"] * len(short_terms)
        params: list[str] = list(short_terms)
        if long_terms:
            # Quoted phrases side by side are an implicit AND. Heading weighs more than body text in bm25.
            sql = (
                "SELECT s.id, s.heading, s.text, -bm25(sections_fts, 5.0, 1.0) AS rel "
                "FROM sections_fts JOIN sections s ON s.id = sections_fts.rowid WHERE sections_fts MATCH ?"
            )
            params.insert(0, " ".join(quote_fts(t) for t in long_terms))
        else:
            sql = "SELECT s.id, s.heading, s.text, 0.0 AS rel FROM sections s WHERE 1"
        sql += "".join(f" AND {condition}" for condition in where)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        matches: list[_Match] = []
        for row_id, heading, text, rel in rows:
            # Occurrences rank short terms, where bm25 has nothing to say, and break bm25's near-ties on common terms.
            occurrences = sum(math.log1p(text.count(t)) for t in terms)
            in_heading = sum(1 for t in terms if t in heading)
            matches.append(_Match(self._sections[row_id], in_heading, float(rel) + occurrences))
        return matches


def _score(match: _Match) -> float:
    return HEADING_BONUS * match.heading_terms + min(match.relevance, HEADING_BONUS - 1.0)


def snippet(text: str, terms: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """A short excerpt of `text` around the first match, split into (text, is_match) segments.

    Every occurrence of every term inside the excerpt is marked; runs of whitespace become one space; "…" marks
    a cut end.
    """
    spans = _match_spans(fold(text), terms)
    first = spans[0][0] if spans else 0
    lo = max(0, first - SNIPPET_LEAD)
    # Start at the beginning of the sentence holding the match when that is within the lead.
    for pos in range(first - 1, lo - 1, -1):
        if text[pos] in _SENTENCE_END:
            lo = pos + 1
            break
    hi = min(len(text), lo + SNIPPET_CHARS)
    lo = max(0, min(lo, hi - SNIPPET_CHARS))
    for start, end in spans:  # never cut a match in two
        if start < hi < end:
            hi = end
    segments: list[tuple[str, bool]] = []
    pos = lo
    for start, end in spans:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        segments += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    segments.append((text[pos:hi], False))
    before = (ELLIPSIS, False) if text[:lo].strip() else ("", False)
    after = (ELLIPSIS, False) if text[hi:].strip() else ("", False)
    return _tidy([before, *_tidy(segments), after])


def _match_spans(folded: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Every occurrence of every term, overlapping ones merged, in order."""
    raw: list[tuple[int, int]] = []
    for term in terms:
        pos = folded.find(term)
        while pos >= 0:
            raw.append((pos, pos + len(term)))
            pos = folded.find(term, pos + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(raw):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _tidy(segments: list[tuple[str, bool]]) -> tuple[tuple[str, bool], ...]:
    """Collapse whitespace, trim the ends, drop empty segments and join neighbours of the same kind."""
    out: list[tuple[str, bool]] = []
    for text, is_match in segments:
        text = _WHITESPACE_RUN.sub(" ", text)
        if out and out[-1][1] == is_match:
            out[-1] = (out[-1][0] + text, is_match)
        elif text:
            out.append((text, is_match))
    if out and not out[0][1]:
        out[0] = (out[0][0].lstrip(), False)
    if out and not out[-1][1]:
        out[-1] = (out[-1][0].rstrip(), False)
    return tuple((text, is_match) for text, is_match in out if text)
