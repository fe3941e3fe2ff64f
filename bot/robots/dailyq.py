"""每日一题 for robot channels: a robot cannot run polls, so one lettered question rides with the day's reading
and its answer with the explanation opens the next day's post. Pure: the same (channel, day) always gives the same
question and option order, so nothing needs storing and a resumed delivery posts identical parts."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from content.model import Reading
from content.questions import Question

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class DailyQuestion:
    question: Question
    options: tuple[str, ...]
    correct: int  # index into options

    @property
    def letter(self) -> str:
        return LETTERS[self.correct]


def pick(questions: Sequence[Question], reading: Reading, channel: str) -> DailyQuestion | None:
    """A single-answer question on the reading's sections, drawn by (channel, day); None if there is none."""
    refs = set(reading.refs)
    fitting = sorted((q for q in questions if q.ref in refs and not q.multiple and 2 <= len(q.distractors) + 1
                      <= len(LETTERS)), key=lambda q: q.id)
    if not fitting:
        return None
    rng = random.Random(f"{channel}:{reading.day}")
    question = rng.choice(fitting)
    options, correct = question.options(rng)
    return DailyQuestion(question, options, correct)
