"""The weekly report's picture: check-in rate per push day and quiz accuracy per section, as a PNG with Chinese labels.

matplotlib is imported on first use (it takes about a second), and only its object API with the Agg canvas is used:
no pyplot, no global figure state, so a chart can be drawn on a worker thread while the bot goes on.
A Chinese font must be found on the system (README: the Debian package fonts-wqy-microhei); without one,
`cjk_font()` is None and no chart is drawn — the text report does not depend on it.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from records import wording
from records.ledger import Summary

# Families known to carry Simplified Chinese, best first; any other font that has the glyphs is taken after them.
KNOWN_FAMILIES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
    "Noto Serif CJK SC", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "SimHei", "Microsoft YaHei",
    "PingFang SC", "Heiti SC", "Hiragino Sans GB", "Sarasa Gothic SC",
)
PROBE = "学习打卡率"


class NoCjkFont(Exception):
    """No font on this system can draw Chinese labels."""


@functools.cache
def cjk_font() -> Path | None:
    """The file of a font that draws Chinese, or None; looked up once per process."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    fonts = sorted(font_manager.fontManager.ttflist,
                   key=lambda f: KNOWN_FAMILIES.index(f.name) if f.name in KNOWN_FAMILIES else len(KNOWN_FAMILIES))
    for entry in fonts:
        try:
            face = FT2Font(entry.fname)
        except (OSError, RuntimeError):
            continue
        if all(face.get_char_index(ord(ch)) for ch in PROBE):
            return Path(entry.fname)
    return None


def render_chart(summary: Summary, font: Path | None = None) -> bytes:
    """The PNG; NoCjkFont if no Chinese font is available (pass `font` to choose one)."""
    font = font or cjk_font()
    if font is None:
        raise NoCjkFont("no font with Chinese glyphs found (install fonts-wqy-microhei)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import PercentFormatter

    prop = FontProperties(fname=str(font))
    figure = Figure(figsize=(8, 6.4), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    days, per_section = figure.subplots(2, 1)

    labels = [f"{d.local_date:%m-%d}" for d in summary.days]
    rates = [d.rate for d in summary.days]
    days.bar(labels, rates, color="#3b7dd8")
    days.set_title(f"{summary.campaign.title} · {wording.CHART_RATE_TITLE}（{summary.campaign.period.label}）",
                   fontproperties=prop)
    days.set_ylabel(wording.CHART_RATE_AXIS, fontproperties=prop)
    days.set_ylim(0, 1)
    days.yaxis.set_major_formatter(PercentFormatter(1.0))
    for x, rate in enumerate(rates):
        days.text(x, min(rate, 0.92) + 0.02, f"{rate:.0%}", ha="center", fontsize=8)
    days.tick_params(axis="x", labelrotation=45 if len(labels) > 10 else 0, labelsize=8)

    sections = [s for s in summary.sections if s.answered]
    per_section.set_title(wording.CHART_ACCURACY_TITLE, fontproperties=prop)
    if sections:
        per_section.bar([s.ref for s in sections], [s.rate for s in sections], color="#e0883a")
        per_section.set_ylim(0, 1)
        per_section.yaxis.set_major_formatter(PercentFormatter(1.0))
        per_section.set_xlabel(wording.CHART_SECTION_AXIS, fontproperties=prop)
        per_section.tick_params(axis="x", labelrotation=45 if len(sections) > 12 else 0, labelsize=8)
    else:
        per_section.axis("off")
        per_section.text(0.5, 0.5, wording.CHART_NO_ANSWERS, ha="center", va="center", fontproperties=prop)
    for axes in (days, per_section):
        for label in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
            label.set_fontproperties(prop)  # section names such as 开头 are tick labels too
            label.set_fontsize(8)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


MASTERY_MOST_MEMBERS = 40  # rows of the heatmap: the members who need it most, so it stays readable on a phone


def render_mastery_heatmap(summary: Summary, font: Path | None = None) -> bytes | None:
    """Section × member heatmap of mastery (the weakest members first); None when nobody has a figure yet."""
    from records.export import mastery_table

    refs, table = mastery_table(summary)
    if not refs or not table:
        return None
    font = font or cjk_font()
    if font is None:
        raise NoCjkFont("no font with Chinese glyphs found (install fonts-wqy-microhei)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    def mean(figures: list[float | None]) -> float:
        known = [f for f in figures if f is not None]
        return sum(known) / len(known) if known else 1.0

    rows = sorted(table, key=lambda row: (mean(row[2]), row[0]))[:MASTERY_MOST_MEMBERS]
    values = [[float("nan") if f is None else f for f in figures] for _, _, figures in rows]
    prop = FontProperties(fname=str(font))
    figure = Figure(figsize=(min(2 + 0.45 * len(refs), 14), min(1.6 + 0.28 * len(rows), 14)), dpi=110,
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    colours = LinearSegmentedColormap.from_list("mastery", ["#d73027", "#fee08b", "#1a9850"]).with_extremes(
        bad="#eeeeee")  # grey: not met yet
    image = axes.imshow(values, cmap=colours, vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(refs)), refs)
    axes.set_yticks(range(len(rows)), [name[:8] for _, name, _ in rows])
    axes.set_title(f"{summary.campaign.title} · {wording.MASTERY_TITLE}", fontproperties=prop)
    axes.set_xlabel(wording.CHART_SECTION_AXIS, fontproperties=prop)
    axes.set_ylabel(wording.MASTERY_MEMBERS_AXIS, fontproperties=prop)
    for label in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
        label.set_fontproperties(prop)
        label.set_fontsize(8)
    axes.tick_params(axis="x", labelrotation=45 if len(refs) > 10 else 0)
    bar = figure.colorbar(image, ax=axes, fraction=0.04)
    bar.ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
