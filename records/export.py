"""The 学习台账 as files: an XLSX workbook (XlsxWriter) or the same sheets as CSV files (UTF-8 with BOM) in a zip.

Sheets: 台账 (one row per member per push day), 汇总 (per member), 测验 (per question), 每日 (per push day, with a
native Excel chart of the check-in rate). The workbook is written row by row (XlsxWriter's constant_memory mode), so
a 5,000-member, 60-day ledger never sits in memory as cells.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from records import ledgertext, sheetxml, wording
from records.ledger import DayStat, LedgerRow, MemberStat, QuestionStat, Summary, ledger_entries, question_stats
from records.model import Campaign, is_late

FORMATS = ("xlsx", "csv")
Cell = str | int | float | date | datetime | None


def _yes(flag: bool) -> str:
    return wording.YES if flag else wording.NO


def ledger_cells(row: LedgerRow) -> tuple[Cell, ...]:
    return (row.name, row.user_id, row.local_date, row.day, row.reading, row.sections, row.checked_at,
            _yes(row.late), _yes(row.excused), row.excuse_reason, row.answered, row.correct)


def ledger_table(campaign: Campaign) -> Iterator[tuple[Cell, ...]]:
    """The 台账 sheet's rows as cells (the same as `ledger_cells` of each `ledger_rows` row, without the rows)."""
    for member, push, at, excuse, answered, correct in ledger_entries(campaign):
        yield (member.name, member.user_id, push.local_date, push.day, push.reading, " ".join(push.sections), at,
               _yes(at is not None and is_late(at, push.local_date)), _yes(excuse is not None),
               excuse.reason if excuse else "", answered, correct)


def share(part: int, whole: int) -> float | None:
    """A rate cell: empty, not 0 %, when there is nothing to count (no answers, no one expected), so that an
    organizer's average over a column leaves out who never answered instead of counting them as all wrong."""
    return part / whole if whole else None


def summary_cells(m: MemberStat) -> tuple[Cell, ...]:
    return (m.name, m.user_id, m.expected, m.checked, share(m.checked, m.expected), m.late, m.excused, m.streak,
            m.best_streak, m.answered, m.correct, share(m.correct, m.answered), " ".join(m.weakest))


def quiz_cells(q: QuestionStat) -> tuple[Cell, ...]:
    return (q.question_id, q.ref, q.text, q.asked, q.answered, q.correct, share(q.correct, q.answered))


def day_cells(d: DayStat) -> tuple[Cell, ...]:
    return (d.local_date, d.day, d.reading, d.expected, d.checked, d.late, share(d.checked, d.expected))


# Which columns hold a rate (shown as a percentage), per sheet: the headers say so.
_RATES = set(wording.RATE_HEADERS)


def mastery_table(summary: Summary) -> tuple[list[str], list[tuple[int, str, list[float | None]]]]:
    """Section × member: the sections anyone has met (reading order), and per member (id, name, figure or None)."""
    campaign = summary.campaign
    names = {m.user_id: m.name for m in campaign.members}
    # The sections met, in the speech's reading order; one the campaign does not list goes after those, in the
    # order first met (each member's row is in reading order, but one who skipped a section would put it late).
    rank = {ref: n for n, ref in enumerate(campaign.sections)}
    met = dict.fromkeys(ref for row in campaign.mastery for ref, _ in row.sections)
    order = sorted(met, key=lambda ref: rank.get(ref, len(rank)))
    rows = []
    for row in campaign.mastery:
        figures = dict(row.sections)
        rows.append((row.user_id, names.get(row.user_id, str(row.user_id)), [figures.get(ref) for ref in order]))
    return order, rows


def sheets(summary: Summary) -> Iterator[tuple[str, Sequence[str], Iterable[tuple[Cell, ...]]]]:
    """(sheet name, headers, rows) in the order of wording.SHEETS; every sheet's rows are produced lazily."""
    campaign = summary.campaign
    yield wording.LEDGER_SHEET, wording.LEDGER_HEADERS, ledger_table(campaign)
    yield wording.SUMMARY_SHEET, wording.SUMMARY_HEADERS, (summary_cells(m) for m in summary.members)
    yield wording.QUIZ_SHEET, wording.QUIZ_HEADERS, _lazy(lambda: (quiz_cells(q) for q in question_stats(campaign)))
    yield wording.DAYS_SHEET, wording.DAYS_HEADERS, (day_cells(d) for d in summary.days)
    refs, table = mastery_table(summary)
    yield (wording.MASTERY_SHEET, (*wording.MASTERY_HEADERS, *refs),
           ((name, user_id, *figures) for user_id, name, figures in table))
    if campaign.channels:  # the group's robot channels: their own record, no members
        yield wording.CHANNELS_SHEET, wording.CHANNELS_HEADERS, (
            (c.name, c.platform, c.when, c.days_posted, c.last_posted, c.state) for c in campaign.channels)


def _lazy(rows: Callable[[], Iterable[tuple[Cell, ...]]]) -> Iterator[tuple[Cell, ...]]:
    yield from rows()


def write_xlsx(summary: Summary, path: Path) -> None:
    """The workbook at `path`: XlsxWriter writes the workbook with each sheet's header row and the chart, the data
    rows are written as XML text and spliced in (records/sheetxml.py: XlsxWriter's per-cell cost is 20 s at
    300,000 rows)."""
    import xlsxwriter  # imported here: only exports need it

    options = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
               "strings_to_urls": False, "default_date_format": "yyyy-mm-dd"}
    skeleton = io.BytesIO()
    bodies: dict[int, tuple[int, Iterable[str | bytes]]] = {}
    with xlsxwriter.Workbook(skeleton, options) as book:
        bold = book.add_format({"bold": True})
        day_format = book.add_format({"num_format": "yyyy-mm-dd"})
        time_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        percent = book.add_format({"num_format": "0.0%"})
        for index, (name, headers, rows) in enumerate(sheets(summary)):
            sheet = book.add_worksheet(name)
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, headers, bold)
            formats = [_column_format(h, day_format, time_format, percent) for h in headers]
            if name == wording.MASTERY_SHEET:  # every column after the member is a section's figure
                formats = [None, None] + [percent] * (len(headers) - 2)
            # The cells' style numbers, as XlsxWriter gives them to the cells it writes itself.
            styles = [None if f is None else f._get_xf_index() for f in formats]
            if name == wording.LEDGER_SHEET:
                # One row per member per push day counted for them (expected) or excused: the summary's rule.
                count = sum(m.expected + m.excused for m in summary.members)
                bodies[index] = count, ledgertext.xlsx_rows(summary.campaign, styles[2], styles[6])
            else:
                table = list(rows)  # a few thousand rows at most
                bodies[index] = len(table), sheetxml.generic_rows(table, styles)
            sheet.set_column(0, len(headers) - 1, 12)
        _add_chart(book, len(summary.days))
    sheetxml.splice(skeleton.getvalue(), path, bodies)


def _column_format(header: str, day: Any, moment: Any, percent: Any) -> Any:
    if header in _RATES:
        return percent
    return {wording.DATE: day, wording.CHECKED_AT: moment, wording.CHANNELS_LAST_DATE: day}.get(header)


def _add_chart(book: Any, days: int) -> None:
    """A native column chart of the daily check-in rate, on the 每日 sheet beside its data."""
    if days == 0:
        return
    sheet = book.get_worksheet_by_name(wording.DAYS_SHEET)
    chart = book.add_chart({"type": "column"})
    name = wording.DAYS_SHEET
    chart.add_series({"name": wording.CHART_RATE_AXIS, "categories": [name, 1, 0, days, 0],
                      "values": [name, 1, 6, days, 6]})
    chart.set_title({"name": wording.CHART_RATE_TITLE})
    chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
    chart.set_x_axis({"name": wording.CHART_DATE_AXIS, "date_axis": False})
    chart.set_legend({"none": True})
    sheet.insert_chart(1, 8, chart, {"x_scale": 1.5, "y_scale": 1.2})


def csv_value(value: Cell, header: str, rate: bool = False) -> str:
    if value is None:
        return ""
    if (rate or header in _RATES) and isinstance(value, float):
        return f"{value:.1%}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return ledgertext.csv_text(value)  # never a formula in Excel (a name typed as "=1+1" stays that text)
    return str(value)


def csv_files(summary: Summary, only: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(file name, UTF-8-with-BOM bytes) of each sheet (or only the one named), for a zip or separate documents."""
    for name, headers, rows in sheets(summary):
        if only is None or name == only:
            yield _csv_name(name), b"".join(_csv_chunks(summary, name, headers, rows))


def _csv_name(sheet: str) -> str:
    return f"{wording.CSV_NAMES.get(sheet, sheet)}.csv"  # a sheet not every export has is named after itself


def _csv_chunks(summary: Summary, name: str, headers: Sequence[str], rows: Iterable[tuple[Cell, ...]]
                ) -> Iterator[bytes]:
    """One sheet as CSV, UTF-8 with a BOM (so Excel opens the Chinese right), a few thousand rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode()
    if name == wording.LEDGER_SHEET:
        yield from ledgertext.csv_lines(summary.campaign)
        return
    rates = [name == wording.MASTERY_SHEET and i >= 2 for i in range(len(headers))]
    lines = ([csv_value(v, h, r) for v, h, r in zip(cells, headers, rates, strict=True)] for cells in rows)
    rows_of: list[list[str]] = []
    for cells in lines:
        rows_of.append(cells)
        if len(rows_of) >= 5_000:
            yield _csv_text(rows_of)
            rows_of = []
    if rows_of:
        yield _csv_text(rows_of)


def _csv_text(lines: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    return buffer.getvalue().encode()


def write_csv_zip(summary: Summary, path: Path) -> None:
    """Every sheet as a CSV file in one zip, deflated on a second thread while the next rows are made."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=sheetxml.ZIP_LEVEL) as archive:
        for name, headers, rows in sheets(summary):
            with archive.open(_csv_name(name), "w", force_zip64=True) as handle:
                sheetxml.write_behind(handle, _csv_chunks(summary, name, headers, rows))


def file_name(summary: Summary, fmt: str) -> str:
    """学习台账_<group>_<first>_<last>.xlsx (or .zip for CSV): a name that says what is inside."""
    period = summary.campaign.period
    title = "".join(ch for ch in summary.campaign.title if ch not in '\\/:*?"<>|').strip()[:30] or "group"
    suffix = "xlsx" if fmt == "xlsx" else "zip"
    return f"{wording.FILE_STEM}_{title}_{period.first:%Y%m%d}-{period.last:%Y%m%d}.{suffix}"


def write_export(summary: Summary, fmt: str, path: Path) -> Path:
    """Write the export in `fmt` (xlsx or csv) to `path`; returns it."""
    if fmt == "xlsx":
        write_xlsx(summary, path)
    elif fmt == "csv":
        write_csv_zip(summary, path)
    else:
        raise ValueError(f"unknown export format {fmt!r} (xlsx or csv)")
    return path
