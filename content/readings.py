"""The daily reading plan: the speech cut into even, bite-sized readings at sentence ends.

Lengths are counted in non-whitespace characters: line breaks and indentation are layout, not reading effort, and
every Chinese character or punctuation mark costs the reader about the same.

How the plan is made, one *block* at a time (the opening, each part with its points, the closing: a reading never
spans two blocks):

1. Cut points are sentence ends (after 。！？； and their ASCII twins, with any closing quotes/brackets kept with the
   sentence) and paragraph (line) ends. The first line of a section is never cut off on its own when it does not
   end a sentence: a heading such as "一、统一思想……" or the salutation "同志们:" always opens a reading.
2. Dynamic programming over the cut points picks the partition with the lexicographically smallest cost
   (shortfall below `min_chars`, spread), where spread is the squared deviation of each reading from the middle of
   the bounds plus a small toll for cutting inside a paragraph or a point rather than at a point boundary. Readings
   longer than `max_chars` are only allowed when they are a single uncuttable sentence. So readings are within the
   bounds whenever any partition allows it; only when none does (a block shorter than `min_chars`, or a
   short sentence stranded next to an over-long one) is the least total shortfall accepted.

Ties are broken by taking the earliest cut, so the same document and settings always give the same plan.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

from content.model import Document, Reading, Section
from content.typography import CLOSERS, FULL_STOPS, SEMICOLONS

# ~300 characters a minute is a comfortable pace for reading Chinese political prose closely. 600 characters is a
# two-minute read, the most we ask of a group in one daily message; 250 (just under a minute) is the floor, a little
# below one minute's worth so that the planner has room to end a reading at a point boundary instead of in the middle
# of the next point. The target, the middle of the bounds (425 here), is about a minute and a half.
DEFAULT_MIN_CHARS = 250
DEFAULT_MAX_CHARS = 600
LOWEST_MIN_CHARS = 50
HIGHEST_MAX_CHARS = 3500  # well under Telegram's 4096-character message limit, leaving room for a title line

SENTENCE_END = re.compile(rf"[{FULL_STOPS}{SEMICOLONS}]+[{CLOSERS}]*")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class _Block:
    """A stretch of the body that readings may not cross: the opening, a part with its points, or the closing."""

    start: int
    end: int
    part: int | None
    sections: tuple[Section, ...]


def plan_readings(
    doc: Document, min_chars: int = DEFAULT_MIN_CHARS, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[Reading, ...]:
    """Cut the document into daily readings, numbered from day 1, in reading order."""
    _check_bounds(min_chars, max_chars)
    spans: list[tuple[int, int, _Block]] = []
    for block in _blocks(doc):
        spans.extend((start, end, block) for start, end in _plan_block(doc.body, block, min_chars, max_chars))
    return tuple(
        Reading(
            day=day,
            text=doc.body[start:end],
            start=start,
            end=end,
            refs=tuple(s.ref for s in block.sections if _overlaps(doc.body, s, start, end)),
            part=block.part,
        )
        for day, (start, end, block) in enumerate(spans, start=1)
    )


def covered_sections(doc: Document, reading: Reading) -> tuple[tuple[Section, bool], ...]:
    """Every section `reading` covers, in order, each with whether the reading starts inside it (it began on an
    earlier day), so a header can say 一、1（续）— 一、2 instead of naming only the first."""
    return tuple((section, reading.start > section.start)
                 for section in (doc.section(ref) for ref in reading.refs))


def _check_bounds(min_chars: int, max_chars: int) -> None:
    if not LOWEST_MIN_CHARS <= min_chars <= max_chars <= HIGHEST_MAX_CHARS:
        raise ValueError(
            f"reading bounds must satisfy {LOWEST_MIN_CHARS} <= min_chars <= max_chars <= {HIGHEST_MAX_CHARS}; "
            f"got min_chars={min_chars}, max_chars={max_chars}"
        )


def _blocks(doc: Document) -> list[_Block]:
    blocks: list[_Block] = []
    if doc.opening is not None:
        blocks.append(_Block(doc.opening.start, doc.opening.end, None, (doc.opening,)))
    for part in doc.parts:
        members = (part.section, *part.points)
        blocks.append(_Block(members[0].start, members[-1].end, part.number, members))
    if doc.closing is not None:
        blocks.append(_Block(doc.closing.start, doc.closing.end, None, (doc.closing,)))
    return blocks


def _overlaps(body: str, section: Section, start: int, end: int) -> bool:
    lo, hi = max(section.start, start), min(section.end, end)
    return lo < hi and _NON_SPACE.search(body, lo, hi) is not None


def _rstrip_to(body: str, lo: int, pos: int) -> int:
    """`pos` moved back over whitespace, not before `lo`."""
    while pos > lo and body[pos - 1].isspace():
        pos -= 1
    return pos


def _lstrip_from(body: str, pos: int, hi: int) -> int:
    """`pos` moved forward over whitespace, not past `hi`."""
    while pos < hi and body[pos].isspace():
        pos += 1
    return pos


# Toll kinds for a cut that is not at a point boundary, as a fraction of the full toll (see _toll).
_SECTION_CUT, _PARAGRAPH_CUT, _SENTENCE_CUT = 0.0, 0.5, 1.0


def _cuts(body: str, block: _Block) -> dict[int, float]:
    """Every position (just after the last character of a reading) where a reading in `block` may end.

    Values say what kind of cut it is: at a section boundary, at a paragraph end, or at a sentence end inside a
    paragraph. The block end is always a cut.
    """
    lo, hi = block.start, block.end
    cuts: dict[int, float] = {}
    for match in SENTENCE_END.finditer(body, lo, hi):
        cuts[match.end()] = _SENTENCE_CUT
    glued = {_first_line_end(body, s) for s in block.sections} - set(cuts)
    for newline in (m.start() for m in re.finditer("\n", body[lo:hi])):
        pos = _rstrip_to(body, lo, lo + newline)
        if pos not in glued:
            cuts[pos] = min(cuts.get(pos, _PARAGRAPH_CUT), _PARAGRAPH_CUT)
    for section in block.sections[1:]:
        pos = _rstrip_to(body, lo, section.start)
        if pos in cuts:
            cuts[pos] = _SECTION_CUT
    first = _lstrip_from(body, lo, hi)
    last = _rstrip_to(body, lo, hi)
    kept = {pos: kind for pos, kind in cuts.items() if first < pos < last}
    kept[last] = _SECTION_CUT
    return kept


def _first_line_end(body: str, section: Section) -> int:
    """The end of the section's first non-blank line (a heading or salutation when it ends no sentence)."""
    start = _lstrip_from(body, section.start, section.end)
    newline = body.find("\n", start, section.end)
    return _rstrip_to(body, start, section.end if newline < 0 else newline)


def _toll(min_chars: int, max_chars: int) -> float:
    # Cutting mid-point costs as much spread as moving two neighbouring readings a sixth of the allowed span off
    # target, so a point boundary "close by" (within about that distance) wins over an exactly even cut.
    return 2.0 * ((max_chars - min_chars) / 6.0 + 1.0) ** 2


def _plan_block(body: str, block: _Block, min_chars: int, max_chars: int) -> list[tuple[int, int]]:
    """The (start, end) spans of the readings in one block, whitespace trimmed."""
    first = _lstrip_from(body, block.start, block.end)
    if first >= block.end:
        return []
    cuts = _cuts(body, block)
    ends = sorted(cuts)
    points = [first, *ends]  # points[k] is where the k-th atom (sentence or line) ends; points[0] the block start
    counts = list(accumulate((not ch.isspace() for ch in body[first : ends[-1]]), initial=0))
    done = [counts[p - first] for p in points]  # non-whitespace characters before each point

    target = (min_chars + max_chars) / 2.0
    toll = _toll(min_chars, max_chars)
    inf = (float("inf"), float("inf"))
    best: list[tuple[float, float]] = [(0.0, 0.0)] + [inf] * len(ends)
    back = [0] * len(points)
    for j in range(1, len(points)):
        # Starts whose reading stays within max_chars, plus the single atom just before j (which may exceed it).
        lowest = min(bisect_left(done, done[j] - max_chars, hi=j), j - 1)
        for i in range(lowest, j):
            size = done[j] - done[i]
            if size > max_chars and i != j - 1:
                continue
            shortfall = float(max(0, min_chars - size))
            spread = 0.0 if size > max_chars else (size - target) ** 2
            spread += toll * cuts[points[j]]
            cost = (best[i][0] + shortfall, best[i][1] + spread)
            if cost < best[j]:
                best[j], back[j] = cost, i
    spans: list[tuple[int, int]] = []
    j = len(points) - 1
    while j > 0:
        i = back[j]
        spans.append((_lstrip_from(body, points[i], points[j]), points[j]))
        j = i
    spans.reverse()
    return spans


def sentence_containing(text: str, phrase: str) -> str | None:
    """The whole sentence of `text` in which `phrase` first occurs (None if it does not), by the plan's ends."""
    at = text.find(phrase) if phrase else -1
    if at < 0:
        return None
    start = 0
    for match in SENTENCE_END.finditer(text, 0, at):
        start = match.end()
    end = next((m.end() for m in SENTENCE_END.finditer(text, at + len(phrase))), len(text))
    line_start = text.rfind("\n", 0, at) + 1  # a heading line ends its sentence without punctuation
    line_end = text.find("\n", at)
    return text[max(start, line_start):min(end, line_end if line_end >= 0 else len(text))].strip()
