"""Resolving what people type to a section of the speech."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render import ref_problem
from content.loader import load_document
from content.model import Document
from content.parser import parse_speech
from content.refs import RefError, resolve

DOC = load_document()


@pytest.mark.parametrize(
    "text",
    [
        "2.3",
        "2-3",
        "2．3",
        "2、3",
        "二.3",
        "二、3",
        "二3",
        "2 3",
        "第二部分第三点",
        "第二部分 3",
        "２．３",
        "〔二、3〕",
        " 2.3 ",
        "【2.3】",
        "二（3）",
        "二、三",
        "2,3",
        "2，3",
        "第2部分第3点",
        "2/3",
    ],
)
def test_forms_of_a_point(text: str) -> None:
    assert resolve(DOC, text) is DOC.section("2.3")


@pytest.mark.parametrize("text", ["2", "二", "第二部分", "２", "第2部分", "（二）", "二、"])
def test_forms_of_a_part(text: str) -> None:
    assert resolve(DOC, text) is DOC.section("2")


@pytest.mark.parametrize("text", ["开头", "开场", "开篇", "opening", "OPENING", "0", "０", " 开头 "])
def test_opening_words(text: str) -> None:
    assert resolve(DOC, text) is DOC.opening


@pytest.mark.parametrize("text", ["结语", "结尾", "结束语", "closing", "Closing", "〔结语〕"])
def test_closing_words(text: str) -> None:
    assert resolve(DOC, text) is DOC.closing


def test_last_point_of_the_last_part() -> None:
    assert resolve(DOC, "四、4").heading == "加强舆论宣传"
    assert resolve(DOC, "4.4") is DOC.section("4.4")


def test_missing_part_says_what_exists() -> None:
    with pytest.raises(RefError) as info:
        resolve(DOC, "5")
    assert ref_problem(DOC, info.value) == "没有第五部分。本讲话共四部分：一至四；开头、结语。"


def test_missing_point_says_how_many_there_are() -> None:
    with pytest.raises(RefError) as info:
        resolve(DOC, "2.4")
    assert ref_problem(DOC, info.value) == "第二部分只有 3 点（二、1 至 二、3）。"
    with pytest.raises(RefError) as info:
        resolve(DOC, "四、9")
    assert "第四部分只有 4 点（四、1 至 四、4）" in ref_problem(DOC, info.value)


@pytest.mark.parametrize("text", ["", "   ", "abc", "1.2.3", "二三", "十十", "hello 2", "x" * 500, "〔〕"])
def test_nonsense_is_a_ref_error(text: str) -> None:
    with pytest.raises(RefError):
        resolve(DOC, text)


def test_unreadable_reference_quotes_it_and_gives_examples() -> None:
    with pytest.raises(RefError) as info:
        resolve(DOC, "abc")
    message = ref_problem(DOC, info.value)
    assert "“abc”" in message
    assert "本讲话共四部分" in message
    assert "写法示例" in message


SMALL = "题目\n\n同志们:\n\n开场白。\n\n一、第一部分\n\n介绍。\n\n二、第二部分\n\n1、要点一。内容。\n"


def test_small_document_without_closing_or_points() -> None:
    doc = parse_speech(SMALL.replace("开场白。\n\n", ""))
    assert doc.closing is None
    with pytest.raises(RefError) as info:
        resolve(doc, "结语")
    assert ref_problem(doc, info.value) == "本讲话没有结语。本讲话共两部分：一至二；开头。"
    with pytest.raises(RefError) as info:
        resolve(doc, "1.1")
    assert ref_problem(doc, info.value).startswith("第一部分没有分点")


def test_document_without_opening() -> None:
    doc = parse_speech("题目\n\n一、唯一部分\n\n1、要点。内容。\n")
    assert doc.opening is None
    with pytest.raises(RefError) as info:
        resolve(doc, "开头")
    assert ref_problem(doc, info.value) == "本讲话没有开头。本讲话共一部分：一。"


def _every_section(doc: Document) -> list[tuple[str, str]]:
    return [(s.ref, s.label) for s in doc.sections()]


@pytest.mark.parametrize(("ref", "label"), _every_section(DOC))
def test_every_ref_and_label_resolves_to_its_section(ref: str, label: str) -> None:
    section = DOC.section(ref)
    assert resolve(DOC, ref) is section
    assert resolve(DOC, label) is section


@given(st.text(max_size=60))
def test_random_text_raises_only_ref_error(text: str) -> None:
    try:
        section = resolve(DOC, text)
    except RefError as error:
        assert ref_problem(DOC, error)  # every refusal can be explained
    else:
        assert DOC.has(section.ref)


@given(
    st.lists(
        st.sampled_from(list("0123456789０１２３４５６７８９一二三四五六七八九十两.、-．第部分点 〔〕（）")),
        max_size=12,
    ).map("".join)
)
def test_reference_like_text_raises_only_ref_error(text: str) -> None:
    try:
        section = resolve(DOC, text)
    except RefError as error:
        assert ref_problem(DOC, error)  # every refusal can be explained
    else:
        assert DOC.section(section.ref) is section


def test_a_point_without_its_part_asks_which_part() -> None:
    with pytest.raises(RefError) as info:
        resolve(DOC, "第三点")
    assert ref_problem(DOC, info.value).startswith("请写明是哪一部分的第三点，例如 二、3。")
