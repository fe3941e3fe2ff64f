"""The checker every quiz question must pass, shipped or generated, and what rounds need to keep answers hidden.

Pure functions over a `Question` and the `Document` it cites:

- `question_problems`: the answer is unique by the text, distractors are of the answer's kind, the stem fits a phone
  screen (≤ MAX_STEM characters), the options fit Telegram, and each kind's own rule holds.
- `duplicates`: generated questions that ask what a bank question (or an earlier generated one) already asks.
- `footprint`: the sentences of the speech a question shows or asks about, so a round can keep two questions on one
  sentence or list apart; `reveals` says whether one question's text gives away another's answer.

Text is compared folded (punctuation and spaces dropped), because the speech is typed with ASCII `, ; :` while
questions show full-width marks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from content.model import Document, Section
from content.questions import (
    BLANK,
    FALSE,
    TRUE,
    Question,
    cloze_context,
    limit_problems,
    option_problems,
    part_title,
    point_label,
    section_span_text,
    support_problems,
)
from content.typography import FULL_STOPS

MAX_STEM = 60  # characters of a question's first line: read in well under 30 s on a phone
MAX_FILL = 30  # longest other fill looked for when checking that a blank's context admits one answer
# A distractor that stands in the text right after the words before the blank (or before those after it) "fits the
# slot by the text" even when the whole context does not match: this many characters of context are compared.
FIT_CONTEXT = 3
PART_ASKED = re.compile(r"出自讲话(的)?第[一二三四五六七八九十]+部分")

_PUNCT = set(" \t\n\u3000,，;；:：.。!！?？、“”‘’\"'()（）《》〈〉【】〔〕…—-·")


def fold(text: str) -> str:
    """The text without punctuation or spaces: how two renderings of one sentence compare equal."""
    return "".join(ch for ch in text if ch not in _PUNCT)


def stem(q: Question) -> str:
    """The part a member reads as the question: its first line (a fixed prompt may follow on the next)."""
    return q.question.split("\n", 1)[0]


def asks_part(q: Question) -> bool:
    """A question whose answer is which part a sentence comes from ("which part", or a 对/错 attribution)."""
    return q.kind == "which_part" or bool(PART_ASKED.search(q.question))


# --- the speech's sentences -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Folded:
    text: str  # the body folded
    at: tuple[int, ...]  # body offset of each folded character
    sentence_of: tuple[int, ...]  # sentence number of each folded character


@lru_cache(maxsize=16)
def _folded(body: str) -> _Folded:
    chars: list[str] = []
    at: list[int] = []
    sentence_of: list[int] = []
    sentence = 0
    for i, ch in enumerate(body):
        if ch in FULL_STOPS + "\n" and chars and sentence_of[-1] == sentence:
            sentence += 1
        if ch not in _PUNCT:
            chars.append(ch)
            at.append(i)
            sentence_of.append(sentence)
    return _Folded("".join(chars), tuple(at), tuple(sentence_of))


def sentences_of(doc: Document, text: str, within: Section | None = None) -> frozenset[int]:
    """Numbers of the body's sentences that every occurrence of `text` (folded) touches, optionally in one section."""
    folded = _folded(doc.body)
    needle = fold(text)
    if not needle:
        return frozenset()
    found: set[int] = set()
    pos = folded.text.find(needle)
    while pos != -1:
        start = folded.at[pos]
        if within is None or within.start <= start < within.end:
            found.update(folded.sentence_of[pos : pos + len(needle)])
        pos = folded.text.find(needle, pos + 1)
    return frozenset(found)


def in_text(needle: str, text: str) -> bool:
    """`needle` occurs in `text`, punctuation aside."""
    folded = fold(needle)
    return bool(folded) and folded in fold(text)


# --- what a question shows --------------------------------------------------------------------------------------------


# Quotations, and the items of a listing such as "1、加强组织领导；2、加强示范带动", are located one by one.
_QUOTE_SPLIT = re.compile(r"[“”‘’\"〔〕「」…；;：:]+|\d+[、.．]|原文|出自")
MIN_QUOTED = 6  # folded characters of a quotation worth locating in the speech
MAX_PLACES = 3  # sentences a located quotation may stand in


def source(q: Question, doc: Document) -> frozenset[int]:
    """The sentences that prove the answer: the blank's sentence, the quoted support, the list asked about."""
    spots: set[int] = set()
    section = doc.section(q.ref) if doc.has(q.ref) else None
    if q.kind == "cloze" and section is not None:
        context = cloze_context(q.question, q.answer, section_span_text(doc, q.ref))
        if context is not None:
            spots |= sentences_of(doc, context[0] + q.answer + context[1])
    if q.support:
        spots |= sentences_of(doc, q.support)
    if q.kind == "multiple" or q.kind == "odd_one_out":
        # The list the question is about: the sentence where the true items stand together.
        spots |= _list_sentence(doc, q.answers if q.kind == "multiple" else q.distractors)
    return frozenset(spots)


def footprint(q: Question, doc: Document) -> frozenset[int]:
    """The sentences of the speech this question asks about or shows (stem, options, explanation)."""
    spots = set(source(q, doc))
    for text in (stem(q), q.explanation, *q.answers, *q.distractors):
        for piece in _QUOTE_SPLIT.split(text.replace(BLANK, "…")):
            if len(fold(piece)) >= MIN_QUOTED:
                found = sentences_of(doc, piece)
                if len(found) <= MAX_PLACES:  # a stock phrase found all over the speech points at nothing
                    spots |= found
    return frozenset(spots)


def _list_sentence(doc: Document, items: Sequence[str]) -> set[int]:
    common: set[int] | None = None
    for item in items:
        term = item.split("“")[1].split("”")[0] if "“" in item else item
        found = set(sentences_of(doc, term))
        common = found if common is None else common & found
    return common or set()


def shown_text(q: Question) -> str:
    """Everything a member sees of the question before and after answering."""
    return "\n".join((q.question, *q.answers, *q.distractors, q.explanation))


def reveals(a: Question, b: Question) -> bool:
    """Whether `a`'s stem, options or explanation contains `b`'s answer (对/错 are no content).

    Two questions offering the same set of options (two "which part" questions) reveal nothing by that alone.
    """
    if b.kind == "true_false":
        return False
    same_options = {*a.answers, *a.distractors} == {*b.answers, *b.distractors}
    texts = [stem(a), a.question, a.explanation] if same_options else [shown_text(a)]
    return any(in_text(answer, t) for answer in b.answers for t in texts)


# --- the checker ------------------------------------------------------------------------------------------------------


def question_problems(q: Question, doc: Document) -> list[str]:
    """Every reason this question is not good enough to ask (empty when it passes)."""
    name = f"question {q.id!r}"
    problems = [f"{name}: {p}" for p in limit_problems(q.question, q.answer, [*q.extra_answers, *q.distractors],
                                                          q.explanation)]
    problems += [f"{name}: {p}" for p in option_problems(q.answer, [*q.extra_answers, *q.distractors])]
    if not doc.has(q.ref):
        return [*problems, f"{name}: field 'ref': unknown section {q.ref!r}"]
    problems += support_problems([q], doc)
    if len(stem(q)) > MAX_STEM:
        problems.append(f"{name}: field 'question': the stem has {len(stem(q))} characters, at most {MAX_STEM}")
    if f"〔{doc.section(q.ref).label}〕" not in q.explanation:
        problems.append(f"{name}: field 'explanation': must give the reference 〔{doc.section(q.ref).label}〕")
    check = _KIND_CHECKS.get(q.kind)
    if check is not None:
        problems += [f"{name}: {p}" for p in check(q, doc)]
    return problems


def _cloze(q: Question, doc: Document) -> list[str]:
    text = section_span_text(doc, q.ref)
    context = cloze_context(q.question, q.answer, text)
    if context is None:
        return []  # support_problems reported it
    before, after = context
    problems: list[str] = []
    if not fill_is_unique(doc.body, before, after, q.answer):
        problems.append("field 'question': another phrase of the speech also fills the blank")
    problems += [f"field 'distractors': {d!r} fits the blank by the text"
                 for d in q.distractors if fits_by_text(doc.body, before, after, d)]
    problems += same_kind_problems(q.answer, q.distractors, stem(q), strict=q.source == "generated")
    return problems


def fill_is_unique(body: str, before: str, after: str, answer: str) -> bool:
    """No text of the speech other than `answer` stands between `before` and `after` (one side: it occurs once)."""
    if not before or not after:
        anchor = before or after
        return bool(anchor) and body.count(anchor + answer if before else answer + anchor) <= 1 and (
            body.count(anchor) == 1
        )
    pos = body.find(before)
    while pos != -1:
        fill_start = pos + len(before)
        end = body.find(after, fill_start + 1, fill_start + MAX_FILL + len(after))
        if end != -1 and body[fill_start:end] != answer and body.find(after, fill_start, end) == -1:
            return False
        pos = body.find(before, pos + 1)
    return True


def fits_by_text(body: str, before: str, after: str, option: str) -> bool:
    """The speech itself puts `option` in this slot: with the whole context, or right beside its nearest words."""
    if before + option + after in body:
        return True
    near_before, near_after = before[-FIT_CONTEXT:], after[:FIT_CONTEXT]
    return (len(near_before) == FIT_CONTEXT and near_before + option in body) or (
        len(near_after) == FIT_CONTEXT and option + near_after in body
    )


def shared_affix(items: Sequence[str]) -> tuple[str, str]:
    """The prefix and suffix all items share ("学以", "式学习"), each shorter than the shortest item."""
    if len(items) < 2:
        return "", ""
    shortest = min(len(i) for i in items)
    prefix = os.path.commonprefix(list(items))  # noqa: RUF071 - a string prefix is what is wanted
    suffix = os.path.commonprefix([i[::-1] for i in items])[::-1]  # noqa: RUF071
    return prefix[: shortest - 1], suffix[: shortest - 1]


def visible_siblings(stem_text: str, size: int) -> list[str]:
    """The list items shown beside the blank ("学以立德、学以增智、（　　）" gives 学以立德, 学以增智).

    The outer items are cut to the answer's `size`, since the clause's other words run into them.
    """
    if BLANK not in stem_text:
        return []
    left, right = stem_text.split(BLANK, 1)
    before = re.split(r"[，,；;：:。“”（）()…]", left)[-1].split("、")[:-1]
    after = re.split(r"[，,；;：:。“”（）()…]", right)[0].split("、")[1:]
    if before:
        before[0] = before[0][-size:]
    if after:
        after[-1] = after[-1][:size]
    return [i for i in (*before, *after) if i]


def same_kind_problems(answer: str, distractors: Sequence[str], stem_text: str, strict: bool) -> list[str]:
    """Distractors of the answer's kind: length ±1, the visible siblings' shared affix, and (strict) an affix in
    common with the answer, the only mark of kind a text without a word segmenter has."""
    problems: list[str] = []
    for d in distractors:
        if abs(len(d) - len(answer)) > 1:
            problems.append(f"field 'distractors': {d!r} is {len(d)} characters, the answer {len(answer)}")
    siblings = visible_siblings(stem_text, len(answer))
    prefix, suffix = shared_affix([answer, *siblings]) if siblings else ("", "")
    if prefix or suffix:
        for d in distractors:
            if not (d.startswith(prefix) and d.endswith(suffix)):
                problems.append(f"field 'distractors': {d!r} lacks the {prefix}…{suffix} its list shows")
    elif strict:
        for d in distractors:
            if shared_affix([answer, d]) == ("", ""):
                problems.append(f"field 'distractors': {d!r} shares no prefix or suffix with the answer")
    for d in distractors:
        if d in stem_text:
            problems.append(f"field 'distractors': {d!r} is shown in the question")
    return problems


def distinctive(headings: Sequence[str]) -> list[str]:
    """Each heading without the text that every heading shares (学习型党组织建设, numbering punctuation)."""
    folded = [fold(h) for h in headings]
    if len(folded) < 2:
        return folded
    out = list(folded)
    while True:
        common = _longest_common_all(out)
        if len(common) < 2:
            return out
        out = [h.replace(common, "|") for h in out]


def _longest_common_all(texts: Sequence[str]) -> str:
    first = min(texts, key=len)
    for size in range(len(first), 1, -1):
        for i in range(len(first) - size + 1):
            piece = first[i : i + size]
            if "|" not in piece and all(piece in t for t in texts):
                return piece
    return ""


def longest_common(a: str, b: str) -> int:
    """Length of the longest substring of `a` also in `b`."""
    best = 0
    for i in range(len(a)):
        j = i + best + 1
        while j <= len(a) and a[i:j] in b:
            best, j = j - i, j + 1
    return best


def heading_echo(answer_heading: str, headings: Sequence[str], shown: str) -> int:
    """How many characters of the right heading's own words (not those all headings share) the question repeats."""
    index = [fold(h) for h in headings].index(fold(answer_heading))
    own = distinctive(headings)[index]
    folded = fold(shown)
    return max((longest_common(piece, folded) for piece in own.split("|")), default=0)


def _which_part(q: Question, doc: Document) -> list[str]:
    titles = [part_title(p.section) for p in doc.parts]
    problems = [f"field 'distractors': {d!r} is not a part of the speech" for d in q.distractors if d not in titles]
    if q.answer in titles and heading_echo(q.answer, titles, stem(q)) >= 2:
        problems.append("field 'question': it repeats words of the right heading")
    return problems


def _which_point(q: Question, doc: Document) -> list[str]:
    section = doc.section(q.ref)
    if section.part is None:
        return []
    labels = {point_label(p) for p in doc.part(section.part).points}
    return [f"field 'distractors': {d!r} is not a point of part {section.part}" for d in q.distractors
            if d not in labels]


def _true_false(q: Question, doc: Document) -> list[str]:
    if {q.answer, *q.distractors} != {TRUE, FALSE} or len(q.distractors) != 1:
        return [f"field 'answer': a true/false question answers {TRUE} or {FALSE}, the other is the distractor"]
    quoted = re.search(r"“(.+)”", stem(q))
    if quoted is None:
        return ["field 'question': a true/false question quotes the statement it judges"]
    statement = quoted.group(1)
    located = sentences_of(doc, statement)
    claimed = PART_ASKED.search(stem(q))
    if claimed is not None:  # "“…”出自讲话第三部分。": true exactly when the sentence is in that part
        if not located:
            return ["field 'question': the quoted sentence is not in the speech"]
        part = doc.section(q.ref).part
        number = claimed.group(0).rsplit("第", 1)[1].removesuffix("部分")
        label = doc.part(part).section.label if part is not None else ""
        truth = TRUE if number == label else FALSE
        return [] if q.answer == truth else [f"field 'answer': the sentence is in part {label}, so it is {truth}"]
    said = in_text(statement, section_span_text(doc, q.ref))
    if said != (q.answer == TRUE):
        return [f"field 'answer': the statement is {'' if said else 'not '}in section {q.ref}"]
    return []


def _multiple(q: Question, doc: Document) -> list[str]:
    """Distractors not in the section, each like the true items: length ±1, their shared affix if they have one,
    else (generated) an affix shared with one of them."""
    text = section_span_text(doc, q.ref)
    problems = [f"field 'distractors': {d!r} is also in section {q.ref}" for d in q.distractors if in_text(d, text)]
    sizes = [len(a) for a in q.answers]
    prefix, suffix = shared_affix(q.answers)
    for d in q.distractors:
        if not min(sizes) - 1 <= len(d) <= max(sizes) + 1:
            problems.append(f"field 'distractors': {d!r} is not of the answers' length")
        elif (prefix or suffix) and not (d.startswith(prefix) and d.endswith(suffix)):
            problems.append(f"field 'distractors': {d!r} lacks the {prefix}…{suffix} the answers share")
        elif q.source == "generated" and all(shared_affix([a, d]) == ("", "") for a in q.answers):
            problems.append(f"field 'distractors': {d!r} shares no prefix or suffix with any answer")
    return problems


def _odd_one_out(q: Question, doc: Document) -> list[str]:
    text = section_span_text(doc, q.ref)
    problems = []
    for d in q.distractors:
        term = d.split("“")[1].split("”")[0] if "“" in d else d
        if not in_text(term, text):
            problems.append(f"field 'distractors': {d!r} should be one of the true items, it is not in {q.ref}")
    term = q.answer.split("“")[1].split("”")[0] if "“" in q.answer else q.answer
    where = q.support or text  # the list itself when the bank quotes it, else the whole section
    if in_text(term, where):
        problems.append(f"field 'answer': {q.answer!r} is in the list of {q.ref}, so it does belong")
    return problems


_KIND_CHECKS = {
    "cloze": _cloze,
    "which_part": _which_part,
    "which_point": _which_point,
    "true_false": _true_false,
    "multiple": _multiple,
    "odd_one_out": _odd_one_out,
}


# --- duplicates ------------------------------------------------------------------------------------------------------


def asks_same(a: Question, b: Question, doc: Document) -> bool:
    """Two questions that test the same fact: the same answers about the same sentence (or an identical stem)."""
    if fold(a.question) == fold(b.question):
        return True
    if set(a.answers) != set(b.answers) or a.kind == "true_false" or b.kind == "true_false":
        return False
    return bool(source(a, doc) & source(b, doc))


def duplicates(generated: Iterable[Question], bank: Iterable[Question], doc: Document) -> set[str]:
    """Ids of generated questions that ask what a bank question or an earlier generated question already asks
    (`asks_same`). Each stem is folded once, and sentences are compared only between questions with the same
    answers: the check runs at every start-up, and pairwise it folded both stems of every pair (~0.2 s)."""
    stems: set[str] = set()
    same_answers: dict[frozenset[str], list[Question]] = {}
    sources: dict[int, frozenset[int]] = {}  # id(question) -> source(question): each worked out once

    def source_of(q: Question) -> frozenset[int]:
        found = sources.get(id(q))
        if found is None:
            found = sources[id(q)] = source(q, doc)
        return found

    def keep(q: Question, folded: str) -> None:
        stems.add(folded)
        if q.kind != "true_false":
            same_answers.setdefault(frozenset(q.answers), []).append(q)

    for q in bank:
        keep(q, fold(q.question))
    out: set[str] = set()
    for q in generated:
        folded = fold(q.question)
        if folded in stems or (q.kind != "true_false" and any(
                source_of(q) & source_of(other) for other in same_answers.get(frozenset(q.answers), ()))):
            out.add(q.id)
        else:
            keep(q, folded)
    return out
