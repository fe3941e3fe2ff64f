"""Tell a speech file's header and trailer lines from its body.

Texts copied from web pages carry lines that are not the speech: a page title, meta lines
(``文章来源：… 作者：… 发布时间：… 点击数：…``, ``来源：``, ``时间：``, ``编者按``, ``导语``), the speech's
own title (sometimes split over lines or letter-spaced), a ``——在…上的讲话`` subtitle, a byline, a
date line, a photo caption; and after the body ``（来源：…）``, ``责任编辑：…`` or a signature and date.
None of them may reach members as speech text, and the title shown is the speech's own.

The body begins at the address (同志们：, 各位代表：, 各位家长大家好！…) when one stands among the first
lines, else at the first prose line (one with a sentence end) or the first part line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbering import PART_RE, SPACE, part_number
from .typography import FULL_STOPS, SEMICOLONS

_KEYS = ("文章来源", "信息来源", "稿件来源", "发布时间", "发布日期", "点击数", "责任编辑", "编者按", "导语", "来源",
         "时间", "日期", "作者", "编辑", "审核")
_WHOLE_LINE_KEYS = ("编者按", "导语")  # their value is prose that may itself contain a colon
_KEY_RE = re.compile(rf"(?:^|(?<=[{SPACE}]))[【\[]?(?P<key>{'|'.join(_KEYS)})[】\]]?[{SPACE}]*[:：]")
_LEAD_RE = re.compile(rf"^[【\[]?(?P<key>{'|'.join(_KEYS)})[】\]]?[{SPACE}]*(?:[:：]|(?<=按)(?=[^:：])|】)")
_TRAILER_RE = re.compile(
    r"^[（(]?\s*(?P<key>信息来源|稿件来源|来源|转自|责任编辑|编辑|审核|校对|供稿)\s*[:：](?P<value>.*?)[）)]?$"
)
_DATE_RE = re.compile(
    r"^[（(]?\s*(?:\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?(?:\s*[上下]午|\s*晚上?)?"
    r"|\d{4}[-./]\d{1,2}[-./]\d{1,2})\s*[）)]?$"
)
_SUBTITLE_RE = re.compile(r"^(?:——|--|—|[（(]?\d{4}年\d{1,2}月\d{1,2}日在)")
_BYLINE_RE = re.compile(
    rf"^(?:(?![的之和与及上在])[\u4e00-\u9fff·]{{2,4}}(?<!讲话)(?<!报告)(?<!发言)(?<!致辞)|\S{{0,16}}(?:长|书记|主任|主席|委员|部长|理事|经理|代表)[{SPACE}]+[\u4e00-\u9fff·]{{2,4}})$"
)
_SPEAKER_RE = re.compile(r"^(?P<speaker>[\u4e00-\u9fff·]{2,5})[:：](?P<title>(?:在|关于).+)$")
ADDRESS_RE = re.compile(r"^(?:同志们|各位|尊敬的|亲爱的|老师们|同学们|朋友们|女士们|先生们|家长们)")
_PROSE = FULL_STOPS + SEMICOLONS
_LONG_PROSE = 60  # a line this long with a sentence end is the body even without an address
_SPLIT_TITLE = 16  # adjacent title lines this short are halves of one title


@dataclass(frozen=True)
class HeaderLine:
    """A line that is not speech text, and what it was taken for."""

    line: int  # 1-based in the file
    kind: str  # page title, title, meta, subtitle, byline, date, note, trailer
    text: str


@dataclass(frozen=True)
class Header:
    title: str
    metadata: dict[str, str]
    first: int  # index of the body's first line
    stop: int  # index just after the body's last line (trailer lines excluded)
    lines: tuple[HeaderLine, ...]
    body_rule: str  # why the body begins where it does


class NoBody(ValueError):
    """Only header lines (or nothing at all): `line` is where the text ran out."""

    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.line = line


def _clean(line: str) -> str:
    return line.strip(SPACE + "\ufeff")


def is_meta(text: str) -> bool:
    return _LEAD_RE.match(text) is not None


def is_address(text: str) -> bool:
    return ADDRESS_RE.match(text) is not None


def is_part_line(text: str) -> bool:
    match = PART_RE.match(text)
    return match is not None and part_number(match) is not None


def _is_prose(text: str) -> bool:
    return any(char in text for char in _PROSE) and not is_meta(text) and not _DATE_RE.match(text)


def meta_values(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of a meta line; `文章来源：本站 作者：某人` gives two."""
    lead = _LEAD_RE.match(text)
    if lead is None:
        return []
    if lead.group("key") in _WHOLE_LINE_KEYS:
        return [(lead.group("key"), text[lead.end():].strip(SPACE + ":："))]
    found = list(_KEY_RE.finditer(text))
    pairs = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        pairs.append((match.group("key"), text[match.end():end].strip(SPACE)))
    return pairs


def display_title(text: str) -> str:
    """A title as shown: runs of spaces become one, a letter-spaced title (求 真 务 实) closes up."""
    tokens = re.split(rf"[{SPACE}]+", text.strip(SPACE))
    if len(tokens) >= 3 and all(len(token) == 1 for token in tokens):
        return "".join(tokens)
    return " ".join(tokens)


def _body_start(lines: list[str], filled: list[int]) -> tuple[int, str] | None:
    """Index of the body's first line and the rule that put it there."""
    first_prose = None
    for index in filled:
        text = _clean(lines[index])
        if is_meta(text):
            continue
        if is_address(text):
            return index, f"the address {text[:12]!r}"
        if is_part_line(text):
            if first_prose is not None:
                return first_prose, "the first prose line before part 一 (no address)"
            return index, "the first part line (no address, no opening)"
        if _is_prose(text):
            first_prose = index if first_prose is None else first_prose
            if len(text) >= _LONG_PROSE:
                return first_prose, "the first prose line (no address)"
    if first_prose is not None:
        return first_prose, "the first prose line (no address)"
    return None


def _trailer(lines: list[str], first: int, stop: int) -> tuple[int, list[HeaderLine], dict[str, str]]:
    """Move `stop` back over attribution, signature and date lines at the end of the body."""
    found: list[HeaderLine] = []
    metadata: dict[str, str] = {}
    after_date = False
    while stop > first + 1:
        index = stop - 1
        text = _clean(lines[index])
        if not text:
            stop -= 1
            continue
        attribution = _TRAILER_RE.match(text)
        signature = after_date and len(text) <= 20 and not any(c in text for c in _PROSE + "，,：:")
        if attribution:
            found_key = attribution.group("key")
            key = "来源" if found_key.endswith("来源") or found_key == "转自" else found_key
            value = attribution.group("value").strip()
            if value:
                metadata.setdefault(key, value)
        elif _DATE_RE.match(text):
            metadata.setdefault("落款日期", text.strip("（）()"))
        elif signature:
            metadata.setdefault("落款", text)
        else:
            break
        after_date = _DATE_RE.match(text) is not None
        found.append(HeaderLine(index + 1, "trailer", text))
        stop -= 1
    return stop, found[::-1], metadata


def split_header(lines: list[str]) -> Header:
    """Classify the lines before and after the body; NoBody if there is no speech text at all."""
    filled = [i for i, line in enumerate(lines) if _clean(line)]
    if not filled:
        raise NoBody("the file is empty", None)
    start = _body_start(lines, filled)
    if start is None:
        raise NoBody("no speech text after the title and header lines", filled[-1] + 1)
    first, rule = start
    metadata: dict[str, str] = {}
    classified: list[HeaderLine] = []
    runs: list[list[int]] = []  # runs of adjacent title-like lines
    previous_title = False
    for index in (i for i in filled if i < first):
        text = _clean(lines[index])
        kind = "title"
        if is_meta(text):
            kind = "meta"
            for key, value in meta_values(text):
                if value:
                    metadata.setdefault(key, value)
        elif _DATE_RE.match(text):
            kind = "date"
            metadata.setdefault("日期", text.strip("（）() "))
        elif _SUBTITLE_RE.match(text):
            kind = "subtitle"
            metadata.setdefault("副标题", text.lstrip("—-"))
        elif runs and _BYLINE_RE.match(text) and display_title(text) not in {_title_text(lines, r)[0] for r in runs}:
            kind = "byline"
            metadata.setdefault("署名", text)
        elif _is_prose(text):
            kind = "note"
        classified.append(HeaderLine(index + 1, kind, text))
        if kind == "title":
            if previous_title and display_title(text) != _title_text(lines, runs[-1])[0]:
                runs[-1].append(index)
            else:
                runs.append([index])  # a title written again starts a run of its own
        previous_title = kind == "title"
    title = ""
    if runs:
        title, chosen = _choose_title(lines, runs)
        speaker = _SPEAKER_RE.match(title)
        if speaker:
            title = speaker.group("title")
            metadata.setdefault("署名", speaker.group("speaker"))
        chosen_lines = {i + 1 for i in chosen}
        for k, item in enumerate(classified):
            if item.kind == "title" and item.line not in chosen_lines:
                classified[k] = HeaderLine(item.line, "page title", item.text)
        for run in runs:
            text, used = _title_text(lines, run)
            if used != chosen and text != title and "页面标题" not in metadata:
                metadata["页面标题"] = text
    stop, trailer, trailer_meta = _trailer(lines, first, filled[-1] + 1)
    for key, value in trailer_meta.items():
        metadata.setdefault(key, value)
    return Header(title, metadata, first, stop, (*classified, *trailer), rule)


def _title_text(lines: list[str], run: list[int]) -> tuple[str, list[int]]:
    """The title a run of title lines gives, and the lines it uses (short halves join; else the last line)."""
    texts = [_clean(lines[i]) for i in run]
    if len(texts) > 1 and all(len(t) <= _SPLIT_TITLE and not any(c in t for c in "：:") for t in texts):
        return display_title("".join(display_title(t) for t in texts)), run
    return display_title(texts[-1]), run[-1:]


def _choose_title(lines: list[str], runs: list[list[int]]) -> tuple[str, list[int]]:
    """A title written twice is the title; otherwise the last one before the body (the first is a page title)."""
    found = [_title_text(lines, run) for run in runs]
    texts = [text for text, _ in found]
    repeated = [k for k, text in enumerate(texts) if texts.count(text) > 1]
    return found[repeated[-1]] if repeated else found[-1]
