"""The 台账 sheet as text: XLSX rows (SpreadsheetML) or CSV lines, from each member's check-ins and answers per day
as one text (records.model.MemberDays, as the store hands them over).

The rows are `records.ledger.ledger_entries`' — one per member per push day they were on the roster (or checked
in), member by member — and the cells those of records/export.py `ledger_table`. What differs is the cost: a
member's text becomes their cells by C string calls (split, slices, zip, map over bound methods), every piece that
repeats (a member's name and id, a day's date and reading, "answered, correct" pairs, an excuse) is made once, and
a row is a join of pieces. XLSX cells carry no reference (`r`, optional in SpreadsheetML: ECMA-376 Part 1,
18.3.1.4): a cell follows the one before it, each empty cell written as `<c/>`, so no piece holds a row number.
Rows do carry theirs (`<row r="2">`, 18.3.1.73), optional too, but readers that number rows only by it
(xlsx2csv, exceljs, R's openxlsx) otherwise see the sheet as its header alone: the openings are made in C from a
running count (`Pieces.opens`). At 5,000 members x 60 days that is 300,000 rows in a few tenths of a second
instead of a Python step per cell.
tests/test_reports_tallies.py reads both files back equal to the rule's rows, from the store's texts and from
`member_days_of` (a campaign counted in Python).
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain, repeat

from records import sheetxml, wording
from records.ledger import tally
from records.model import SEP, Campaign, Excuse, Member, MemberDays, PushDay, is_late

EMPTY_CELL = "<c/>"  # an XLSX cell with nothing in it: it only holds the place of the next cell (no references)

@dataclass(frozen=True)
class Pieces:
    """How one format writes a 台账 row, as UTF-8: opening + head (member) + day + press + excuse + counts + end.
    Bytes, not str: the Chinese makes every str row two bytes a character, to be copied, scanned and encoded again."""

    opens: Callable[[range], Iterable[bytes]]  # the openings of the rows numbered so (sheet rows, from 2)
    head: Callable[[Member], bytes]
    day: Callable[[PushDay], bytes]
    # (local dates, local times, late 0/1) of a member's presses -> their pieces, in C
    pressed: Callable[[list[bytes], list[bytes], list[bytes]], Iterable[bytes]]
    unpressed: bytes
    excuse: Callable[[Excuse], bytes]
    unexcused: bytes
    counts: Callable[[bytes], bytes]  # b"answered,correct" -> the piece
    uncounted: bytes
    end: bytes


class _Made(dict[bytes, bytes]):
    """Each distinct key's piece, made once; `map(made.__getitem__, keys)` stays in C for keys already seen."""

    def __init__(self, make: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: bytes) -> bytes:
        made = self[key] = self.make(key)
        return made


def _fraction(at: bytes) -> bytes:
    """b".84375" for b"20:15:00": the decimals of that time's fraction of a day, as fixed-point (never 1e-05)."""
    seconds = int(at[:2]) * 3600 + int(at[3:5]) * 60 + int(at[6:8])
    decimals = (b"%.12f" % (seconds / 86_400))[1:].rstrip(b"0")
    return decimals if decimals != b"." else b".0"


def member_days_of(campaign: Campaign) -> MemberDays:
    """A campaign's check-ins and answers per day as the store writes them (for a campaign counted in Python)."""
    if campaign.member_days is not None:
        return campaign.member_days
    tallies = tally(campaign)
    if tallies.daily is None:
        raise ValueError("the campaign was counted for a report: its answers per day are not there")
    checkins = {uid: SEP.join(f"{day.isoformat()}{SEP}{at.date().isoformat()}{SEP}{at:%H:%M:%S}"
                              f"{SEP}{int(is_late(at, day))}" for day, at in days.items())
                for uid, days in tallies.checkins.items() if days}
    daily = {uid: SEP.join(f"{day.isoformat()}{SEP}{n},{c}" for day, (n, c) in days.items())
             for uid, days in tallies.daily.items() if days}
    return MemberDays(checkins=checkins, daily=daily)


def member_rows(campaign: Campaign, pieces: Pieces) -> Iterator[bytes]:
    """Per member, in roster order, their 台账 rows as one text."""
    texts = member_days_of(campaign)
    sep = SEP.encode()
    days = [(p.local_date, p.local_date.isoformat().encode(), pieces.day(p)) for p in campaign.push_days]
    isos, cells = [i for _, i, _ in days], [c for _, _, c in days]
    first, last = (min(d for d, _, _ in days), max(d for d, _, _ in days)) if days else (date.max, date.min)
    excuses: dict[int, list[Excuse]] = {}
    for e in campaign.excuses:
        excuses.setdefault(e.user_id, []).append(e)
    excused: dict[int, bytes] = {}  # id(excuse) -> its piece
    counts = _Made(pieces.counts)
    unpressed, unexcused, uncounted, end = pieces.unpressed, pieces.unexcused, pieces.uncounted, pieces.end
    row = 2  # the sheet row of the next 台账 row (row 1 is the header)
    for member in campaign.members:
        uid = member.user_id
        pressed: dict[bytes, bytes] = {}
        if text := texts.checkins.get(uid):
            f = text.encode().split(sep)  # push date, local date, local time, late: four fields a press
            pressed = dict(zip(f[0::4], pieces.pressed(f[1::4], f[2::4], f[3::4]), strict=True))
        counted: dict[bytes, bytes] = {}
        if text := texts.daily.get(uid):
            f = text.encode().split(sep)  # local date, "answered,correct"
            counted = dict(zip(f[0::2], map(counts.__getitem__, f[1::2]), strict=True))
        head, mine = pieces.head(member), excuses.get(uid)
        joined, left = member.joined, member.left
        if not mine and (joined is None or joined <= first) and (left is None or last < left):
            # Most members: on the roster every push day of the period (Member.present), never excused — a row a
            # push day, put together in C: one join of all their rows' pieces (no bytes object per row).
            yield b"".join(chain.from_iterable(zip(pieces.opens(range(row, row + len(days))), repeat(head), cells,
                                                   map(pressed.get, isos, repeat(unpressed)), repeat(unexcused),
                                                   map(counted.get, isos, repeat(uncounted)), repeat(end))))
            row += len(days)
            continue
        rows: list[bytes] = []  # the pieces of their rows
        for day, iso, cell in days:
            press = pressed.get(iso)
            if press is None:
                if not ((joined is None or joined <= day) and (left is None or day < left)):
                    continue  # not on the roster that day (Member.present), and no check-in
                press = unpressed
            excuse = unexcused
            if mine and (covering := next((e for e in mine if e.covers(day)), None)) is not None:
                excuse = excused.get(id(covering)) or excused.setdefault(id(covering), pieces.excuse(covering))
            rows += (head, cell, press, excuse, counted.get(iso, uncounted), end)
        count = len(rows) // 6
        rows[::6] = [opening + head for opening in pieces.opens(range(row, row + count))]
        row += count
        yield b"".join(rows)


def xlsx_rows(campaign: Campaign, day_style: int | None, time_style: int | None) -> Iterator[bytes]:
    """The 台账's data rows as SpreadsheetML (UTF-8), from sheet row 2, a thousand-odd rows a piece
    (records/sheetxml.py writes cells the way XlsxWriter does; `day_style`/`time_style`: the date and time cells'
    style numbers). Each row carries its number, no cell its reference: every row has all twelve cells, `<c/>` for
    an empty one, so each cell's place is its order (see the module's docstring)."""

    def cells(*pairs: tuple[sheetxml.Value, int | None]) -> bytes:
        return "".join(EMPTY_CELL if (tail := sheetxml.cell_tail(value, style)) is None else f"<c{tail[1:]}"
                       for value, style in pairs).encode()

    yes = cells((wording.YES, None))
    stamp = (f'<c s="{time_style}"><v>' if time_style is not None else "<c><v>").encode()
    late = {b"0": b"</v></c>" + cells((None, None)), b"1": b"</v></c>" + yes}
    # Excel's serial of a local date and time, written as the date's whole number (midnight's serial) followed by
    # the time's fraction of a day (seconds / 86,400 to 12 places, 86 ns): two cached pieces a press instead of a
    # float and its repr. It reads as sheetxml.serial's number to well under a millisecond (Excel keeps 15 digits).
    days = _Made(lambda day: b"%s%d" % (stamp, sheetxml.serial(date.fromisoformat(day.decode()))))
    times = _Made(_fraction)

    def pressed(dates: list[bytes], clock: list[bytes], lates: list[bytes]) -> Iterable[bytes]:
        return map(b"".join, zip(map(days.__getitem__, dates), map(times.__getitem__, clock),
                                 map(late.__getitem__, lates), strict=True))

    def counts(pair: bytes) -> bytes:
        n, c = pair.split(b",")
        return cells((int(n), None), (int(c), None))

    pieces = Pieces(
        opens=lambda rows: map(b'<row r="%d">'.__mod__, rows),
        head=lambda m: cells((m.name, None), (m.user_id, None)),
        day=lambda p: cells((p.local_date, day_style), (p.day, None), (p.reading, None), (" ".join(p.sections), None)),
        pressed=pressed, unpressed=cells((None, None), (None, None)),
        excuse=lambda e: cells((wording.YES, None), (e.reason, None)), unexcused=cells((None, None), (None, None)),
        counts=counts, uncounted=counts(b"0,0"), end=b"</row>")
    yield from _batched(member_rows(campaign, pieces))


def _batched(texts: Iterable[bytes], size: int = sheetxml.CHUNK_CHARS) -> Iterator[bytes]:
    """Members' texts joined into pieces of about `size` bytes (a few thousand rows): one write each."""
    batch: list[bytes] = []
    held = 0
    for text in texts:
        batch.append(text)
        held += len(text)
        if held >= size:
            yield b"".join(batch)
            batch, held = [], 0
    if batch:
        yield b"".join(batch)


# A CSV field opening with one of these is a formula to Excel, LibreOffice and Google Sheets (=HYPERLINK(...),
# -2+3, @SUM(...), and a tab or carriage return before them): a member's name is typed by the member. The full-width
# signs a Chinese keyboard gives are one to Apple Numbers, which folds them to ASCII (＝2+2 opens as 4: the reason
# csv-stringify escapes them, adaltas/node-csv#387; said of Japanese Excel too, OWASP/www-community#1088), though
# not to LibreOffice (7.4 opens ＝1+1 as text).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_text(text: str) -> str:
    """A text cell as a CSV file holds it: one that a spreadsheet would run as a formula gets a leading apostrophe
    (OWASP's advice for CSV injection), which Excel takes as "this is text" and does not show; any other text is
    itself. Only for text: numbers, dates and rates are written by the exporter, never by users."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _fields(*fields: str) -> bytes:
    """Fields as the csv module writes them in a row (quoted where needed), without the line end."""
    buffer = io.StringIO()
    # The same line end as the files: the csv module quotes a field holding any of its characters.
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return (buffer.getvalue()[:-2] if any(fields) else "," * (len(fields) - 1)).encode()  # a lone "" is '""'


def csv_lines(campaign: Campaign) -> Iterator[bytes]:
    """The 台账's data lines as CSV (UTF-8; as the csv module writes records/export.py's cells), a few thousand
    lines a piece."""
    late = {b"0": b"," + _fields(wording.NO), b"1": b"," + _fields(wording.YES)}

    def pressed(days: list[bytes], times: list[bytes], lates: list[bytes]) -> Iterable[bytes]:
        # "YYYY-MM-DD HH:MM:SS", csv_value's format for a local time
        return map(operator.add, map(b" ".join, zip(days, times, strict=True)), map(late.__getitem__, lates))

    pieces = Pieces(
        opens=lambda rows: repeat(b"", len(rows)),
        head=lambda m: _fields(csv_text(m.name), str(m.user_id)) + b",",
        day=lambda p: _fields(p.local_date.isoformat(), str(p.day), csv_text(p.reading),
                              csv_text(" ".join(p.sections))) + b",",
        pressed=pressed, unpressed=b",",
        excuse=lambda e: b"," + _fields(wording.YES) + b"," + _fields(csv_text(e.reason)) + b",", unexcused=b",,,",
        counts=lambda pair: pair, uncounted=b"0,0", end=b"\r\n")
    yield from _batched(member_rows(campaign, pieces))
