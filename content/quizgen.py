"""Quiz questions generated from any speech of the genre, without a word segmenter.

Two forms: a cloze that blanks a key phrase (an item of one of the speech's lists, a quoted term, a four-character
clause), and "这句话出自讲话的哪一部分？". A question is kept only if it is unambiguous: the answer is what stands at
the blank in the source, the shown text admits no other fill from the speech, and no distractor put in the blank gives
text of the speech. Deterministic for a given document; `cached_generated_questions` stores the result on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from content.model import Document, Section
from content.questions import (
    BLANK,
    FALSE,
    TRUE,
    Question,
    cloze_context,
    part_title,
    point_label,
    section_span_text,
)
from content.quizcheck import (
    MAX_STEM,
    duplicates,
    fill_is_unique,
    fits_by_text,
    heading_echo,
    question_problems,
    shared_affix,
    visible_siblings,
)
from content.typography import FULL_STOPS, to_display

log = logging.getLogger(__name__)

MIN_SENTENCE = 12
MAX_CLOZE_PER_SENTENCE = 2
MAX_WHICH_PART_PER_SECTION = 2
MIN_CONTEXT = 8  # verbatim characters around a generated blank
MAX_ANSWER = 6  # longer phrases have too few look-alikes in one speech to make fair distractors
MAX_FILL = 30  # longest other fill looked for when checking that a blank's context is unique
DISTRACTORS = 3

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_SENTENCE = re.compile(rf"[^{FULL_STOPS}\n]+(?:[{FULL_STOPS}]+[”’]?)?")
_CLAUSE_BREAK = ",，;；:："
_NUMBERING = re.compile(
    r"^\s*(?:[0-9０-９]+[、.．]|[（(][0-9０-９一二三四五六七八九十]+[）)]|第[一二三四五六七八九十]+[，,、：:])\s*"
)
_QUOTED = re.compile(r"“([\u4e00-\u9fff、]{3,12})”")
# A list item cut from a longer clause must end where a function word follows, else the cut is arbitrary.
_FOLLOWS_ITEM = set("的和及等")
_STOP_EDGE = set("的和及与等之在了是把对为以而或并也将使从向")


@dataclass(frozen=True)
class _Phrase:
    text: str
    family: str  # "list", "quote" or "clause"
    start: int  # offsets in the document body
    end: int
    siblings: tuple[str, ...] = ()  # the other items of its list
    group: int = -1  # body offset of the clause holding its list: items of one list share it


@dataclass(frozen=True)
class _Sentence:
    text: str  # verbatim body[start:end], its point numbering stripped
    start: int
    end: int
    section: Section


# --- reading the speech --------------------------------------------------------------------------------------------


def _sentences(doc: Document) -> Iterator[_Sentence]:
    for section in doc.sections():
        for match in _SENTENCE.finditer(section.text):
            text = match.group()
            offset = section.start + match.start()
            if match.start() == 0 and section.kind in ("point", "part"):
                numbering = _NUMBERING.match(text) or re.match(r"^\s*[一二三四五六七八九十]+[、.．]\s*", text)
                if numbering:
                    text, offset = text[numbering.end() :], offset + numbering.end()
            stripped = text.rstrip()
            lead = len(stripped) - len(stripped.lstrip())
            text, offset = stripped.strip(), offset + lead
            if section.kind == "part" and text.rstrip("。") == section.heading:
                continue  # a part's heading is the answer of "which part" questions, never their question
            if len(text) >= MIN_SENTENCE:
                yield _Sentence(text, offset, offset + len(text), section)


def _clauses(sentence: _Sentence) -> list[tuple[int, int]]:
    """Spans of the sentence's clauses (between , ; :), offsets relative to the sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i, ch in enumerate(sentence.text):
        if ch in _CLAUSE_BREAK:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(sentence.text):
        spans.append((start, len(sentence.text)))
    return spans


def _affix(a: str, b: str) -> int:
    """Length of the longer of the common prefix and the common suffix."""
    prefix = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    suffix = next(
        (i for i, (x, y) in enumerate(zip(reversed(a), reversed(b), strict=False)) if x != y), min(len(a), len(b))
    )
    return max(prefix, suffix)


def _list_items(clause: str, base: int) -> Iterator[_Phrase]:
    """The clean items of a 、-separated list in one clause; edge items are cut to the length of the inner ones."""
    raw = clause.rstrip(_CLAUSE_BREAK + FULL_STOPS + "”").split("、")
    if len(raw) < 2:
        return
    starts = []
    pos = 0
    for item in raw:
        starts.append(pos)
        pos += len(item) + 1
    inner = raw[1:-1]
    lengths = {len(i) for i in inner} if inner else {len(raw[0])} if len(raw[0]) == len(raw[-1]) else set()
    if len(lengths) != 1:
        return
    size = lengths.pop()
    if not 2 <= size <= 8:
        return
    clean = [i for i in raw if len(i) == size]
    accepted: list[tuple[str, int]] = []
    for index, item in enumerate(raw):
        start = starts[index]
        if len(item) != size:
            if len(item) < size or 0 < index < len(raw) - 1:
                continue
            if index == 0:
                start += len(item) - size
                item = item[-size:]
            else:
                if item[size] not in _FOLLOWS_ITEM:
                    continue
                item = item[:size]
            if item[0] in _STOP_EDGE or item[-1] in _STOP_EDGE:
                continue
            if len(clean) < 2 and not any(2 * _affix(item, c) >= size for c in clean):
                continue
        if _CJK.match(item):
            accepted.append((item, start))
    # Siblings as the reader sees them beside the blank, edges cut to size: their shared affix must be matched.
    visible = [raw[0][-size:], *raw[1:-1], raw[-1][:size]]
    for item, start in accepted:
        siblings = tuple(other for other in visible if other != item)
        yield _Phrase(item, "list", base + start, base + start + size, siblings, base)


def _phrases(sentence: _Sentence, body: str) -> list[_Phrase]:
    found: dict[tuple[int, int], _Phrase] = {}
    spans = _clauses(sentence)
    cores = [sentence.text[a:b].rstrip(_CLAUSE_BREAK + FULL_STOPS) for a, b in spans]
    for index, (a, b) in enumerate(spans):
        for phrase in _list_items(sentence.text[a:b], sentence.start + a):
            found.setdefault((phrase.start, phrase.end), phrase)
        core = cores[index]
        # A four-character clause is a set phrase when it recurs or stands in a row of four-character clauses
        # ("作出专门部署,精心组织,狠抓落实"); otherwise it may be any odd fragment of prose.
        parallel = any(0 <= j < len(cores) and len(cores[j]) == 4 for j in (index - 1, index + 1))
        if len(core) == 4 and _CJK.match(core) and (parallel or body.count(core) > 1):
            start = sentence.start + a
            found.setdefault((start, start + 4), _Phrase(core, "clause", start, start + 4))
    for match in _QUOTED.finditer(sentence.text):
        start = sentence.start + match.start(1)
        found.setdefault(
            (start, start + len(match.group(1))), _Phrase(match.group(1), "quote", start, start + len(match.group(1)))
        )
    return sorted(found.values(), key=lambda p: p.start)


# --- cloze questions -----------------------------------------------------------------------------------------------


def _window(sentence: _Sentence, phrase: _Phrase, room: int) -> tuple[int, int] | None:
    """Whole clauses around the blank's clause, within `room` characters of shown text (None if even one is too long).

    Grows towards the side with less context first, so the blank sits inside what is shown.
    """
    spans = _clauses(sentence)
    at = phrase.start - sentence.start
    index = next(i for i, (a, b) in enumerate(spans) if a <= at < b)
    lo = hi = index

    def size(lo: int, hi: int) -> int:
        end = spans[hi][1] - (1 if hi < len(spans) - 1 else 0)
        return end - spans[lo][0] - (phrase.end - phrase.start)

    if size(lo, hi) > room:
        return None
    grown = True
    while grown:
        grown = False
        left_ctx, right_ctx = at - spans[lo][0], spans[hi][1] - (phrase.end - sentence.start)
        order = ((lo - 1, hi), (lo, hi + 1)) if left_ctx <= right_ctx else ((lo, hi + 1), (lo - 1, hi))
        for lo2, hi2 in order:
            if lo2 >= 0 and hi2 < len(spans) and size(lo2, hi2) <= room:
                lo, hi, grown = lo2, hi2, True
                break
    start, end = spans[lo][0], spans[hi][1]
    if hi < len(spans) - 1:
        end -= 1  # drop the clause break before the cut
    return start, end


def _stable_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Candidate:
    text: str
    family: str
    group: int


def _pool(phrases: dict[int, list[_Phrase]]) -> list[_Candidate]:
    """Every list item, quoted term and set clause of the speech, once each, as distractor candidates."""
    seen: dict[str, _Candidate] = {}
    for found in phrases.values():
        for p in found:
            seen.setdefault(p.text, _Candidate(p.text, p.family, p.group))
    return list(seen.values())


def _extended(pool: list[_Candidate], affix: tuple[str, str], body: str, size: int) -> list[_Candidate]:
    """Look-alikes built on the list's shared suffix or prefix from phrases that share its edge character.

    `…式学习` takes 菜单式 and 点播式 (quoted elsewhere in the speech) to 菜单式学习 and 点播式学习: items of the same
    structure the speech never lists here. Only phrases not already carrying the affix, and never text of the speech.
    """
    prefix, suffix = affix
    core = size - len(prefix or suffix) + 1
    out: list[_Candidate] = []
    for c in pool:
        if len(c.text) != core:
            continue  # the made-up item must have the answer's shape: core of the same size plus the affix
        if suffix and len(suffix) > 1 and c.text.endswith(suffix[0]) and not c.text.endswith(suffix):
            made = c.text + suffix[1:]
        elif prefix and len(prefix) > 1 and c.text.startswith(prefix[-1]) and not c.text.startswith(prefix):
            made = prefix[:-1] + c.text
        else:
            continue
        if made not in body:
            out.append(_Candidate(made, c.family, -2))
    return out


def _pick_distractors(phrase: _Phrase, shown: str, before: str, after: str, pool: list[_Candidate],
                      body: str, want: int = DISTRACTORS) -> list[str]:
    """Up to `want` phrases of the answer's kind that do not fit the blank, best first.

    Of the answer's kind: length ±1 and a shared prefix or suffix (the siblings' shared affix when the question shows
    them). Never an item of the answer's own list (it fits by the text), nor a phrase the question shows.
    """
    answer = phrase.text
    siblings = visible_siblings(shown, len(answer))
    affix = shared_affix([answer, *siblings]) if siblings else ("", "")
    own = shared_affix([answer, *phrase.siblings]) if phrase.siblings else ("", "")
    candidates = pool + _extended(pool, own if any(own) else affix, body, len(answer))
    scored: list[tuple[int, str, str]] = []
    for c in candidates:
        text = c.text
        if (c.group == phrase.group and phrase.group >= 0) or text in phrase.siblings:
            continue
        if text == answer or text in shown or answer in text or text in answer:
            continue
        if abs(len(text) - len(answer)) > 1 or (len(answer) <= 2 and len(text) != len(answer)):
            continue
        if any(affix) and not (text.startswith(affix[0]) and text.endswith(affix[1])):
            continue
        common = shared_affix([answer, text])
        if common == ("", "") or fits_by_text(body, before, after, text):
            continue
        score = (3 * (len(text) == len(answer)) + 2 * (len(common[0]) + len(common[1]))
                 + 3 * (c.family == phrase.family) + 6 * (any(own) and shared_affix([text, answer]) == own))
        scored.append((-score, _stable_hash(answer, text), text))
    chosen: list[str] = []
    for _, _, text in sorted(scored):
        if all(text not in c and c not in text for c in chosen):
            chosen.append(text)
        if len(chosen) == want:
            break
    return chosen


def _cloze(doc: Document, sentence: _Sentence, phrase: _Phrase, pool: list[_Candidate]) -> Question | None:
    if len(phrase.text) > MAX_ANSWER:
        return None
    text = sentence.text
    a, b = phrase.start - sentence.start, phrase.end - sentence.start
    for room in (MAX_STEM - len(BLANK) - 4, MAX_STEM - len(BLANK) - 2, MAX_STEM - len(BLANK)):
        window = _window(sentence, phrase, room)
        if window is None:
            return None
        start, end = window
        lead = "……" if start > 0 else ""
        tail = "……" if end < len(text) else ""
        if len(lead) + len(tail) + (end - start) - (b - a) + len(BLANK) <= MAX_STEM:
            break
    else:
        return None
    before, after = text[start:a], text[b:end]
    if len(before) + len(after) < MIN_CONTEXT or not fill_is_unique(doc.body, before, after, phrase.text):
        return None
    shown = before + BLANK + after
    question = to_display(lead + shown + tail)
    distractors = _pick_distractors(phrase, shown, before, after, pool, doc.body)
    if len(distractors) < DISTRACTORS - 1 or len(phrase.text) > max(len(d) for d in distractors):
        return None  # too few look-alikes, or the answer the longest option (too often guessed right)
    section = sentence.section
    return Question(
        id=f"g-{section.ref}-c-{_stable_hash(question, phrase.text)[:10]}",
        ref=section.ref,
        question=question,
        answer=phrase.text,
        distractors=tuple(distractors),
        explanation=_explain(text, phrase.text, section),
        source="generated",
        kind="cloze",
    )


def _explain(text: str, answer: str, section: Section, lead: str = "原文：") -> str:
    """ "原文：“…”〔二、3〕", the quotation cut around the answer to stay within Telegram's 200 characters."""
    ref = f"〔{section.label}〕"
    room = 200 - len(lead) - len("“”") - len(ref) - 2
    if len(text) > room:
        at = max(text.find(answer), 0)
        lo = max(0, min(at - room // 2, len(text) - room))
        text = ("…" if lo > 0 else "") + text[lo : lo + room] + ("…" if lo + room < len(text) else "")
    return f"{lead}{quote(text)}{ref}"


def quote(text: str) -> str:
    """Text inside “…”, shown with full-width marks and its own quotes turned to ‘…’."""
    return "“" + to_display(text).replace("“", "‘").replace("”", "’") + "”"


# --- "which part", "which point" and true/false on where a sentence stands ---------------------------------------


WHICH_PART_PROMPT = "这句话出自讲话的哪一部分？"


def _part_of(doc: Document, sentence: _Sentence) -> tuple[int, Section] | None:
    section = sentence.section
    if section.part is None or len(doc.parts) < 2 or doc.body.count(sentence.text) != 1:
        return None
    return section.part, doc.part(section.part).section


def _where(doc: Document, section: Section) -> str:
    """ "第二部分第1点“突出提升思想素质这个基本要求”" or "第三部分的引言": where a sentence stands, to teach it."""
    if section.kind == "point" and section.part is not None:
        heading = _NUMBERING.sub("", section.heading).rstrip("。")
        return f"第{doc.part(section.part).section.label}部分第{section.point}点{quote(heading)}"
    return f"第{section.label}部分的开头"


def _which_part(doc: Document, sentence: _Sentence) -> Question | None:
    found = _part_of(doc, sentence)
    shown = sentence.text.rstrip("。")
    if found is None or len(quote(shown)) > MAX_STEM:
        return None
    number, part = found
    titles = [part_title(p.section) for p in doc.parts]
    answer = part_title(part)
    if heading_echo(answer, titles, shown) >= 2:
        return None  # the sentence repeats the right heading's own words
    # The neighbouring parts, nearest first, so a long speech still gets four options.
    others = sorted((p for p in doc.parts if p.number != number), key=lambda p: (abs(p.number - number), p.number))
    section = sentence.section
    explanation = f"这句话在{_where(doc, section)}中〔{section.label}〕。"
    if len(explanation) > 200:
        explanation = f"这句话在第{part.label}部分〔{section.label}〕。"
    return Question(
        id=f"g-{section.ref}-p-{_stable_hash(sentence.text)[:10]}",
        ref=section.ref,
        question=f"{quote(shown)}\n{WHICH_PART_PROMPT}",
        answer=answer,
        distractors=tuple(part_title(p.section) for p in others[:DISTRACTORS]),
        explanation=explanation,
        source="generated",
        kind="which_part",
        support=sentence.text,
    )


def _attribution(doc: Document, sentence: _Sentence) -> Question | None:
    """对/错: "“…”出自讲话第三部分。", true or (more often) a neighbouring part, chosen by a stable hash."""
    found = _part_of(doc, sentence)
    shown = sentence.text.rstrip("。")
    claim_len = len("判断：出自讲话第十部分。")
    if found is None or len(quote(shown)) + claim_len > MAX_STEM:
        return None
    number, part = found
    digest = int(_stable_hash("tf", sentence.text)[:8], 16)
    others = [p.section for p in doc.parts if p.number != number]
    nearest = sorted(others, key=lambda p: (abs((p.part or 0) - number), p.part))[:2]
    claimed = part if digest % 3 == 0 else nearest[digest % len(nearest)]
    truth = TRUE if claimed is part else FALSE
    section = sentence.section
    explanation = f"{truth}。这句话在{_where(doc, section)}中〔{section.label}〕。"
    return Question(
        id=f"g-{section.ref}-t-{_stable_hash(sentence.text, 'part')[:10]}",
        ref=section.ref,
        question=f"判断：{quote(shown)}出自讲话第{claimed.label}部分。",
        answer=truth,
        distractors=(FALSE if truth == TRUE else TRUE,),
        explanation=explanation if len(explanation) <= 200 else f"{truth}。〔{section.label}〕",
        source="generated",
        kind="true_false",
        support=sentence.text,
    )


def _which_point(doc: Document, section: Section) -> Question | None:
    """ "“突出提升思想素质这个基本要求，深入推进理论武装”是第二部分的第几点？" (a part with two or more points)."""
    if section.kind != "point" or section.part is None:
        return None
    points = doc.part(section.part).points
    heading = _NUMBERING.sub("", section.heading).rstrip("。")
    question = f"{quote(heading)}是第{doc.part(section.part).section.label}部分的第几点？"
    if len(points) < 2 or len(question) > MAX_STEM or doc.body.count(heading) != 1:
        return None
    others = sorted((p for p in points if p is not section),
                    key=lambda p: (abs((p.point or 0) - (section.point or 0)), p.point))
    listing = "；".join(f"{p.point}.{_NUMBERING.sub('', p.heading).rstrip('。')}" for p in points)
    explanation = f"第{doc.part(section.part).section.label}部分共{len(points)}点：{listing}〔{section.label}〕"
    if len(explanation) > 200:
        explanation = f"是第{section.point}点〔{section.label}〕。"
    return Question(
        id=f"g-{section.ref}-n-{_stable_hash(heading)[:10]}",
        ref=section.ref,
        question=to_display(question),
        answer=point_label(section),
        distractors=tuple(point_label(p) for p in others[:DISTRACTORS]),
        explanation=to_display(explanation),
        source="generated",
        kind="which_point",
        support=heading,
    )


# --- true/false from a cloze, and multiple answers from a list ---------------------------------------------------


def _judged(truth: str, explanation: str) -> str:
    """ "对。原文：“…”〔二、3〕": the verdict first, the quotation shortened (never the reference) to fit 200."""
    text = f"{truth}。{explanation}"
    close = text.rfind("”〔")
    if len(text) <= 200 or close < 0:
        return text[:200]
    inner_end = close - (len(text) - 200) - 1
    inner_end -= text[inner_end - 1] == "…"  # already cut there: one ellipsis is enough
    return text[:inner_end].rstrip("…") + "…" + text[close:]


def _statement(doc: Document, cloze: Question) -> Question | None:
    """对/错 from a sound cloze: the shown text with the answer (对) or its best distractor (错) in the blank."""
    digest = int(_stable_hash("st", cloze.id)[:8], 16)
    truth = TRUE if digest % 2 == 0 else FALSE
    fill = cloze.answer if truth == TRUE else cloze.distractors[0]
    body = cloze.question.removeprefix("……").removesuffix("……").replace(BLANK, fill).rstrip("。")
    question = f"判断：讲话说{quote(body)}。"
    if len(question) > MAX_STEM:
        return None
    original = cloze.explanation
    context = cloze_context(cloze.question, cloze.answer, section_span_text(doc, cloze.ref))
    if context is None:
        return None
    return Question(
        id=f"g-{cloze.ref}-s-{cloze.id.rsplit('-', 1)[1]}",
        ref=cloze.ref,
        question=question,
        answer=truth,
        distractors=(FALSE if truth == TRUE else TRUE,),
        explanation=_judged(truth, original),
        source="generated",
        kind="true_false",
        support=context[0] + cloze.answer + context[1],  # verbatim: what the statement is judged against
    )


def _lists(phrases: list[_Phrase]) -> dict[int, list[_Phrase]]:
    groups: dict[int, list[_Phrase]] = {}
    for p in phrases:
        if p.family == "list":
            groups.setdefault(p.group, []).append(p)
    return groups


def _multiple(doc: Document, sentence: _Sentence, items: list[_Phrase], pool: list[_Candidate]) -> Question | None:
    """ "要把党性党风党纪教育作为必修课，引导党员干部增强哪些意识？（多选）" for a list of three to five items."""
    if not 3 <= len(items) <= 5 or len({p.text for p in items}) != len(items):
        return None
    first = items[0]
    lead = sentence.text[: first.start - sentence.start]
    clause_start = max(lead.rfind(ch) for ch in _CLAUSE_BREAK) + 1
    lead = lead[clause_start:]
    if len(lead) < 4:
        return None
    answers = [p.text for p in items][:4]
    wrong = _list_distractors(answers, first.group, section_span_text(doc, sentence.section.ref), pool, doc.body)
    if not wrong:
        return None
    section = sentence.section
    question = f"讲话说“{to_display(lead)}……”，下列哪些是其中列举的？（多选）"
    if len(question) > MAX_STEM:
        return None
    end = items[-1].end - sentence.start
    listed = sentence.text[clause_start : end]
    explanation = _explain(listed, answers[0], section)
    return Question(
        id=f"g-{section.ref}-m-{_stable_hash(lead, *answers)[:10]}",
        ref=section.ref,
        question=question,
        answer=answers[0],
        distractors=tuple(wrong),
        explanation=explanation,
        source="generated",
        kind="multiple",
        support=listed,
        extra_answers=tuple(answers[1:]),
    )


def _list_distractors(answers: list[str], group: int, section_text: str, pool: list[_Candidate],
                      body: str) -> list[str]:
    """Two items like a list's own (length ±1, its shared affix, else an affix in common with one item) from
    elsewhere in the speech, never text of the answers' section."""
    sizes = [len(a) for a in answers]
    prefix, suffix = shared_affix(answers)
    candidates = pool + _extended(pool, (prefix, suffix), body, sizes[0]) if prefix or suffix else pool
    scored: list[tuple[int, str, str]] = []
    for c in candidates:
        text = c.text
        if c.group == group or text in section_text or not min(sizes) - 1 <= len(text) <= max(sizes) + 1:
            continue
        if (prefix or suffix) and not (text.startswith(prefix) and text.endswith(suffix)):
            continue
        best = max(sum(map(len, shared_affix([a, text]))) for a in answers)
        if best == 0 or any(text in a or a in text for a in answers):
            continue
        scored.append((-best - 3 * (len(text) in sizes), _stable_hash(*answers, text), text))
    chosen: list[str] = []
    for _, _, text in sorted(scored):
        if all(text not in c and c not in text for c in chosen):
            chosen.append(text)
        if len(chosen) == 2:
            break
    return chosen


def _which_part_rank(sentence: _Sentence) -> tuple[int, int, int]:
    """Prefer sentences with a list or a quoted term, of a middling length: they are the memorable ones."""
    marked = ("、" in sentence.text) + ("“" in sentence.text)
    return (-marked, abs(len(sentence.text) - 30), sentence.start)


# --- public API ----------------------------------------------------------------------------------------------------


def generate_questions(doc: Document) -> tuple[Question, ...]:
    """Every generated question for `doc` that passes the checker, in reading order, without duplicates."""
    sentences = list(_sentences(doc))
    phrases = {id(s): _phrases(s, doc.body) for s in sentences}
    pool = _pool(phrases)
    made: list[Question] = []
    for section in doc.sections():
        mine = [s for s in sentences if s.section is section]
        for sentence in mine:
            clozes = [q for p in phrases[id(sentence)] if (q := _cloze(doc, sentence, p, pool)) is not None]
            made += clozes[:MAX_CLOZE_PER_SENTENCE]
            made += [s for c in clozes[:1] if (s := _statement(doc, c)) is not None]
            for items in _lists(phrases[id(sentence)]).values():
                q = _multiple(doc, sentence, items, pool)
                if q is not None:
                    made.append(q)
        q = _which_point(doc, section)
        if q is not None:
            made.append(q)
        if section.kind in ("point", "part"):
            ranked = sorted(mine, key=_which_part_rank)
            made += [q for s in ranked if (q := _which_part(doc, s)) is not None][:MAX_WHICH_PART_PER_SECTION]
            made += [q for s in ranked if (q := _attribution(doc, s)) is not None][:1]
    sound = [q for q in made if not question_problems(q, doc)]
    dropped = duplicates(sound, (), doc)
    seen: set[str] = set()
    out: list[Question] = []
    for q in sound:
        if q.id not in dropped and q.id not in seen:
            out.append(q)
            seen.add(q.id)
    return tuple(out)


def _cache_key(doc: Document) -> str:
    """sha256 of the body and of the generator's and checker's code, so an edit never serves stale questions."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(__file__).with_name("quizcheck.py").read_bytes())
    digest.update(doc.body.encode("utf-8"))
    return digest.hexdigest()


_MEMO: dict[str, tuple[Question, ...]] = {}


def _read_cache(path: Path) -> tuple[Question, ...] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(Question(**{**item, "distractors": tuple(item["distractors"]),
                                 "extra_answers": tuple(item.get("extra_answers", ()))})
                     for item in data["questions"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, questions: tuple[Question, ...]) -> None:
    payload = json.dumps({"questions": [asdict(q) for q in questions]}, ensure_ascii=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError as exc:  # the cache only saves time; the bot works without it
        log.warning("could not write the quiz cache %s: %s", path, exc)


def cached_generated_questions(doc: Document, cache_dir: Path | None = None) -> tuple[Question, ...]:
    """`generate_questions(doc)`, remembered in memory and, with `cache_dir`, in a JSON file keyed by sha256."""
    key = _cache_key(doc)
    if key in _MEMO:
        return _MEMO[key]
    questions: tuple[Question, ...] | None = None
    path = cache_dir / f"quizgen-{key[:20]}.json" if cache_dir is not None else None
    if path is not None and path.exists():
        questions = _read_cache(path)
    if questions is None:
        questions = generate_questions(doc)
        if path is not None:
            _write_cache(path, questions)
    _MEMO[key] = questions
    return questions
