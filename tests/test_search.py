"""Full-text search: the shipped speech, hand-built documents, and hostile queries."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from content.model import Document, Hit
from content.search import ELLIPSIS, MAX_TERMS, SearchIndex, fold, split_page, split_terms
from tests.test_readings import build_doc, sentence, shipped_document


@pytest.fixture(scope="module")
def speech() -> Document:
    return shipped_document()


@pytest.fixture(scope="module")
def index(speech: Document) -> SearchIndex:
    return SearchIndex(speech)


def refs(hits: list[Hit]) -> list[str]:
    return [h.section.ref for h in hits]


def containing(doc: Document, *terms: str) -> set[str]:
    """Refs of the sections whose folded text holds every folded term (case, width, quotes, traditional)."""
    folded = split_terms(" ".join(terms))
    return {s.ref for s in doc.sections() if all(t in fold(s.text) for t in folded)}


def marked(hit: Hit) -> list[str]:
    return [text for text, is_match in hit.segments if is_match]


def plain(hit: Hit) -> str:
    return "".join(text for text, _ in hit.segments)


# --- the shipped speech ---------------------------------------------------------------------------------------


def test_finds_a_four_character_phrase_in_every_section_holding_it(index: SearchIndex, speech: Document) -> None:
    hits = index.search("终身学习", limit=20)
    assert {"3.1", "3.3"} <= set(refs(hits))
    assert set(refs(hits)) == containing(speech, "终身学习")
    assert all(marked(h) and set(marked(h)) == {"终身学习"} for h in hits)


def test_finds_two_character_and_one_character_terms(index: SearchIndex, speech: Document) -> None:
    assert refs(index.search("学风")) == ["2.3"]
    for term in ("邵", "党", "”", "(组)"):
        hits = index.search(term, limit=50)
        assert set(refs(hits)) == containing(speech, term), term
        assert index.count(term) == len(hits)
        assert all(term in marked(h) for h in hits)


def test_all_terms_must_match_in_the_same_section(index: SearchIndex, speech: Document) -> None:
    assert refs(index.search("终身学习 党校")) == ["3.3"]
    hits = index.search("学习 党委", limit=50)
    assert set(refs(hits)) == containing(speech, "学习", "党委")
    assert len(hits) < len(index.search("学习", limit=50))
    assert index.search("终身学习 舆论") == []  # each term exists, never in one section


def test_full_width_space_separates_terms(index: SearchIndex) -> None:
    assert index.search("终身学习　党校") == index.search("终身学习 党校")
    assert split_terms("终身学习　党校\t学风\n邵") == ("终身学习", "党校", "学风", "邵")


def test_heading_hits_rank_first_in_the_speech(index: SearchIndex, speech: Document) -> None:
    assert refs(index.search("组织领导"))[0] == "4.1"
    hits = index.search("加强", limit=20)
    in_heading = [("加强" in h.section.heading) for h in hits]
    assert in_heading == sorted(in_heading, reverse=True), "every heading hit comes before every body hit"
    assert in_heading[0]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_one_hit_per_section_and_limit(index: SearchIndex) -> None:
    hits = index.search("学习", limit=50)
    assert len(refs(hits)) == len(set(refs(hits))) == index.count("学习")
    assert len(index.search("学习")) == 5
    assert len(index.search("学习", limit=2)) == 2
    assert index.search("学习", limit=0) == []


def test_snippet_is_short_marks_terms_and_shows_cuts(index: SearchIndex) -> None:
    for query in ("终身学习", "学风", "党校 作用", "舆论"):
        for hit in index.search(query, limit=20):
            text = plain(hit)
            core = text.removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
            assert 40 <= len(core) <= 100, text
            assert core in re.sub(r"\s+", " ", hit.section.text)
            assert text.startswith(ELLIPSIS) == (not hit.section.text.startswith(core[:10]))
            assert text.endswith(ELLIPSIS) == (not hit.section.text.rstrip().endswith(core[-10:]))
            assert set(marked(hit)) <= set(query.split())
            for term in query.split():  # every occurrence inside the excerpt is marked
                assert core.count(term) == sum(m.count(term) for m in marked(hit))
            assert marked(hit), "the first match is inside the snippet"


def test_no_match_and_empty_queries(index: SearchIndex) -> None:
    for query in ("", "   ", "　", "\n\t", "量子计算", "学习 量子计算"):
        assert index.search(query) == []
        assert index.count(query) == 0


@pytest.mark.parametrize(
    "query",
    [
        "AND",
        "学习 OR 党校",
        "NOT 学习",
        "NEAR(学习 党校)",
        "学习*",
        "-学习",
        "^学习",
        "text:学习",
        "heading:学习",
        "(学习)",
        '"',
        '"学习',
        '学习"党校"',
        "'",
        "学习'; DROP TABLE sections; --",
        "sections_fts MATCH '*'",
        "\x00学习",
        "学习\x00党校",
        "🙂",
        "学习 🙂🙂🙂",
        "%",
        "_",
        "学%习",
    ],
)
def test_operators_and_quotes_are_plain_text(index: SearchIndex, speech: Document, query: str) -> None:
    terms = split_terms(query)
    hits = index.search(query, limit=50)
    assert set(refs(hits)) == containing(speech, *terms)
    assert index.count("学习") == len(containing(speech, "学习"))  # the index is intact afterwards


def test_very_long_queries_are_capped(index: SearchIndex, speech: Document) -> None:
    assert index.search("学" * 4000) == []
    many = " ".join(["学习"] * 3 + [f"词{i}" for i in range(40)])
    assert len(split_terms(many)) == MAX_TERMS
    index.search(many)
    long_real = speech.section("3.3").text.replace("\n", "")[:300]
    assert refs(index.search(long_real)) == ["3.3"]  # a pasted passage is cut, still found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_any_text_never_raises(index: SearchIndex, query: str) -> None:
    hits = index.search(query)
    assert len(hits) <= 5
    assert index.count(query) >= len(hits)


@st.composite
def speech_terms(draw: st.DrawFn, doc: Document) -> tuple[str, ...]:
    """1–3 terms cut out of the speech (1–6 characters each), some shouted in upper case."""
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(doc.sections()))
        start = draw(st.integers(0, len(section.text) - 1))
        term = "".join(section.text[start : start + draw(st.integers(1, 6))].split())
        if term:
            terms.append(term.upper() if draw(st.booleans()) else term)
    return tuple(terms)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_finds_exactly_the_sections_holding_every_term(
    index: SearchIndex, speech: Document, data: st.DataObject
) -> None:
    terms = data.draw(speech_terms(speech))
    assume(terms)
    hits = index.search(" ".join(terms), limit=100)
    assert set(refs(hits)) == containing(speech, *terms)
    assert len(hits) == len(set(refs(hits)))
    for hit in hits:  # marks may merge overlapping terms, but each holds a whole term
        assert marked(hit)
        assert all(any(t in fold(m) for t in split_terms(" ".join(terms))) for m in marked(hit))


async def test_usable_from_another_thread(index: SearchIndex) -> None:
    here = index.search("终身学习")
    there = await asyncio.to_thread(index.search, "终身学习")
    assert there == here


def test_build_in_a_worker_thread_then_search_on_the_loop(speech: Document) -> None:
    async def main() -> list[Hit]:
        built = await asyncio.to_thread(SearchIndex, speech)
        return built.search("学风")

    assert refs(asyncio.run(main())) == ["2.3"]


# --- hand-built documents -------------------------------------------------------------------------------------


def test_heading_hit_outranks_many_body_hits() -> None:
    doc = build_doc(
        "同志们:\n\n" + "要注重实效。" * 6,  # "实效" six times in the opening's body
        [("一、注重实效,推动落实\n" + sentence(30), [f"1、抓好实效。{sentence(40)}", f"2、{sentence(50)}"])],
        "总之要讲求实效。" * 3,
    )
    index = SearchIndex(doc)
    # Two headings hold 实效 (document order breaks their tie); then more occurrences rank higher.
    assert refs(index.search("实效")) == ["1", "1.1", "opening", "closing"]
    assert refs(index.search("注重实效")) == ["1", "opening"]  # FTS path: only part 1's heading has it


def test_latin_text_is_case_insensitive() -> None:
    doc = build_doc(
        "同志们:\n\n要用好Internet和WTO规则。",
        [("一、开放\n" + sentence(20), ["1、学习Python与SQL。" + sentence(30)])],
        None,
    )
    index = SearchIndex(doc)
    assert refs(index.search("internet")) == ["opening"]
    assert refs(index.search("wto")) == ["opening"]
    assert refs(index.search("Wt")) == ["opening"]
    assert refs(index.search("PYTHON sql")) == ["1.1"]
    assert marked(index.search("python")[0]) == ["Python"]  # original spelling shown, match marked
    assert refs(index.search("和wto")) == ["opening"]


def test_opening_and_closing_labels_are_not_searchable() -> None:
    doc = build_doc("同志们:\n\n" + sentence(40), [("一、标题\n" + sentence(40), [])], sentence(40, 3))
    index = SearchIndex(doc)
    assert index.search("开头") == [] and index.search("结语") == []
    assert refs(index.search("标题")) == ["1"]


# --- as people type: width, quotes, traditional characters; true counts and pages ---------------------------


def test_punctuation_width_and_quote_style_fold(index: SearchIndex, speech: Document) -> None:
    # The speech has ASCII "统一思想,准确把握" and “政治责任”; a phone types ， and "…" or 「…」.
    assert refs(index.search("统一思想，准确把握")) == refs(index.search("统一思想,准确把握")) == ["1"]
    for query in ("“政治责任”的观念", '"政治责任"的观念', "「政治责任」的观念", "‘政治责任’的观念"):
        assert refs(index.search(query)) == ["1.1"], query
    assert refs(index.search("“政治责任”")) == refs(index.search("政治责任"))  # a term's own quotes are dropped
    hit = index.search("党委（组）")[0]
    assert "党委(组)" in marked(hit)  # the mark is on the text as stored


def test_traditional_characters_find_the_simplified_text(index: SearchIndex, speech: Document) -> None:
    assert refs(index.search("學習型黨組織", limit=50)) == refs(index.search("学习型党组织", limit=50))
    assert refs(index.search("終身學習")) == refs(index.search("终身学习")) != []
    assert fold("發展 ＡＢＣ　１２") == "发展 abc 12"
    assert len(fold("乾隆 頭髮 後來")) == len("乾隆 頭髮 後來")


def test_pages_report_the_true_count_and_continue(index: SearchIndex, speech: Document) -> None:
    everything = index.search("学习", limit=100)
    total = len(containing(speech, "学习"))
    assert len(everything) == total > 10
    first, second = index.page("学习", 1), index.page("学习", 2)
    assert first.total == second.total == total and first.pages == -(-total // 5)
    assert refs(list(first.hits)) + refs(list(second.hits)) == refs(everything[:10])
    assert (second.first, len(second.hits)) == (6, 5)
    beyond = index.page("学习", first.pages + 1)
    assert beyond.hits == () and beyond.total == total


@pytest.mark.parametrize(("text", "expected"), [("学习 2", ("学习", 2)), ("学习", ("学习", 1)), ("2", ("2", 1)),
                                                ("学习 理念 3", ("学习 理念", 3)), ("学习 0", ("学习", 1)),
                                                ("学习 ２", ("学习 ２", 1))])
def test_a_trailing_number_is_the_page(text: str, expected: tuple[str, int]) -> None:
    assert split_page(text) == expected
