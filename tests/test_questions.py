"""The curated quiz bank: every shipped question is valid, sent-able and proved by the section it cites."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.loader import load_document
from content.model import Document
from content.questions import (
    BLANK,
    MAX_EXPLANATION_CHARS,
    MAX_OPTION_CHARS,
    MAX_QUESTION_CHARS,
    Question,
    QuestionBankError,
    cloze_context,
    default_bank_path,
    load_bank,
    load_default_bank,
    parse_bank,
    part_title,
    section_span_text,
    support_problems,
    validate_refs,
)

DATA = Path(__file__).parent / "data"
SHIPPED_BANKS = sorted(default_bank_path().parent.glob("*quiz_bank*.yaml"))


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document()


@pytest.fixture(scope="module")
def bank(doc: Document) -> tuple[Question, ...]:
    return load_default_bank(doc)


def _problems(path: Path, doc: Document | None = None) -> tuple[str, ...]:
    with pytest.raises(QuestionBankError) as info:
        load_bank(path, doc)
    return info.value.problems


# --- the shipped bank ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED_BANKS, ids=lambda p: p.name)
def test_every_shipped_bank_loads_and_its_refs_exist(path: Path, doc: Document) -> None:
    questions = load_bank(path, doc)  # raises, listing every problem, if anything is wrong
    validate_refs(questions, doc)
    assert questions


def test_the_default_bank_is_shipped() -> None:
    assert default_bank_path() in SHIPPED_BANKS


def test_bank_size_and_coverage(bank: tuple[Question, ...], doc: Document) -> None:
    assert len(bank) >= 64
    per_ref = Counter(q.ref for q in bank)
    for section in doc.sections():
        if section.kind in ("point", "opening", "closing"):
            assert per_ref[section.ref] >= 3, section.ref
    # Every part's heading is asked about, and every part has a "which part" question.
    headings = {q.ref for q in bank if "标题" in q.question}
    assert {str(p.number) for p in doc.parts} <= headings
    assert {"3.1", "3.2", "3.3"} <= headings  # the points of part 三 are headed 要树立…/要创新…/要优化…
    which = {doc.section(q.ref).part for q in bank if q.kind == "which_part"}
    assert which == {p.number for p in doc.parts}


@pytest.mark.parametrize(
    ("needle", "ref"),
    [
        ("学以创业", "3.1"),
        ("学以增智", "3.1"),
        ("研究式学习", "3.2"),
        ("体验式学习", "3.2"),  # the odd one out among the three 学习形式
        ("全员学习理念", "3.1"),  # the odd one out among the three 学习理念
        ("学习是“终身追求”的观念", "1"),  # the odd one out among the three 观念
        ("加强队伍建设", "4"),  # the odd one out among the four 加强
    ],
)
def test_the_organizers_priorities_are_asked(bank: tuple[Question, ...], needle: str, ref: str) -> None:
    assert any(needle in q.answers and q.ref == ref for q in bank)


def test_the_new_kinds_are_in_the_bank(bank: tuple[Question, ...], doc: Document) -> None:
    kinds = Counter(q.kind for q in bank)
    assert kinds["true_false"] + kinds["multiple"] + kinds["which_point"] >= 15
    assert min(kinds["true_false"], kinds["multiple"], kinds["which_point"]) >= 5
    # The four 加强 of part 四 are each asked on their own.
    assert {q.ref for q in bank if q.kind == "which_point" and q.ref.startswith("4.")} == {"4.1", "4.2", "4.3", "4.4"}
    multiple = next(q for q in bank if q.id == "q-4-04")
    assert set(multiple.answers) == {"加强组织领导", "加强示范带动", "加强机制建设", "加强舆论宣传"}


def test_every_curated_answer_is_stated_in_its_cited_section(bank: tuple[Question, ...], doc: Document) -> None:
    for q in bank:
        text = section_span_text(doc, q.ref)
        if q.kind == "which_part":
            part = doc.part(doc.section(q.ref).part or 0).section
            assert q.answer == part_title(part), q.id
            assert q.support is not None and q.support in text, q.id
        else:
            assert (q.support or q.answer) in text, q.id
    assert support_problems(bank, doc) == []


def test_curated_cloze_quotes_the_speech_and_no_distractor_fits(bank: tuple[Question, ...], doc: Document) -> None:
    clozes = [q for q in bank if q.kind == "cloze"]
    assert len(clozes) >= 40
    for q in clozes:
        context = cloze_context(q.question, q.answer, section_span_text(doc, q.ref))
        assert context is not None, q.id
        before, after = context
        assert len(before) + len(after) >= 4, q.id
        for d in q.distractors:
            assert before + d + after not in doc.body, (q.id, d)


def test_odd_one_out_distractors_are_the_true_items(bank: tuple[Question, ...], doc: Document) -> None:
    odd = [q for q in bank if q.kind == "odd_one_out"]
    assert len(odd) >= 6
    for q in odd:
        text = section_span_text(doc, q.ref)
        # The true items are in the section (a 观念 question quotes them as 学习是“X”的观念: check the term).
        for d in q.distractors:
            term = d.split("“")[1].split("”")[0] if "“" in d else d
            assert term in text, (q.id, d)


def test_bank_questions_fit_telegram_and_cite_their_section(bank: tuple[Question, ...], doc: Document) -> None:
    for q in bank:
        assert len(q.question) <= MAX_QUESTION_CHARS
        options = (*q.answers, *q.distractors)
        assert all(1 <= len(o) <= MAX_OPTION_CHARS for o in options)
        assert len(set(options)) == len(options)
        expected = {"true_false": (2, 2), "which_point": (2, 4), "multiple": (3, 6)}.get(q.kind, (4, 4))
        assert expected[0] <= len(options) <= expected[1], q.id
        assert len(q.explanation) <= MAX_EXPLANATION_CHARS and q.explanation.count("\n") <= 2
        assert f"〔{doc.section(q.ref).label}〕" in q.explanation, q.id
        assert q.source == "bank"
        # The answer never gives itself away by being the longest option.
        assert max(map(len, q.answers)) <= max(len(d) for d in q.distractors) or q.kind == "multiple", q.id


def test_bank_ids_are_stable_and_unique(bank: tuple[Question, ...]) -> None:
    assert len({q.id for q in bank}) == len(bank)
    for q in bank:
        assert q.id.startswith(f"q-{q.ref}-"), q.id


def test_kinds_are_read_from_the_wording(bank: tuple[Question, ...]) -> None:
    kinds = Counter(q.kind for q in bank)
    assert kinds["cloze"] and kinds["odd_one_out"] and kinds["which_part"]
    for q in bank:
        assert (q.kind == "cloze") == (BLANK in q.question and "哪一部分" not in q.question)


# --- options shuffling ---------------------------------------------------------------------------------------------


@given(seed=st.integers())
def test_options_are_a_permutation_with_the_right_index(seed: int) -> None:
    q = Question("x", "1.1", "问题", "甲", ("乙", "丙", "丁"), "说明", "bank", "choice")
    options, index = q.options(random.Random(seed))
    assert sorted(options) == sorted(["甲", "乙", "丙", "丁"])
    assert options[index] == "甲"
    assert q.options(random.Random(seed)) == (options, index)


def test_options_put_the_answer_everywhere_over_many_draws() -> None:
    q = Question("x", "1.1", "问题", "甲", ("乙", "丙", "丁"), "说明", "bank", "choice")
    rng = random.Random(7)
    assert {q.options(rng)[1] for _ in range(200)} == {0, 1, 2, 3}


# --- broken banks: every problem, each naming file, question and field ---------------------------------------------


def test_field_and_type_problems_are_all_reported() -> None:
    path = DATA / "bad_bank_fields.yaml"
    problems = _problems(path)
    assert all(str(path) in p for p in problems)
    expected = [
        ("'q-float-ref'", "field 'ref'", "quote it"),
        ("'q-float-ref'", "2.1", "number"),
        ("'q-bool-answer'", "field 'answer'", "quote it"),
        ("'q-bool-answer'", "False", "boolean"),
        ("'q-missing'", "field 'answer'", "missing"),
        ("'q-missing'", "field 'explanation'", "missing"),
        ("'q-missing'", "unknown field 'colour'", "allowed"),
        ("(#5)", "field 'id'", "duplicate of question #1"),
        ("'q-options'", "field 'distractors'", "the answer '甲' is also a distractor"),
        ("'q-options'", "field 'distractors'", "'乙' appears twice"),
        ("'q-two-distractors'", "field 'distractors'", "exactly 3"),
        ("'q-two-distractors'", "item 2", "quote it"),
    ]
    for parts in expected:
        assert any(all(part in p for part in parts) for p in problems), parts
    assert not any("'q-ok-01' (#1)" in p for p in problems)  # the good entry is not blamed


def test_telegram_limits_and_unknown_refs_are_reported_together(doc: Document) -> None:
    problems = _problems(DATA / "bad_bank_limits.yaml", doc)
    expected = [
        ("'q-long-question'", "field 'question'", "301 characters"),
        ("'q-long-option'", "field 'answer'", "101 characters"),
        ("'q-long-option'", "field 'distractors' item 3", "empty"),
        ("'q-long-explanation'", "field 'explanation'", "201 characters"),
        ("'q-line-feeds'", "field 'explanation'", "3 line feeds"),
        ("'q-unknown-ref'", "field 'ref'", "unknown section '9.9'"),
    ]
    for parts in expected:
        assert any(all(part in p for part in parts) for p in problems), parts
    assert len(problems) == len(expected)


def test_answers_the_speech_does_not_support_are_reported(doc: Document) -> None:
    problems = _problems(DATA / "bad_bank_support.yaml", doc)
    expected = [
        ("line 29", "'answer' repeated"),
        ("'q-wrong-section'", "field 'answer'", "not in section '1.1'"),
        ("'q-true-distractor'", "field 'distractors'", "'紧迫任务'"),
        ("'q-wrong-part'", "field 'answer'", "heading of part 1"),
    ]
    for parts in expected:
        assert any(all(part in p for part in parts) for p in problems), parts


def test_invalid_yaml_names_file_and_line() -> None:
    (problem,) = _problems(DATA / "bad_bank_yaml.yaml")
    assert "bad_bank_yaml.yaml" in problem and "line 5" in problem


def test_a_bank_must_be_a_mapping_with_questions() -> None:
    (problem,) = _problems(DATA / "bad_bank_shape.yaml")
    assert "'questions:'" in problem


def test_a_missing_file_is_a_bank_error(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "absent.yaml")
    assert "absent.yaml" in problem and "cannot read" in problem


def test_validate_refs_lists_every_unknown_ref(doc: Document) -> None:
    questions = parse_bank(
        'questions:\n  - {id: a, ref: "5.1", question: q, answer: x, distractors: [b, c, d], explanation: e}\n'
        '  - {id: b, ref: "0", question: q, answer: x, distractors: [b, c, d], explanation: e}\n',
        "inline",
    )
    with pytest.raises(QuestionBankError) as info:
        validate_refs(questions, doc)
    assert len(info.value.problems) == 2
    assert "'5.1'" in info.value.problems[0] and "'0'" in info.value.problems[1]
    assert "2 problems" in str(info.value)


def test_the_new_kinds_are_validated_in_a_bank() -> None:
    text = """questions:
  - {id: a, ref: "1.1", question: "判断：…", answer: "对", distractors: ["错", "错"], explanation: e}
  - {id: b, ref: "1.1", question: "哪些？", answer: ["甲"], distractors: ["乙"], explanation: e}
  - {id: c, ref: "1.1", question: "哪些？", answer: ["甲", "乙", "丙", "丁", "戊"], distractors: ["己", "庚"],
     explanation: e}
  - {id: d, ref: "1.1", question: "“…”是第一部分的第几点？", answer: "第1点", distractors: [], explanation: e}
  - {id: ok, ref: "1.1", question: "哪些？", answer: ["甲", "乙"], distractors: ["丙"], explanation: e}
"""
    with pytest.raises(QuestionBankError) as info:
        parse_bank(text, "inline")
    problems = "\n".join(info.value.problems)
    assert "'a'" in problems and "对/错 question needs exactly 1" in problems
    assert "'b'" in problems and "two or more" in problems
    assert "'c'" in problems and "6 options in all" in problems
    assert "'d'" in problems and "'which point' question needs 1–3" in problems
    assert "'ok'" not in problems
    (ok,) = parse_bank(text.split("  - {id: a")[0] + "  - {id: ok" + text.split("  - {id: ok")[1], "inline")
    assert ok.kind == "multiple" and ok.answers == ("甲", "乙")
