"""A push's header names every section its reading covers, and says when it starts inside one (issue 11)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot import render
from content.loader import load_document
from content.readings import plan_readings

ROOT = Path(__file__).resolve().parent.parent


def test_every_days_header_names_the_sections_studybot_plan_lists() -> None:
    plan_text = subprocess.run([sys.executable, "-m", "bot.cli", "plan"], capture_output=True, text=True,
                               cwd=ROOT, check=True, timeout=60).stdout
    listed = {int(day): labels.split(" / ") for day, labels in re.findall(r"第\s*(\d+) 天.*?〔(.+?)〕", plan_text)}
    doc = load_document(None)
    plan = plan_readings(doc, 250, 600)
    assert sorted(listed) == [r.day for r in plan]
    named: set[str] = set()
    for reading in plan:
        where = render.reading_header(doc, reading, len(plan)).split(" · ", 1)[1]
        for label in listed[reading.day]:
            assert label in where, (reading.day, label, where)
        named |= {label for label in listed[reading.day] if label in where}
    every = {render.short_name(s) for s in doc.sections()}
    assert every == named  # 四、4 and every other section is named by some push


def test_a_reading_that_starts_inside_a_point_says_so() -> None:
    doc = load_document(None)
    plan = plan_readings(doc, 250, 600)
    for reading in plan:
        where = render.reading_header(doc, reading, len(plan)).split(" · ", 1)[1]
        first = doc.section(reading.refs[0])
        assert ("（续）" in where) == (reading.start > first.start), (reading.day, where)
    day3 = render.reading_header(doc, plan[2], len(plan))
    assert day3.endswith("一、1（续） — 一、2")
