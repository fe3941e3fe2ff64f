"""Generated questions: proved by their section, unambiguous, sendable, deterministic, for any speech of the genre."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import content.quizgen as quizgen
from content.loader import load_document
from content.model import Document
from content.parser import parse_speech
from content.questions import (
    BLANK,
    KINDS,
    MAX_EXPLANATION_CHARS,
    MAX_OPTION_CHARS,
    MAX_QUESTION_CHARS,
    Question,
    canonical,
    cloze_context,
    part_title,
    ref_problems,
    section_span_text,
    support_problems,
)
from content.quizcheck import MAX_STEM, question_problems, shared_affix, stem
from content.quizgen import cached_generated_questions, generate_questions


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document()


@pytest.fixture(scope="module")
def generated(doc: Document) -> tuple[Question, ...]:
    return generate_questions(doc)


def _unfilled_context(q: Question) -> tuple[str, str]:
    """The text shown either side of the blank, without the ellipses that mark a cut, in canonical punctuation."""
    left, right = canonical(q.question).split(BLANK)
    return left.removeprefix("……"), right.removesuffix("……")


def assert_sound(questions: tuple[Question, ...], doc: Document) -> None:
    """Every invariant a generated question must keep, checked independently of how it was made, and the checker."""
    assert len({q.id for q in questions}) == len(questions)
    assert ref_problems(questions, doc) == []
    assert support_problems(questions, doc) == []
    for q in questions:
        assert question_problems(q, doc) == [], q
        assert q.source == "generated" and q.kind in KINDS
        assert 1 <= len(q.question) <= MAX_QUESTION_CHARS and len(stem(q)) <= MAX_STEM
        options = (*q.answers, *q.distractors)
        assert 2 <= len(options) <= 6 and len(set(options)) == len(options), q
        assert all(1 <= len(o) <= MAX_OPTION_CHARS for o in options)
        assert len(q.explanation) <= MAX_EXPLANATION_CHARS and q.explanation.count("\n") <= 2
        assert f"〔{doc.section(q.ref).label}〕" in q.explanation
        if q.kind == "cloze":
            before, after = _unfilled_context(q)
            text, body = canonical(section_span_text(doc, q.ref)), canonical(doc.body)
            # The answer is what stands at the blank in the cited section...
            assert before + q.answer + after in text, q
            context = cloze_context(q.question, q.answer, section_span_text(doc, q.ref))
            assert context is not None and tuple(map(canonical, context)) == (before, after)
            # ...and no distractor in the blank gives text of the speech, nor is any shown in the question.
            for d in q.distractors:
                assert before + d + after not in body, (q, d)
                assert d not in before + after, (q, d)
                assert abs(len(d) - len(q.answer)) <= 1
            assert len(q.answer) <= max(len(d) for d in q.distractors)
            assert "原文：" in q.explanation  # the proving sentence is quoted
        elif q.kind == "which_part":
            section = doc.section(q.ref)
            assert section.part is not None
            assert q.answer == part_title(doc.part(section.part).section)
            assert q.support is not None and doc.body.count(q.support) == 1
            assert all(d in {part_title(p.section) for p in doc.parts} for d in q.distractors)
        elif q.kind == "which_point":
            section = doc.section(q.ref)
            assert q.answer == f"第{section.point}点" and section.part is not None
            assert set(q.distractors) < {f"第{p.point}点" for p in doc.part(section.part).points}
        elif q.kind == "true_false":
            assert {q.answer, *q.distractors} == {"对", "错"} and q.explanation.startswith(q.answer)
            assert q.support is not None and q.support in section_span_text(doc, q.ref), q
        else:
            assert q.kind == "multiple" and len(q.answers) >= 3
            text = section_span_text(doc, q.ref)
            assert all(a in text for a in q.answers) and not any(d in text for d in q.distractors)


def test_shipped_speech_gives_sound_questions_of_every_kind(generated: tuple[Question, ...], doc: Document) -> None:
    kinds = Counter(q.kind for q in generated)
    assert kinds["cloze"] >= 12 and kinds["which_part"] >= 4 and kinds["which_point"] == 13
    assert kinds["true_false"] >= 10 and kinds["multiple"] >= 5
    assert_sound(generated, doc)
    # Every part is reached, and every point.
    parts = {doc.section(q.ref).part for q in generated}
    assert parts == {p.number for p in doc.parts}
    assert {q.ref for q in generated if doc.section(q.ref).kind == "point"} == {
        p.ref for part in doc.parts for p in part.points}


def test_generated_stems_are_short(generated: tuple[Question, ...]) -> None:
    clozes = sorted(len(q.question) for q in generated if q.kind == "cloze")
    assert clozes[-1] <= MAX_STEM and clozes[len(clozes) // 2] <= 55


def test_the_speech_lists_become_blanks_and_multiple_answers(generated: tuple[Question, ...]) -> None:
    answers = {q.answer for q in generated if q.kind == "cloze"}
    assert {"全员学习", "互动式学习", "学习能力", "集体学习"} <= answers
    multiple = {frozenset(q.answers) for q in generated if q.kind == "multiple"}
    assert frozenset({"政治责任", "第一需要", "终身追求"}) in multiple


def test_a_blank_whose_siblings_share_an_affix_gets_distractors_with_it(generated: tuple[Question, ...]) -> None:
    q = next(q for q in generated if q.answer == "互动式学习")  # beside 研究式学习、共享式学习
    assert all(d.endswith("式学习") for d in q.distractors)
    q = next(q for q in generated if q.answer == "全员学习")  # beside 终身学习、持续学习
    assert all(d.endswith("学习") for d in q.distractors)


def test_the_audits_bad_distractors_are_gone(generated: tuple[Question, ...]) -> None:
    """使学习成为…的（　　） had 优化发展 / 公共服务 / 讲解政策: nothing of another kind is offered now."""
    for q in generated:
        if q.kind == "cloze":
            assert all(shared_affix([q.answer, d]) != ("", "") for d in q.distractors), q


def test_generation_is_deterministic(doc: Document, generated: tuple[Question, ...]) -> None:
    assert generate_questions(doc) == generated


SMALL_SPEECH = """在全市读书活动推进会上的讲话

时间:2023-03-01 10:00:00

同志们:

今天召开全市读书活动推进会,主要任务是总结经验、部署工作。

一、提高认识,把读书活动摆上重要位置

读书是提升素质的重要途径。我们要深刻认识开展读书活动的重要意义。

1、读书是立身之本。要把读书作为一种生活方式,坚持多读书、读好书、善读书,做到学而不厌、学思结合、学用相长。

2、读书是兴业之基。要在全社会营造爱读书、读好书的氛围,推动形成“书香机关”和“书香家庭”。

二、突出重点,推动读书活动走深走实

要围绕中心、服务大局,创新形式、丰富载体。

1、抓好领导干部读书。领导干部要带头读原著、学原文、悟原理,做到先学一步、学深一层、用好一招。

2、抓好青年读书。要组织读书沙龙、经典诵读、知识竞赛等活动,引导青年读经典、品经典、用经典。

同志们,让我们以更加饱满的热情推进读书活动,为建设书香城市作出新的贡献。
"""


CORPUS = sorted((Path(__file__).parent / "data" / "corpus").glob("*.txt"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_every_real_speech_gets_sound_questions(path: Path) -> None:
    doc = parse_speech(path.read_text(encoding="utf-8"))
    questions = generate_questions(doc)
    assert len(questions) >= 10
    assert_sound(questions, doc)


def test_a_different_speech_of_the_genre_gets_questions() -> None:
    small = parse_speech(SMALL_SPEECH)
    questions = generate_questions(small)
    assert {q.kind for q in questions} >= {"which_part", "which_point", "true_false"}
    assert_sound(questions, small)


# A vocabulary of phrase families, as a speech of the genre uses them; hypothesis builds speeches from it.
FAMILIES = [
    ["全员学习", "终身学习", "持续学习", "集体学习", "个人自学"],
    ["学以立德", "学以增智", "学以创业", "学以致用"],
    ["谋划发展", "统筹发展", "优化发展", "推动发展"],
    ["定位明确", "特色鲜明", "功能互补", "覆盖广泛"],
    ["互动式学习", "研究式学习", "共享式学习", "体验式学习"],
    ["工作观", "事业观", "政绩观", "权力观"],
]
LEADS = ["要坚持", "自觉做到", "努力构建", "切实推进", "不断提高"]
TAILS = ["的良好局面", "的工作格局", "等各项要求", "的目标任务"]


@st.composite
def speeches(draw: st.DrawFn) -> str:
    def sentence() -> str:
        family = draw(st.sampled_from(FAMILIES))
        items = draw(st.lists(st.sampled_from(family), min_size=2, max_size=4, unique=True))
        lead, tail = draw(st.sampled_from(LEADS)), draw(st.sampled_from(TAILS))
        extra = draw(st.sampled_from(["", "狠抓落实,", "精心组织,"]))
        return f"{extra}{lead}{'、'.join(items)}{tail}。"

    lines = ["测试讲话", "", "同志们:", "", sentence(), ""]
    for part in range(draw(st.integers(2, 4))):
        lines += [f"{'一二三四'[part]}、第{part + 1}部分的标题{'甲乙丙丁'[part]}", "", sentence(), ""]
        for point in range(draw(st.integers(1, 3))):
            body = "".join(sentence() for _ in range(draw(st.integers(1, 3))))
            lines += [f"{point + 1}、要点{part + 1}{point + 1}。{body}", ""]
    lines += ["同志们,让我们共同努力。" + sentence()]
    return "\n".join(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=speeches())
def test_generated_questions_are_unambiguous_for_any_speech(text: str) -> None:
    small = parse_speech(text)
    questions = generate_questions(small)
    assert_sound(questions, small)
    assert generate_questions(small) == questions


# --- the cache -----------------------------------------------------------------------------------------------------


def test_the_cache_file_is_written_and_then_used(
    doc: Document, generated: tuple[Question, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quizgen, "_MEMO", {})
    first = cached_generated_questions(doc, tmp_path)
    assert first == generated
    (path,) = tmp_path.glob("quizgen-*.json")
    assert len(json.loads(path.read_text(encoding="utf-8"))["questions"]) == len(generated)

    # A fresh process (empty memo) reads the file instead of generating again.
    monkeypatch.setattr(quizgen, "_MEMO", {})

    def fail(_: Document) -> tuple[Question, ...]:
        raise AssertionError("generated again despite the cache")

    monkeypatch.setattr(quizgen, "generate_questions", fail)
    assert cached_generated_questions(doc, tmp_path) == generated


def test_a_corrupt_cache_file_is_regenerated(
    doc: Document, generated: tuple[Question, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quizgen, "_MEMO", {})
    cached_generated_questions(doc, tmp_path)
    (path,) = tmp_path.glob("quizgen-*.json")
    path.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(quizgen, "_MEMO", {})
    assert cached_generated_questions(doc, tmp_path) == generated
    assert json.loads(path.read_text(encoding="utf-8"))["questions"]


def test_a_changed_speech_gets_its_own_cache_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quizgen, "_MEMO", {})
    small = parse_speech(SMALL_SPEECH)
    changed = parse_speech(SMALL_SPEECH.replace("书香城市", "学习型城市"))
    cached_generated_questions(small, tmp_path)
    cached_generated_questions(changed, tmp_path)
    assert len(list(tmp_path.glob("quizgen-*.json"))) == 2


def test_an_unwritable_cache_dir_still_gives_questions(
    doc: Document, generated: tuple[Question, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quizgen, "_MEMO", {})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cached_generated_questions(doc, blocker / "sub") == generated
