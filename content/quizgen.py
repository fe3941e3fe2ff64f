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
    MIN_CLOZE_CONTEXT,
    Question,
    cloze_context,
    limit_problems,
    option_problems,
    part_title,
)

log = logging.getLogger(__name__)

MAX_SHOWN = 120  # characters of source shown in a question: one phone screen
MIN_SENTENCE = 12
MAX_CLOZE_PER_SENTENCE = 2
MAX_WHICH_PART_PER_SECTION = 2
MIN_CONTEXT = 8  # verbatim characters around a generated blank
MAX_ANSWER = 6  # longer phrases have too few look-alikes in one speech to make fair distractors
MAX_FILL = 30  # longest other fill looked for when checking that a blank's context is unique
DISTRACTORS = 3

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_SENTENCE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”’]?)?")
_CLAUSE_BREAK = ",，;；:："
_NUMBERING = re.compile(
    r"^\s*(?:[0-9０-９]+[、.．]|[（(][0-9０-９一二三四五六七八九十]+[）)]|第[一二三四五六七八九十]+[，,、：:])\s*"
)
_QUOTED = re.compile(r"“([\u4e00-\u9fff、]{3,12})”")
# A list item cut from a longer clause must end where a function word follows, else the cut is arbitrary.
_FOLLOWS_ITEM = set("的和及等")
_STOP_EDGE = set("的和及与等之在了是把对为以而或并也将使从向")
_DISPLAY = str.maketrans({",": "，", ";": "；", ":": "：", "(": "（", ")": "）"})


@dataclass(frozen=True)
class _Phrase:
    text: str
    family: str  # "list", "quote" or "clause"
    start: int  # offsets in the document body
    end: int
    siblings: tuple[str, ...] = ()  # the other items of its list


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
    raw = clause.rstrip(_CLAUSE_BREAK + "。！？!?”").split("、")
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
        yield _Phrase(item, "list", base + start, base + start + size, siblings)


def _phrases(sentence: _Sentence, body: str) -> list[_Phrase]:
    found: dict[tuple[int, int], _Phrase] = {}
    spans = _clauses(sentence)
    cores = [sentence.text[a:b].rstrip(_CLAUSE_BREAK + "。！？!?") for a, b in spans]
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


def _window(sentence: _Sentence, phrase: _Phrase) -> tuple[int, int]:
    """The stretch of the sentence shown around the blank: whole clauses, at most MAX_SHOWN characters."""
    spans = _clauses(sentence)
    at = phrase.start - sentence.start
    index = next(i for i, (a, b) in enumerate(spans) if a <= at < b)
    lo = hi = index
    grown = True
    while grown:
        grown = False
        for lo2, hi2 in ((lo - 1, hi), (lo, hi + 1)):
            if lo2 >= 0 and hi2 < len(spans) and spans[hi2][1] - spans[lo2][0] <= MAX_SHOWN:
                lo, hi, grown = lo2, hi2, True
                break
    start, end = spans[lo][0], spans[hi][1]
    if hi < len(spans) - 1:
        end -= 1  # drop the clause break before the cut
    return start, end


def _context_is_unique(body: str, before: str, after: str, answer: str) -> bool:
    """No other text of the speech fits between `before` and `after`."""
    if not before or not after:
        anchor = before or after
        return bool(anchor) and body.count(anchor) == 1
    pos = body.find(before)
    while pos != -1:
        fill_start = pos + len(before)
        end = body.find(after, fill_start + 1, fill_start + MAX_FILL + len(after))
        if end != -1 and body[fill_start:end] != answer and body.find(after, fill_start, end) == -1:
            return False
        pos = body.find(before, pos + 1)
    return True


def _longest_common(a: str, b: str) -> int:
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def _stable_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _list_affix(phrase: _Phrase) -> tuple[str, str]:
    """The prefix and suffix that all items of the phrase's list share ("学以", "式学习"), empty if none."""
    if not phrase.siblings:
        return "", ""
    items = [phrase.text, *phrase.siblings]
    prefix = os.path.commonprefix(items)  # noqa: RUF071 - a string prefix is what is wanted
    suffix = os.path.commonprefix([i[::-1] for i in items])[::-1]  # noqa: RUF071
    return prefix[: len(phrase.text) - 1], suffix[: len(phrase.text) - 1]


def _has_affix(text: str, affix: tuple[str, str]) -> bool:
    prefix, suffix = affix
    return bool(prefix or suffix) and text.startswith(prefix) and text.endswith(suffix)


def _pick_distractors(
    phrase: _Phrase, shown: str, before: str, after: str, pool: dict[str, str], body: str
) -> list[str]:
    """Three phrases of the answer's shape from elsewhere in the speech that do not fit the blank.

    When the answer's list shares a prefix or suffix that the question shows ("学以立德、学以增智"), at least two
    distractors must carry it too, or the answer would be the only option echoing the question.
    """
    answer = phrase.text
    affix = _list_affix(phrase)
    scored: list[tuple[int, str, str]] = []
    for text, family in pool.items():
        if text == answer or text in shown or answer in text or text in answer:
            continue
        if abs(len(text) - len(answer)) > (1 if len(answer) > 3 else 0):
            continue
        if before + text + after in body:
            continue
        score = (
            3 * (len(text) == len(answer))
            + 2 * min(_affix(text, answer), len(answer) - 1)
            + 3 * (family == phrase.family)
            + 10 * _has_affix(text, affix)
        )
        scored.append((-score, _stable_hash(answer, text), text))
    chosen: list[str] = []
    for _, _, text in sorted(scored):
        if all(text not in c and c not in text for c in chosen):
            chosen.append(text)
        if len(chosen) == DISTRACTORS:
            break
    if any(affix) and sum(_has_affix(c, affix) for c in chosen) < 2:
        return []
    return chosen


def _echo_ok(answer: str, distractors: list[str], shown: str) -> bool:
    """The answer is not the only option that repeats wording of the question."""
    echo = _longest_common(answer, shown)
    return echo < 2 or any(_longest_common(d, shown) >= echo for d in distractors)


def _cloze(doc: Document, sentence: _Sentence, phrase: _Phrase, pool: dict[str, str]) -> Question | None:
    start, end = _window(sentence, phrase)
    text = sentence.text
    a, b = phrase.start - sentence.start, phrase.end - sentence.start
    before, after = text[start:a], text[b:end]
    if len(phrase.text) > MAX_ANSWER or len(before) + len(after) < MIN_CONTEXT:
        return None
    if not _context_is_unique(doc.body, before, after, phrase.text):
        return None
    shown = before + BLANK + after
    lead = "……" if start > 0 else ""
    tail = "……" if end < len(text) else ""
    question = (lead + shown + tail).translate(_DISPLAY)
    distractors = _pick_distractors(phrase, text, before, after, pool, doc.body)
    if len(distractors) < DISTRACTORS or not _echo_ok(phrase.text, distractors, shown):
        return None
    if len(phrase.text) > max(len(d) for d in distractors):
        return None  # the longest option is too often guessed right
    section = sentence.section
    explanation = _explain(text, phrase.text, section)
    candidate = Question(
        id=f"g-{section.ref}-c-{_stable_hash(question, phrase.text)[:10]}",
        ref=section.ref,
        question=question,
        answer=phrase.text,
        distractors=tuple(distractors),
        explanation=explanation,
        source="generated",
        kind="cloze",
    )
    return candidate if _keeps(candidate, doc, before, after) else None


def _explain(text: str, answer: str, section: Section) -> str:
    """ "原文：“…”〔二、3〕", the quotation cut around the answer to stay within Telegram's 200 characters."""
    ref = f"〔{section.label}〕"
    room = 200 - len("原文：“”") - len(ref) - 2
    if len(text) > room:
        at = text.find(answer)
        lo = max(0, min(at - room // 2, len(text) - room))
        text = ("…" if lo > 0 else "") + text[lo : lo + room] + ("…" if lo + room < len(text) else "")
    return f"原文：“{text.translate(_DISPLAY)}”{ref}"


def _keeps(q: Question, doc: Document, before: str, after: str) -> bool:
    """The final checks every generated cloze must pass (the same ones the tests apply)."""
    section_text = doc.section(q.ref).text
    context = cloze_context(q.question, q.answer, section_text)
    if context is None or context != (before, after) or sum(map(len, context)) < MIN_CLOZE_CONTEXT:
        return False
    if any(before + d + after in doc.body for d in q.distractors):
        return False
    limits = limit_problems(q.question, q.answer, q.distractors, q.explanation)
    return not limits and not option_problems(q.answer, q.distractors)


# --- "which part" questions ----------------------------------------------------------------------------------------


def _which_part(doc: Document, sentence: _Sentence) -> Question | None:
    section = sentence.section
    if section.part is None or len(doc.parts) < 2 or len(sentence.text) > MAX_SHOWN:
        return None
    if doc.body.count(sentence.text) != 1:
        return None
    number = section.part
    answer = part_title(doc.part(number).section)
    # The neighbouring parts, nearest first, so a long speech still gets four options.
    others = sorted((p for p in doc.parts if p.number != number), key=lambda p: (abs(p.number - number), p.number))
    distractors = [part_title(p.section) for p in others[:DISTRACTORS]]
    shown = sentence.text.rstrip("。")
    if _longest_common(answer, shown) >= 3 and not _echo_ok(answer, distractors, shown):
        return None
    question = f"“{shown.translate(_DISPLAY)}”\n这句话出自讲话的哪一部分？"
    heading = part_title(doc.part(number).section)
    explanation = f"出自第{heading.replace('、', '部分“', 1)}”〔{section.label}〕。"
    if len(explanation) > 200:
        explanation = f"出自第{doc.part(number).section.label}部分〔{section.label}〕。"
    q = Question(
        id=f"g-{section.ref}-p-{_stable_hash(sentence.text)[:10]}",
        ref=section.ref,
        question=question,
        answer=answer,
        distractors=tuple(distractors),
        explanation=explanation,
        source="generated",
        kind="which_part",
        support=sentence.text,
    )
    if limit_problems(q.question, q.answer, q.distractors, q.explanation) or option_problems(q.answer, q.distractors):
        return None
    return q


def _which_part_rank(sentence: _Sentence) -> tuple[int, int, int]:
    """Prefer sentences with a list or a quoted term, of a middling length: they are the memorable ones."""
    marked = ("、" in sentence.text) + ("“" in sentence.text)
    return (-marked, abs(len(sentence.text) - 50), sentence.start)


# --- public API ----------------------------------------------------------------------------------------------------


def generate_questions(doc: Document) -> tuple[Question, ...]:
    """Every unambiguous generated question for `doc`, in reading order (cloze first within a section)."""
    sentences = list(_sentences(doc))
    phrases = {id(s): _phrases(s, doc.body) for s in sentences}
    pool: dict[str, str] = {}
    for found in phrases.values():
        for p in found:
            pool.setdefault(p.text, p.family)
    out: list[Question] = []
    seen: set[str] = set()
    for section in doc.sections():
        mine = [s for s in sentences if s.section is section]
        for sentence in mine:
            kept = 0
            for phrase in phrases[id(sentence)]:
                q = _cloze(doc, sentence, phrase, pool)
                if q is not None and q.id not in seen and kept < MAX_CLOZE_PER_SENTENCE:
                    out.append(q)
                    seen.add(q.id)
                    kept += 1
        if section.kind in ("point", "part"):
            made = 0
            for sentence in sorted(mine, key=_which_part_rank):
                q = _which_part(doc, sentence)
                if q is not None and q.id not in seen:
                    out.append(q)
                    seen.add(q.id)
                    made += 1
                if made == MAX_WHICH_PART_PER_SECTION:
                    break
    return tuple(out)


def _cache_key(doc: Document) -> str:
    """sha256 of the body and of this module's code, so an edited generator never serves stale questions."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(doc.body.encode("utf-8"))
    return digest.hexdigest()


_MEMO: dict[str, tuple[Question, ...]] = {}


def _read_cache(path: Path) -> tuple[Question, ...] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(Question(**{**item, "distractors": tuple(item["distractors"])}) for item in data["questions"])
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
