"""Parsing /quiz arguments: a count and a scope, in either order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.handlers.quiz import QuizRequest, parse_quiz_args


@pytest.mark.parametrize(("args", "expected"), [
    ([], QuizRequest(5, "read")),
    (["3"], QuizRequest(3, "read")),
    (["3", "today"], QuizRequest(3, "today")),
    (["today", "3"], QuizRequest(3, "today")),
    (["2.3", "4"], QuizRequest(4, "2.3")),
    (["二、1", "2"], QuizRequest(2, "二、1")),
    (["全文"], QuizRequest(5, "all")),
    (["2", "3"], QuizRequest(2, "3")),  # the first number is the count, the next one a part
    (["第二部分", "第三点"], QuizRequest(5, "第二部分 第三点")),
])
def test_count_and_scope_in_either_order(args: list[str], expected: QuizRequest) -> None:
    assert parse_quiz_args(args, default=5, most=10) == expected


@pytest.mark.parametrize("args", [["0"], ["11"], ["99", "all"]])
def test_counts_out_of_range_are_refused(args: list[str]) -> None:
    with pytest.raises(ValueError, match=r"count must be 1\.\.10"):
        parse_quiz_args(args, default=5, most=10)


@given(st.lists(st.text(max_size=20), max_size=6))
def test_any_arguments_give_a_request_or_a_value_error(args: list[str]) -> None:
    try:
        request = parse_quiz_args(args, default=5, most=10)
    except ValueError:
        return
    assert 1 <= request.count <= 10 and request.scope
