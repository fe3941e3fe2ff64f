"""Resolve what a person types to name a section (``2.3``, ``二、3``, ``第二部分第三点``, ``结语``)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from .model import CLOSING_REF, OPENING_REF, Document, Section
from .parser import to_int

OPENING_WORDS = frozenset({"开头", "开场", "开篇", "开场白", "引言", "opening", "open", "0", "〇", "零"})
CLOSING_WORDS = frozenset({"结语", "结尾", "结束语", "结束", "尾声", "closing", "close", "end"})

# Brackets and quotes people wrap a reference in; stripped from both ends.
_WRAPPERS = "〔〕［］[]【】()（）{}｛｝「」『』《》〈〉<>“”‘’\"'`"
# Words that only say "part"/"point": they separate the numbers and are otherwise ignored.
_NOISE = re.compile(r"第|部分|部|点|条|项|段|节|part|point|§|#")
_SEPARATORS = re.compile(r"[\s.\-、,:;/\\_·—~()]+")
_POINT_WORD = re.compile(r"点|条|项|point")
_NUMERAL = re.compile(r"[0-9]+|[〇零一二三四五六七八九十两]+")
_MAX_TEXT = 40  # longer input is not a reference; refuse it before any work


Problem = Literal["empty", "unreadable", "point_without_part", "no_part", "no_point", "no_special"]


class RefError(ValueError):
    """The text names no section of this speech: `problem` says why, with what it concerns (the cleaned `text`, a
    part or point `number`, the `ref` of a missing opening or closing). The chat's words for it, with what the
    speech does have, are the renderer's (`render.ref_problem`); `str()` is a short English note for logs."""

    def __init__(self, problem: Problem, text: str = "", number: int = 0, part: int = 0, ref: str = "") -> None:
        super().__init__(f"{problem}: {text!r}" if text else problem)
        self.problem: Problem = problem
        self.text = text
        self.number = number
        self.part = part
        self.ref = ref


def _normalise(text: str) -> str:
    # NFKC folds full-width digits, letters and most punctuation (２．３ → 2.3); lower() handles OPENING.
    return unicodedata.normalize("NFKC", text).strip().strip(_WRAPPERS).strip().lower()


def _numbers(text: str) -> list[int] | None:
    """The numbers in a reference such as ``二、3`` or ``第二部分第三点``; None if anything else is in it."""
    spaced = _SEPARATORS.sub(" ", _NOISE.sub(" ", text))
    tokens: list[str] = []
    for chunk in spaced.split():
        pieces = _NUMERAL.findall(chunk)
        if "".join(pieces) != chunk:
            return None
        tokens.extend(pieces)
    values = [to_int(token) for token in tokens]
    if not values or any(value is None for value in values):
        return None
    return [value for value in values if value is not None]


def resolve(doc: Document, text: str) -> Section:
    """The section `text` names, or RefError saying why it names none."""
    cleaned = _normalise(text[: _MAX_TEXT * 4])[: _MAX_TEXT + 1]
    if not cleaned:
        raise RefError("empty")
    if len(cleaned) > _MAX_TEXT:
        raise RefError("unreadable")
    if cleaned in OPENING_WORDS:
        return _special(doc, OPENING_REF)
    if cleaned in CLOSING_WORDS:
        return _special(doc, CLOSING_REF)
    numbers = _numbers(cleaned)
    if numbers is None or len(numbers) > 2:
        raise RefError("unreadable", cleaned)
    if numbers == [0]:
        return _special(doc, OPENING_REF)
    if len(numbers) == 1 and _POINT_WORD.search(cleaned) and "部" not in cleaned:
        # “第三点” alone names no part; guessing part three would show the wrong text.
        raise RefError("point_without_part", cleaned, number=numbers[0])
    part = numbers[0]
    if not 1 <= part <= len(doc.parts):
        raise RefError("no_part", cleaned, number=part)
    if len(numbers) == 1:
        return doc.part(part).section
    point = numbers[1]
    points = doc.part(part).points
    if not 1 <= point <= len(points):
        raise RefError("no_point", cleaned, number=point, part=part)
    return points[point - 1]


def _special(doc: Document, ref: str) -> Section:
    if not doc.has(ref):
        raise RefError("no_special", ref=ref)
    return doc.section(ref)
