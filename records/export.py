"""The 学习台账 as files: an XLSX workbook (XlsxWriter) or the same sheets as CSV files (UTF-8 with BOM) in a zip.

Sheets: 台账 (one row per member per push day), 汇总 (per member), 测验 (per question), 每日 (per push day, with a
native Excel chart of the check-in rate). The workbook is written row by row (XlsxWriter's constant_memory mode), so
a 5,000-member, 60-day ledger never sits in memory as cells.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from records import wording
from records.ledger import DayStat, LedgerRow, MemberStat, QuestionStat, Summary, ledger_rows, question_stats

FORMATS = ("xlsx", "csv")
Cell = str | int | float | date | datetime | None


def _yes(flag: bool) -> str:
    return wording.YES if flag else wording.NO


def ledger_cells(row: LedgerRow) -> tuple[Cell, ...]:
    return (row.name, row.user_id, row.local_date, row.day, row.reading, row.sections, row.checked_at,
            _yes(row.late), _yes(row.excused), row.excuse_reason, row.answered, row.correct)


def summary_cells(m: MemberStat) -> tuple[Cell, ...]:
    return (m.name, m.user_id, m.expected, m.checked, m.rate, m.late, m.excused, m.streak, m.best_streak,
            m.answered, m.correct, m.accuracy, " ".join(m.weakest))


def quiz_cells(q: QuestionStat) -> tuple[Cell, ...]:
    return (q.question_id, q.ref, q.text, q.asked, q.answered, q.correct, q.rate)


def day_cells(d: DayStat) -> tuple[Cell, ...]:
    return (d.local_date, d.day, d.reading, d.expected, d.checked, d.late, d.rate)


# Which columns hold a rate (shown as a percentage), per sheet: the headers say so.
_RATES = {"打卡率", "正确率"}


def mastery_table(summary: Summary) -> tuple[list[str], list[tuple[int, str, list[float | None]]]]:
    """Section × member: the sections anyone has met (reading order), and per member (id, name, figure or None)."""
    names = {m.user_id: m.name for m in summary.campaign.members}
    order: list[str] = []
    for row in summary.campaign.mastery:
        order += [ref for ref, _ in row.sections if ref not in order]
    rows = []
    for row in summary.campaign.mastery:
        figures = dict(row.sections)
        rows.append((row.user_id, names.get(row.user_id, str(row.user_id)), [figures.get(ref) for ref in order]))
    return order, rows


def sheets(summary: Summary) -> Iterator[tuple[str, Sequence[str], Iterable[tuple[Cell, ...]]]]:
    """(sheet name, headers, rows) in the order of wording.SHEETS; the ledger rows are produced lazily."""
    campaign = summary.campaign
    yield wording.LEDGER_SHEET, wording.LEDGER_HEADERS, (ledger_cells(r) for r in ledger_rows(campaign))
    yield wording.SUMMARY_SHEET, wording.SUMMARY_HEADERS, (summary_cells(m) for m in summary.members)
    yield wording.QUIZ_SHEET, wording.QUIZ_HEADERS, (quiz_cells(q) for q in question_stats(campaign))
    yield wording.DAYS_SHEET, wording.DAYS_HEADERS, (day_cells(d) for d in summary.days)
    refs, table = mastery_table(summary)
    yield (wording.MASTERY_SHEET, (*wording.MASTERY_HEADERS, *refs),
           ((name, user_id, *figures) for user_id, name, figures in table))
    if campaign.channels:  # the group's robot channels: their own record, no members
        yield wording.CHANNELS_SHEET, wording.CHANNELS_HEADERS, (
            (c.name, c.platform, c.when, c.days_posted, c.last_posted, c.state) for c in campaign.channels)


def write_xlsx(summary: Summary, path: Path) -> None:
    """The workbook at `path`."""
    import xlsxwriter  # imported here: only exports need it

    options = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
               "strings_to_urls": False, "default_date_format": "yyyy-mm-dd"}
    with xlsxwriter.Workbook(str(path), options) as book:
        bold = book.add_format({"bold": True})
        day_format = book.add_format({"num_format": "yyyy-mm-dd"})
        time_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        percent = book.add_format({"num_format": "0.0%"})
        counts: dict[str, int] = {}
        for name, headers, rows in sheets(summary):
            sheet = book.add_worksheet(name)
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, headers, bold)
            formats = [_column_format(h, day_format, time_format, percent) for h in headers]
            if name == wording.MASTERY_SHEET:  # every column after the member is a section's figure
                formats = [None, None] + [percent] * (len(headers) - 2)
            # Typed calls, not sheet.write(): write() re-guesses each cell's type, a third of the time at 300k rows.
            strings, numbers, moments = sheet.write_string, sheet.write_number, sheet.write_datetime
            n = 0
            for n, cells in enumerate(rows, start=1):
                for i, value in enumerate(cells):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        strings(n, i, value)
                    elif isinstance(value, date):
                        moments(n, i, value, formats[i])
                    else:
                        numbers(n, i, value, formats[i])
            counts[name] = n
            sheet.set_column(0, len(headers) - 1, 12)
        _add_chart(book, counts[wording.DAYS_SHEET])


def _column_format(header: str, day: Any, moment: Any, percent: Any) -> Any:
    if header in _RATES:
        return percent
    return {"日期": day, "打卡时间": moment}.get(header)


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
    return str(value)


def csv_files(summary: Summary, only: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(file name, UTF-8-with-BOM bytes) of each sheet (or only the one named), for a zip or separate documents."""
    for name, headers, rows in sheets(summary):
        if only is not None and name != only:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        rates = [name == wording.MASTERY_SHEET and i >= 2 for i in range(len(headers))]
        writer.writerows([csv_value(v, h, r) for v, h, r in zip(cells, headers, rates, strict=True)] for cells in rows)
        yield f"{wording.CSV_NAMES.get(name, name)}.csv", buffer.getvalue().encode("utf-8-sig")


def write_csv_zip(summary: Summary, path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_files(summary):
            archive.writestr(name, data)


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
