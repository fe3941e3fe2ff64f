"""Spaced review for one member: when each missed question comes back, and how well each section is known.

The intervals come from FSRS (the `fsrs` package, the scheduler Anki uses): a card's stability grows with each right
answer and falls back after a wrong one. Pure: the clock is passed in, cards are values; the store keeps them as JSON.
Chat reviews are answered once, not drilled in a session, so there are no minute-long learning steps: a card missed
today is due again tomorrow.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import fsrs

DEFAULT_RETENTION = 0.9


@dataclass(frozen=True)
class ReviewCard:
    """One question in one member's review schedule for one group."""

    question_id: str
    ref: str
    state: str  # fsrs.Card as JSON: stability, difficulty, due, last review
    due: datetime
    reviews: int = 0
    lapses: int = 0
    last_correct: bool = False


@dataclass(frozen=True)
class Answered:
    """A member's answer to a question, from a group quiz or a review."""

    question_id: str
    ref: str
    correct: bool
    at: datetime


class ReviewSchedule:
    """FSRS with chat-sized steps and a configurable desired retention (0.7–0.99)."""

    def __init__(self, desired_retention: float = DEFAULT_RETENTION) -> None:
        if not 0.7 <= desired_retention <= 0.99:
            raise ValueError(f"desired retention must be between 0.7 and 0.99, got {desired_retention}")
        self._fsrs = fsrs.Scheduler(desired_retention=desired_retention, learning_steps=(), relearning_steps=(),
                                    enable_fuzzing=False)

    def first_card(self, question_id: str, ref: str, answered: Answered) -> ReviewCard:
        """The card a quiz answer starts (a miss is due within a day; a right answer a few days later)."""
        return self._review(fsrs.Card(card_id=0), question_id, ref, answered.correct, answered.at, 0, 0)

    def new_card(self, question_id: str, ref: str, now: datetime) -> ReviewCard:
        """A card for a question never asked yet: due at once."""
        card = fsrs.Card(card_id=0, due=_utc(now))
        return ReviewCard(question_id, ref, card.to_json(), _utc(now))

    def review(self, card: ReviewCard, correct: bool, now: datetime) -> ReviewCard:
        """The card after one more answer."""
        return self._review(fsrs.Card.from_json(card.state), card.question_id, card.ref, correct, now,
                            card.reviews, card.lapses)

    def retrievability(self, card: ReviewCard, now: datetime) -> float:
        """The chance (0–1) the member still knows it now, by FSRS's forgetting curve."""
        return float(self._fsrs.get_card_retrievability(fsrs.Card.from_json(card.state), _utc(now)))

    def _review(self, card: fsrs.Card, question_id: str, ref: str, correct: bool, now: datetime, reviews: int,
                lapses: int) -> ReviewCard:
        rating = fsrs.Rating.Good if correct else fsrs.Rating.Again
        after, _ = self._fsrs.review_card(card, rating, _utc(now))
        return ReviewCard(question_id, ref, after.to_json(), _utc(after.due), reviews + 1, lapses + (not correct),
                          correct)


def cards_from_answers(schedule: ReviewSchedule, answers: Iterable[Answered], known: Collection[str]
                       ) -> list[ReviewCard]:
    """Cards for questions the member missed in group quizzes and has no card for yet.

    Their later answers to the same question (in time order) are replayed, so the card reflects all of them.
    """
    by_question: dict[str, list[Answered]] = {}
    for answer in sorted(answers, key=lambda a: a.at):
        if answer.question_id not in known:
            by_question.setdefault(answer.question_id, []).append(answer)
    cards = []
    for question_id, history in by_question.items():
        first_miss = next((i for i, a in enumerate(history) if not a.correct), None)
        if first_miss is None:
            continue  # never missed: nothing to review
        card = schedule.first_card(question_id, history[first_miss].ref, history[first_miss])
        for later in history[first_miss + 1:]:
            card = schedule.review(card, later.correct, later.at)
        cards.append(card)
    return cards


def due_cards(cards: Iterable[ReviewCard], now: datetime, readable: Collection[str], limit: int
              ) -> list[ReviewCard]:
    """The cards due now on sections the member may see (`readable` refs), most overdue first."""
    moment = _utc(now)
    due = [c for c in cards if c.due <= moment and c.ref in readable]
    return sorted(due, key=lambda c: (c.due, c.question_id))[:limit]


def next_due(cards: Iterable[ReviewCard], readable: Collection[str]) -> datetime | None:
    """When the member's next card on a readable section comes due, if any."""
    return min((c.due for c in cards if c.ref in readable), default=None)


def fresh_questions(question_refs: Mapping[str, str], carded: Collection[str], recent_refs: Sequence[str],
                    limit: int) -> list[str]:
    """Question ids never carded yet on the most recent readings (newest reading first), for a 'new questions' offer."""
    picked: list[str] = []
    for ref in recent_refs:
        for question_id, question_ref in sorted(question_refs.items()):
            if question_ref == ref and question_id not in carded and question_id not in picked:
                picked.append(question_id)
                if len(picked) >= limit:
                    return picked
    return picked


def mastery(schedule: ReviewSchedule, cards: Iterable[ReviewCard], answers: Iterable[Answered], now: datetime
            ) -> dict[str, float]:
    """Per section, how well the member knows it (0–1).

    A question with a review card counts as its current retrievability if its last answer was right, and as 0 while
    the last answer stands wrong; one with no card counts by its latest quiz answer: known (1.0) if right, 0 if
    wrong (a miss not yet carded, as for a member who never opened /review, is as weak as a fresh miss's card). A
    section's figure is the mean over the questions the member has answered.
    """
    per_question: dict[str, tuple[str, float]] = {}
    for answer in sorted(answers, key=lambda a: a.at):  # stable: of two at one time, the one given later is later
        ref = per_question.get(answer.question_id, (answer.ref, 0.0))[0]
        per_question[answer.question_id] = (ref, 1.0 if answer.correct else 0.0)
    for card in cards:
        if card.reviews == 0:
            continue  # offered but never answered: says nothing yet
        known = schedule.retrievability(card, now) if card.last_correct else 0.0
        per_question[card.question_id] = (card.ref, known)
    sums: dict[str, list[float]] = {}
    for ref, value in per_question.values():
        sums.setdefault(ref, []).append(value)
    return {ref: sum(values) / len(values) for ref, values in sums.items()}


STRONG = 0.8  # a section known at least this well counts as strong, below it as one to work on


def strongest_and_weakest(figures: Mapping[str, float], count: int = 2) -> tuple[list[str], list[str]]:
    """The best known sections (at least STRONG) and the worst (below it); ties broken by ref so it is stable."""
    strong = [ref for ref in sorted(figures, key=lambda ref: (-figures[ref], ref)) if figures[ref] >= STRONG]
    weak = [ref for ref in sorted(figures, key=lambda ref: (figures[ref], ref)) if figures[ref] < STRONG]
    return strong[:count], weak[:count]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("review times must be timezone-aware")
    return moment.astimezone(UTC)

