"""parse_speech on small texts, bad files, and generated speeches of the genre (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.loader import load_document
from content.model import Document
from content.parser import SpeechFormatError, cn_to_int, int_to_cn, parse_speech
from content.refs import resolve

DATA = Path(__file__).parent / "data"


def check_tiling(doc: Document) -> None:
    position = 0
    for section in doc.sections():
        assert section.start >= position
        assert doc.body[position : section.start].strip() == ""
        assert section.text == doc.body[section.start : section.end]
        assert section.text and section.text == section.text.strip()
        position = section.end
    assert doc.body[position:].strip() == ""


def outline(doc: Document) -> list[tuple[str, str]]:
    return [(s.ref, s.heading) for s in doc.sections()]


# --- numerals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", range(100))
def test_chinese_numerals_round_trip(number: int) -> None:
    assert cn_to_int(int_to_cn(number)) == number


@pytest.mark.parametrize("text", ["", "十十", "二三", "一十一十", "零十", "十零", "abc", "百"])
def test_not_chinese_numerals(text: str) -> None:
    assert cn_to_int(text) is None


# --- small texts --------------------------------------------------------------------------------------------


def test_marker_styles_and_running_headings() -> None:
    text = (
        "题目\n\n同志们：\n\n开场。\n\n"
        "第一部分　认识\n\n（一）要深化认识。内容。（二）要统一认识！内容。\n\n"
        "二．行动。介绍。\n\n第一，要抓落实。\n内容。\n\n第二，要抓督查。内容；第三，要抓考核。内容。\n\n"
        "三、保障\n\n１．组织保障。内容。\n\n2. 经费保障？内容。3．人员保障。内容。\n\n最后，结束的话。\n"
    )
    doc = parse_speech(text)
    assert outline(doc) == [
        ("opening", "开头"),
        ("1", "认识"),
        ("1.1", "要深化认识"),
        ("1.2", "要统一认识！"),
        ("2", "行动"),
        ("2.1", "要抓落实"),
        ("2.2", "要抓督查"),
        ("2.3", "要抓考核"),
        ("3", "保障"),
        ("3.1", "组织保障"),
        ("3.2", "经费保障？"),
        ("3.3", "人员保障"),
        ("closing", "结语"),
    ]
    assert doc.section("2.1").text == "第一，要抓落实。\n内容。"
    assert doc.closing is not None and doc.closing.text == "最后，结束的话。"
    check_tiling(doc)


def test_numbers_inside_text_are_not_points() -> None:
    text = (
        "题目\n\n同志们:\n\n一、部分\n\n1、要点。增长2.3个百分点。按第1、2条执行。数量达到5、6万。\n\n"
        "2、要点二。内容。2.5亿元。第三，不是要点。(3)不是要点，因为不在句末之后。\n"
    )
    doc = parse_speech(text)
    assert [s.ref for s in doc.sections()] == ["opening", "1", "1.1", "1.2"]
    assert doc.section("1.2").text.endswith("因为不在句末之后。")


def test_other_marker_family_inside_a_point_is_a_sub_list() -> None:
    text = "题目\n\n一、部分\n\n1、要点。\n（一）细目。\n（二）细目。\n\n2、要点二。内容。\n"
    doc = parse_speech(text)
    assert [s.ref for s in doc.sections()] == ["1", "1.1", "1.2"]
    assert "（二）细目。" in doc.section("1.1").text


def test_terminator_inside_quotes_does_not_end_a_heading() -> None:
    doc = parse_speech("题目\n\n一、部分\n\n1、强化“学习。责任”的观念。内容。\n")
    assert doc.section("1.1").heading == "强化“学习。责任”的观念"


def test_part_without_points_and_no_opening() -> None:
    doc = parse_speech("题目\n\n一、只有介绍\n\n介绍一段。\n\n二、也只有介绍\n\n介绍。\n")
    assert doc.opening is None and doc.closing is None
    assert [len(p.points) for p in doc.parts] == [0, 0]
    assert doc.section("2").text == "二、也只有介绍\n\n介绍。"


def test_address_marks_the_closing_after_a_long_last_point() -> None:
    text = "题目\n\n一、部分\n\n1、要点。\n第一段。\n\n第二段。\n\n同志们，结束。\n\n再见。\n"
    doc = parse_speech(text)
    assert doc.section("1.1").text == "1、要点。\n第一段。\n\n第二段。"
    assert doc.closing is not None and doc.closing.text == "同志们，结束。\n\n再见。"


def test_header_colons_and_repeated_title() -> None:
    text = "\n\n题目\n时间：2022-01-21\n来源:网络\n作者： 某人\n\n题目\n\n同志们:\n\n一、部分\n\n内容。\n"
    doc = parse_speech(text)
    assert doc.title == "题目"
    assert dict(doc.metadata) == {"时间": "2022-01-21", "来源": "网络", "作者": "某人"}
    assert doc.body.startswith("同志们:")


def test_indented_paragraphs_and_trailing_spaces() -> None:
    text = "题目\r\n\r\n　　同志们:  \r\n　　一、部分\t\r\n　　1、要点。内容。 \r\n"
    doc = parse_speech(text)
    assert doc.body == "　　同志们:\n　　一、部分\n　　1、要点。内容。"
    assert doc.section("1").text == "一、部分"
    check_tiling(doc)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "the file is empty"),
        ("  \n\n \n", None, "the file is empty"),
        ("题目\n时间:2020\n", 2, "no speech text after the title"),
        ("题目\n\n同志们:\n\n内容。\n", 3, "no parts found"),
        ("题目\n\n一、甲\n\n三、丙\n", 5, "part 三 follows part 一 (line 3); expected part 二"),
        ("题目\n\n二、乙\n", 3, "part 二 follows the opening; expected part 一"),
        ("题目\n\n一、\n", 3, "part 一 has no heading text"),
        ("题目\n\n第一部分：\n", 3, "part 一 has no heading text"),
        ("题目\n\n一、甲\n1、点。\n3、点。\n", 5, "point 3、 follows point 1、 (line 4) in part 一;"),
        ("题目\n\n一、甲\n\n2、点。\n", 5, "point 2、 follows the part heading (line 3) in part 一"),
        ("题目\n\n一、甲\n1、点。\n2、点。\n1、点。\n", 6, "point 1、 follows point 2、 (line 5) in part 一;"),
        ("题目\n\n一、甲\n1、\n", 4, "point 1、 in part 一 has no heading text"),
        ("题目\n\n一、甲\n（一）点。\n（三）点。\n", 5, "point （三） follows point （一） (line 4) in part 一"),
    ],
)
def test_format_errors_say_where_and_why(text: str, line: int | None, reason: str) -> None:
    with pytest.raises(SpeechFormatError) as info:
        parse_speech(text)
    assert info.value.line == line
    assert reason in str(info.value)
    if line is not None:
        assert str(info.value).startswith(f"line {line}: ")


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("bad_*.txt")))
def test_bad_sample_files_are_refused_with_their_name(name: str) -> None:
    with pytest.raises(SpeechFormatError, match=name.replace(".", r"\.")):
        load_document(DATA / name)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("good_*.txt")))
def test_good_sample_files_parse_and_tile(name: str) -> None:
    doc = load_document(DATA / name)
    check_tiling(doc)
    assert doc.parts


def test_good_sample_structures() -> None:
    doc = load_document(DATA / "good_parenthesised.txt")
    assert [len(p.points) for p in doc.parts] == [2, 0, 3]
    assert doc.section("3.3").heading == "抓好宣传"
    assert doc.closing is not None and doc.closing.text.startswith("同志们，")
    doc = load_document(DATA / "good_ordinal.txt")
    assert [len(p.points) for p in doc.parts] == [3, 2]
    assert doc.metadata["来源"] == "本地"
    assert doc.title == "在读书会上的讲话"  # the BOM is not part of the title
    assert doc.closing is not None and doc.closing.text == "最后，希望大家多读书。"
    doc = load_document(DATA / "good_crlf_untitled.txt")
    assert doc.title == ""
    assert doc.opening is None
    assert outline(doc)[1:] == [
        ("1.1", "指导思想"),
        ("1.2", "基本原则！"),
        ("2", "主要任务"),
        ("2.1", "读原著"),
        ("2.2", "悟原理？"),
        ("closing", "结语"),
    ]
    assert outline(doc)[0] == ("1", "总体要求")


@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_format_error(text: str) -> None:
    try:
        doc = parse_speech(text)
    except SpeechFormatError as error:
        assert error.reason
    else:
        check_tiling(doc)
        assert doc.parts


def test_header_lines_before_the_title_are_metadata() -> None:
    doc = parse_speech("时间：2022\n题目\n导语：简介\n\n一、部分\n\n内容。\n")
    assert doc.title == "题目"
    assert dict(doc.metadata) == {"时间": "2022", "导语": "简介"}
    assert doc.body == "一、部分\n\n内容。"


def test_file_without_title_starts_with_the_address() -> None:
    doc = parse_speech("同志们：\n\n开场。\n\n一、部分\n\n内容。\n")
    assert doc.title == ""
    assert doc.opening is not None and doc.opening.text == "同志们：\n\n开场。"


def test_header_line_inside_the_body_is_body_text() -> None:
    doc = parse_speech("题目\n\n同志们：\n\n时间：不等人。\n\n一、部分\n\n内容。\n")
    assert dict(doc.metadata) == {}
    assert doc.opening is not None and "时间：不等人。" in doc.opening.text


# Markers, sentence ends, quotes, line breaks and the address, glued at random.
PART_MARKS = ["一、", "二、", "三、", "第一部分", "第二部分", "十、"]
POINT_MARKS = ["1、", "2、", "3.", "２．", "（一）", "（二）", "(1)", "(2)", "第一，", "第二，"]
PROSE = ["。", "！", "？", "；", "“", "”", "同志们，", "时间:", "学习", "建设", "题目", "\ufeff", "　　", " "]
MARKERISH = st.sampled_from([*PART_MARKS, *POINT_MARKS, *PROSE, "\n", "\n\n", "\r\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(MARKERISH, max_size=40).map("".join))
def test_marker_soup_parses_consistently_or_raises_format_error(text: str) -> None:
    try:
        doc = parse_speech(text)
    except SpeechFormatError as error:
        assert error.reason
        return
    check_tiling(doc)
    for section in doc.sections():
        assert resolve(doc, section.ref) is section
        assert resolve(doc, section.label) is section
