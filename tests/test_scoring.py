"""Scoring, ranking, streaks, weak sections and drawing rounds: pure functions with literal inputs and properties."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from content.questions import Question
from content.scoring import (
    QuestionResult,
    SectionStats,
    in_scope,
    pick_questions,
    rank,
    round_summary,
    streak,
    total_scores,
    weakest_sections,
)


def test_total_scores_count_correct_answers_and_keep_zero_scorers() -> None:
    assert total_scores([{1: True, 2: False}, {1: True, 3: True}, {2: False}]) == {1: 2, 2: 0, 3: 1}


# --- ranking -------------------------------------------------------------------------------------------------------


def test_competition_ranking() -> None:
    assert rank({"c": 1, "a": 3, "b": 3, "d": 0}) == [(1, "a", 3), (1, "b", 3), (3, "c", 1), (4, "d", 0)]
    assert rank({}) == []


def test_ranking_with_ids_that_do_not_compare_still_works() -> None:
    result = rank({1: 2, "x": 2, 3: 5})
    assert result[0] == (1, 3, 5)
    assert {r[1] for r in result[1:]} == {1, "x"} and all(r[0] == 2 for r in result[1:])


@given(st.dictionaries(st.integers(0, 10_000), st.integers(0, 20), max_size=30))
def test_ranking_properties(scores: dict[int, int]) -> None:
    ranked = rank(scores)
    assert sorted(u for _, u, _ in ranked) == sorted(scores)
    assert all(scores[u] == s for _, u, s in ranked)
    ranks = [r for r, _, _ in ranked]
    assert ranks == sorted(ranks)
    assert [s for _, _, s in ranked] == sorted(scores.values(), reverse=True)
    for r, _, s in ranked:
        assert r == 1 + sum(1 for other in scores.values() if other > s)  # rank = 1 + number strictly better
    by_score: dict[int, int] = {}
    for r, _, s in ranked:
        assert by_score.setdefault(s, r) == r  # ties share a rank
    assert rank(dict(reversed(list(scores.items())))) == ranked  # input order does not matter


# --- streaks -------------------------------------------------------------------------------------------------------


def test_streak() -> None:
    today = date(2024, 5, 10)
    days = [date(2024, 5, d) for d in (6, 7, 8, 9)]
    assert streak(days, today) == 4  # up to yesterday: today's quiz may still come
    assert streak([*days, today], today) == 5
    assert streak([date(2024, 5, 8), today], today) == 1
    assert streak([date(2024, 5, 8)], today) == 0
    assert streak([], today) == 0
    assert streak([date(2024, 5, 11)], today) == 0  # a future date (clock skew) is no streak


@given(st.sets(st.integers(0, 60)), st.integers(0, 60))
def test_streak_properties(offsets: set[int], today_offset: int) -> None:
    base = date(2024, 1, 1)
    days = {base + timedelta(days=o) for o in offsets}
    today = base + timedelta(days=today_offset)
    n = streak(days, today)
    end = today if today in days else today - timedelta(days=1)
    assert all(end - timedelta(days=i) in days for i in range(n))
    assert end - timedelta(days=n) not in days


# --- weak sections and the round summary ---------------------------------------------------------------------------


def test_weakest_sections_worst_first_perfect_ones_excluded() -> None:
    stats = {
        "1.1": SectionStats(answered=4, correct=4),
        "2.3": SectionStats(answered=4, correct=1),
        "3.2": SectionStats(answered=2, correct=1),
        "4.1": SectionStats(answered=8, correct=4),
        "opening": SectionStats(answered=0, correct=0),
    }
    assert weakest_sections(stats) == ["2.3", "4.1", "3.2"]  # equal accuracy: more answers first
    assert weakest_sections(stats, limit=1) == ["2.3"]
    assert weakest_sections(stats, min_answered=3) == ["2.3", "4.1"]


def test_round_summary() -> None:
    results = [
        QuestionResult("q1", "1.1", {"ann": True, "bob": True, "cai": False}),
        QuestionResult("q2", "2.3", {"ann": False, "bob": False, "cai": False}),
        QuestionResult("q3", "3.1", {"ann": True, "bob": False}),
        QuestionResult("q4", "3.1", {}),
    ]
    summary = round_summary(results, missed_limit=2)
    assert summary.ranking == ((1, "ann", 2), (2, "bob", 1), (3, "cai", 0))
    assert summary.questions == 4 and summary.participants == 3
    # Most wrong answers first; q3 (1 of 2 wrong) beats q1 (1 of 3 wrong); q4 had no answers.
    assert [(m.question_id, m.ref, m.wrong, m.answered) for m in summary.most_missed] == [
        ("q2", "2.3", 3, 3),
        ("q3", "3.1", 1, 2),
    ]
    assert summary.weakest == ("2.3", "3.1", "1.1")


# --- drawing a round -----------------------------------------------------------------------------------------------

REFS = ["opening", "1", "1.1", "1.2", "2", "2.1", "2.3", "3.1", "closing"]


def make_q(i: int, ref: str, source: str) -> Question:
    return Question(f"{source[0]}-{i}", ref, f"问题{i}", "甲", ("乙", "丙", "丁"), "说明", source, "cloze")  # type: ignore[arg-type]


pools = st.lists(st.tuples(st.sampled_from(REFS), st.sampled_from(["bank", "generated"])), max_size=40).map(
    lambda specs: [make_q(i, ref, src) for i, (ref, src) in enumerate(specs)]
)


@given(
    pool=pools,
    n=st.integers(0, 15),
    scope=st.none() | st.sets(st.sampled_from(["1", "2", "1.1", "2.3", "closing", "4"]), max_size=3),
    seed=st.integers(),
    recent=st.sets(st.integers(0, 40), max_size=10),
)
def test_pick_questions_properties(
    pool: list[Question], n: int, scope: set[str] | None, seed: int, recent: set[int]
) -> None:
    recent_ids = {f"b-{i}" for i in recent} | {f"g-{i}" for i in recent}
    picked = pick_questions(pool, n, scope, random.Random(seed), recent_ids)
    in_scope_ids = {q.id for q in pool if in_scope(q.ref, scope)}
    assert len({q.id for q in picked}) == len(picked)  # distinct
    assert {q.id for q in picked} <= in_scope_ids  # in scope
    assert len(picked) == min(n, len(in_scope_ids))  # n, or all there are
    # Preference: nothing recent while fresh ones are left out; no generated while fresh bank ones are left out.
    left_out = in_scope_ids - {q.id for q in picked}
    if any(q.id in recent_ids for q in picked):
        assert left_out <= recent_ids
    if any(q.source == "generated" and q.id not in recent_ids for q in picked):
        assert not any(q.id in left_out and q.source == "bank" and q.id not in recent_ids for q in pool)
    # Deterministic for a given rng, whatever the pool's order.
    assert pick_questions(list(reversed(pool)), n, scope, random.Random(seed), recent_ids) == picked


def test_pick_spreads_over_sections_and_scope_is_exact() -> None:
    pool = [make_q(i, ref, "bank") for i, ref in enumerate(["2", "2.1", "2.1", "2.1", "2.3", "1.1"])]
    picked = pick_questions(pool, 3, {"2", "2.1", "2.3"}, random.Random(1))
    assert {q.ref for q in picked} == {"2", "2.1", "2.3"}
    # A reading that holds part 2's introduction lists "2": that must not bring in the unread points.
    assert not in_scope("2.1", {"2"}) and in_scope("2", {"2"}) and not in_scope("12.1", {"1"})


def test_pick_prefers_bank_and_fresh_questions() -> None:
    pool = [make_q(i, "1.1", "bank") for i in range(3)] + [make_q(i, "1.1", "generated") for i in range(3, 9)]
    picked = pick_questions(pool, 3, None, random.Random(0), recent_ids={"b-0"})
    assert {q.id for q in picked} == {"b-1", "b-2"} | {picked[-1].id}
    assert picked[-1].source == "generated"
