"""`python -m bench.quizcontent [SPEECH.txt ...]`: generated questions per speech by kind, and simulated leak rates.

With no arguments: the shipped speech (with its bank) and every `*.txt` in tests/data/corpus/ (the real speeches).
A round leaks when two of its questions share a source sentence, one shows another's answer, or a question on where a
sentence stands comes in a scope that already says so. Rounds: /quiz 5 on every section, every part with its points
and the whole speech, 20 seeds each; the old draw (first five of the shuffled pool) is shown for comparison.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from content.loader import load_document
from content.model import Document
from content.parser import parse_speech
from content.questions import Question, load_default_bank
from content.quizcheck import duplicates
from content.quizgen import generate_questions
from content.roundplan import RoundPlanner, allowed_in_scope, conflict
from content.scoring import pick_questions

# The development corpus as the tests keep it (issue 12 copied ../shared/corpus/ there).
ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "corpus"
SHOWN = {"cloze": "cloze", "which_part": "part", "which_point": "point", "true_false": "对/错", "multiple": "multi"}
SEEDS = 20
ROUND = 5


def scopes(doc: Document) -> Iterator[frozenset[str]]:
    for s in doc.sections():
        refs = {s.ref}
        if s.kind == "part" and s.part is not None:
            refs |= {p.ref for p in doc.part(s.part).points}
        yield frozenset(refs)
    yield frozenset(s.ref for s in doc.sections())


def leaks(round_: Sequence[Question], doc: Document, scope: frozenset[str]) -> bool:
    return any(not allowed_in_scope(q, doc, scope) for q in round_) or any(
        conflict(a, b, doc) for i, a in enumerate(round_) for b in round_[i + 1:])


def leak_rates(doc: Document, pool: Sequence[Question]) -> tuple[float, float, int]:
    planner = RoundPlanner(doc, pool)
    old = new = total = 0
    for scope in scopes(doc):
        for seed in range(SEEDS):
            total += 1
            old += leaks(pick_questions(pool, ROUND, scope, random.Random(seed)), doc, scope)
            new += leaks(planner.pick(ROUND, scope, random.Random(seed)), doc, scope)
    return old / total, new / total, total


def report(name: str, doc: Document, bank: tuple[Question, ...]) -> str:
    started = time.perf_counter()
    generated = generate_questions(doc)
    seconds = time.perf_counter() - started
    repeated = duplicates(generated, bank, doc)
    kept = [q for q in generated if q.id not in repeated]
    kinds = Counter(q.kind for q in kept)
    old, new, rounds = leak_rates(doc, (*bank, *kept))
    by_kind = " | ".join(f"{kinds[k]:>{len(v)}}" for k, v in SHOWN.items())
    return (f"| {name:<28} | {len(kept):>4} | {by_kind} | {len(bank):>4} | {rounds:>5} | {old:>6.1%} | {new:>5.1%} |"
            f" {seconds:>5.2f} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("speeches", nargs="*", type=Path, help="speech text files (default: shipped + corpus)")
    args = parser.parse_args(argv)
    kinds = " | ".join(SHOWN.values())
    print(f"| {'speech':<28} | gen. | {kinds} | bank | rounds | leak, old draw | leak | gen. s |")
    print("|" + "---|" * (7 + len(SHOWN)))
    rows: list[tuple[str, Document | None, tuple[Question, ...], str]] = []
    files = list(args.speeches)
    if not files:
        shipped = load_document()
        rows.append(("shipped speech.txt", shipped, load_default_bank(shipped), ""))
        files = sorted(CORPUS.glob("*.txt")) if CORPUS.is_dir() else []
    for path in files:
        try:
            rows.append((path.stem, parse_speech(path.read_text(encoding="utf-8")), (), ""))
        except ValueError as exc:
            rows.append((path.stem, None, (), str(exc).splitlines()[0]))
    for name, doc, bank, error in rows:
        print(report(name, doc, bank) if doc is not None else f"| {name:<28} | not parsed: {error} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
