"""Quiz questions: the `Question` value, and loading the curated bank (YAML) with every problem reported at once."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from content.model import Document, Section

# Telegram's quiz-poll limits (Bot API; 2–10 options is what every client and server accepts).
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 100
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_EXPLANATION_CHARS = 200
MAX_EXPLANATION_LINE_FEEDS = 2
# The curated bank always offers four options: one answer and three distractors.
BANK_DISTRACTORS = 3

BLANK = "（　　）"

Source = Literal["bank", "generated"]
QuestionKind = Literal["cloze", "odd_one_out", "which_part", "which_point", "true_false", "multiple", "choice"]
KINDS: tuple[str, ...] = ("cloze", "odd_one_out", "which_part", "which_point", "true_false", "multiple", "choice")

TRUE, FALSE = "对", "错"
# A multiple-answer quiz: several correct options among at most this many (the speech's lists of three to five).
MAX_MULTIPLE_OPTIONS = 6

REQUIRED_FIELDS = ("id", "ref", "question", "answer", "distractors", "explanation")
OPTIONAL_FIELDS = ("support",)


class QuestionBankError(ValueError):
    """A question bank failed validation; `problems` lists every problem found, each naming file, question, field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the quiz bank:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


@dataclass(frozen=True)
class Question:
    """One four-option (usually) quiz question, from the curated bank or generated from the speech."""

    id: str
    ref: str  # the section that states the answer: "2.3", "opening", "closing", a part "2"
    question: str
    answer: str
    distractors: tuple[str, ...]
    explanation: str
    source: Source
    kind: str  # one of QuestionKind
    # The exact source substring proving the answer, when the answer itself is not verbatim in the section.
    support: str | None = None
    # The other correct options of a multiple-answer question (Telegram quiz with allows_multiple_answers).
    extra_answers: tuple[str, ...] = ()

    @property
    def answers(self) -> tuple[str, ...]:
        """Every correct option: one, or several for a multiple-answer question."""
        return (self.answer, *self.extra_answers)

    @property
    def multiple(self) -> bool:
        return bool(self.extra_answers)

    def options(self, rng: random.Random) -> tuple[tuple[str, ...], int]:
        """The answer and distractors in an order drawn from `rng`, and the index of the answer."""
        opts, correct = self.shuffled(rng)
        return opts, correct[0]

    def shuffled(self, rng: random.Random) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """All options in an order drawn from `rng` (对 before 错 always), and the indices of the correct ones."""
        opts = [*self.answers, *self.distractors]
        if self.kind == "true_false":
            opts = [TRUE, FALSE]  # 对/错 in a fixed order: shuffling them only confuses
        else:
            rng.shuffle(opts)
        return tuple(opts), tuple(sorted(opts.index(a) for a in self.answers))


def infer_kind(question: str, answers: Sequence[str] = (), distractors: Sequence[str] = ()) -> str:
    """The question's form, read from its wording and options (the bank does not repeat it in a field)."""
    if len(answers) > 1:
        return "multiple"
    if answers and {*answers, *distractors} == {TRUE, FALSE}:
        return "true_false"
    if "哪一部分" in question:
        return "which_part"
    if "第几点" in question:
        return "which_point"
    if BLANK in question:
        return "cloze"
    if "不属于" in question or "不是" in question or "没有" in question:
        return "odd_one_out"
    return "choice"


# --- Telegram limits, shared by the bank and generated questions -------------------------------------------------


def limit_problems(question: str, answer: str, distractors: Sequence[str], explanation: str) -> list[str]:
    """Every way these texts break Telegram's quiz-poll limits (empty when the poll can be sent)."""
    problems: list[str] = []
    if not question.strip():
        problems.append("field 'question': must not be empty")
    if len(question) > MAX_QUESTION_CHARS:
        problems.append(f"field 'question': {len(question)} characters, Telegram allows {MAX_QUESTION_CHARS}")
    count = 1 + len(distractors)
    if not MIN_OPTIONS <= count <= MAX_OPTIONS:
        problems.append(f"field 'distractors': {count} options in all, Telegram needs {MIN_OPTIONS}–{MAX_OPTIONS}")
    named = [("field 'answer'", answer)] + [
        (f"field 'distractors' item {i}", d) for i, d in enumerate(distractors, start=1)
    ]
    for where, option in named:
        if not option.strip():
            problems.append(f"{where}: an option must not be empty")
        elif len(option) > MAX_OPTION_CHARS:
            problems.append(f"{where}: {len(option)} characters, Telegram allows {MAX_OPTION_CHARS} per option")
    if len(explanation) > MAX_EXPLANATION_CHARS:
        problems.append(f"field 'explanation': {len(explanation)} characters, Telegram allows {MAX_EXPLANATION_CHARS}")
    if explanation.count("\n") > MAX_EXPLANATION_LINE_FEEDS:
        problems.append(
            f"field 'explanation': {explanation.count(chr(10))} line feeds, "
            f"Telegram allows {MAX_EXPLANATION_LINE_FEEDS}"
        )
    return problems


def option_problems(answer: str, distractors: Sequence[str]) -> list[str]:
    """Duplicate options (after trimming spaces), including the answer repeated among the distractors."""
    problems: list[str] = []
    key = answer.strip()
    if key in {d.strip() for d in distractors}:
        problems.append(f"field 'distractors': the answer {answer!r} is also a distractor")
    seen: set[str] = set()
    for d in distractors:
        if d.strip() in seen:
            problems.append(f"field 'distractors': {d!r} appears twice")
        seen.add(d.strip())
    return problems


# --- loading the bank ----------------------------------------------------------------------------------------------


try:  # libyaml's parser: the shipped bank loads in ~8 ms instead of ~60 ms, at every start-up
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that remembers keys repeated within one mapping (PyYAML silently keeps the last one)."""

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                self.duplicates.append(f"line {key_node.start_mark.line + 1}: key {key!r} repeated")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _describe_non_string(name: str, value: object) -> str:
    """Why a YAML scalar is not text, with the fix; YAML turns 2.10 into 2.1 and `no` into False."""
    if value is None:
        return "is empty: write the text, quoted"
    if isinstance(value, bool | int | float):
        kind = "a boolean" if isinstance(value, bool) else "a number"
        return f'must be a string, but YAML read {kind} ({value!r}): quote it, e.g. {name}: "..."'
    return f"must be a string, got {type(value).__name__}"


def _check_entry(entry: object, where: str) -> tuple[list[str], Question | None]:
    """Problems with one bank entry, and the Question when it has none."""
    if not isinstance(entry, Mapping):
        return [f"{where}: must be a mapping of fields, got {type(entry).__name__}"], None
    problems: list[str] = []
    for name in REQUIRED_FIELDS:
        if name not in entry:
            problems.append(f"{where}: field {name!r} is missing")
    for name in entry:
        if name not in REQUIRED_FIELDS and name not in OPTIONAL_FIELDS:
            allowed = ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
            problems.append(f"{where}: unknown field {name!r} (allowed: {allowed})")
    texts: dict[str, str] = {}
    extra: list[str] = []
    raw_answer = entry.get("answer")
    if isinstance(raw_answer, list):  # several correct options: a multiple-answer quiz
        if len(raw_answer) < 2 or not all(isinstance(a, str) and a.strip() for a in raw_answer):
            problems.append(f"{where}: field 'answer': a list of answers needs two or more non-empty strings")
        else:
            texts["answer"], extra = raw_answer[0], list(raw_answer[1:])
    for name in ("id", "ref", "question", "answer", "explanation", "support"):
        if name not in entry or (name == "answer" and isinstance(raw_answer, list)):
            continue
        value = entry[name]
        if not isinstance(value, str):
            problems.append(f"{where}: field {name!r} {_describe_non_string(name, value)}")
        elif not value.strip():
            problems.append(f"{where}: field {name!r} must not be empty")
        else:
            texts[name] = value
    distractors: list[str] = []
    if "distractors" in entry:
        raw = entry["distractors"]
        if not isinstance(raw, list):
            problems.append(f"{where}: field 'distractors' must be a list of {BANK_DISTRACTORS} strings")
        else:
            kind = infer_kind(str(entry.get("question", "")), [texts.get("answer", ""), *extra],
                              [str(d) for d in raw])
            wrong = _distractor_count_problem(kind, len(extra) + 1, len(raw))
            if wrong:
                problems.append(f"{where}: field 'distractors' has {len(raw)} items, {wrong}")
            for i, item in enumerate(raw):
                if isinstance(item, str):
                    distractors.append(item)
                else:
                    problems.append(
                        f"{where}: field 'distractors' item {i + 1} {_describe_non_string('distractors', item)}"
                    )
    if "answer" in texts:
        problems += [f"{where}: {p}" for p in option_problems(texts["answer"], [*extra, *distractors])]
    if {"question", "answer", "explanation"} <= texts.keys():
        limits = limit_problems(texts["question"], texts["answer"], [*extra, *distractors], texts["explanation"])
        problems += [f"{where}: {p}" for p in limits]
    if problems or not set(REQUIRED_FIELDS) - {"distractors"} <= texts.keys():
        return problems, None
    question = Question(
        id=texts["id"],
        ref=texts["ref"],
        question=texts["question"],
        answer=texts["answer"],
        distractors=tuple(distractors),
        explanation=texts["explanation"],
        source="bank",
        kind=infer_kind(texts["question"], [texts["answer"], *extra], distractors),
        support=texts.get("support"),
        extra_answers=tuple(extra),
    )
    return problems, question


def _distractor_count_problem(kind: str, answers: int, distractors: int) -> str | None:
    """Why this many distractors is wrong for the kind of question, or None."""
    if kind == "true_false":
        return None if distractors == 1 else f"a {TRUE}/{FALSE} question needs exactly 1 (the other of {TRUE}/{FALSE})"
    if kind == "which_point":
        return None if 1 <= distractors <= BANK_DISTRACTORS else "a 'which point' question needs 1–3 (other points)"
    if kind == "multiple":
        total = answers + distractors
        ok = distractors >= 1 and total <= MAX_MULTIPLE_OPTIONS
        return None if ok else f"a multiple-answer question needs 1 or more, {MAX_MULTIPLE_OPTIONS} options in all"
    return None if distractors == BANK_DISTRACTORS else f"the bank needs exactly {BANK_DISTRACTORS}"


def _entry_name(entry: object, index: int) -> str:
    qid = entry.get("id") if isinstance(entry, Mapping) else None
    return f"question {qid!r} (#{index + 1})" if isinstance(qid, str) else f"question #{index + 1}"


def _parse(text: str, name: str) -> tuple[list[Question], list[str]]:
    """The valid questions of a bank's YAML text, and every problem found (each naming `name`)."""
    try:
        # The loader checks the text for unprintable characters as it is built: that error is YAML's too.
        loader = _UniqueKeyLoader(text)
        loader.duplicates = []
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [f"{name}: not valid YAML{where}: {reason}"]
    problems = [f"{name}: {d}" for d in loader.duplicates]
    entries = data.get("questions") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return [], [*problems, f"{name}: expected a mapping with a 'questions:' list at the top"]
    if isinstance(data, Mapping):
        for key in data:
            if key not in ("questions", "title"):
                problems.append(f"{name}: unknown top-level key {key!r} (allowed: questions, title)")
    questions: list[Question] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"{name}: {_entry_name(entry, index)}"
        entry_problems, question = _check_entry(entry, where)
        problems += entry_problems
        qid = entry.get("id") if isinstance(entry, Mapping) else None
        if isinstance(qid, str):
            if qid in first_index:
                problems.append(f"{where}: field 'id': duplicate of question #{first_index[qid] + 1}")
            else:
                first_index[qid] = index
        if question is not None:
            questions.append(question)
    return questions, problems


def parse_bank(text: str, name: str) -> tuple[Question, ...]:
    """Questions from the YAML text of a bank; `name` is used in messages. Raises QuestionBankError."""
    questions, problems = _parse(text, name)
    if problems:
        raise QuestionBankError(problems)
    return tuple(questions)


def load_bank(path: str | Path, doc: Document | None = None) -> tuple[Question, ...]:
    """Load and validate a bank file; with `doc`, also check refs and that each answer is in its section."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionBankError([f"{path}: cannot read: {exc}"]) from exc
    questions, problems = _parse(text, str(path))
    if doc is not None:  # checked on the entries that parsed, so one run reports everything
        problems += [f"{path}: {p}" for p in ref_problems(questions, doc) + support_problems(questions, doc)]
    if problems:
        raise QuestionBankError(problems)
    return tuple(questions)


def default_bank_path() -> Path:
    return Path(__file__).with_name("quiz_bank.yaml")


def load_default_bank(doc: Document | None = None) -> tuple[Question, ...]:
    return load_bank(default_bank_path(), doc)


# --- checks against the speech -------------------------------------------------------------------------------------


def ref_problems(questions: Iterable[Question], doc: Document) -> list[str]:
    """Questions whose ref names no section of `doc`."""
    known = ", ".join(s.ref for s in doc.sections())
    return [
        f"question {q.id!r}: field 'ref': unknown section {q.ref!r} (known: {known})"
        for q in questions
        if not doc.has(q.ref)
    ]


def validate_refs(questions: Iterable[Question], doc: Document) -> None:
    """Raise QuestionBankError listing every question whose ref is not a section of `doc`."""
    problems = ref_problems(questions, doc)
    if problems:
        raise QuestionBankError(problems)


def section_span_text(doc: Document, ref: str) -> str:
    """The text a ref stands for: a part means its heading, introduction and all its points."""
    section = doc.section(ref)
    if section.kind == "part" and section.part is not None:
        points = doc.part(section.part).points
        end = points[-1].end if points else section.end
        return doc.body[section.start : end]
    return section.text


_NUMBERING = re.compile(r"^\s*[一二三四五六七八九十百]+\s*[、.．]\s*")


def part_title(section: Section) -> str:
    """A part as an option of a "which part" question: "二、突出重点,积极用学习型党组织建设推动实践"."""
    heading = _NUMBERING.sub("", section.heading).strip()
    return f"{section.label}、{heading}"


def point_label(section: Section) -> str:
    """A point as the answer of a "which point" question: "第3点"."""
    return f"第{section.point}点"


# Speeches are typed with ASCII , ; : ( ) or full-width marks, and questions show full-width ones with ‘’ inside “”:
# compare through one canonical form, character for character, so offsets still match the verbatim text.
_CANONICAL = str.maketrans({",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "‘": "“", "’": "”"})
# A cloze question must show at least this much verbatim context around its blank, or it tests nothing.
MIN_CLOZE_CONTEXT = 4


def canonical(text: str) -> str:
    """`text` with punctuation width and quote level folded, same length (for comparing shown and stored text)."""
    return text.translate(_CANONICAL)


def cloze_context(question: str, answer: str, text: str) -> tuple[str, str] | None:
    """The longest text either side of the blank that, with `answer` filled in, is verbatim in `text`.

    Returned as it stands in `text`. None when the question has not exactly one blank or the answer does not fit the
    blank at all.
    """
    if question.count(BLANK) != 1 or answer not in text:
        return None
    left, _, right = canonical(question).partition(BLANK)
    plain, answer_c = canonical(text), canonical(answer)
    n = 0
    while n < len(left) and left[len(left) - n - 1 :] + answer_c in plain:
        n += 1
    before = left[len(left) - n :]
    m = 0
    while m < len(right) and before + answer_c + right[: m + 1] in plain:
        m += 1
    at = plain.find(before + answer_c + right[:m])
    start, end = at + len(before), at + len(before) + len(answer)
    return text[at:start], text[end : end + m]


def cloze_problems(question: Question, doc: Document) -> list[str]:
    """A cloze question must quote its section around the blank, and no distractor may fit the quoted text."""
    text = section_span_text(doc, question.ref)
    context = cloze_context(question.question, question.answer, text)
    if context is None or sum(map(len, context)) < MIN_CLOZE_CONTEXT:
        return [
            f"question {question.id!r}: field 'question': the text around the blank, with the answer filled in, "
            f"is not in section {question.ref!r}"
        ]
    before, after = context
    return [
        f"question {question.id!r}: field 'distractors': {d!r} in the blank also gives text of the speech"
        for d in question.distractors
        if before + d + after in doc.body
    ]


def support_problems(questions: Iterable[Question], doc: Document) -> list[str]:
    """Questions whose answer (or `support`) is not stated verbatim in the section they cite.

    A "which part" question must answer with the heading of the part holding its ref, and its `support` (the
    quoted sentence) must be in the cited section.
    """
    problems: list[str] = []
    for q in questions:
        if not doc.has(q.ref):
            continue  # reported by ref_problems
        section = doc.section(q.ref)
        text = section_span_text(doc, q.ref)
        evidence = q.support if q.support is not None else q.answer
        if q.kind == "true_false" and q.support is None:
            problems.append(f"question {q.id!r}: field 'support': a {TRUE}/{FALSE} question must quote its proof")
        elif evidence not in text:
            field = "support" if q.support is not None else "answer"
            problems.append(f"question {q.id!r}: field {field!r}: {evidence!r} is not in section {q.ref!r}")
        if q.kind == "multiple":
            missing = [a for a in q.answers if a not in text]
            problems += [f"question {q.id!r}: field 'answer': {a!r} is not in section {q.ref!r}" for a in missing]
        if q.kind == "which_point" and (section.kind != "point" or q.answer != point_label(section)):
            want = point_label(section) if section.kind == "point" else "a point"
            problems.append(f"question {q.id!r}: field 'answer': must be {want!r}, the point {q.ref} cites")
        if q.kind == "cloze" and evidence in text:
            problems += cloze_problems(q, doc)
        if q.kind == "which_part":
            if section.part is None:
                problems.append(f"question {q.id!r}: field 'ref': a 'which part' question must cite a part")
                continue
            part = doc.part(section.part).section
            if q.answer not in (part_title(part), part.heading):
                problems.append(
                    f"question {q.id!r}: field 'answer': must be the heading of part {part.ref}: {part_title(part)!r}"
                )
    return problems
