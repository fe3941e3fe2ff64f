"""Every real speech in tests/data/corpus/ parses to its hand-checked structure (expected/NAME.json).

The texts and the JSON come from ../shared/corpus (conventions in tests/data/corpus/README.md). A mismatch fails
with the list of differences, so a parser change that silently mislabels a speech cannot pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from content.model import Document
from content.parser import analyse_speech, to_int

CORPUS = Path(__file__).parent / "data" / "corpus"
NAMES = sorted(p.stem for p in (CORPUS / "expected").glob("*.json"))

# The speech's own title, as members see it (the JSON's `title` is the page title, line 1).
TITLES = {
    "gov_beijing_2026": "2026年北京市政府工作报告",
    "gov_zhejiang_2026": "2026年浙江省政府工作报告",
    "sx_cpc20_report_2022": "习近平代表第十九届中央委员会向党的二十大作报告",
    "sx_dangshi_2021": "在党史学习教育动员大会上的讲话",
    "sx_jdh_report_2011": "求真务实 创先争优 再铸辉煌",
    "sx_jianyi_shuoming_2025": "关于《中共中央关于制定国民经济和社会发展第十五个五年规划的建议》的说明",
    "sx_parents_day_2020": "家长开放日讲话稿",
    "sx_plenum3_2024": "在党的二十届三中全会第二次全体会议上的讲话",
    "sx_qxjh_huibao_2019": "润养具有国际视野社会主义接班人",
    "sx_xdh_huibao_2020": "博雅通达 求真力行",
}
# A point's marker, removed to compare what follows it with `starts_with`.
_MARKER = re.compile(r"^(?:[（(][一二三四五六七八九十0-9]+[）)]|[0-9]+[、.．]|第[一二三四五六七八九十]+[，,、：:]"
                     r"|[一二三四五六七八九十]+是)\s*")
# Header and trailer text that must never reach members as speech text.
_NOT_BODY = ("文章来源", "点击数", "发布时间", "（来源：", "（信息来源：", "责任编辑", "来源：浙江日报",
             "来源：北京日报")


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def differences(doc: Document, expected: dict[str, Any]) -> list[str]:
    out: list[str] = []
    got_parts = [(p.section.label, p.section.heading) for p in doc.parts]
    want_parts = [(p["number"], p["heading"].removesuffix("。")) for p in expected["parts"]]
    if got_parts != want_parts:
        out.append(f"parts: got {got_parts}, expected {want_parts}")
    for part, want in zip(doc.parts, expected["parts"], strict=False):
        got_points = [(q.point, q.heading, _first_line(_MARKER.sub("", q.text, count=1))[:12]) for q in part.points]
        want_points = [(to_int(q["number"]), q["heading"].removesuffix("。"), q["starts_with"]) for q in want["points"]]
        if got_points != want_points:
            out.append(f"part {want['number']} points: got {got_points}, expected {want_points}")
    closing = _first_line(doc.closing.text)[:12] if doc.closing else None
    if closing != expected["closing_starts_with"]:
        out.append(f"closing starts with {closing!r}, expected {expected['closing_starts_with']!r}")
    if (doc.opening is not None) != (expected["has_intro"] or doc.body.startswith(("同志们", "各位"))):
        out.append(f"opening present: {doc.opening is not None}, expected {expected['has_intro']}")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_corpus_speech_parses_to_its_checked_structure(name: str) -> None:
    expected = json.loads((CORPUS / "expected" / f"{name}.json").read_text(encoding="utf-8"))
    analysis = analyse_speech((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))
    doc = analysis.document
    problems = differences(doc, expected)
    assert not problems, f"{name} parsed wrongly:\n  " + "\n  ".join(problems)
    assert doc.title == TITLES[name]
    leaked = [word for word in _NOT_BODY if word in doc.body]
    assert not leaked, f"{name}: header or trailer text in the body: {leaked}"


def test_every_corpus_text_has_expectations() -> None:
    assert sorted(p.stem for p in CORPUS.glob("*.txt")) == NAMES
    assert len(NAMES) == 10
