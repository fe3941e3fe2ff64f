"""Display typography: full-width Chinese punctuation and ‘’ inside “”, for text a member reads.

The stored speech stays verbatim (references and search work on it); only what is shown goes through `to_display`.
"""

from __future__ import annotations

import re

# Sentence punctuation of the genre, full-width and the ASCII twins typists use: every module that looks for where a
# sentence ends builds on these, so one speech's "!" or ";" is read alike by readings, search, quizzes and the header.
FULL_STOPS = "。！？!?"  # end a sentence
SEMICOLONS = "；;"  # end a clause: readings and searches cut there as at a sentence end, quiz sentences run on
CLOSERS = "”’）」』)》"  # closing quotes and brackets, which stay with the mark before them

_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "!": "！", "?": "？"}
_CJK = r"\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”‘’"
# An ASCII mark touching a Chinese character (either side); "10:00" and "e.g., x" are left alone.
_ASCII_MARK = re.compile(rf"(?<=[{_CJK}])[,;:()!?]|[,;:()!?](?=[{_CJK}])")


def to_display(text: str) -> str:
    """Full-width , ; : ( ) ! ? beside Chinese text, and quotes inside quotes as ‘…’."""
    text = _ASCII_MARK.sub(lambda m: _FULL_WIDTH[m.group()], text)
    return _nest_quotes(text)


def _nest_quotes(text: str) -> str:
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch == "“":
            out.append("“" if depth % 2 == 0 else "‘")
            depth += 1
        elif ch == "”" and depth > 0:
            depth -= 1
            out.append("”" if depth % 2 == 0 else "’")
        else:
            out.append(ch)
    return "".join(out)
