"""The classes of failure found on real speeches (issue 12), each as a small synthetic text."""

from __future__ import annotations

import pytest

from content.parser import SpeechFormatError, analyse_speech, parse_speech
from tests.test_parser import check_tiling


def refs(text: str) -> list[str]:
    return [s.ref for s in parse_speech(text).sections()]


# --- numbering families are separate levels ----------------------------------------------------------------


def test_arabic_parentheses_inside_a_chinese_parenthesised_part_stay_body_text() -> None:
    text = ("题目\n\n一、部分\n\n（一）甲。内容（1）细目；（2）细目。\n\n（二）乙。内容。\n\n（3）段首的细目。\n\n"
            "（4）也是细目。\n\n（三）丙。内容。（4）句末之后的细目。\n\n（四）丁。内容。\n")
    doc = parse_speech(text)
    assert [p.heading for p in doc.part(1).points] == ["甲", "乙", "丙", "丁"]
    assert "（4）也是细目。" in doc.section("1.2").text
    check_tiling(doc)


def test_deeper_levels_restart_without_error() -> None:
    text = ("题目\n\n一、部分\n\n（一）甲\n\n1.横向\n\n（1）子。\n\n（2）子。\n\n2.纵向\n\n（1）子。\n\n（2）子。\n\n"
            "（二）乙\n\n内容。\n")
    doc = parse_speech(text)
    assert [p.heading for p in doc.part(1).points] == ["甲", "乙"]


def test_the_outermost_family_present_twice_is_the_level() -> None:
    text = "题目\n\n一、部分\n\n第一，要甲。\n\n（一）细。\n\n（二）细。\n\n第二，要乙。\n"
    assert [p.heading for p in parse_speech(text).part(1).points] == ["要甲", "要乙"]  # 第一， encloses （一）
    text = "题目\n\n一、部分\n\n引言。\n\n（一）甲。\n\n1.细。\n\n2.细。\n\n（二）乙。\n"
    assert [p.heading for p in parse_speech(text).part(1).points] == ["甲", "乙"]


def test_a_lone_higher_marker_is_body_text_with_a_warning() -> None:
    analysis = analyse_speech("题目\n\n一、部分\n\n1、甲。\n\n（一）孤立的。\n\n2、乙。\n\n3、丙。\n")
    assert [p.heading for p in analysis.document.part(1).points] == ["甲", "乙", "丙"]
    assert any("lone （一）" in w.text and w.line == 7 for w in analysis.warnings)


# --- paragraph-initial 一是 ---------------------------------------------------------------------------------


def test_paragraph_initial_yishi_are_points_when_they_are_the_only_numbering() -> None:
    text = ("题目\n\n一、部分\n\n主要做了以下工作。\n\n一是功能优化。内容，二是不算。\n\n插入的段落。\n\n"
            "二是创新引领。内容。\n\n三是要深化改革。内容。\n\n二、部分\n\n段落里一是甲，二是乙，三是丙。\n")
    doc = parse_speech(text)
    assert [p.heading for p in doc.part(1).points] == ["功能优化", "创新引领", "要深化改革"]
    assert "插入的段落。" in doc.section("1.1").text
    assert doc.part(2).points == ()


def test_yishi_under_another_numbering_is_a_second_level() -> None:
    text = "题目\n\n一、部分\n\n（一）甲\n\n一是细。内容。\n\n二是细。内容。\n\n（二）乙\n\n内容。\n"
    assert [p.heading for p in parse_speech(text).part(1).points] == ["甲", "乙"]


def test_yishi_without_heading_sentences_or_out_of_order_are_body_text() -> None:
    assert parse_speech("题目\n\n一、部分\n\n一是甲。内容。\n\n三是丙。内容。\n").part(1).points == ()
    analysis = analyse_speech("题目\n\n一、部分\n\n一是甲。内容。\n")
    assert analysis.document.part(1).points == ()
    assert any("lone 一是" in w.text for w in analysis.warnings)


# --- the closing boundary -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cue", ["同志们！", "同志们，", "各位代表，", "最后，", "以上", "会后，", "总之，"])
def test_a_paragraph_that_turns_to_the_audience_or_concludes_starts_the_closing(cue: str) -> None:
    text = f"题目\n\n一、部分\n\n1、甲。内容。\n\n2、乙。内容。\n\n续段。\n\n{cue}结束的话。\n\n再见。\n"
    doc = parse_speech(text)
    assert doc.section("1.2").text == "2、乙。内容。\n\n续段。"
    assert doc.closing is not None and doc.closing.text == f"{cue}结束的话。\n\n再见。"


def test_an_address_in_the_middle_does_not_end_the_speech() -> None:
    text = ("题目\n\n同志们：\n\n一、部分\n\n同志们！中间的话。\n\n1、甲。内容。\n\n二、部分\n\n1、乙。内容。\n\n"
            "同志们，结束。\n")
    doc = parse_speech(text)
    assert [p.section.ref for p in doc.parts] == ["1", "2"]
    assert "同志们！中间的话。" in doc.section("1").text
    assert doc.closing is not None and doc.closing.text == "同志们，结束。"


def test_without_a_closing_paragraph_the_last_point_keeps_its_text() -> None:
    analysis = analyse_speech("题目\n\n一、部分\n\n1、甲。内容。\n\n2、乙。内容。\n\n第二段。\n\n第三段。\n")
    doc = analysis.document
    assert doc.closing is None
    assert doc.section("1.2").text == "2、乙。内容。\n\n第二段。\n\n第三段。"
    assert any(d.text.startswith("no closing") for d in analysis.decisions)


def test_a_final_exhortation_is_the_closing_and_a_part_headed_jieyu_starts_it() -> None:
    doc = parse_speech("题目\n\n一、部分\n\n1、甲。内容。\n\n续段。\n\n全市上下要行动起来，为实现目标作出新贡献。\n")
    assert doc.closing is not None and doc.closing.text.startswith("全市上下")
    doc = parse_speech("题目\n\n一、甲\n\n内容。\n\n二、乙\n\n内容。\n\n二、结语\n\n回望过去。\n\n"
                       "绍兴市第一中学\n\n2019年12月18日\n")
    assert doc.closing is not None and doc.closing.text == "二、结语\n\n回望过去。"
    assert doc.metadata["落款"] == "绍兴市第一中学"


# --- header and trailer lines -------------------------------------------------------------------------------


def test_header_lines_of_a_web_page_are_not_speech_text() -> None:
    text = ("每周一学（2024年9月23日）\n\n文章来源：本站原创 作者：王琛 发布时间：2024年09月23日 点击数： 次\n\n"
            "在全会第二次全体会议上\n\n的讲话\n\n——在全体会议上的讲话\n\n习近平\n\n（2024年7月18日）\n\n"
            "这次全会很重要，我讲几点意见。\n\n一、部分\n\n内容。\n\n（信息来源：求是）\n\n责任编辑：李四\n")
    doc = parse_speech(text)
    assert doc.title == "在全会第二次全体会议上的讲话"
    assert doc.body == "这次全会很重要，我讲几点意见。\n\n一、部分\n\n内容。"
    assert doc.metadata["作者"] == "王琛" and doc.metadata["文章来源"] == "本站原创"
    assert doc.metadata["署名"] == "习近平" and doc.metadata["日期"] == "2024年7月18日"
    assert doc.metadata["来源"] == "求是" and doc.metadata["责任编辑"] == "李四"
    assert doc.metadata["页面标题"] == "每周一学（2024年9月23日）"


def test_letter_spaced_title_speaker_prefix_and_caption_before_the_address() -> None:
    doc = parse_speech("求 真 务 实\n\n来源：日报\n\n某某同志作报告。本报记者 摄\n\n各位代表：\n\n一、部分\n\n内容。\n")
    assert doc.title == "求真务实"
    assert doc.body.startswith("各位代表：")
    doc = parse_speech("习近平：在大会上的讲话\n\n一、部分\n\n内容。\n")
    assert doc.title == "在大会上的讲话" and doc.metadata["署名"] == "习近平"


# --- errors point at the cause ------------------------------------------------------------------------------


def test_an_error_names_the_line_that_started_the_trouble() -> None:
    text = "题目\n\n一、部分\n\n（一）甲。内容。\n\n（二）乙。内容；（三）其实是列举。\n\n（三）丙。内容。\n"
    with pytest.raises(SpeechFormatError) as info:
        parse_speech(text)
    assert info.value.line == 9
    message = str(info.value)
    assert "(line 7)" in message and "in the middle of line 7" in message and "expected point （四）" in message


def test_a_repeated_part_names_where_it_first_began() -> None:
    with pytest.raises(SpeechFormatError) as info:
        parse_speech("题目\n\n一、甲\n\n内容。\n\n二、乙\n\n内容。\n\n二、丙\n\n内容。\n")
    assert info.value.line == 11
    assert "already began at line 7" in str(info.value) and "expected part 三" in str(info.value)


def test_shipped_speech_decisions_are_reported() -> None:
    from content.loader import default_speech_path

    analysis = analyse_speech(default_speech_path().read_text(encoding="utf-8"))
    texts = [d.text for d in analysis.decisions]
    assert "part 一: points numbered 1、 (the only numbering)" in texts
    assert any(t.startswith("closing begins: the speech's last paragraph ends with an exhortation") for t in texts)
    assert [d.line for d in analysis.decisions if d.text.startswith("closing")] == [53]
