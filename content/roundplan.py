"""Drawing a quiz round that never gives an answer away.

Two questions never share a round when they come from the same sentence or list, when one shows (stem, options or
explanation) the other's answer, or when one prints a heading another asks about. Questions about where a sentence
stands ("which part", a 对/错 on its part, "which point") only come in scopes where that is not already announced:
spanning two or more parts, or two or more points of the part.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable

from content.model import Document
from content.questions import Question
from content.quizcheck import asks_part, footprint, reveals, sentences_of
from content.scoring import draw_order


def heading_sentences(doc: Document) -> frozenset[int]:
    """The sentences that are part headings: what "which part" questions answer with."""
    return frozenset().union(*(sentences_of(doc, p.section.heading, p.section) for p in doc.parts))


def _touches_headings(q: Question, spots: frozenset[int], headings: frozenset[int]) -> bool:
    return q.kind == "which_part" or bool(spots & headings)


def conflict(a: Question, b: Question, doc: Document) -> bool:
    """Whether `a` and `b` must not be asked in one round."""
    fa, fb, headings = footprint(a, doc), footprint(b, doc), heading_sentences(doc)
    heading_pair = (a.kind == "which_part" and _touches_headings(b, fb, headings)) or (
        b.kind == "which_part" and _touches_headings(a, fa, headings))
    return bool(fa & fb) or heading_pair or reveals(a, b) or reveals(b, a)


def allowed_in_scope(q: Question, doc: Document, scope_refs: Collection[str] | None) -> bool:
    """A question on where a sentence stands only where the scope does not already say so."""
    refs = [s.ref for s in doc.sections()] if scope_refs is None else [r for r in scope_refs if doc.has(r)]
    if asks_part(q):
        return len({doc.section(r).part for r in refs if doc.section(r).part is not None}) >= 2
    if q.kind == "which_point" and doc.has(q.ref):
        part = doc.section(q.ref).part
        return sum(doc.section(r).kind == "point" and doc.section(r).part == part for r in refs) >= 2
    return True


class RoundPlanner:
    """Knows every question's footprint once, and draws leak-free rounds from them."""

    def __init__(self, doc: Document, questions: Iterable[Question]) -> None:
        self.doc = doc
        self.questions = tuple(questions)
        self._footprints = {q.id: footprint(q, doc) for q in self.questions}
        self._headings = heading_sentences(doc)
        self._conflicts: dict[tuple[str, str], bool] = {}

    def conflict(self, a: Question, b: Question) -> bool:
        key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if key not in self._conflicts:
            fa, fb = self._footprints.get(a.id, frozenset()), self._footprints.get(b.id, frozenset())
            # A question on a heading never meets a "which part" question, whose answer is a heading.
            heading_pair = (a.kind == "which_part" and _touches_headings(b, fb, self._headings)) or (
                b.kind == "which_part" and _touches_headings(a, fa, self._headings))
            self._conflicts[key] = bool(fa & fb) or heading_pair or reveals(a, b) or reveals(b, a)
        return self._conflicts[key]

    def pick(self, n: int, scope_refs: Collection[str] | None, rng: random.Random,
             recent_ids: Collection[str] = ()) -> list[Question]:
        """Up to n questions in scope, in the draw order of `scoring.draw_order`, skipping any that would leak."""
        allowed = [q for q in self.questions if allowed_in_scope(q, self.doc, scope_refs)]
        picked: list[Question] = []
        for q in draw_order(allowed, scope_refs, rng, recent_ids):
            if len(picked) == n:
                break
            if not any(self.conflict(q, other) for other in picked):
                picked.append(q)
        return picked
