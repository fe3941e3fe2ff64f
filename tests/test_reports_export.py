"""The 学习台账 files read back: every XLSX cell (openpyxl) and every CSV cell equals what went in; the chart PNG."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from records import chart, sheetxml, wording
from records.export import csv_value, file_name, sheets, write_export
from records.ledger import Summary, summarize
from records.model import Answer
from tests.test_reports_ledger import campaign


def expected_sheets() -> dict[str, list[tuple[object, ...]]]:
    s = summarize(campaign())
    return {name: [tuple(headers), *(tuple(r) for r in rows)] for name, headers, rows in sheets(s)}


def test_xlsx_cells_equal_the_record(tmp_path: Path) -> None:
    path = write_export(summarize(campaign()), "xlsx", tmp_path / "x.xlsx")
    book = openpyxl.load_workbook(path)
    want = expected_sheets()
    assert book.sheetnames == [wording.LEDGER_SHEET, wording.SUMMARY_SHEET, wording.QUIZ_SHEET, wording.DAYS_SHEET,
                               wording.MASTERY_SHEET]
    for name, rows in want.items():
        got = [tuple(row) for row in book[name].iter_rows(values_only=True)]
        # Dates come back as midnight datetimes; empty cells as None.
        normal = [tuple(datetime.combine(v, datetime.min.time()) if type(v) is date else v for v in r) for r in rows]
        assert got == [tuple(None if v == "" else v for v in r) for r in normal], name
    ledger = book[wording.LEDGER_SHEET]
    assert ledger.cell(2, 1).value == "小王" and ledger.cell(2, 7).number_format == "yyyy-mm-dd hh:mm:ss"
    assert book[wording.SUMMARY_SHEET].cell(2, 5).number_format == "0.0%"
    # The native chart sits on the 每日 sheet (openpyxl keeps charts as drawing parts).
    with zipfile.ZipFile(path) as archive:
        assert any(n.startswith("xl/charts/chart") for n in archive.namelist())


def test_csv_cells_equal_the_record_with_a_bom(tmp_path: Path) -> None:
    path = write_export(summarize(campaign()), "csv", tmp_path / "x.zip")
    want = expected_sheets()
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(f"{n}.csv" for n in wording.CSV_NAMES.values())
        for name, rows in want.items():
            data = archive.read(f"{wording.CSV_NAMES[name]}.csv")
            assert data.startswith(b"\xef\xbb\xbf")
            got = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
            headers = rows[0]
            assert got[0] == list(headers)
            rate = name == wording.MASTERY_SHEET  # every figure column there is a share
            assert got[1:] == [[csv_value(v, str(h), rate and i >= 2)  # type: ignore[arg-type]
                                for i, (v, h) in enumerate(zip(r, headers, strict=True))] for r in rows[1:]]
    ledger = list(csv.reader(io.StringIO(zipfile.ZipFile(path).read("台账.csv").decode("utf-8-sig"))))
    li_day1 = next(r for r in ledger if r[0] == "小李" and r[2] == "2026-12-01")
    assert li_day1[6:9] == ["2026-12-02 21:00:00", "是", ""]


def test_a_rate_with_nothing_to_count_is_an_empty_cell_not_zero(tmp_path: Path) -> None:
    """小赵 never answered and 问题三 was asked but never answered: their 正确率 is empty (an organizer's average over
    the column leaves them out), while 小李's one wrong answer is 0 %."""
    s = summarize(campaign())
    book = openpyxl.load_workbook(write_export(s, "xlsx", tmp_path / "r.xlsx"))
    accuracy = wording.SUMMARY_HEADERS.index(wording.ACCURACY)
    members = {r[0]: r for r in book[wording.SUMMARY_SHEET].iter_rows(min_row=2, values_only=True)}
    assert (members["小王"][accuracy], members["小李"][accuracy], members["小赵"][accuracy]) == (0.5, 0.0, None)
    questions = {r[0]: r for r in book[wording.QUIZ_SHEET].iter_rows(min_row=2, values_only=True)}
    assert (questions["q1"][-1], questions["q3"][-1]) == (0.5, None)
    archive = zipfile.ZipFile(write_export(s, "csv", tmp_path / "r.zip"))
    rows = {r[0]: r for r in csv.reader(io.StringIO(archive.read(
        f"{wording.CSV_NAMES[wording.SUMMARY_SHEET]}.csv").decode("utf-8-sig")))}
    assert (rows["小李"][accuracy], rows["小赵"][accuracy]) == ("0.0%", "")
    empty_day = summarize(campaign(members=()))
    assert {r[-1] for r in openpyxl.load_workbook(write_export(empty_day, "xlsx", tmp_path / "d.xlsx"))[
        wording.DAYS_SHEET].iter_rows(min_row=2, values_only=True)} == {None}


def test_the_mastery_sheet_is_section_by_member_in_reading_order(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_export(summarize(campaign()), "xlsx", tmp_path / "m.xlsx"))
    rows = [tuple(r) for r in book[wording.MASTERY_SHEET].iter_rows(values_only=True)]
    assert rows == [("成员", "用户ID", "1.1", "1.2", "开头"), ("小王", 1, 1.0, 0.25, None), ("小李", 2, 0.0, None, 0.5)]
    assert book[wording.MASTERY_SHEET].cell(2, 3).number_format == "0.0%"
    archive = zipfile.ZipFile(write_export(summarize(campaign()), "csv", tmp_path / "m.zip"))
    csv_rows = list(csv.reader(io.StringIO(archive.read("掌握度.csv").decode("utf-8-sig"))))
    assert csv_rows[1] == ["小王", "1", "100.0%", "25.0%", ""]


def test_the_mastery_columns_follow_the_speech_not_the_first_member_listed(tmp_path: Path) -> None:
    """小王 met 1.1 and 1.2, 小李 开头 (the opening) and 1.1: the columns still read 开头, 1.1, 1.2, as the speech does,
    and a section the speech does not list (an old question's) comes after them."""
    speech = campaign(sections=("开头", "1.1", "1.2", "1.3"))
    book = openpyxl.load_workbook(write_export(summarize(speech), "xlsx", tmp_path / "m.xlsx"))
    rows = [tuple(r) for r in book[wording.MASTERY_SHEET].iter_rows(values_only=True)]
    assert rows == [("成员", "用户ID", "开头", "1.1", "1.2"), ("小王", 1, None, 1.0, 0.25), ("小李", 2, 0.5, 0.0, None)]
    shorter = campaign(sections=("1.2", "1.1"))  # 开头 unknown to it: after the known ones
    assert [tuple(r) for r in openpyxl.load_workbook(write_export(summarize(shorter), "xlsx", tmp_path / "n.xlsx"))[
        wording.MASTERY_SHEET].iter_rows(values_only=True, max_row=1)] == [("成员", "用户ID", "1.2", "1.1", "开头")]


def test_mastery_heatmap_is_a_png_and_needs_a_figure() -> None:
    if chart.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei, as .ci/run does)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no glyph may be missing from the labels
        png = chart.render_mastery_heatmap(summarize(campaign()))
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert chart.render_mastery_heatmap(summarize(campaign(mastery=()))) is None


def test_unknown_format_and_file_names(tmp_path: Path) -> None:
    s = summarize(campaign(title='高三/1班:"学习"'))
    with pytest.raises(ValueError):
        write_export(s, "pdf", tmp_path / "x.pdf")
    assert file_name(s, "xlsx") == "学习台账_高三1班学习_20261201-20261203.xlsx"
    assert file_name(s, "csv").endswith(".zip")


def test_an_empty_period_still_makes_a_workbook(tmp_path: Path) -> None:
    s = summarize(campaign(push_days=(), checkins=(), answers=(), asked=()))
    book = openpyxl.load_workbook(write_export(s, "xlsx", tmp_path / "e.xlsx"))
    assert book[wording.LEDGER_SHEET].max_row == 1


def test_chart_is_a_png_drawn_with_a_chinese_font() -> None:
    font = chart.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei, as .ci/run does)")
    base = campaign()
    with_words = replace(base, answers=(*base.answers, Answer(1, "q9", "开头", True, base.today)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns for every glyph its font lacks: none may be missing
        png = chart.render_chart(summarize(with_words))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_chart_without_a_chinese_font_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart, "cjk_font", lambda: None)
    with pytest.raises(chart.NoCjkFont):
        chart.render_chart(summarize(campaign()))


def test_spliced_rows_read_back_as_xlsxwriters_own_cells(tmp_path: Path) -> None:
    """The data rows are XML text of our own (records/sheetxml.py): for awkward text they read back exactly as the
    cells XlsxWriter writes itself (escapes, control characters, edge spaces, braces, its own escape syntax)."""
    import xlsxwriter

    from records.model import Excuse, Member

    odd = " <b>&amp;{0}}_x0041_\x01\t名 "
    c = campaign(members=(Member(1, odd), Member(2, " <b>&{r} ")), excuses=(Excuse(1, date(2026, 12, 2),
                                                                                date(2026, 12, 2), "<事由>{}"),))
    s = summarize(c)
    mine = openpyxl.load_workbook(write_export(s, "xlsx", tmp_path / "mine.xlsx"))
    theirs_path = tmp_path / "theirs.xlsx"
    with xlsxwriter.Workbook(str(theirs_path), {"constant_memory": True, "strings_to_numbers": False,
                                               "strings_to_formulas": False, "strings_to_urls": False}) as book:
        moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        for name, headers, rows in sheets(s):
            sheet = book.add_worksheet(name)
            sheet.write_row(0, 0, headers)
            for n, cells in enumerate(rows, start=1):
                for i, value in enumerate(cells):
                    if value is not None and value != "":
                        sheet.write(n, i, value, moment if isinstance(value, datetime) else
                                    day if isinstance(value, date) else None)
    theirs = openpyxl.load_workbook(theirs_path)
    for name in mine.sheetnames:
        got = [tuple(r) for r in mine[name].iter_rows(values_only=True)]
        assert got == [tuple(r) for r in theirs[name].iter_rows(values_only=True)], name
    assert " <b>&{r} " in {c.value for c in mine[wording.LEDGER_SHEET]["A"]}


def test_csv_ledger_lines_quote_awkward_text_as_the_csv_module_does(tmp_path: Path) -> None:
    """The 台账 CSV lines are written with their repeating fields quoted once: names and reasons with commas,
    quotes and line breaks read back as the values themselves."""
    from records.model import Excuse, Member

    names = ('王,"五"', "李\r\n四", "")
    c = campaign(members=tuple(Member(n + 1, name) for n, name in enumerate(names)),
                 excuses=(Excuse(1, date(2026, 12, 2), date(2026, 12, 3), '出差,"外地"\n一周'),
                          Excuse(2, date(2026, 12, 1), date(2026, 12, 1), "")))
    s = summarize(c)
    with zipfile.ZipFile(write_export(s, "csv", tmp_path / "odd.zip")) as archive:
        data = archive.read("台账.csv").decode("utf-8-sig")
    got = list(csv.reader(io.StringIO(data, newline="")))
    [(_, headers, rows)] = [sheet for sheet in sheets(s) if sheet[0] == wording.LEDGER_SHEET]
    assert got == [list(headers), *([csv_value(v, h) for v, h in zip(r, headers, strict=True)] for r in rows)]
    assert {r[0] for r in got[1:]} == set(names)


def test_every_sheet_states_its_used_range(tmp_path: Path) -> None:
    """Readers that trust the stated range (openpyxl read-only, as pandas uses it) see every row of every sheet."""
    from records.model import Member

    c = campaign(members=(*campaign().members, Member(9, "新人", joined=date(2026, 12, 3))))
    path = write_export(summarize(c), "xlsx", tmp_path / "r.xlsx")
    full = openpyxl.load_workbook(path)
    lazy = openpyxl.load_workbook(path, read_only=True)
    for name in full.sheetnames:
        rows = list(full[name].iter_rows(values_only=True))
        assert (lazy[name].max_row, lazy[name].max_column) == (len(rows), len(rows[0])), name


def test_the_faster_deflate_reads_back_and_never_takes_over_a_started_member(tmp_path: Path) -> None:
    """ISA-L compresses the big members (records/sheetxml.deflate_faster); a member already written to keeps its
    compressor (swapping it would drop what zlib holds of it)."""
    pytest.importorskip("isal", reason="a venv made before isal was a dependency: `pip install -e .` brings it")
    data = b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xb0\x8f\xe7\x8e\x8b</t></is></c></row>' * 20_000
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("fresh", "w") as handle:
            sheetxml.deflate_faster(handle)
            swapped = type(handle._compressor).__module__  # type: ignore[attr-defined]
            handle.write(data)
        with archive.open("started", "w") as handle:
            handle.write(b"<head/>")
            before = handle._compressor  # type: ignore[attr-defined]
            sheetxml.deflate_faster(handle)
            assert handle._compressor is before  # type: ignore[attr-defined]
            handle.write(data)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("fresh") == data and archive.read("started") == b"<head/>" + data
    assert "isal" in swapped


def test_without_isal_the_rows_go_through_zlib_on_a_second_thread_and_read_back(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Where isal has no wheel (32-bit ARM), exports fall back to zlib, deflating on a second thread."""
    monkeypatch.setattr(sheetxml, "_fast_zlib", None)
    rows = [b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>\xe5\xb0\x8f\xe7\x8e\x8b%d</t></is></c></row>' % (n, n, n)
            for n in range(1, 30_001)]
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open("sheet", "w") as handle:
        assert not sheetxml.deflate_faster(handle)
        handle.write(b"<head/>")
        sheetxml.write_behind(handle, iter(rows))
        assert type(handle._compressor).__module__ == "zlib"  # type: ignore[attr-defined]
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.read("sheet") == b"<head/>" + b"".join(rows)


# Names a member could type that a spreadsheet would run as a formula (OWASP's CSV injection), and two that it would
# not: text with "=" inside, and one that already opens with an apostrophe.
FORMULA_NAMES = ("=1+1", '=HYPERLINK("http://x.invalid","点我")', "+86 138", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
                 "＝1+1", "＋86 138", "－2+3", "＠SUM(A1)")  # full width, as a Chinese keyboard types them
PLAIN_NAMES = ("a=b", "'引号", "小王")


def _formula_campaign() -> Summary:
    from records.model import Excuse, Member

    names = (*FORMULA_NAMES, *PLAIN_NAMES)
    return summarize(campaign(members=tuple(Member(n + 1, name) for n, name in enumerate(names)),
                              excuses=(Excuse(1, date(2026, 12, 2), date(2026, 12, 2), "=cmd|' /C calc'!A0"),)))


def test_no_csv_cell_opens_as_a_formula_names_keep_their_text_after_an_apostrophe(tmp_path: Path) -> None:
    """In every CSV file (the 台账's own writer and the other sheets'), a text that Excel would run as a formula is
    written with a leading apostrophe, Excel's mark for text; every other cell is as before."""
    from records.ledgertext import FORMULA_STARTS

    s = _formula_campaign()
    with zipfile.ZipFile(write_export(s, "csv", tmp_path / "f.zip")) as archive:
        files = {name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"), newline="")))
                 for name in archive.namelist()}
    for name, rows in files.items():
        for row in rows:
            assert not any(cell.startswith(FORMULA_STARTS) for cell in row), (name, row)
    want = {f"'{n}" for n in FORMULA_NAMES} | set(PLAIN_NAMES)
    for sheet in (wording.LEDGER_SHEET, wording.SUMMARY_SHEET):
        assert {row[0] for row in files[f"{wording.CSV_NAMES[sheet]}.csv"][1:]} == want, sheet
    reasons = {row[9] for row in files[f"{wording.CSV_NAMES[wording.LEDGER_SHEET]}.csv"][1:]}
    assert "'=cmd|' /C calc'!A0" in reasons


def test_xlsx_holds_formula_like_names_as_text_cells(tmp_path: Path) -> None:
    """The workbook writes every text as an inline string (never a formula element): Excel shows it as typed, so
    the names need no apostrophe there and read back exactly."""
    s = _formula_campaign()
    path = write_export(s, "xlsx", tmp_path / "f.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets_xml = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any(b"<f>" in xml or b"<f " in xml for xml in sheets_xml)
    book = openpyxl.load_workbook(path)
    for sheet in (wording.LEDGER_SHEET, wording.SUMMARY_SHEET):
        cells = [row[0] for row in book[sheet].iter_rows(min_row=2)]
        # A carriage return is stored as Excel's escape _x000D_ (as XlsxWriter stores it), which openpyxl keeps.
        want = {n.replace("\r", "_x000D_") for n in (*FORMULA_NAMES, *PLAIN_NAMES)}
        assert {c.value for c in cells} == want, sheet
        assert {c.data_type for c in cells} == {"s"}, sheet


def test_empty_texts_keep_every_later_cell_in_its_column(tmp_path: Path) -> None:
    """The 台账's rows name no cell references: an empty name, reading, section list or reason is an empty cell that
    holds its place, so every cell after it reads back in its own column."""
    from records.model import Excuse, Member, PushDay

    c = campaign()
    c = replace(c, push_days=(PushDay(c.push_days[0].local_date, 1, "", ()), *c.push_days[1:]),
                members=(Member(c.members[0].user_id, ""), *c.members[1:]),
                excuses=(Excuse(c.members[1].user_id, c.push_days[1].local_date, c.push_days[2].local_date, ""),))
    s = summarize(c)
    book = openpyxl.load_workbook(write_export(s, "xlsx", tmp_path / "e.xlsx"))
    got = [tuple(r) for r in book[wording.LEDGER_SHEET].iter_rows(min_row=2, values_only=True)]
    [(_, _, rows)] = [sheet for sheet in sheets(s) if sheet[0] == wording.LEDGER_SHEET]
    want = [tuple(None if v == "" else datetime.combine(v, datetime.min.time()) if type(v) is date else v
                  for v in r) for r in rows]
    assert got == want
    assert any(r[0] is None and r[4] is None and r[6] is not None for r in got)  # the cases are there


def test_every_ledger_row_carries_its_row_number(tmp_path: Path) -> None:
    """review5: `<row>` without `r` is valid SpreadsheetML (Excel, LibreOffice, openpyxl, calamine read it), but
    common readers number rows only by `r`: xlsx2csv 0.8.6 prints the 台账 as its header alone, every data row
    silently gone (R's openxlsx and exceljs 4.4 refuse such rows too). Cells may go without references; rows not."""
    import re

    path = write_export(summarize(campaign()), "xlsx", tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")  # the 台账, the first sheet
    rows = re.findall(rb"<row\b([^>]*)>", xml)
    numbers = [re.search(rb'\br="(\d+)"', attrs) for attrs in rows]
    assert len(rows) > 1 and all(numbers), "a 台账 row without its row number"
    assert [int(m.group(1)) for m in numbers if m] == list(range(1, len(rows) + 1))
