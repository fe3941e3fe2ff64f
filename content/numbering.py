"""Numerals and numbering markers of the 讲话 genre: part lines (一、) and the point families below them.

Each point family is its own level, ranked from the outermost down as official texts nest them
(一、 > （一） > 1. > 第一， > （1） > 一是). A speech never mixes families within one level, so
``（4）`` under a part numbered ``（一）…（六）`` is a sub-item, never point 4.
"""

from __future__ import annotations

import re
from typing import Literal

Family = Literal["cn_paren", "digit", "ordinal", "paren", "shi"]

FAMILIES: tuple[Family, ...] = ("cn_paren", "digit", "ordinal", "paren", "shi")  # outermost first
_SHOWN: dict[Family, str] = {"cn_paren": "（{cn}）", "digit": "{n}、", "ordinal": "第{cn}，", "paren": "（{n}）",
                             "shi": "{cn}是"}

CN_DIGITS = {**{char: value for value, char in enumerate("〇一二三四五六七八九")}, "零": 0, "两": 2}
CN = "〇零一二三四五六七八九十两"
DIGIT = "0-9０-９"
SPACE = " \t\u3000\u00a0"

PART_RE = re.compile(rf"(?:第(?P<a>[{CN}]+)部分[{SPACE}、，,：:．.]*|(?P<b>[{CN}]+)[、．.][{SPACE}]*)")
POINT_RE = re.compile(
    rf"(?:[（(](?P<cn_paren>[{CN}]+)[）)]"
    rf"|(?P<digit>[{DIGIT}]+)[、.．](?![{DIGIT}])"
    rf"|[（(](?P<paren>[{DIGIT}]+)[）)]"
    rf"|第(?P<ordinal>[{CN}]+)[，,、：:]"
    rf"|(?P<shi>[{CN}]+)是)[{SPACE}]*"
)
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


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


def family_of(match: re.Match[str]) -> Family:
    """Which family a POINT_RE match belongs to."""
    return next(name for name in FAMILIES if match.group(name) is not None)


def marker_value(match: re.Match[str]) -> int | None:
    return to_int(match.group(family_of(match)))


def shown(family: Family, number: int) -> str:
    """How a marker of this family is written, for messages: shown("cn_paren", 3) == "（三）"."""
    cn = int_to_cn(number) if 0 <= number <= 99 else str(number)
    return _SHOWN[family].format(cn=cn, n=number)


def part_number(match: re.Match[str]) -> int | None:
    return cn_to_int(match.group("a") or match.group("b"))
