"""Cutting a text that is too long for one message into pieces, at sentence ends where it can.

The one splitter of the bot: Telegram readings and sections, and robot channels' byte budgets all cut here. What a
piece may hold is the caller's rule: Telegram counts a message's length in UTF-16 code units (a character outside the
BMP counts twice) and the renderer measures the piece as it will be sent, HTML-escaped; a robot channel asks whether
the whole request built around the piece still fits the platform's byte limit.
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

    `cost` must grow with the text (a longer prefix never costs less).
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    return split_to_fit(text, lambda piece: cost(piece) <= limit)


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Pieces of `text` for which `fits` holds, that joined give `text` back.

    Each piece ends at the last sentence end that fits; failing that at the last line break, clause mark or space;
    failing all, as much as fits (one long unpunctuated run). `fits` must be monotone (a prefix of a piece that fits
    fits too); a single character that does not fit is a piece on its own, since there is nothing smaller to cut.
    """
    return _pieces(text, fits, trimmed=False) or [text]


def stripped_pieces(text: str, fits: Callable[[str], bool]) -> list[str]:
    """`split_to_fit` for messages that are sent trimmed: every piece stripped of the blanks at its cuts, none empty.

    Each piece is measured as it will be sent, without the blanks after the cut before it: a sentence that fits once
    trimmed is never cut in two because of the space that led into it.
    """
    return _pieces(text.strip(), fits, trimmed=True)


def _pieces(text: str, fits: Callable[[str], bool], trimmed: bool) -> list[str]:
    """The one cutting loop. `trimmed`: `text` is stripped, and each piece starts after the blanks at its cut and
    leaves out the blanks it ends with (empty pieces dropped)."""
    pieces: list[str] = []
    pos = 0
    while pos < len(text):
        if trimmed:
            while text[pos].isspace():  # the text is stripped, so a non-blank follows
                pos += 1
        if fits(text[pos:]):
            pieces.append(text[pos:])
            break
        end = _longest_fit(text, pos, fits)
        cut = _best_cut(text, pos, end)
        piece = text[pos:cut].rstrip() if trimmed else text[pos:cut]
        if piece:
            pieces.append(piece)
        pos = cut
    return pieces


def _longest_fit(text: str, pos: int, fits: Callable[[str], bool]) -> int:
    """The largest end with fits(text[pos:end]), at least one character on."""
    lo, hi = pos + 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(text[pos:mid]):
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
