"""Quiz answers: many members answer the open polls of several groups' rounds; each answer must score once.

Rounds are started through the QuizRounds object the bot keeps in bot_data (as /quiz does), with polls open long
enough for the whole run. Each answer also brings a `poll` update (the vote counts), as on Telegram, to a bot that asks
for them; the baseline asks for the same types studybot did when this was written (bench.common.BASELINE_UPDATES).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import Poll, Update
from telegram.ext import ContextTypes, PollAnswerHandler

from bench.common import Sizes, bare_bot, make_services, new_standin, studybot, wall
from bench.report import Goal, Row, value_is
from bot.handlers.quiz import ROUNDS_KEY
from bot.quizrounds import QuizRounds, Scope
from bot.standin import StandIn
from content.scoring import answer_is_right

GROUP_BASE = -7_000_000
MEMBER_BASE = 300_000
OPEN_PERIOD = 600  # seconds: no poll closes during the run
SETTLE = 0.5  # after the last answer is counted, how long we wait for stray double-counts
STALL = 10.0  # seconds without a new stored answer after which the bot is taken to have lost the rest


@dataclass(frozen=True)
class Answer:
    poll_id: str
    user: int
    option: int


@dataclass(frozen=True)
class QuizRun:
    answers: int
    seconds: float
    stored: int = 0  # rows in the answers table
    distinct: int = 0  # distinct (poll, member) pairs among them
    correct: int = 0  # stored answers marked correct
    expected_correct: int = 0  # answers we gave with the poll's correct option
    cpu: float = 0.0  # process CPU seconds (every thread) over the same window as `seconds`

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """Process CPU (every thread, the in-process stand-in's too) per answer, in µs."""
        return self.cpu / self.answers * 1e6 if self.answers else 0.0


def plan_answers(standin: StandIn, chats: list[int], count: int) -> list[Answer]:
    """`count` answers spread over the chats' open polls, each member answering each poll at most once."""
    polls = []
    for chat in chats:
        record = standin.sent(chat, "sendPoll")[-1]
        assert record.poll is not None
        polls.append((str(record.poll["id"]), len(record.poll["options"])))
    answers = []
    for i in range(count):
        poll_id, options = polls[i % len(polls)]
        member = i // len(polls)
        answers.append(Answer(poll_id, MEMBER_BASE + member, member % options))
    return answers


async def run_studybot(workdir: Path, sizes: Sizes) -> QuizRun:
    svc = make_services(workdir, "quiz", quiz={"open_period": OPEN_PERIOD})
    chats = [GROUP_BASE - g for g in range(sizes.quiz_groups)]
    everything = Scope(frozenset(s.ref for s in svc.doc.sections()), "全文")
    async with new_standin(limits=False) as standin, studybot(svc, standin, rate_limit=True) as running:
        rounds = running.app.bot_data[ROUNDS_KEY]
        assert isinstance(rounds, QuizRounds)
        for chat in chats:
            svc.store.ensure_group(chat, f"测验小组 {abs(chat)}")
            refusal = await rounds.start(chat, 1, 1, everything)
            if refusal is not None:
                raise RuntimeError(f"the bot refused to start a round in {chat}: {refusal}")
        answers = plan_answers(standin, chats, sizes.answers)

        # Counted on a connection of its own: only committed answers count, and the bot's is left to the bot.
        counter = sqlite3.connect(svc.config.database)

        def stored() -> int:
            # max(rowid), not count(*): the answers table only grows here, and this runs on the loop every 5 ms
            return int(counter.execute("SELECT coalesce(max(rowid), 0) FROM answers").fetchone()[0])

        start, cpu = wall(), time.process_time()
        for a in answers:
            standin.user_answers_poll(a.poll_id, a.user, [a.option])
        progress, changed = 0, wall()
        while (now := stored()) < len(answers) and wall() - changed < STALL:
            if now != progress:
                progress, changed = now, wall()
            await asyncio.sleep(0.005)
        seconds, cpu = wall() - start, time.process_time() - cpu
        await asyncio.sleep(SETTLE)
        total, distinct, correct = counter.execute(
            "SELECT count(*), count(DISTINCT poll_id || ':' || user_id), coalesce(sum(correct), 0) FROM answers"
        ).fetchone()
        counter.close()
        key = {p: svc.store.poll(p) for p in {a.poll_id for a in answers}}
        # Right means exactly the correct set: one option given on a multiple-answer poll is wrong.
        expected = sum(1 for a in answers
                       if (rec := key[a.poll_id]) is not None and answer_is_right([a.option], rec.correct_set))
        return QuizRun(len(answers), seconds, total, distinct, correct, expected, cpu)


async def run_baseline(sizes: Sizes) -> QuizRun:
    """A bare PTB bot that sends the same number of quiz polls and only counts the answers."""
    counted = 0
    done = asyncio.Event()
    target = sizes.answers

    async def count(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal counted
        counted += 1
        if counted >= target:
            done.set()

    chats = [GROUP_BASE - g for g in range(sizes.quiz_groups)]
    async with new_standin(limits=False) as standin, bare_bot(standin, [PollAnswerHandler(count)]) as app:
        for chat in chats:
            await app.bot.send_poll(chat, "问题", ["甲", "乙", "丙", "丁"], type=Poll.QUIZ, is_anonymous=False,
                                    correct_option_ids=[0], open_period=OPEN_PERIOD)
        answers = plan_answers(standin, chats, target)
        start, cpu = wall(), time.process_time()
        for a in answers:
            standin.user_answers_poll(a.poll_id, a.user, [a.option])
        await done.wait()
        return QuizRun(target, wall() - start, cpu=time.process_time() - cpu)


async def run(workdir: Path, sizes: Sizes) -> list[Row]:
    bots: list[QuizRun] = []
    bases: list[QuizRun] = []
    for _ in range(sizes.repeats):
        bases.append(await run_baseline(sizes))
        bots.append(await run_studybot(workdir, sizes))
    name = f"quiz ({sizes.answers:,} answers, {sizes.quiz_groups} groups)"
    last = bots[-1]
    return [
        Row(name, "answers/s", max(b.rate for b in bots), max(b.rate for b in bases),
            Goal("ratio", ">=", 0.8, "ratio ≥ 0.8 *"), baseline_label="PTB counter"),
        # Steadier than the rates on a shared machine: each side's best run, the stand-in's share in both.
        Row(name, "CPU µs per answer (whole process, best run)", min(b.cpu_us for b in bots),
            min(b.cpu_us for b in bases), digits=0, baseline_label="PTB counter"),
        Row(name, "stored answers − distinct answers given", last.stored - last.answers, goal=value_is(0), digits=0),
        Row(name, "stored answers − distinct (poll, member)", last.stored - last.distinct, goal=value_is(0),
            digits=0),
        Row(name, "correct scored − correct given", last.correct - last.expected_correct, goal=value_is(0),
            digits=0),
    ]
