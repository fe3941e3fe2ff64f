"""Cutting a text that is too long for one message into pieces, at sentence ends where it can.

Telegram counts a message's length in UTF-16 code units (a character outside the BMP counts twice), so the cost of a
piece is measured by a function the caller passes (the renderer measures the piece as it will be sent, HTML-escaped).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from content.readings import SENTENCE_END

# Where to cut when no sentence end fits, best first: a line break, then a clause mark, then a space.
_FALLBACKS = (re.compile(r"\n+"), re.compile(r"[，、：,:]+[”’）」』)》]*"), re.compile(r"\s+"))


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, cost: Callable[[str], int] = utf16_len) -> list[str]:
    """Pieces of `text`, each costing at most `limit`, that joined give `text` back.

    Each piece ends at the last sentence end that fits; failing that at the last line break, clause mark or space;
    failing all, as much as fits (one long unpunctuated run). `cost` must grow with the text (a longer prefix never
    costs less).
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    pieces: list[str] = []
    pos = 0
    while pos < len(text) and cost(text[pos:]) > limit:
        end = _longest_fit(text, pos, limit, cost)
        cut = _best_cut(text, pos, end)
        pieces.append(text[pos:cut])
        pos = cut
    if pos < len(text) or not pieces:
        pieces.append(text[pos:])
    return pieces


def _longest_fit(text: str, pos: int, limit: int, cost: Callable[[str], int]) -> int:
    """The largest end with cost(text[pos:end]) <= limit, at least one character on (a character over the limit is
    sent on its own: there is nothing smaller to cut it into)."""
    lo, hi = pos + 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(text[pos:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _best_cut(text: str, pos: int, end: int) -> int:
    for pattern in (SENTENCE_END, *_FALLBACKS):
        cuts = [m.end() for m in pattern.finditer(text, pos, end) if pos < m.end() <= end]
        if cuts:
            return cuts[-1]
    return end
