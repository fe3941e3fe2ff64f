"""Parse a speech of the 讲话 genre into an opening, numbered parts with numbered points, and a closing.

Shape of the text (see content/speech.txt):

    <title>
    时间:... / 导语:... / 来源:... / 作者:...   (header lines, kept as metadata, never body)
    <title again, optional>
    同志们:                                     (the body, hence the opening, starts here)
    ...opening paragraphs...
    一、<part heading>                          (or 第一部分 <heading>; always at the start of a line)
    ...part introduction...
    1、<point heading>。<text>                  (1、 1. 1． （一） (1) 第一， with full- or half-width forms)
    ... 2、<next point> may also start in the middle of a paragraph, right after a sentence end ...
    ...closing paragraph(s)...

Rules that are not obvious:

* A point marker in the middle of a line counts only when it carries the next expected number,
  follows a sentence end (。！？；, closing quotes allowed) and has the marker family of the
  part's first point (digits ``1、``, parenthesised ``（一）``, ordinal ``第一，``). So ``2.3``,
  ``第1、2条`` or an enumeration ``第二，`` inside a ``1、``-numbered point stay text. The first
  point of a part may start mid-line only with a digit or parenthesised marker, because
  ``。第一，`` is ordinary prose far more often than it is a point.
* A marker of the part's family at the start of a line must carry the next number, else
  SpeechFormatError: a silently wrong tree is worse than a refusal. Markers of another family
  at a line start are sub-lists, i.e. text.
* Closing: the last section (the last point, or the last part when it has no points) keeps its
  heading and its first paragraph of text; every later paragraph is the closing. A later
  paragraph opening with the address ``同志们`` marks the closing's start explicitly and lets
  the last section keep the paragraphs before it.
* Headings are the words only: no marker (the label carries the number) and no final 。.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import CLOSING_REF, OPENING_REF, Document, Part, Section, SectionKind

CN_DIGITS = {**{char: value for value, char in enumerate("〇一二三四五六七八九")}, "零": 0, "两": 2}
_CN = "〇零一二三四五六七八九十两"
_DIGIT = "0-9０-９"
_SPACE = " \t\u3000"
_TERMINATORS = "。！？!?"  # end a heading
_BREAKS = "。！？；!?;"  # may precede a point that starts mid-line
_OPENERS = "“‘「『《（("
_CLOSERS = "”’」』》）)"
_TRAILING = "”’」』"  # closing quotes that belong to the sentence they end

HEADER_KEYS = ("时间", "导语", "来源", "作者", "日期", "发布时间")
_HEADER_RE = re.compile(rf"^[{_SPACE}]*(?P<key>{'|'.join(HEADER_KEYS)})[:：](?P<value>.*)$")
_PART_RE = re.compile(rf"(?:第(?P<a>[{_CN}]+)部分[{_SPACE}、，,：:．.]*|(?P<b>[{_CN}]+)[、．.][{_SPACE}]*)")
_POINT_RE = re.compile(
    rf"(?:(?P<digit>[{_DIGIT}]+)[、.．](?![{_DIGIT}])"
    rf"|[（(](?P<paren>[{_DIGIT}]+|[{_CN}]+)[）)]"
    rf"|第(?P<ordinal>[{_CN}]+)[，,、：:])[{_SPACE}]*"
)
_ADDRESS = "同志们"


class SpeechFormatError(ValueError):
    """The text is not a speech of the expected shape; `line` is 1-based in the file, when known."""

    def __init__(self, reason: str, line: int | None = None, path: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.path = path
        where = "".join([f"{path}: " if path else "", f"line {line}: " if line is not None else ""])
        super().__init__(where + reason)

    def with_path(self, path: str) -> SpeechFormatError:
        return SpeechFormatError(self.reason, self.line, path)


def cn_to_int(numeral: str) -> int | None:
    """Value of a Chinese numeral from 〇 to 九十九 (None if it is not one)."""
    if not numeral:
        return None
    if "十" not in numeral:
        return CN_DIGITS[numeral] if len(numeral) == 1 and numeral in CN_DIGITS else None
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return None
    high = 1 if tens == "" else CN_DIGITS.get(tens)
    low = 0 if units == "" else CN_DIGITS.get(units)
    if high is None or low is None or high == 0 or (units != "" and low == 0):
        return None
    return high * 10 + low


def int_to_cn(number: int) -> str:
    """The Chinese numeral for 0 ≤ number ≤ 99 (as used in part labels: 一, 十, 十二, 二十一)."""
    names = "〇一二三四五六七八九"
    if not 0 <= number <= 99:
        raise ValueError(f"{number} is out of range for a Chinese numeral")
    if number < 10:
        return names[number]
    tens, units = divmod(number, 10)
    return ("" if tens == 1 else names[tens]) + "十" + (names[units] if units else "")


def to_int(numeral: str) -> int | None:
    """Value of an Arabic (full- or half-width) or Chinese numeral."""
    ascii_digits = numeral.translate(_FULLWIDTH)
    if ascii_digits.isascii() and ascii_digits.isdigit():
        return int(ascii_digits)
    return cn_to_int(numeral)


_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True)
class _Mark:
    """Where a part or point begins in the body."""

    part: int
    point: int | None
    start: int
    heading: str
    heading_end: int  # just after the heading's sentence, which tells whether text runs on in the same line


def _sentence_end(text: str, pos: int, limit: int) -> int:
    """Index just after the first sentence starting at `pos` (terminators inside quotes do not count)."""
    depth = 0
    for i in range(pos, limit):
        char = text[i]
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char in _TERMINATORS and depth == 0:
            end = i + 1
            while end < limit and text[end] in _TRAILING:
                end += 1
            return end
    return limit


def _heading(text: str, pos: int, limit: int) -> tuple[str, int]:
    """The heading words starting at `pos` and where its sentence ends."""
    end = _sentence_end(text, pos, limit)
    words = text[pos:end].strip()
    return words.removesuffix("。").rstrip(), end


def _family(match: re.Match[str]) -> str:
    return next(name for name in ("digit", "paren", "ordinal") if match.group(name) is not None)


def _follows_break(text: str, line_start: int, pos: int) -> bool:
    """Whether `pos` comes right after a sentence end on its line (spaces, closing quotes between)."""
    before = text[line_start:pos].rstrip(_SPACE).rstrip(_TRAILING)
    return before.endswith(tuple(_BREAKS))


class _Scanner:
    """Walks the body line by line, collecting part and point marks and checking their numbering."""

    def __init__(self, body: str, first_line: int) -> None:
        self.body = body
        self.first_line = first_line
        self.marks: list[_Mark] = []
        self.part = 0
        self.point = 0
        self.family: str | None = None

    def line_of(self, offset: int) -> int:
        return self.first_line + self.body.count("\n", 0, offset)

    def fail(self, reason: str, offset: int) -> SpeechFormatError:
        return SpeechFormatError(reason, self.line_of(offset))

    def scan(self) -> list[_Mark]:
        offset = 0
        for line in self.body.split("\n"):
            self._line(offset, offset + len(line))
            offset += len(line) + 1
        return self.marks

    def _line(self, start: int, end: int) -> None:
        body = self.body
        indent = len(body[start:end]) - len(body[start:end].lstrip(_SPACE))
        match = _PART_RE.match(body, start + indent, end)
        number = cn_to_int(match.group("a") or match.group("b")) if match else None
        if match and number is not None:
            self._part(number, match, end)
            self._midline(match.end(), start, end)
            return
        if self.part == 0:
            return
        match = _POINT_RE.match(body, start + indent, end)
        if match and self.family in (None, _family(match)):
            self._point(match, end)
            self._midline(match.end(), start, end)
        else:
            self._midline(start, start, end)

    def _part(self, number: int, match: re.Match[str], end: int) -> None:
        at = match.start()
        label = int_to_cn(number)
        if number != self.part + 1:
            after = f"part {int_to_cn(self.part)}" if self.part else "the opening"
            raise self.fail(f"part {label} follows {after}; expected part {int_to_cn(self.part + 1)}", at)
        heading, heading_end = _heading(self.body, match.end(), end)
        if not heading:
            raise self.fail(f"part {label} has no heading text", at)
        self.part, self.point, self.family = number, 0, None
        self.marks.append(_Mark(number, None, at, heading, heading_end))

    def _point(self, match: re.Match[str], end: int) -> None:
        family = _family(match)
        number = to_int(match.group(family))
        part = int_to_cn(self.part)
        if number != self.point + 1:
            shown = match.group(family)
            after = f"point {self.point}" if self.point else "the part heading"
            raise self.fail(
                f"point {shown} follows {after} in part {part}; expected point {self.point + 1}",
                match.start(),
            )
        heading, heading_end = _heading(self.body, match.end(), end)
        if not heading:
            raise self.fail(f"point {number} in part {part} has no heading text", match.start())
        self.point, self.family = number, family
        self.marks.append(_Mark(self.part, number, match.start(), heading, heading_end))

    def _midline(self, pos: int, line_start: int, end: int) -> None:
        """Find points that begin after a sentence end inside this line."""
        body = self.body
        while True:
            found = None
            for match in _POINT_RE.finditer(body, pos, end):
                family = _family(match)
                if self.family is None and family == "ordinal":
                    continue
                if self.family not in (None, family) or to_int(match.group(family)) != self.point + 1:
                    continue
                if match.start() > line_start and _follows_break(body, line_start, match.start()):
                    found = match
                    break
            if found is None:
                return
            self._point(found, end)
            pos = found.end()


def _normalise(text: str) -> list[str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def _split_header(lines: list[str]) -> tuple[str, dict[str, str], int]:
    """Title, metadata and the index of the body's first line."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        raise SpeechFormatError("the file is empty", None)
    title: str | None = None
    metadata: dict[str, str] = {}
    for index in filled:
        line = lines[index].strip()
        header = _HEADER_RE.match(line)
        if header:
            metadata.setdefault(header.group("key"), header.group("value").strip())
        elif title is None and not (line.startswith(_ADDRESS) or _PART_RE.match(line)):
            title = line  # a file without a title starts straight with the address or part one
        elif line != title:
            return title or "", metadata, index
    raise SpeechFormatError("no speech text after the title and header lines", filled[-1] + 1)


def _trim_end(text: str, end: int) -> int:
    """Move `end` back over whitespace, so that sections end on text and the gaps hold only whitespace."""
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return end


def _closing_start(body: str, mark: _Mark) -> int | None:
    """Where the closing begins, by the rule in the module docstring."""
    line_end = body.find("\n", mark.start)
    line_end = len(body) if line_end < 0 else line_end
    lines: list[tuple[int, str]] = []  # non-empty lines after the mark's line
    offset = line_end + 1
    for line in body[line_end + 1 :].split("\n"):
        if line.strip():
            lines.append((offset, line))
        offset += len(line) + 1
    heading_alone = not body[mark.heading_end : line_end].strip()
    later = lines[1:] if heading_alone else lines  # paragraphs after the section's first paragraph of text
    for start, line in later:
        if line.lstrip(_SPACE).startswith(_ADDRESS):
            return start + len(line) - len(line.lstrip(_SPACE))
    if later:
        start, line = later[0]
        return start + len(line) - len(line.lstrip(_SPACE))
    return None


def _section(
    body: str,
    start: int,
    stop: int,
    ref: str,
    kind: SectionKind,
    label: str,
    heading: str,
    part: int | None = None,
    point: int | None = None,
) -> Section:
    end = _trim_end(body, stop)
    return Section(ref, kind, label, heading, body[start:end], start, end, part, point)


def _mark_section(body: str, mark: _Mark, stop: int) -> Section:
    cn = int_to_cn(mark.part)
    if mark.point is None:
        return _section(body, mark.start, stop, str(mark.part), "part", cn, mark.heading, mark.part)
    ref, label = f"{mark.part}.{mark.point}", f"{cn}、{mark.point}"
    return _section(body, mark.start, stop, ref, "point", label, mark.heading, mark.part, mark.point)


def parse_speech(text: str) -> Document:
    """Parse the text of a speech file into a Document; SpeechFormatError says where and why not."""
    lines = _normalise(text)
    title, metadata, first = _split_header(lines)
    body = "\n".join(lines[first:]).rstrip()
    marks = _Scanner(body, first + 1).scan()
    if not marks:
        raise SpeechFormatError("no parts found: expected a line starting with 一、 or 第一部分", first + 1)
    closing_at = _closing_start(body, marks[-1])
    stops = [m.start for m in marks[1:]] + [closing_at if closing_at is not None else len(body)]
    body_start = len(body) - len(body.lstrip())
    opening = None
    if _trim_end(body, marks[0].start) > body_start:
        opening = _section(body, body_start, marks[0].start, OPENING_REF, "opening", "开头", "开头")
    grouped: list[tuple[Section, list[Section]]] = []
    for mark, stop in zip(marks, stops, strict=True):
        section = _mark_section(body, mark, stop)
        if section.kind == "part":
            grouped.append((section, []))
        else:
            grouped[-1][1].append(section)
    parts = tuple(Part(section, tuple(points)) for section, points in grouped)
    closing = None
    if closing_at is not None:
        closing = _section(body, closing_at, len(body), CLOSING_REF, "closing", "结语", "结语")
    return Document(title=title, metadata=metadata, body=body, opening=opening, parts=parts, closing=closing)
