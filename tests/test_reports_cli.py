"""`studybot groups` and `studybot export`: the study ledger from the command line, read back cell by cell."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from bot.store import Checkin, Store
from records import wording

GROUP = -100555
D1, D2 = date(2026, 11, 2), date(2026, 11, 3)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "studybot.db"
    store = Store(db)
    store.ensure_group(GROUP, "二支部学习群")
    store.ensure_group(-100777, "")
    for n, day in enumerate((D1, D2), start=1):
        assert store.record_push(GROUP, day, 10 + n) is not None
    store.remember_member(GROUP, 7, "小王")
    store.remember_member(GROUP, 8, "小李")
    store.record_checkin(Checkin(GROUP, 7, D1, 1, D1, time(8, 1, 2), 0.0, False))
    store.record_checkin(Checkin(GROUP, 8, D1, 1, D2, time(21, 0), 0.0, True))
    store.close()
    path = tmp_path / "config.yaml"
    path.write_text(f'database: "{db}"\n', encoding="utf-8")
    return path


def test_groups_lists_ids_and_titles(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "groups"]) == 0
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == [f"{GROUP}\t二支部学习群\t2 members\t2 days pushed\tactive",
                     "-100777\t-\t0 members\t0 days pushed\tactive"]


def test_export_xlsx_to_a_file(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ledger.xlsx"
    assert main(["-c", str(config), "export", "--chat", str(GROUP), "--from", "2026-11-01", "--to", "2026-11-30",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    rows = list(openpyxl.load_workbook(out)[wording.LEDGER_SHEET].iter_rows(values_only=True))
    assert rows[0] == wording.LEDGER_HEADERS
    by = {(r[0], r[2]): r for r in rows[1:]}
    assert len(by) == 4
    assert by[("小王", datetime(2026, 11, 2))][6:8] == (datetime(2026, 11, 2, 8, 1, 2), None)
    assert by[("小李", datetime(2026, 11, 2))][6:8] == (datetime(2026, 11, 3, 21, 0), "是")
    assert by[("小李", datetime(2026, 11, 3))][6] is None


def test_export_csv_and_a_narrower_period(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "ledger.zip"
    assert main(["-c", str(config), "export", "--chat", str(GROUP), "--from", "2026-11-03", "--to", "2026-11-03",
                 "--format", "csv", "-o", str(out)]) == 0
    text = zipfile.ZipFile(out).read("台账.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[2] for r in rows[1:]] == ["2026-11-03", "2026-11-03"]


def test_export_refuses_unknown_groups_and_bad_dates(config: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "export", "--chat", "-1", "-o", str(tmp_path / "x.xlsx")]) == 1
    assert "no group with id -1" in capsys.readouterr().err
    assert main(["-c", str(config), "export", "--chat", str(GROUP), "--from", "soon"]) == 1
    assert "use YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_export_dates_follow_one_rule_and_a_clock_run_ahead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The offline chat's /pushnow and /demo push on dates after today: `studybot export` without dates used to end
    at today (those days left out), and `--from 12-01 --to 12-07` said the end (last year) was before the start."""
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    ahead = [today + timedelta(days=n) for n in (3, 4)]
    db = tmp_path / "ahead.db"
    store = Store(db)
    store.ensure_group(GROUP, "演示群")
    for n, day in enumerate(ahead, start=1):
        assert store.record_push(GROUP, day, n) is not None
    store.close()
    path = tmp_path / "ahead.yaml"
    path.write_text(f'database: "{db}"\n', encoding="utf-8")
    out = tmp_path / "all.xlsx"
    assert main(["-c", str(path), "export", "--chat", str(GROUP), "-o", str(out)]) == 0
    days = [r[0] for r in openpyxl.load_workbook(out)[wording.DAYS_SHEET].iter_rows(min_row=2, values_only=True)]
    assert len(days) == 2, days
    typed = tmp_path / "typed.xlsx"
    first, last = (f"{d:%m-%d}" for d in ahead)
    assert main(["-c", str(path), "export", "--chat", str(GROUP), "--from", first, "--to", last,
                 "-o", str(typed)]) == 0, capsys.readouterr().err
    daily = list(openpyxl.load_workbook(typed)[wording.DAYS_SHEET].iter_rows(min_row=2, values_only=True))
    assert len(daily) == 2
