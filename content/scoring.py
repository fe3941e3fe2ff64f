"""Pure quiz arithmetic: right answers, scores, competition ranking, streaks, weak sections, drawing rounds.

The bot stores polls and answers; these functions only decide. Time and randomness are passed in.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from content.questions import Question

U = TypeVar("U", bound=Hashable)


def answer_is_right(chosen: Collection[int], correct: Collection[int]) -> bool:
    """Right only for exactly the correct options: a multiple-answer quiz needs all of them and nothing else."""
    return bool(chosen) and set(chosen) == set(correct)


def total_scores(results: Iterable[Mapping[U, bool]]) -> dict[U, int]:
    """Points per member over a round: one per correct answer; members who only answered wrong score 0."""
    totals: dict[U, int] = {}
    for answers in results:
        for user, correct in answers.items():
            totals[user] = totals.get(user, 0) + int(correct)
    return totals


def rank(scores: Mapping[U, int]) -> list[tuple[int, U, int]]:
    """(rank, user, score), best first, with competition ranking: ties share a rank and the next is skipped (1,1,3).

    Ties are listed by user id where ids compare, else in the mapping's order, so output is deterministic.
    """
    items = list(scores.items())
    # ids that do not compare (mixed types) keep their given order; sorted() leaves `items` intact on failure
    with contextlib.suppress(TypeError):
        items = sorted(items, key=lambda kv: kv[0])  # type: ignore[arg-type, return-value]
    items.sort(key=lambda kv: -kv[1])
    out: list[tuple[int, U, int]] = []
    for position, (user, score) in enumerate(items, start=1):
        shared = out[-1][0] if out and out[-1][2] == score else position
        out.append((shared, user, score))
    return out


def streak(dates_answered: Iterable[date], today: date) -> int:
    """Consecutive days with an answer, ending today, or yesterday when today has none yet (0 otherwise)."""
    days = set(dates_answered)
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


@dataclass(frozen=True)
class SectionStats:
    answered: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


def weakest_sections(stats: Mapping[str, SectionStats], limit: int = 3, min_answered: int = 1) -> list[str]:
    """Refs with the lowest share of correct answers, worst first; perfect sections are never "weak".

    Among equal accuracy the section with more answers comes first (more evidence), then by ref.
    """
    candidates = [
        (s.accuracy, -s.answered, ref)
        for ref, s in stats.items()
        if s.answered >= min_answered and s.correct < s.answered
    ]
    return [ref for _, _, ref in sorted(candidates)[:limit]]


def section_stats(results: Iterable[tuple[str, Mapping[Hashable, bool]]]) -> dict[str, SectionStats]:
    """Answered/correct counts per ref from (ref, answers) pairs."""
    totals: dict[str, SectionStats] = {}
    for ref, answers in results:
        old = totals.get(ref, SectionStats(0, 0))
        totals[ref] = SectionStats(old.answered + len(answers), old.correct + sum(answers.values()))
    return totals


@dataclass(frozen=True)
class QuestionResult:
    """One asked question and who answered it right (True) or wrong (False)."""

    question_id: str
    ref: str
    answers: Mapping[Hashable, bool]


@dataclass(frozen=True)
class MissedQuestion:
    question_id: str
    ref: str
    wrong: int
    answered: int


@dataclass(frozen=True)
class RoundSummary:
    ranking: tuple[tuple[int, Hashable, int], ...]
    questions: int
    participants: int
    most_missed: tuple[MissedQuestion, ...]  # questions most members got wrong, worst first
    weakest: tuple[str, ...]  # refs to review


def round_summary(results: Sequence[QuestionResult], missed_limit: int = 3) -> RoundSummary:
    """What the results message shows: the ranking, the most-missed questions with refs, sections to review."""
    scores = total_scores(r.answers for r in results)
    missed = [
        MissedQuestion(r.question_id, r.ref, sum(not ok for ok in r.answers.values()), len(r.answers)) for r in results
    ]
    missed = [m for m in missed if m.wrong > 0]
    # Most wrong answers first; equal counts by the larger wrong share, then in the order they were asked.
    order = {r.question_id: i for i, r in enumerate(results)}
    missed.sort(key=lambda m: (-m.wrong, -(m.wrong / m.answered), order[m.question_id]))
    stats = section_stats((r.ref, r.answers) for r in results)
    return RoundSummary(
        ranking=tuple(rank(scores)),
        questions=len(results),
        participants=len(scores),
        most_missed=tuple(missed[:missed_limit]),
        weakest=tuple(weakest_sections(stats)),
    )


def in_scope(ref: str, scope_refs: Collection[str] | None) -> bool:
    """A ref is in scope when listed exactly; None means everything.

    Exact on purpose: a day's reading that holds part 2's introduction lists "2", and must not pull in questions on
    points 2.2 and 2.3 that the group has not read yet. A scope meaning a whole part lists its points.
    """
    if scope_refs is None:
        return True
    return ref in scope_refs


def pick_questions(
    pool: Iterable[Question],
    n: int,
    scope_refs: Collection[str] | None,
    rng: random.Random,
    recent_ids: Collection[str] = (),
) -> list[Question]:
    """Draw up to n distinct questions in scope: the first n of `draw_order` (rounds use `roundplan`, which also
    keeps questions that give each other away apart)."""
    return draw_order(pool, scope_refs, rng, recent_ids)[:n]


def draw_order(
    pool: Iterable[Question],
    scope_refs: Collection[str] | None,
    rng: random.Random,
    recent_ids: Collection[str] = (),
) -> list[Question]:
    """Every distinct question in scope, in drawing order: first ones not asked recently, bank before generated.

    Within each tier the draw is shuffled with `rng` and spread across sections (one per ref in turn), so a round
    covers the scope rather than one point. Deterministic for a given pool, rng state and arguments.
    """
    unique = {q.id: q for q in pool if in_scope(q.ref, scope_refs)}
    recent = set(recent_ids)
    tiers: list[list[Question]] = [[], [], [], []]
    for qid in sorted(unique):  # pool order must not change the draw
        q = unique[qid]
        tiers[2 * (qid in recent) + (q.source != "bank")].append(q)
    return [q for tier in tiers for q in _spread(tier, rng)]


def _spread(questions: list[Question], rng: random.Random) -> list[Question]:
    """Shuffle, then interleave by ref so consecutive picks come from different sections when possible."""
    shuffled = list(questions)
    rng.shuffle(shuffled)
    by_ref: dict[str, list[Question]] = {}
    for q in shuffled:
        by_ref.setdefault(q.ref, []).append(q)
    out: list[Question] = []
    queues = list(by_ref.values())
    while queues:
        for queue in queues:
            out.append(queue.pop(0))
        queues = [q for q in queues if q]
    return out
