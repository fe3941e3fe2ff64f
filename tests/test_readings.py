"""The reading planner: properties on generated documents, worked examples, and the shipped speech."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.loader import load_document
from content.model import CLOSING_REF, OPENING_REF, Document, Part, Reading, Section
from content.readings import DEFAULT_MAX_CHARS, DEFAULT_MIN_CHARS, plan_readings

CN_NUMERALS = "一二三四五六七八九十"
FILLER = "建设马克思主义学习型政党是党的十七届四中全会提出的重大战略任务,深入贯彻中央、省委要求,扎实推进学习"
# Written from the planner's rules, not imported from it, so the tests check the rules themselves.
SENTENCE_END = re.compile(r"[。！？；!?;]+[”’）」』)》]*")


# --- building documents by hand -------------------------------------------------------------------------------


def build_doc(
    opening: str | None,
    parts: Sequence[tuple[str, Sequence[str]]],
    closing: str | None,
    seps: Sequence[str] = (),
) -> Document:
    """A Document whose body tiles the given section texts, separated by `seps` (default a blank line).

    Each part is (heading line + introduction, point texts); a part's heading is its first line. Separators lie
    between sections, outside them, as the parser lays them out.
    """
    specs: list[tuple[str, str, int | None, int | None]] = []  # (kind, text, part, point)
    if opening is not None:
        specs.append(("opening", opening, None, None))
    for number, (intro, points) in enumerate(parts, start=1):
        specs.append(("part", intro, number, None))
        specs.extend(("point", text, number, q) for q, text in enumerate(points, start=1))
    if closing is not None:
        specs.append(("closing", closing, None, None))
    body, sections = "", []
    for i, (kind, text, p, q) in enumerate(specs):
        if i:
            body += seps[i - 1] if i - 1 < len(seps) else "\n\n"
        start = len(body)
        body += text
        sections.append(_section(kind, text, start, p, q))
    opening_section = sections.pop(0) if opening is not None else None
    closing_section = sections.pop() if closing is not None else None
    built: list[Part] = []
    for section in sections:
        if section.kind == "part":
            built.append(Part(section, ()))
        else:
            built[-1] = Part(built[-1].section, (*built[-1].points, section))
    return Document("测试讲话", {}, body, opening_section, tuple(built), closing_section)


def _section(kind: str, text: str, start: int, part: int | None, point: int | None) -> Section:
    if kind == "opening":
        return Section(OPENING_REF, "opening", "开头", "开头", text, start, start + len(text))
    if kind == "closing":
        return Section(CLOSING_REF, "closing", "结语", "结语", text, start, start + len(text))
    assert part is not None
    if kind == "part":
        heading = text.split("\n", 1)[0].removeprefix(CN_NUMERALS[part - 1] + "、")
        return Section(str(part), "part", CN_NUMERALS[part - 1], heading, text, start, start + len(text), part)
    heading = re.split("[。！？]", text, maxsplit=1)[0]
    label = f"{CN_NUMERALS[part - 1]}、{point}"
    return Section(f"{part}.{point}", "point", label, heading, text, start, start + len(text), part, point)


def filler(length: int, shift: int = 0) -> str:
    return "".join(FILLER[(shift + i) % len(FILLER)] for i in range(length))


def sentence(length: int, shift: int = 0, end: str = "。") -> str:
    """A sentence of exactly `length` non-whitespace characters (end punctuation included)."""
    return filler(length - len(end), shift) + end


# --- generated documents --------------------------------------------------------------------------------------


@st.composite
def sentences(draw: st.DrawFn) -> str:
    length = draw(st.integers(1, 260))
    end = draw(st.sampled_from(["。", "！", "？", "；", "。”", "？」", "!", "。）", ""]))
    inner_space = " " if length > 20 and draw(st.booleans()) else ""  # whitespace inside a sentence
    body = filler(length, draw(st.integers(0, 40)))
    return body[: length // 2] + inner_space + body[length // 2 :] + end


@st.composite
def paragraphs(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(sentences(), min_size=1, max_size=4)))


@st.composite
def section_texts(draw: st.DrawFn, head: str) -> str:
    lines = draw(st.lists(paragraphs(), min_size=0 if head else 1, max_size=3))
    if head and not lines:
        return head
    return "\n".join(([head] if head else []) + lines) if head else "\n".join(lines)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    opening = draw(st.none() | st.builds(lambda s: "同志们:\n\n" + s, section_texts(head="")))
    parts = []
    for p in range(draw(st.integers(1, 3))):
        heading = CN_NUMERALS[p] + "、" + filler(draw(st.integers(4, 30)), p)
        intro = draw(section_texts(head=heading))
        points = [f"{q}、" + draw(section_texts(head="")) for q in range(1, draw(st.integers(0, 4)) + 1)]
        parts.append((intro, points))
    closing = draw(st.none() | section_texts(head=""))
    seps = draw(st.lists(st.sampled_from(["\n\n", "\n", "\n \n", ""]), max_size=20))
    doc = build_doc(opening, parts, closing, seps)
    # An empty separator is only realistic after a sentence end (a point starting mid-paragraph, as 三、3 does).
    for before, after in pairwise(doc.sections()):
        if before.end == after.start and not _ends_sentence(before.text):
            return build_doc(opening, parts, closing)
    return doc


def _ends_sentence(text: str) -> bool:
    return any(m.end() == len(text) for m in SENTENCE_END.finditer(text))


bounds = st.integers(50, 400).flatmap(lambda low: st.tuples(st.just(low), st.integers(low, min(3500, low + 500))))


# --- an oracle written from the rules -------------------------------------------------------------------------


def blocks(doc: Document) -> list[tuple[int, int, int | None, tuple[Section, ...]]]:
    """(start, end, part, sections) of each stretch a reading may not cross."""
    out: list[tuple[int, int, int | None, tuple[Section, ...]]] = []
    if doc.opening:
        out.append((doc.opening.start, doc.opening.end, None, (doc.opening,)))
    for part in doc.parts:
        members = (part.section, *part.points)
        out.append((members[0].start, members[-1].end, part.number, members))
    if doc.closing:
        out.append((doc.closing.start, doc.closing.end, None, (doc.closing,)))
    return out


def nonspace(text: str) -> str:
    return "".join(text.split())


def heading_line_ends(body: str, sections: Sequence[Section]) -> set[int]:
    """Ends of sections' first lines that end no sentence: a reading may not stop there."""
    out = set()
    for s in sections:
        line = s.text.strip().split("\n", 1)[0].rstrip()
        if not _ends_sentence(line):
            out.add(body.index(line, s.start) + len(line))
    return out


def allowed_ends(body: str, start: int, end: int, sections: Sequence[Section]) -> set[int]:
    """Where a reading in the block [start, end) may end: sentence ends, line ends, the block end."""
    ends = {m.end() for m in SENTENCE_END.finditer(body[:end], start)}
    ends |= {len(body[:i].rstrip()) for i in range(start, end) if body[i] == "\n"}
    ends -= heading_line_ends(body, sections)
    ends.add(len(body[:end].rstrip()))
    return {e for e in ends if e > len(body[:start]) + len(body[start:end]) - len(body[start:end].lstrip())}


def feasible(body: str, cuts: list[int], first: int, low: int, high: int) -> bool:
    """Whether some cutting of the block gives only readings within [low, high] or single over-long atoms."""
    points = [first, *cuts]
    reach = [True] + [False] * len(cuts)
    for j in range(1, len(points)):
        for i in range(j):
            size = len(nonspace(body[points[i] : points[j]]))
            if reach[i] and (low <= size <= high or (size > high and i == j - 1)):
                reach[j] = True
                break
    return reach[-1]


def check_plan(doc: Document, plan: tuple[Reading, ...], low: int, high: int) -> None:
    body = doc.body
    assert [r.day for r in plan] == list(range(1, len(plan) + 1))
    assert "".join(nonspace(r.text) for r in plan) == nonspace(body)
    for reading, following in pairwise(plan):
        assert reading.end <= following.start
    for r in plan:
        assert r.text == body[r.start : r.end] == r.text.strip() != ""
    for start, end, part, sections in blocks(doc):
        inside = [r for r in plan if start <= r.start < end]
        assert inside, "every block with text has readings"
        assert all(r.end <= end and r.part == part for r in inside), "a reading crosses a part"
        ends = allowed_ends(body, start, end, sections)
        first = len(body[:start]) + len(body[start:end]) - len(body[start:end].lstrip())
        can_fit = feasible(body, sorted(ends), first, low, high)
        for r in inside:
            assert r.end in ends, f"reading {r.day} ends mid-sentence: {r.text[-10:]!r}"
            assert r.refs == tuple(s.ref for s in sections if nonspace(body[max(s.start, r.start) : min(s.end, r.end)]))
            size = len(nonspace(r.text))
            if size > high:
                inner = {e for e in ends if r.start < e < r.end}
                assert not inner, f"reading {r.day} ({size} chars) could have been cut"
            if size < low:
                assert not can_fit, f"reading {r.day} is {size} chars though a plan within bounds exists"
        if len(nonspace(body[start:end])) < low:
            assert len(inside) == 1


# --- properties -----------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(documents(), bounds)
def test_plan_keeps_every_rule(doc: Document, bound: tuple[int, int]) -> None:
    low, high = bound
    check_plan(doc, plan_readings(doc, low, high), low, high)


@settings(max_examples=40, deadline=None)
@given(documents(), bounds)
def test_plan_is_deterministic(doc: Document, bound: tuple[int, int]) -> None:
    first = plan_readings(doc, *bound)
    plan_readings(build_doc(None, [("一、别的\n" + sentence(500), [])], None))  # unrelated work in between
    twin = Document(doc.title, doc.metadata, doc.body, doc.opening, doc.parts, doc.closing)
    assert plan_readings(doc, *bound) == first == plan_readings(twin, *bound)


# --- worked examples ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "high"), [(49, 600), (300, 299), (50, 3501), (0, 0), (-5, 100), (600, 250)])
def test_bad_bounds_are_refused(low: int, high: int) -> None:
    doc = build_doc(None, [("一、标题", [sentence(100)])], None)
    with pytest.raises(ValueError, match="min_chars"):
        plan_readings(doc, low, high)


def test_extreme_valid_bounds_are_accepted() -> None:
    doc = build_doc(None, [("一、标题", [sentence(100)])], None)
    assert plan_readings(doc, 50, 50)
    assert plan_readings(doc, 3500, 3500)


def test_short_part_is_one_reading_and_heading_stays_with_text() -> None:
    doc = build_doc(None, [("一、短的部分\n" + sentence(40), [f"1、{sentence(60)}"])], sentence(30, 3))
    plan = plan_readings(doc)
    assert [r.refs for r in plan] == [("1", "1.1"), ("closing",)]
    assert plan[0].text.startswith("一、短的部分\n")


def test_over_long_sentence_stands_alone() -> None:
    long = sentence(900, 5)
    doc = build_doc(None, [("一、标题\n" + sentence(300), [f"1、{sentence(120)}{long}{sentence(300, 7)}"])], None)
    plan = plan_readings(doc)
    sizes = [len(nonspace(r.text)) for r in plan]
    assert sizes == [300 + 4 + 120 + 2, 900, 300]
    assert plan[1].text == long


def test_closing_quote_stays_with_its_sentence() -> None:
    text = sentence(300, 0, "。”") + sentence(300, 3, "？」") + sentence(300, 6)
    plan = plan_readings(build_doc(text, [("一、标题\n" + sentence(300), [])], None), 250, 350)
    assert plan[0].text.endswith("。”")
    assert plan[1].text.endswith("？」")


def run(length: int, shift: int = 0) -> str:
    """Sentences of 50 characters (the last one shorter), `length` non-whitespace characters in all."""
    sizes = [50] * (length // 50) + ([length % 50] if length % 50 else [])
    return "".join(sentence(size, shift + k) for k, size in enumerate(sizes))


@pytest.mark.parametrize(("first", "cut_at_boundary"), [(385, True), (325, False)])
def test_prefers_a_nearby_point_boundary(first: int, cut_at_boundary: bool) -> None:
    # Two readings of 850 characters: the even cut is at 425. A point boundary 40 characters off wins over it;
    # one 100 characters off does not.
    heading = "一、标题"  # 4 characters, glued to point 1
    point1 = "1、" + run(first - 4 - 2)
    point2 = "2、" + run(850 - first - 2, 7)
    plan = plan_readings(build_doc(None, [(heading, [point1, point2])], None), 250, 600)
    assert len(plan) == 2
    assert (len(nonspace(plan[0].text)) == first) is cut_at_boundary
    assert plan[0].refs == (("1", "1.1") if cut_at_boundary else ("1", "1.1", "1.2"))


def test_readings_balance_a_long_point() -> None:
    point = "1、" + "".join(sentence(50, k) for k in range(40))  # 2002 characters, 40 sentences
    plan = plan_readings(build_doc(None, [("一、标题", [point])], None), 250, 600)
    sizes = [len(nonspace(r.text)) for r in plan]
    assert len(sizes) in (4, 5)
    assert max(sizes) - min(sizes) <= 100, sizes


def test_sentence_end_mid_paragraph_point_boundary_is_a_break() -> None:
    # Like 三、3 in the speech: a point that starts right after the previous point's sentence end.
    doc = build_doc(None, [("一、标题", [f"1、{sentence(400)}", f"2、{sentence(400, 9)}"])], None, seps=["\n", ""])
    plan = plan_readings(doc)
    assert [r.refs for r in plan] == [("1", "1.1"), ("1.2",)]
    assert plan[1].text.startswith("2、")


# --- the shipped speech ---------------------------------------------------------------------------------------


def shipped_document() -> Document:
    return load_document()


@pytest.fixture(scope="module")
def speech() -> Document:
    return shipped_document()


def test_speech_plan_with_defaults(speech: Document) -> None:
    plan = plan_readings(speech)
    check_plan(speech, plan, DEFAULT_MIN_CHARS, DEFAULT_MAX_CHARS)
    sizes = [len(nonspace(r.text)) for r in plan]
    assert 10 <= len(plan) <= 20
    # Only the opening and the closing, each shorter than a day's minimum on its own, fall below it.
    assert [r.refs for r in plan if len(nonspace(r.text)) < DEFAULT_MIN_CHARS] == [("opening",), ("closing",)]
    assert max(sizes) <= DEFAULT_MAX_CHARS
    # Every part starts a reading with its heading.
    for part in speech.parts:
        assert any(r.text.startswith(part.section.text.split("\n")[0]) for r in plan)


@pytest.mark.parametrize(("low", "high"), [(50, 50), (50, 120), (300, 400), (1000, 3500), (3500, 3500)])
def test_speech_plan_with_other_bounds(speech: Document, low: int, high: int) -> None:
    check_plan(speech, plan_readings(speech, low, high), low, high)
