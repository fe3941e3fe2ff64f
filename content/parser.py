"""Parse a speech of the 讲话 genre into an opening, numbered parts with numbered points, and a closing.

Shape of the text (see content/speech.txt and tests/data/corpus/):

    <page title, meta lines, title, subtitle, byline, date>   (content/header.py: never body)
    同志们：                                   (the address; the body, hence the opening, starts here)
    ...opening paragraphs...
    一、<part heading>                         (or 第一部分 <heading>; always at the start of a line)
    ...part introduction...
    （一）<point heading>。<text>              (one numbering family per level, see content/numbering.py)
    ...closing paragraph(s)...
    （来源：…） / 责任编辑：…                   (trailer: never body)

Rules that are not obvious:

* Points are the first numbered level under a part: of the families that open paragraphs there,
  the outermost that occurs at least twice (or the only one). Every other family is a deeper
  level or an enumeration and stays body text, at a paragraph start or mid-paragraph. A point's
  first marker opens a paragraph; later ones may follow a sentence end inside a line when they
  carry the next number. Paragraph-initial ``一是…二是…`` are points only when they are the only
  numbering in the part, open with a heading sentence and run 一, 二, 三… once.
* A paragraph-initial marker of the chosen family must carry the next number, else
  SpeechFormatError naming that line, the line that set the previous number and what was
  expected: a silently wrong tree is worse than a refusal.
* Closing: the first paragraph after the last section's first paragraph that turns to the
  audience (同志们, 各位代表…) or concludes (最后，, 以上, 会后, 总之…); else a final paragraph
  that ends the speech with an exhortation (…作出新贡献。 …迎接…周年！); else a part line headed
  结语. With none of these there is no closing: a guess would cut the last part short.
* Headings are the words only: no marker (the label carries the number) and no final 。.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from .header import HeaderLine, NoBody, is_address, split_header
from .model import CLOSING_REF, OPENING_REF, Document, Part, Section, SectionKind
from .numbering import (
    FAMILIES,
    PART_RE,
    POINT_RE,
    SPACE,
    Family,
    cn_to_int,
    family_of,
    int_to_cn,
    marker_value,
    part_number,
    shown,
    to_int,
)

__all__ = ["Analysis", "Note", "SpeechFormatError", "analyse_speech", "cn_to_int", "int_to_cn", "parse_speech",
           "to_int"]

_TERMINATORS = "。！？!?"  # end a heading
_BREAKS = "。！？；!?;"  # may precede a point that starts mid-line
_OPENERS = "“‘「『《（("
_CLOSERS = "”’」』》）)"
_TRAILING = "”’」』"  # closing quotes that belong to the sentence they end
_CLOSING_HEADINGS = re.compile(r"^(?:结语|结束语|结束|结尾|尾声)$")
_CONCLUDES = re.compile(
    r"^(?:最后[，,、：:]|以上|会后|总之|综上|总而言之|总的来说|再次感谢|谢谢|让我们|回顾|回望"
    r"|(?:由于|在)[^，,。]{0,12}(?:共同|不懈)努力)"  # the summing-up sentence of a work report
)
_EXHORTS = re.compile(
    r"(?:(?:作出|做出)[^，,。；]{0,8}贡献|迎接[^，,。；]{0,16}(?:召开|周年|胜利)|而[^，,。；]{0,6}奋斗"
    r"|(?:开创|谱写|铸就|创造|共创)[^，,。；]{0,16}(?:局面|篇章|辉煌|明天|未来))[”’]?[。！!]$"
)
_SHI_HEADING = 60  # a 一是 paragraph's heading sentence is at most this long
_LONG_POINT = 3  # a point this many times longer than its siblings' median is worth a look


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


@dataclass(frozen=True)
class Note:
    """One decision the parser took, or a spot worth a look (`studybot content check` prints them)."""

    line: int | None
    text: str


@dataclass(frozen=True)
class Analysis:
    document: Document
    decisions: tuple[Note, ...]
    warnings: tuple[Note, ...]
    header: tuple[HeaderLine, ...]


@dataclass(frozen=True)
class _Mark:
    """Where a part or point begins in the body."""

    part: int
    point: int | None
    start: int
    heading: str
    heading_end: int  # just after the heading's sentence, which tells whether text runs on in the same line


@dataclass(frozen=True)
class _Line:
    start: int  # offset of the first non-space character
    end: int
    number: int  # 1-based in the file


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
    words = text[pos:end].strip(SPACE)
    return words.removesuffix("。").rstrip(SPACE), end


def _follows_break(text: str, line_start: int, pos: int) -> bool:
    """Whether `pos` comes right after a sentence end on its line (spaces, closing quotes between)."""
    before = text[line_start:pos].rstrip(SPACE).rstrip(_TRAILING)
    return before.endswith(tuple(_BREAKS))


def _trim_end(text: str, end: int) -> int:
    """Move `end` back over whitespace, so that sections end on text and the gaps hold only whitespace."""
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return end


class _Scanner:
    """Finds the parts, chooses each part's point family, collects the marks and checks their numbering."""

    def __init__(self, body: str, first_line: int) -> None:
        self.body = body
        self.lines: list[_Line] = []
        offset = 0
        for k, line in enumerate(body.split("\n")):
            stripped = line.lstrip(SPACE)
            if stripped.strip(SPACE):
                self.lines.append(_Line(offset + len(line) - len(stripped), offset + len(line), first_line + k))
            offset += len(line) + 1
        self.marks: list[_Mark] = []
        self.mark_lines: list[int] = []
        self.closing_at: int | None = None
        self.closing_rule = ""
        self.decisions: list[Note] = []
        self.warnings: list[Note] = []

    def line_at(self, offset: int) -> int:
        return next((ln.number for ln in reversed(self.lines) if ln.start <= offset), self.lines[0].number)

    def scan(self) -> list[_Mark]:
        parts = self._parts()
        for k, (index, number) in enumerate(parts):
            stop = parts[k + 1][0] if k + 1 < len(parts) else self._closing_line_index()
            self._points(number, index, stop)
        order = sorted(range(len(self.marks)), key=lambda k: self.marks[k].start)
        self.marks = [self.marks[k] for k in order]
        self.mark_lines = [self.mark_lines[k] for k in order]
        return self.marks

    def _closing_line_index(self) -> int:
        if self.closing_at is None:
            return len(self.lines)
        return next(k for k, ln in enumerate(self.lines) if ln.start >= self.closing_at)

    # --- parts ---------------------------------------------------------------------------------------------

    def _parts(self) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []  # (line index, part number)
        for index, line in enumerate(self.lines):
            match = PART_RE.match(self.body, line.start, line.end)
            number = part_number(match) if match else None
            if match is None or number is None:
                continue
            heading, heading_end = _heading(self.body, match.end(), line.end)
            if found and _CLOSING_HEADINGS.match(heading):
                self.closing_at, self.closing_rule = line.start, f"a part line headed {heading}"
                break
            previous = found[-1][1] if found else 0
            if number != previous + 1:
                raise SpeechFormatError(self._part_trouble(number, previous, found), line.number)
            if not heading:
                raise SpeechFormatError(f"part {int_to_cn(number)} has no heading text", line.number)
            found.append((index, number))
            self.marks.append(_Mark(number, None, line.start, heading, heading_end))
            self.mark_lines.append(line.number)
        return found

    def _part_trouble(self, number: int, previous: int, found: list[tuple[int, int]]) -> str:
        label, expected = int_to_cn(number), int_to_cn(previous + 1)
        if not found:
            return f"part {label} follows the opening; expected part {expected} (a line starting with {expected}、)"
        at = self.lines[found[-1][0]].number
        text = f"part {label} follows part {int_to_cn(previous)} (line {at}); expected part {expected}"
        if number <= previous:
            earlier = next(self.lines[i].number for i, n in found if n == number)
            text += (f". Part {label} already began at line {earlier}: if that line is a point printed as a part, "
                     f"number it as a point; if this line starts the closing, head it 结语")
        return text

    # --- points --------------------------------------------------------------------------------------------

    def _points(self, part: int, head: int, stop: int) -> None:
        """Points of the part whose heading is line `head`, up to line index `stop`."""
        cn = int_to_cn(part)
        at = self.lines[head].number
        found: dict[Family, list[tuple[int, int]]] = {}  # family -> (line index, number) at paragraph starts
        for index in range(head + 1, stop):
            line = self.lines[index]
            match = POINT_RE.match(self.body, line.start, line.end)
            if match is None or (value := marker_value(match)) is None:
                continue
            family = family_of(match)
            if family == "shi" and not self._heading_sentence(match.end(), line.end):
                continue
            found.setdefault(family, []).append((index, value))
        level = self._level(found, {f: self._run_length(f, head, stop) for f in found})
        present = ", ".join(f"{shown(f, 1)} ×{len(found[f])}" for f in FAMILIES if f in found and f != level)
        if level is None:
            rest = f" ({present} left as body text)" if present else ""
            self.decisions.append(Note(at, f"part {cn}: no points{rest}"))
            self._warn_lone(cn, found, None)
            return
        why = "the only numbering" if len(found) == 1 else "the outermost numbering occurring more than once"
        rest = f"; body text: {present}" if present else ""
        self.decisions.append(Note(at, f"part {cn}: points numbered {shown(level, 1)} ({why}){rest}"))
        self._warn_lone(cn, found, level)
        first = found[level][0][0]
        lower = [f for f in found if f != level and found[f][0][0] < first]
        for family in lower:
            where = self.lines[found[family][0][0]].number
            self.warnings.append(Note(where, f"part {cn}: {shown(family, found[family][0][1])} comes before the "
                                             f"first point {shown(level, 1)} (line {self.lines[first].number}) "
                                             "and was left as body text"))
        point, previous_line, previous_midline = 0, at, False
        for index in range(head + 1, stop):
            line = self.lines[index]
            match = POINT_RE.match(self.body, line.start, line.end)
            pos = line.start
            if match and family_of(match) == level and (level != "shi" or (index, marker_value(match)) in found[level]):
                value = marker_value(match)
                if value != point + 1:
                    raise SpeechFormatError(
                        self._point_trouble(level, cn, value, point, previous_line, previous_midline), line.number
                    )
                point = self._point(part, match, line)
                previous_line, previous_midline, pos = line.number, False, match.end()
            if point == 0 or level == "shi":
                continue
            while (inline := self._midline(level, point + 1, pos, line)) is not None:
                point = self._point(part, inline, line)
                previous_line, previous_midline, pos = line.number, True, inline.end()

    def _run_length(self, family: Family, head: int, stop: int) -> int:
        """How many markers of this family number 1, 2, 3… in the part, mid-line ones after a sentence end too."""
        count = 0
        for index in range(head + 1, stop):
            line = self.lines[index]
            pos = line.start
            match = POINT_RE.match(self.body, line.start, line.end)
            if match and family_of(match) == family and marker_value(match) == count + 1:
                count, pos = count + 1, match.end()
            while count and family != "shi" and (inline := self._midline(family, count + 1, pos, line)):
                count, pos = count + 1, inline.end()
        return count

    def _level(self, found: dict[Family, list[tuple[int, int]]], runs: dict[Family, int]) -> Family | None:
        numbered = [f for f in FAMILIES if f in found and f != "shi"]
        qualified = [f for f in numbered if runs[f] >= 2 or len(numbered) == 1]
        if qualified:
            level = qualified[0]
            # The text's own nesting beats the usual ranking: 1、 before and after a （一）（二） run encloses it.
            while outer := next((f for f in qualified if self._encloses(found[f], found[level])), None):
                self.warnings.append(Note(self.lines[found[level][0][0]].number, f"{shown(level, 1)}… sit inside "
                                          f"{shown(outer, 1)}…, so {shown(outer, 1)} numbers the points here"))
                level = outer
            return level
        shi = found.get("shi", [])
        if not numbered and len(shi) >= 2 and [n for _, n in shi] == list(range(1, len(shi) + 1)):
            return "shi"
        return None

    @staticmethod
    def _encloses(outer: list[tuple[int, int]], inner: list[tuple[int, int]]) -> bool:
        return outer is not inner and outer[0][0] < inner[0][0] and outer[-1][0] > inner[-1][0]

    def _warn_lone(self, cn: str, found: dict[Family, list[tuple[int, int]]], level: Family | None) -> None:
        for family, items in found.items():
            if family == level:
                continue
            if len(items) == 1:
                self.warnings.append(Note(self.lines[items[0][0]].number, f"part {cn}: a lone "
                                          f"{shown(family, items[0][1])} was left as body text"))
            elif family == "shi" and level is None:
                self.warnings.append(Note(self.lines[items[0][0]].number, f"part {cn}: paragraph-initial 一是… "
                                          "do not run 一, 二, 三… once beside no other numbering: left as body text"))
            numbers = [n for _, n in items]
            for (index, value), before in zip(items[1:], numbers, strict=False):
                if value != 1 and value != before + 1:
                    kind = "repeated" if value == before else "skipped"
                    self.warnings.append(Note(self.lines[index].number, f"part {cn}: {kind} number "
                                              f"{shown(family, value)} after {shown(family, before)} (body text)"))

    def _heading_sentence(self, pos: int, end: int) -> bool:
        stop = _sentence_end(self.body, pos, end)
        return (stop < end and stop - pos <= _SHI_HEADING) or (stop == end and self.body[end - 1] in _TERMINATORS)

    def _point_trouble(self, family: Family, cn: str, value: int | None, point: int, line: int, midline: bool) -> str:
        got = shown(family, value if value is not None else 0)
        expected = shown(family, point + 1)
        if point == 0:
            return (f"point {got} follows the part heading (line {line}) in part {cn}; expected point {expected}: "
                    f"number the part's first point {expected}")
        before = shown(family, point)
        text = f"point {got} follows point {before} (line {line}) in part {cn}; expected point {expected}"
        if midline:
            text += (f". {before} in the middle of line {line} was taken for a point because it follows a sentence "
                     "end: if it is an enumeration, write it another way (①, ⑴) or start the real point on a line "
                     "of its own")
        elif value is not None and value <= point:
            text += f": {got} already began at an earlier line; renumber one of them, or make one a sub-item"
        return text

    def _point(self, part: int, match: re.Match[str], line: _Line) -> int:
        value = marker_value(match)
        assert value is not None
        heading, heading_end = _heading(self.body, match.end(), line.end)
        if not heading:
            raise SpeechFormatError(f"point {shown(family_of(match), value)} in part {int_to_cn(part)} has no "
                                    "heading text", line.number)
        self.marks.append(_Mark(part, value, match.start(), heading, heading_end))
        self.mark_lines.append(line.number)
        return value

    def _midline(self, family: Family, number: int, pos: int, line: _Line) -> re.Match[str] | None:
        for match in POINT_RE.finditer(self.body, pos, line.end):
            if family_of(match) != family or marker_value(match) != number or match.start() == line.start:
                continue
            if _follows_break(self.body, line.start, match.start()):
                return match
        return None

    # --- closing -------------------------------------------------------------------------------------------

    def closing(self) -> int | None:
        """Where the closing begins (None: no closing), by the rules in the module docstring."""
        if self.closing_at is None:
            self.closing_at = self._closing_start()
            if self.closing_at is not None:  # a marker inside the closing's paragraphs is an enumeration
                kept = [k for k, m in enumerate(self.marks) if m.start < self.closing_at]
                self.marks = [self.marks[k] for k in kept]
                self.mark_lines = [self.mark_lines[k] for k in kept]
        return self.closing_at

    def _closing_start(self) -> int | None:
        # Counted from the last section that opens a line: markers after it in the middle of lines may turn out
        # to sit in the closing.
        starts = {ln.start for ln in self.lines}
        mark = next(m for m in reversed(self.marks) if m.start in starts)
        after = [ln for ln in self.lines if ln.start > mark.start]
        line_end = next((ln.end for ln in self.lines if ln.start <= mark.start <= ln.end), len(self.body))
        heading_alone = not self.body[mark.heading_end : line_end].strip(SPACE)
        later = after[1:] if heading_alone else after  # the section keeps its first paragraph of text
        for line in later:
            text = self.body[line.start : line.end]
            if is_address(text):
                self.closing_rule = f"it turns to the audience ({text[:6]}…)"
                return line.start
            if _CONCLUDES.match(text):
                self.closing_rule = f"it concludes ({text[:4]}…)"
                return line.start
        if later and _EXHORTS.search(self.body[later[-1].start : later[-1].end].rstrip(SPACE)):
            self.closing_rule = "the speech's last paragraph ends with an exhortation"
            return later[-1].start
        return None


def _normalise(text: str) -> list[str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def _section(body: str, start: int, stop: int, ref: str, kind: SectionKind, label: str, heading: str,
             part: int | None = None, point: int | None = None) -> Section:
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
    return analyse_speech(text).document


def analyse_speech(text: str) -> Analysis:
    """Parse the text and say what was decided and why, with the spots worth a look."""
    lines = _normalise(text)
    try:
        header = split_header(lines)
    except NoBody as error:
        raise SpeechFormatError(str(error), error.line) from None
    body = "\n".join(lines[header.first : header.stop]).rstrip()
    scanner = _Scanner(body, header.first + 1)
    marks = scanner.scan()
    if not marks:
        raise SpeechFormatError("no parts found: expected a line starting with 一、 or 第一部分", header.first + 1)
    closing_at = scanner.closing()
    marks = scanner.marks
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
    doc = Document(title=header.title, metadata=header.metadata, body=body, opening=opening, parts=parts,
                   closing=closing)
    decisions = [Note(None, f"title: {header.title or '(none)'}")]
    decisions.append(Note(header.first + 1, f"opening begins at {header.body_rule}" if opening
                          else f"no opening: the body begins with part 一 ({header.body_rule})"))
    decisions.extend(scanner.decisions)
    last = scanner.mark_lines[-1]
    if closing is not None:
        decisions.append(Note(scanner.line_at(closing_at or 0), f"closing begins: {scanner.closing_rule}"))
    else:
        decisions.append(Note(last, "no closing: no paragraph after the last section (this line) turns to the "
                                    "audience or concludes, so it runs to the end"))
    return Analysis(doc, tuple(decisions), tuple(scanner.warnings + _length_warnings(doc, scanner)), header.lines)


def _length_warnings(doc: Document, scanner: _Scanner) -> list[Note]:
    out: list[Note] = []
    with_points = [p for p in doc.parts if p.points]
    if with_points:
        for part in doc.parts:
            if not part.points and len(part.section.text) > 800:
                out.append(Note(scanner.line_at(part.section.start), f"part {part.section.label} has no points "
                                "although other parts do: check its numbering"))
    for part in with_points:
        if len(part.points) < 3:
            continue
        lengths = [len(p.text) for p in part.points]
        median = statistics.median(lengths)
        for point, length in zip(part.points, lengths, strict=True):
            if length > _LONG_POINT * median and length > 1000:
                out.append(Note(scanner.line_at(point.start), f"point {point.label} is {length / median:.1f} times "
                                "as long as its siblings' median: did it swallow text that follows it?"))
    return out
