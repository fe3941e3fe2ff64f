"""Splitting a text into parts that each fit a byte budget, at sentence ends where possible."""

from __future__ import annotations

from collections.abc import Callable

from bot.render import SENTENCE_END


def split_to_fit(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Consecutive chunks of `text` (stripped at the cuts) for which `fits` holds, cut after sentence ends.

    A single sentence that does not fit on its own is cut inside, at the longest prefix that fits. `fits` must be
    monotone (a prefix of something that fits fits too), which byte budgets are.
    """
    text = text.strip()
    if fits(text):
        return [text] if text else []
    cuts = [m.end() for m in SENTENCE_END.finditer(text) if 0 < m.end() < len(text)]
    sentences = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        if fits((current + sentence).strip()):
            current += sentence
            continue
        if current.strip():
            chunks.append(current.strip())
        current = sentence
        while not fits(current.strip()):
            head, current = _cut(current.strip(), fits)
            chunks.append(head)
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _cut(text: str, fits: Callable[[str], bool]) -> tuple[str, str]:
    """The longest prefix that fits (at least one character, so splitting always ends) and the rest."""
    low, high = 1, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text[:mid].strip()):
            low = mid
        else:
            high = mid - 1
    return text[:low].strip(), text[low:]
