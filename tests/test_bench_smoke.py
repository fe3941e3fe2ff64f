"""The benchmark suite runs end to end at a tiny size, and its correctness checks hold; no timing is asserted."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.__main__ import main
from bench.common import percentile
from bench.report import Goal, Row, text_table, value_is


def test_every_benchmark_runs_at_tiny_size_and_its_correctness_checks_pass(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    main(["--tiny", "--results", str(results), "--workdir", str(tmp_path / "work")])  # ratios may fail at this size
    text = results.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| benchmark")]
    for name in ("start-up", "commands", "quiz", "push, limits off", "push, limits on", "review"):
        assert any(row.startswith(f"| {name}") for row in rows), name
    assert "timed out" not in text and "crashed" not in text
    exact = [row for row in rows if "| = 0 |" in row]
    # quiz: 3 exactly-once checks; push: lost+duplicated (off), lost, duplicated, failed (on); review: reminders sent
    assert len(exact) >= 8
    assert all(row.endswith("| pass |") for row in exact), exact
    assert "ERROR log record" not in text


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200), st.floats(0, 100))
def test_percentile_is_the_nearest_rank_element(values: list[float], p: float) -> None:
    found = percentile(values, p)
    share = p / 100 * len(values)
    assert found in values
    assert sum(1 for v in values if v <= found) >= share
    assert sum(1 for v in values if v < found) < max(share, 1)


def test_verdicts_follow_the_goal_and_a_failed_phase_fails() -> None:
    at_least = Goal("ratio", ">=", 0.8, "ratio ≥ 0.8")
    assert Row("b", "f", 90, 100, at_least).verdict == "pass"
    assert Row("b", "f", 70, 100, at_least).verdict == "FAIL"
    assert Row("b", "f", 90, None, at_least).verdict == "n/a"
    assert Row("b", "f", 0, goal=value_is(0)).verdict == "pass"
    assert Row("b", "f", 1, goal=value_is(0)).verdict == "FAIL"
    assert Row("b", "f", 5).verdict == "info"
    assert Row("b", "phase", None, error="timed out after 60 s").verdict == "FAIL"


def test_text_table_lines_up_chinese_and_latin_cells() -> None:
    lines = text_table([Row("测验小组", "answers/s", 1.0, 2.0), Row("commands", "updates/s", 3.0, 4.0)]).splitlines()
    figures = ("answers/s", "updates/s")
    starts = [display_width(line[: line.index(figure)]) for line, figure in zip(lines[2:], figures, strict=True)]
    assert starts[0] == starts[1]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
