"""The question checker: good and bad examples from the hand audit, and every shipped and generated question passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from content.loader import load_document
from content.model import Document
from content.questions import Question, load_default_bank
from content.quizcheck import (
    asks_same,
    distinctive,
    duplicates,
    heading_echo,
    question_problems,
    visible_siblings,
)
from content.quizgen import generate_questions
from content.typography import to_display


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document()


@pytest.fixture(scope="module")
def bank(doc: Document) -> tuple[Question, ...]:
    return load_default_bank(doc)


def q(question: str, answer: str, distractors: tuple[str, ...], ref: str, kind: str = "cloze",
      source: str = "generated", explanation: str = "", support: str | None = None,
      extra: tuple[str, ...] = ()) -> Question:
    label = {"1.2": "一、2", "3.1": "三、1", "4": "四", "2.3": "二、3", "3": "三", "1": "一", "4.4": "四、4",
             "3.2": "三、2", "2.1": "二、1"}[ref]
    return Question("t", ref, question, answer, distractors, explanation or f"原文〔{label}〕", source,  # type: ignore[arg-type]
                    kind, support, extra)


def problems(question: Question, doc: Document) -> str:
    return "\n".join(question_problems(question, doc))


# --- clozes ----------------------------------------------------------------------------------------------------------


def test_a_good_cloze_passes(doc: Document) -> None:
    good = q("自觉做到学以立德、学以增智、（　　）。", "学以创业", ("学以致用", "学以修身", "学以明理"), "3.1")
    assert question_problems(good, doc) == []


def test_distractors_of_another_kind_are_refused(doc: Document) -> None:
    """The audit's example: 使学习成为…的（　　） with 优化发展 / 公共服务 / 讲解政策."""
    bad = q("使学习成为各级党组织和广大党员的（　　）、第一需要、终身追求。", "政治责任",
            ("优化发展", "公共服务", "讲解政策"), "1.2")
    assert problems(bad, doc).count("shares no prefix or suffix with the answer") == 3


def test_a_distractor_without_the_affix_its_list_shows_is_refused(doc: Document) -> None:
    bad = q("自觉做到学以立德、学以增智、（　　）。", "学以创业", ("学以致用", "学习考核", "学以明理"), "3.1")
    assert "'学习考核' lacks the 学以…" in problems(bad, doc)


def test_a_distractor_of_another_length_is_refused(doc: Document) -> None:
    bad = q("自觉做到学以立德、学以增智、（　　）。", "学以创业", ("学以致用", "学以修身养性", "学以明理"), "3.1")
    assert "'学以修身养性' is 6 characters" in problems(bad, doc)


def test_a_blank_another_phrase_of_the_speech_fills_is_refused(doc: Document) -> None:
    """强化学习是“（　　）”的观念: 紧迫任务 and 决定性因素 fit as well as 政治责任 (the stem's 第1点 is no text)."""
    bad = q("第一部分第1点要求：强化学习是“（　　）”的观念。", "政治责任", ("第一需要", "终身追求", "共同责任"), "1",
            source="bank")
    assert "another phrase of the speech also fills the blank" in problems(bad, doc)


def test_a_distractor_the_text_puts_in_the_slot_is_refused(doc: Document) -> None:
    """加强领导，推动学习型党组织建设（取得实效）: part 三's heading ends with …建设取得实效."""
    bad = q("讲话第四部分的标题是“加强领导，推动学习型党组织建设（　　）”。", "落到实处",
            ("取得实效", "见到成效", "走在前列"), "4", source="bank")
    assert "'取得实效' fits the blank by the text" in problems(bad, doc)


def test_a_long_stem_is_refused(doc: Document) -> None:
    long = ("要积极适应新形势下党员干部在学习习惯和接受方式上的新变化，改进组织学习的方法，"
            "采用互动式学习、（　　）、共享式学习等形式，丰富学习抓手。")
    bad = q(long, "研究式学习", ("体验式学习", "开放式学习", "点播式学习"), "3.2")
    assert f"the stem has {len(long)} characters, at most 60" in problems(bad, doc)


def test_visible_siblings_are_cut_to_the_answers_size() -> None:
    assert visible_siblings("自觉做到学以立德、学以增智、（　　）。", 4) == ["学以立德", "学以增智"]
    assert visible_siblings("采用互动式学习、（　　）、共享式学习等形式", 5) == ["互动式学习", "共享式学习"]


# --- "which part" ----------------------------------------------------------------------------------------------------


def test_the_echo_check_ignores_what_all_headings_share(doc: Document) -> None:
    titles = [f"{p.section.label}、{p.section.heading}" for p in doc.parts]
    own = distinctive(titles)
    assert not any("学习型党组织建设" in part for part in own)
    # 学习型党组织建设 is in every heading: quoting it gives nothing away...
    assert heading_echo(titles[2], titles, "推进学习型党组织建设涉及面广") < 2
    # ...but 改革创新 is part 三's own word.
    assert heading_echo(titles[2], titles, "必须以改革创新的精神加以推进") >= 2


def test_a_which_part_question_echoing_its_heading_is_refused(doc: Document) -> None:
    titles = [f"{p.section.label}、{p.section.heading}" for p in doc.parts]
    sentence = "建设学习型党组织是一项新任务,必须以改革创新的精神加以推进"
    bad = q(f"“{to_display(sentence)}”\n这句话出自讲话的哪一部分？", titles[2], (titles[1], titles[3], titles[0]), "3",
            kind="which_part", support=sentence)
    assert "repeats words of the right heading" in problems(bad, doc)


# --- the new kinds ---------------------------------------------------------------------------------------------------


def test_true_false_must_tell_the_truth(doc: Document) -> None:
    sentence = "坚持群众路线和实践观点,在向群众学习、向实践学习上下功夫"
    claim = f"判断：“{to_display(sentence)}”出自讲话第二部分。"
    right = q(claim, "对", ("错",), "2.3", kind="true_false", support=sentence)
    assert question_problems(right, doc) == []
    assert "so it is 对" in problems(replace(right, answer="错", distractors=("对",)), doc)
    swapped = q("判断：讲话说“坚持群众路线和实践观点，在向群众学习、向书本学习上下功夫”。", "错", ("对",), "2.3",
                kind="true_false", support=sentence)
    assert question_problems(swapped, doc) == []
    assert "not in section 2.3" in problems(replace(swapped, answer="对", distractors=("错",)), doc)


def test_multiple_answers_must_not_offer_a_true_item_as_wrong(doc: Document) -> None:
    good = q("“加强”要求有哪些？（多选）", "加强组织领导", ("加强队伍建设", "加强作风建设"), "4",
             kind="multiple", source="bank", extra=("加强示范带动", "加强机制建设", "加强舆论宣传"))
    assert question_problems(good, doc) == []
    bad = replace(good, distractors=("加强组织建设", "加强机制建设"), extra_answers=("加强示范带动",))
    assert "'加强机制建设' is also in section 4" in problems(bad, doc)


def test_which_point_must_answer_the_cited_point(doc: Document) -> None:
    good = q("“要创新学习方法”是第三部分的第几点？", "第2点", ("第1点", "第3点"), "3.2", kind="which_point",
             support="要创新学习方法")
    assert question_problems(good, doc) == []
    assert "must be '第2点'" in problems(replace(good, answer="第3点", distractors=("第1点", "第2点")), doc)


# --- duplicates and the whole of the shipped content -----------------------------------------------------------------


def test_a_generated_question_that_asks_a_bank_question_again_is_a_duplicate(
        doc: Document, bank: tuple[Question, ...]) -> None:
    original = next(b for b in bank if b.answer == "学以创业")
    again = replace(original, id="g-x", source="generated", question="……学以立德、学以增智、（　　）。")
    assert asks_same(again, original, doc)
    assert duplicates([again], bank, doc) == {"g-x"}
    other = next(b for b in bank if b.answer == "学以增智")
    assert not asks_same(other, original, doc)  # the same sentence, another item: a different question


def test_duplicates_are_those_asks_same_finds_pair_by_pair(doc: Document, bank: tuple[Question, ...]) -> None:
    """`duplicates` compares only questions with the same answers (it runs at every start-up): what it finds must
    be what comparing every pair finds, for the shipped bank against the generated questions, and for the bank and
    the generated questions together against nothing (the generator's own use), bank-asked stems included."""
    generated = generate_questions(doc)
    restated = [replace(b, id=f"r-{b.id}", source="generated", question=b.question.replace("，", ", "))
                for b in bank[:5]]

    def pairwise(new: list[Question], old: tuple[Question, ...]) -> set[str]:
        kept, out = list(old), set()
        for question in new:
            if any(asks_same(question, other, doc) for other in kept):
                out.add(question.id)
            else:
                kept.append(question)
        return out

    for new, old in (([*generated, *restated], bank), ([*bank, *generated], ())):
        found = duplicates(new, old, doc)
        assert found == pairwise(new, old)
        assert found  # something to find: the check is not vacuous
    assert {f"r-{b.id}" for b in bank[:5]} <= duplicates(restated, bank, doc)


def test_every_shipped_and_generated_question_passes_the_checker(doc: Document, bank: tuple[Question, ...]) -> None:
    for question in (*bank, *generate_questions(doc)):
        assert question_problems(question, doc) == [], question.id


def test_display_typography() -> None:
    assert to_display("统一思想,准确把握(试行):好!") == "统一思想，准确把握（试行）：好！"
    assert to_display("时间:10:00, ok") == "时间：10:00, ok"  # the clock and the English stay ASCII
    assert to_display("推进“科学发展、“后发”赶超”的") == "推进“科学发展、‘后发’赶超”的"
