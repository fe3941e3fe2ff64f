"""Spaced review, the pure part: FSRS intervals with a fake clock, cards from quiz misses, due cards, mastery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.readings import sentence_containing
from schedules.review import (
    Answered,
    ReviewCard,
    ReviewSchedule,
    cards_from_answers,
    due_cards,
    fresh_questions,
    mastery,
    next_due,
    strongest_and_weakest,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SCHEDULE = ReviewSchedule()


def missed(question: str = "q1", ref: str = "1.1", at: datetime = T0) -> Answered:
    return Answered(question, ref, False, at)


def test_a_card_missed_today_is_due_again_within_a_day() -> None:
    card = SCHEDULE.first_card("q1", "1.1", missed())
    assert T0 < card.due <= T0 + timedelta(days=1)
    assert (card.reviews, card.lapses) == (1, 1)


def test_a_card_answered_right_three_times_moves_past_a_week() -> None:
    card = SCHEDULE.first_card("q1", "1.1", missed())
    gaps = []
    for _ in range(3):
        at = card.due
        card = SCHEDULE.review(card, True, at)
        gaps.append(card.due - at)
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert gaps[-1] > timedelta(days=7)
    assert card.lapses == 1 and card.reviews == 4


def test_a_wrong_review_brings_the_card_back_sooner_than_a_right_one() -> None:
    card = SCHEDULE.review(SCHEDULE.first_card("q1", "1.1", missed()), True, T0 + timedelta(days=1))
    later = card.due
    right = SCHEDULE.review(card, True, later)
    wrong = SCHEDULE.review(card, False, later)
    assert wrong.due < right.due and wrong.due <= later + timedelta(days=1)


def test_higher_retention_means_shorter_intervals() -> None:
    def after_two_rights(retention: float) -> timedelta:
        schedule = ReviewSchedule(retention)
        card = schedule.first_card("q", "1", missed())
        card = schedule.review(card, True, card.due)
        return schedule.review(card, True, card.due).due - card.due

    assert after_two_rights(0.95) < after_two_rights(0.8)
    with pytest.raises(ValueError, match="retention"):
        ReviewSchedule(0.5)


def test_times_must_carry_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SCHEDULE.first_card("q", "1", Answered("q", "1", False, datetime(2026, 12, 1)))


def test_cards_come_from_misses_only_and_replay_later_answers() -> None:
    answers = [
        Answered("right-only", "1.1", True, T0),
        missed("missed", "1.2", T0),
        Answered("missed", "1.2", True, T0 + timedelta(days=1)),
        missed("known", "1.3", T0),
    ]
    cards = cards_from_answers(SCHEDULE, answers, known={"known"})
    assert [c.question_id for c in cards] == ["missed"]
    assert cards[0].reviews == 2 and cards[0].due > T0 + timedelta(days=2)


def test_due_cards_are_the_overdue_ones_on_readable_sections_oldest_first() -> None:
    cards = [ReviewCard("a", "1.1", "{}", T0 - timedelta(hours=1)),
             ReviewCard("b", "1.2", "{}", T0 - timedelta(days=2)),
             ReviewCard("c", "2.1", "{}", T0 - timedelta(days=3)),
             ReviewCard("d", "1.1", "{}", T0 + timedelta(hours=1))]
    assert [c.question_id for c in due_cards(cards, T0, {"1.1", "1.2"}, limit=5)] == ["b", "a"]
    assert [c.question_id for c in due_cards(cards, T0, {"1.1", "1.2"}, limit=1)] == ["b"]
    assert next_due(cards, {"1.1"}) == T0 - timedelta(hours=1)
    assert next_due(cards, set()) is None


def test_fresh_questions_come_from_the_newest_readings_and_skip_carded_ones() -> None:
    refs = {"q1": "1.1", "q2": "1.2", "q3": "1.2", "q4": "2.1"}
    assert fresh_questions(refs, carded={"q2"}, recent_refs=["1.2", "1.1"], limit=3) == ["q3", "q1"]
    assert fresh_questions(refs, carded=set(), recent_refs=["1.2"], limit=1) == ["q2"]


def test_mastery_counts_a_never_missed_question_as_known_and_a_fresh_miss_as_weak() -> None:
    answers = [Answered("good", "1.1", True, T0), missed("bad", "1.2", T0)]
    cards = cards_from_answers(SCHEDULE, answers, known=set())
    figures = mastery(SCHEDULE, cards, answers, T0 + timedelta(days=1))
    assert figures == {"1.1": 1.0, "1.2": 0.0}  # the miss stands until it is answered right
    relearnt = SCHEDULE.review(cards[0], True, T0 + timedelta(days=1))
    later = mastery(SCHEDULE, [relearnt], answers, T0 + timedelta(days=2))
    assert 0.8 < later["1.2"] < 1.0  # known again, fading with time
    assert mastery(SCHEDULE, [SCHEDULE.new_card("new", "2.1", T0)], [], T0) == {}
    strong, weak = strongest_and_weakest(figures, count=1)
    assert (strong, weak) == (["1.1"], ["1.2"])
    assert strongest_and_weakest({"1.1": 0.5}) == ([], ["1.1"])


def test_mastery_counts_a_miss_with_no_card_by_its_latest_answer() -> None:
    """A member who never opened /review has no cards: a miss is not known (it counted as known before)."""
    answers = [Answered("q", "1.1", True, T0), missed("bad", "1.2", T0),
               missed("again", "2.1", T0), Answered("again", "2.1", True, T0 + timedelta(days=1))]
    assert mastery(SCHEDULE, [], answers, T0 + timedelta(days=2)) == {"1.1": 1.0, "1.2": 0.0, "2.1": 1.0}
    assert mastery(SCHEDULE, [], list(reversed(answers)), T0 + timedelta(days=2))["2.1"] == 1.0  # by time


def test_the_sentence_that_states_an_answer_is_found_whole() -> None:
    text = "一、标题\n我们要坚持学习。要把学习作为终身追求，持之以恒！其他内容。"
    assert sentence_containing(text, "终身追求") == "要把学习作为终身追求，持之以恒！"
    assert sentence_containing(text, "标题") == "一、标题"
    assert sentence_containing(text, "没有的话") is None


REFS = ["opening", "1", "1.1", "1.2", "2", "2.1", "closing"]


@given(
    cards=st.lists(st.tuples(st.sampled_from(REFS), st.integers(-10_000, 10_000)), max_size=30),
    readable=st.sets(st.sampled_from(REFS)),
    limit=st.integers(1, 10),
)
def test_review_never_asks_about_an_unread_section(cards: list[tuple[str, int]], readable: set[str],
                                                    limit: int) -> None:
    deck = [ReviewCard(f"q{i}", ref, "{}", T0 + timedelta(minutes=m)) for i, (ref, m) in enumerate(cards)]
    due = due_cards(deck, T0, readable, limit)
    assert all(c.ref in readable and c.due <= T0 for c in due) and len(due) <= limit
    upcoming = next_due(deck, readable)
    assert upcoming is None or any(c.due == upcoming and c.ref in readable for c in deck)
    recent = [r for r in REFS if r in readable]
    fresh = fresh_questions({c.question_id: c.ref for c in deck}, set(), recent, limit)
    assert all(next(c for c in deck if c.question_id == q).ref in readable for q in fresh)
