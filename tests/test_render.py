"""The renderer: message splitting, HTML safety, and the chat texts built from content."""

from __future__ import annotations

import html
import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot import render
from bot.store import AnswerRecord
from content.loader import load_document
from content.readings import plan_readings
from content.refs import RefError
from content.search import Page, SearchIndex
from content.typography import to_display

sentences = st.lists(
    st.text(alphabet=st.sampled_from("学习型党组织建设<>&\"'ab 1"), min_size=1, max_size=120).map(
        lambda s: s + "。"),
    min_size=1, max_size=80)


@given(sentences, st.integers(min_value=50, max_value=600))
def test_split_text_keeps_every_character_and_prefers_sentence_ends(parts: list[str], budget: int) -> None:
    text = "".join(parts)
    chunks = render.split_text(text, budget)
    assert all(0 < len(c) <= budget for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())
    for chunk in chunks[:-1]:
        # A chunk is cut mid-sentence only when no sentence end at all fits in the budget.
        if not chunk.endswith("。"):
            assert "。" not in chunk and len(chunk) <= budget


def test_section_messages_split_a_long_section_under_telegrams_limit() -> None:
    doc = load_document()
    section = doc.section("2.3")
    long_doc_text = section.text * 12
    chunks = render.split_text(long_doc_text)
    assert len(chunks) > 1 and all(len(c) <= render.TEXT_BUDGET for c in chunks)
    messages = render.section_messages(doc, doc.section("3"))
    assert all(len(m) <= render.MESSAGE_LIMIT for m in messages)


def test_user_text_is_escaped_in_html_replies() -> None:
    reply = render.search_results("<b>&</i>", Page((), 0, 1, 5))
    assert "<b>&</i>" not in reply and html.escape("<b>&</i>", quote=False) in reply
    doc = load_document()
    for error in (RefError("unreadable", text="<script>"), RefError("no_part", number=9)):
        bad = render.ref_error("<script>", doc, error)
        assert "<script>" not in bad and "&lt;script&gt;" in bad


def test_reading_header_names_day_total_and_point() -> None:
    doc = load_document()
    plan = plan_readings(doc)
    header = render.reading_header(doc, plan[2], len(plan))
    assert re.match(rf"《{doc.title}》第 3 天 / 共 {len(plan)} 天 · 一、\d", header)


def test_plain_keeps_search_marks_visible_in_the_terminal() -> None:
    assert render.plain("<b>a</b> <b><u>终身</u></b> &lt;x&gt;") == "a 【终身】 <x>"


@given(st.lists(st.text(alphabet=st.sampled_from("目录一二三<b>/ 1.〔〕"), max_size=60), min_size=1, max_size=200),
       st.integers(min_value=60, max_value=500))
def test_split_lines_keeps_lines_whole_and_under_budget(lines: list[str], budget: int) -> None:
    text = "\n".join(lines)
    chunks = render.split_lines(text, budget)
    assert "\n".join(chunks) == text
    assert all(len(c) <= budget for c in chunks)  # every line here is shorter than the budget


def test_outline_of_the_shipped_speech_is_one_message() -> None:
    assert render.outline_messages(load_document()) == [render.outline(load_document())]


def test_help_in_a_private_chat_says_the_member_may_subscribe_themselves() -> None:
    doc = load_document()
    assert "在私聊里你就是管理员" in render.help_text(doc, private=True)
    assert "在私聊里你就是管理员" not in render.help_text(doc, private=False)


# --- quiz wording --------------------------------------------------------------------------------------------------


def test_the_quiz_intro_states_the_real_rule() -> None:
    intro = render.quiz_intro(5, "全文", 30)
    assert "答对一题得 1 分，每人只计第一次作答" in intro and "先答先得" not in intro


def test_percentages_round_half_up() -> None:
    assert [render.percent(c, n) for c, n in [(2, 3), (1, 3), (1, 8), (3, 8), (0, 5), (5, 5), (0, 0)]] == [
        67, 33, 13, 38, 0, 100, 0]


def test_no_medal_below_one_point() -> None:
    assert render.medal(1, 2) == "🥇" and render.medal(3, 1) == "🥉"
    assert render.medal(1, 0) == "1." and render.medal(3, 0) == "3." and render.medal(4, 9) == "4."


def test_weak_sections_are_bracketed_and_named_as_typed() -> None:
    doc = load_document()
    answers = [AnswerRecord(f"p{i}", 1, "q", ref, False, 0.0, date(2026, 1, 1))
               for i, ref in enumerate(["3.3", "opening"])]
    text = render.member_stats(doc, "甲", answers, date(2026, 1, 1))
    assert "〔三、3〕〔开头〕" in text or "〔开头〕〔三、3〕" in text
    assert "/section opening" not in text and ("/section_opening" in text or "/section_3_3" in text)  # tappable
    assert "正确率：0%" in text


def test_quiz_texts_are_shown_with_full_width_marks_and_nested_quotes() -> None:
    shown = render.quiz_question("“推进“科学发展、后发赶超”的决定性因素”,对吗?", 1, 5)
    assert shown == "【1/5】“推进‘科学发展、后发赶超’的决定性因素”，对吗？"
    assert render.quiz_question("下列哪些是其中列举的？", 2, 5, multiple=True).startswith("【2/5】（多选）")
    assert render.quiz_option("一、统一思想,准确把握") == "一、统一思想，准确把握"


def test_shown_speech_text_has_display_typography_and_the_stored_text_stays() -> None:
    doc = load_document()
    plan = plan_readings(doc)
    reading = next(r for r in plan if "党委(组)" in r.text)
    shown = render.reading_message(doc, reading, len(plan))
    assert "党委（组）" in shown and "党委(组)" not in shown
    assert "党委(组)" in doc.body  # stored verbatim
    outline = render.outline(doc)
    assert "一、统一思想，准确把握" in outline and "统一思想," not in outline
    hit_page = SearchIndex(doc).page("推进“科学发展")
    results = render.search_results("推进“科学发展", hit_page)
    assert "<b><u>推进“科学发展</u></b>" in results and "后发赶超”" in results


@given(st.text(alphabet='，,:：;；()（）!！?？“”‘’"学习 abc10', max_size=80))
def test_display_typography_keeps_every_position(text: str) -> None:
    assert len(to_display(text)) == len(text)  # so snippets can be marked on the stored text


def test_a_report_names_no_study_star_for_zero_check_ins() -> None:
    from records.ledger import summarize
    from tests.test_reports_ledger import campaign

    nobody = render.report_group(summarize(campaign(checkins=())), None, None, True)
    assert "学习之星" not in nobody
    somebody = render.report_group(summarize(campaign()), None, None, True)
    assert "学习之星：小王" in somebody
