"""Sheet rows as SpreadsheetML text, spliced into the workbook XlsxWriter writes.

XlsxWriter writes the workbook itself (styles, the header rows, frozen panes, column widths, the native chart), but
its per-cell calls cost 5–10 µs a cell: 20 s for a 5,000-member, 60-day 台账 of 3.6 million cells. So the data rows
are written here as XML text, the way XlsxWriter's constant_memory mode writes them (inline strings, the same cell
styles, the same escapes), with every piece that repeats — a member's name, a day's reading — formatted once, and
put between a sheet's header row and its `</sheetData>`.
"""

from __future__ import annotations

import io
import queue
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter

try:  # ISA-L's deflate (python-isal): the same raw deflate stream as zlib's, four times as fast at level 1
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - a dependency; without it zlib does the work, more slowly
    _fast_zlib = None  # type: ignore[assignment]

_EPOCH = datetime(1899, 12, 31)  # Excel's day 0; day 60 is the 1900-02-29 that never was (kept, as Excel does)
_LEAP_BUG = date(1900, 3, 1)
_ESCAPES = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
CHUNK_CHARS = 1 << 20  # about 1 MB of XML per write: big enough for zlib, small enough to keep memory flat
ZIP_LEVEL = 1  # zlib level for the big sheets: 1.5x the bytes of level 6 (well under 50 MB) in half the time
FAST_LEVEL = 1  # ISA-L's level for them: a 16 MB XLSX of 120 MB of XML in 0.1 s, where zlib's 1 takes 0.4 s

Value = str | int | float | date | datetime | None


def column(index: int) -> str:
    return xl_col_to_name(index)


def text_tail(value: str) -> str:
    """What follows `<c r="A1` for an inline string cell (escaped as XlsxWriter escapes it)."""
    if _ESCAPES.search(value):
        value = XMLwriter._escape_control_characters(value)
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    preserve = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'" t="inlineStr"><is><t{preserve}>{value}</t></is></c>'


def serial(value: date | datetime) -> int | float:
    """Excel's serial number of a date (whole days) or a local date and time (with the fraction of the day)."""
    if isinstance(value, datetime):
        delta = (value if value.tzinfo is None else value.replace(tzinfo=None)) - _EPOCH
        number: int | float = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86_400
        return number + 1 if value.date() >= _LEAP_BUG else number
    days = value.toordinal() - _EPOCH.toordinal()
    return days + 1 if value >= _LEAP_BUG else days


def number_tail(value: int | float, style: int | None) -> str:
    shown = repr(value) if isinstance(value, float) else str(value)
    return f'"><v>{shown}</v></c>' if style is None else f'" s="{style}"><v>{shown}</v></c>'


def cell_tail(value: Value, style: int | None) -> str | None:
    """The cell after its reference; None for an empty cell (not written)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return text_tail(value)
    if isinstance(value, date):
        return number_tail(serial(value), style)
    return number_tail(value, style)


def generic_rows(rows: Iterable[Iterable[Value]], styles: list[int | None]) -> Iterator[str]:
    """Any rows of plain values from sheet row 2 on (row 1 is the header): a cell at a time."""
    refs = [column(i) for i in range(len(styles))]
    # What follows a number's value: its style, as number_tail writes it (numbers are most cells here).
    numbered = ['"><v>' if style is None else f'" s="{style}"><v>' for style in styles]
    for n, cells in enumerate(rows, start=2):
        r = str(n)
        parts = [f'<row r="{r}">']
        for ref, value, style, lead in zip(refs, cells, styles, numbered, strict=False):
            kind = type(value)
            if kind is int:  # number_tail, inline (a bool is not an int here: it goes the long way, as before)
                parts.append(f'<c r="{ref}{r}{lead}{value}</v></c>')
            elif kind is float:
                parts.append(f'<c r="{ref}{r}{lead}{value!r}</v></c>')
            elif (tail := cell_tail(value, style)) is not None:
                parts.append(f'<c r="{ref}{r}{tail}')
        parts.append("</row>")
        yield "".join(parts)


def chunks(rows: Iterable[str | bytes]) -> Iterator[bytes]:
    """Row text (one row or a batch of them per string) as bytes of about CHUNK_CHARS characters each; rows
    already in UTF-8 (a big batch each: records/ledgertext.py) pass as they are."""
    batch: list[str] = []
    size = 0
    for row in rows:
        if isinstance(row, bytes):
            if batch:
                yield "".join(batch).encode()
                batch, size = [], 0
            yield row
            continue
        batch.append(row)
        size += len(row)
        if size >= CHUNK_CHARS:
            yield "".join(batch).encode()
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode()


# XlsxWriter writes a sheet's used range from its header row alone; the spliced rows widen it.
_DIMENSION = re.compile(rb'<dimension ref="A1(?::([A-Z]+)1)?"/>')


def splice(skeleton: bytes, path: Path, bodies: Mapping[int, tuple[int, Iterable[str | bytes]]]) -> None:
    """Write the workbook `skeleton` (XlsxWriter's, header rows only in the sheets of `bodies`) to `path`, with
    each body's rows (sheet index -> (how many rows, XML rows)) after its header row, compressed as they are made."""
    with zipfile.ZipFile(io.BytesIO(skeleton)) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as out:
        names = {f"xl/worksheets/sheet{index + 1}.xml": index for index in bodies}
        if missing := set(names) - set(source.namelist()):
            raise ValueError(f"the workbook has no {', '.join(sorted(missing))}")
        for info in source.infolist():
            data = source.read(info)
            index = names.get(info.filename)
            if index is None:
                out.writestr(info, data, compresslevel=6)
                continue
            end = data.rindex(b"</sheetData>")
            count, rows = bodies[index]
            head = data[:end]
            if count and (found := _DIMENSION.search(head)):
                wider = b'<dimension ref="A1:%s%d"/>' % (found.group(1) or b"A", count + 1)
                head = head[:found.start()] + wider + head[found.end():]
            with out.open(info.filename, "w", force_zip64=True) as handle:
                fast = deflate_faster(handle)  # before the head: the whole member in one deflate stream
                handle.write(head)
                write_behind(handle, chunks(rows), fast)
                handle.write(data[end:])


def deflate_faster(handle: IO[bytes]) -> bool:
    """Have ISA-L compress the zip member just opened for writing (nothing written yet) instead of zlib.

    zipfile keeps a member's compressor as `_compressor` (CPython 3.6 to 3.13) and computes the CRC and sizes
    itself, so swapping it changes nothing but the speed; where that attribute (or isal) is missing, zlib stays.
    """
    if _fast_zlib is not None and getattr(handle, "_compressor", None) is not None \
            and getattr(handle, "_file_size", None) == 0:
        handle._compressor = _fast_zlib.compressobj(FAST_LEVEL, _fast_zlib.DEFLATED, -15)  # type: ignore[attr-defined]
        return True
    return False


def write_behind(handle: IO[bytes], data: Iterable[bytes], fast: bool = False) -> None:
    """Write `data` to the zip member: with ISA-L's deflate (`deflate_faster`, or `fast`: the caller swapped it
    in) on this thread, as the chunks are made — 0.1 s for 120 MB of XML, less than a second thread's hand-overs
    of the GIL cost on a busy machine (measured: 0.95 s instead of 1.05-1.3 for the 5,000 x 60 workbook at load
    4.5); with zlib's, four times slower, on a second thread while this one makes the next chunks (zlib and crc32
    release the GIL, so the compressing overlaps with the writing instead of adding to it)."""
    if deflate_faster(handle) or fast:
        for chunk in data:
            handle.write(chunk)
        return
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
    failed: list[BaseException] = []

    def drain() -> None:
        try:
            while (chunk := pending.get()) is not None:
                handle.write(chunk)
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)
            while pending.get() is not None:
                pass  # keep taking, so the producer never blocks on a full queue

    writer = threading.Thread(target=drain, name="xlsx-deflate", daemon=True)
    writer.start()
    try:
        for chunk in data:
            if failed:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]
