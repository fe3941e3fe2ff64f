"""Benchmark figures, their goals and verdicts, and the table printed and written to bench/RESULTS.md."""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq,
}


@dataclass(frozen=True)
class Goal:
    """A target on the figure itself (`on="value"`) or on its ratio to the baseline (`on="ratio"`)."""

    on: str  # "value" | "ratio"
    op: str  # ">=" | "<=" | "=="
    target: float
    text: str

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        subject = value if self.on == "value" else ratio
        if subject is None:
            return None
        return _COMPARE[self.op](subject, self.target)


def ratio_at_least(target: float) -> Goal:
    return Goal("ratio", ">=", target, f"ratio ≥ {target:g}")


def value_is(target: float) -> Goal:
    return Goal("value", "==", target, f"= {target:g}")


@dataclass(frozen=True)
class Row:
    """One line of the results table. `ratio` is studybot ÷ baseline unless `ratio_override` says otherwise."""

    benchmark: str
    figure: str
    value: float | None
    baseline: float | None = None
    goal: Goal | None = None
    digits: int = 1
    baseline_label: str = ""  # shown instead of the baseline number, e.g. "bare PTB" or "30/s ceiling"
    error: str = ""  # the phase timed out or crashed: the row fails with this text

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.error:
            return "FAIL"
        if self.goal is None:
            return "info"
        met = self.goal.met(self.value, self.ratio)
        return "n/a" if met is None else ("pass" if met else "FAIL")

    def cells(self) -> list[str]:
        value = self.error or _number(self.value, self.digits)
        baseline = _number(self.baseline, self.digits) if self.baseline is not None else "—"
        if self.baseline_label:
            baseline = f"{baseline} ({self.baseline_label})" if self.baseline is not None else self.baseline_label
        ratio = f"{self.ratio:.2f}" if self.ratio is not None else "—"
        return [self.benchmark, self.figure, value, baseline, ratio, self.goal.text if self.goal else "—",
                self.verdict]


HEADERS = ["benchmark", "figure", "studybot", "baseline", "ratio", "goal", "result"]


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def text_table(rows: Sequence[Row]) -> str:
    cells = [HEADERS, *(r.cells() for r in rows)]
    widths = [max(_width(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def _width(text: str) -> int:
    # CJK and other wide characters take two terminal columns.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
