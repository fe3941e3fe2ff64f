"""Quiz rounds in a chat: send quiz polls one after another, score answers, post results. State lives in the store."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from telegram import Bot, Poll
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes, JobQueue

from bot import render
from bot.retry import follow_migration
from bot.services import Services
from bot.store import AnswerRecord, PollRecord, Round, Store
from content.questions import Question
from content.roundplan import RoundPlanner

log = logging.getLogger(__name__)
# Poll closing is driven by our own timer as well as Telegram's poll update: whichever comes first wins.
CLOSE_MARGIN = 1.5


@dataclass(frozen=True)
class Scope:
    refs: frozenset[str]
    label: str  # shown in the chat: "全文", "已学内容", "二、3"


class QuizRounds:
    """One running round per chat at most; every step is recorded so a restart can resume."""

    def __init__(self, svc: Services, bot: Bot, job_queue: JobQueue,
                 questions: Sequence[Question], rng: random.Random | None = None,
                 now: Callable[[], float] | None = None) -> None:
        self.svc = svc
        self.bot = bot
        self.job_queue = job_queue
        self.questions = {q.id: q for q in questions}
        # Footprints of every question, worked out once: rounds never hold two that give each other away.
        self.planner = RoundPlanner(svc.doc, self.questions.values())
        self.rng = rng or random.Random()
        # One clock for the whole bot: a daily round's closing time is set from the same clock the push used.
        self.now = now or (lambda: svc.clock().timestamp())
        # Group quiz polls this process sent or resumed: an answer to one is posted to the store, not awaited.
        self._ours: set[str] = set()

    # --- starting and asking -----------------------------------------------------------------------------

    async def start(self, chat_id: int, user_id: int, count: int, scope: Scope,
                    closes_at: float | None = None) -> str | None:
        """Start a round; returns a refusal to show instead, or None when the first poll is out.

        With `closes_at` it is the daily round after a push: every poll goes out at once and stays open until then
        (our own timer stops them: Telegram's open_period ends at 600 s); it runs beside any /quiz round, and a daily
        round still open from before is closed with its results first.
        """
        db = self.svc.db
        kind = "quiz" if closes_at is None else "daily"
        running, recent = await db(lambda s: (s.running_round(chat_id, kind), s.recent_question_ids(chat_id)))
        if running is not None and kind == "daily":
            await self.close_daily(running)
        elif running is not None:
            return render.quiz_already_running()
        picked = self.planner.pick(count, scope.refs, self.rng, recent)
        if not picked:
            return render.quiz_no_questions(scope.label)
        ids, started_at = [q.id for q in picked], self.now()
        rnd = await db(lambda s: s.start_round(chat_id, user_id, ids, scope.label, started_at, kind, closes_at))
        if rnd is None:
            return render.quiz_already_running()
        intro = (render.quiz_intro(len(picked), scope.label, self.svc.config.quiz.open_period) if closes_at is None
                 else render.daily_quiz_intro(len(picked), await self._local_close(chat_id, closes_at)))
        try:
            await self.bot.send_message(chat_id, intro, parse_mode="HTML")
        except TelegramError:
            await db(lambda s: s.end_round(rnd.id, "stopped"))  # never leave the group with a round nobody can see
            raise
        await self._ask(rnd)
        return None

    async def _ask(self, rnd: Round) -> None:
        question = self.questions.get(rnd.question_ids[rnd.position])
        if question is None:  # the bank changed since the round started: skip the question
            await self._next(rnd)
            return
        options, correct = question.shuffled(self.rng)
        period: int | None = self.svc.config.quiz.open_period
        closes_at = self.now() + (period or 0)
        if rnd.closes_at is not None:  # daily: Telegram may close it itself only within its 600 s maximum
            closes_at = rnd.closes_at
            left = int(closes_at - self.now())
            period = left if 5 <= left <= 600 else None
        target = [rnd.chat_id]

        async def migrated(new_id: int) -> None:
            old_id = target[0]
            await self.svc.db(lambda s: s.migrate_chat(old_id, new_id))
            target[0] = new_id

        try:
            message = await follow_migration(lambda: self.bot.send_poll(
                target[0], render.quiz_question(question.question, rnd.position + 1, len(rnd.question_ids),
                                                question.multiple),
                [render.quiz_option(o) for o in options], type=Poll.QUIZ, is_anonymous=False,
                allows_multiple_answers=question.multiple,
                correct_option_ids=list(correct),  # type: ignore[arg-type]  # PTB types ids as Literal[0..11]
                explanation=render.quiz_explanation(question.explanation), open_period=period),
                migrated)
        except (BadRequest, Forbidden) as exc:
            await self._abort(rnd, exc)
            return
        except TelegramError as exc:
            # Still failing after retries: rather than leave the group stuck, end the round with its results.
            log.warning("quiz in chat %s: sending a poll failed: %s", rnd.chat_id, exc)
            await self.finish(rnd, "stopped")
            return
        assert message.poll is not None
        record = PollRecord(poll_id=message.poll.id, round_id=rnd.id, chat_id=target[0],
                            message_id=message.message_id, question_id=question.id, ref=question.ref,
                            correct_index=correct[0], position=rnd.position, closes_at=closes_at,
                            closed=False, correct_ids=correct if question.multiple else ())

        def record_if_running(store: Store) -> bool:
            # One store call, submitted with no await since the send returned: an answer that arrives at once
            # is looked up after this, and finds the poll.
            current = store.round(rnd.id)
            if current is None or current.status != "running":
                return False
            store.record_poll(record)
            return True

        if not await self.svc.db(record_if_running):  # stopped while the poll was on its way
            with contextlib.suppress(TelegramError):
                await self.bot.stop_poll(target[0], message.message_id)
            return
        self._ours.add(record.poll_id)
        if rnd.kind == "daily":  # the next question at once; the round closes on its timer (close_due)
            if rnd.position + 1 < len(rnd.question_ids):
                await self._ask(await self.svc.db(lambda s: s.advance_round(rnd.id)))
            return
        self._schedule_close(record)

    def _schedule_close(self, poll: PollRecord) -> None:
        delay = max(0.0, poll.closes_at - self.now()) + CLOSE_MARGIN
        self.job_queue.run_once(self._close_job, delay, data=poll.poll_id, name=f"quiz-close:{poll.poll_id}")

    async def _close_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        poll_id = context.job.data if context.job else None
        if isinstance(poll_id, str):
            await self.poll_closed(poll_id)

    async def poll_closed(self, poll_id: str) -> None:
        """The poll's time is up (our timer or Telegram's poll update): move the round on, once."""
        def close(store: Store) -> tuple[PollRecord, Round | None] | None:
            poll = store.poll(poll_id)
            if poll is None or not store.close_poll(poll_id):
                return None
            return poll, store.round(poll.round_id)

        closed = await self.svc.db(close)
        if closed is None:
            return
        poll, rnd = closed
        if rnd is not None and rnd.status == "running" and rnd.kind == "quiz" and rnd.position == poll.position:
            await self._next(rnd)

    async def _next(self, rnd: Round) -> None:
        if rnd.kind == "daily" and rnd.position + 1 >= len(rnd.question_ids):
            return  # every question is out: the round waits for its closing time
        if rnd.position + 1 >= len(rnd.question_ids):
            await self.finish(rnd, "finished")
            return
        await self._ask(await self.svc.db(lambda s: s.advance_round(rnd.id)))

    async def _abort(self, rnd: Round, exc: TelegramError) -> None:
        log.info("quiz in chat %s cannot send polls: %s", rnd.chat_id, exc)
        await self.svc.db(lambda s: s.end_round(rnd.id, "stopped"))
        try:
            await self.bot.send_message(rnd.chat_id, render.quiz_cannot_send_polls())
        except TelegramError:
            log.info("chat %s cannot be written to either", rnd.chat_id)

    # --- answers, stopping and results --------------------------------------------------------------------

    async def answer(self, poll_id: str, user_id: int, name: str, option_ids: Sequence[int]) -> bool:
        """Record a member's first answer while the poll is open (a later one, a late one, a retraction do not
        count); False when the poll is not a group quiz poll (nor one from before the records began).

        A multiple-answer quiz sends all chosen options at once: they are scored together, right only when exact.
        One hot store call (group-committed with the answers around it): answers come in bursts. To a poll this
        process sent, it is posted and not awaited (the handler needs nothing back, and the update fetcher
        flushes the store before it confirms the update); any other poll is looked up first.
        """
        if not option_ids:
            return poll_id in self._ours
        option, now = tuple(option_ids), self.now()

        def record(store: Store) -> bool | None:
            """A hot call: atomic without an atomic() of its own (bot/storeworker.py)."""
            found = store.poll_and_zone(poll_id)
            if found is None:
                return None
            poll, zone = found
            counted = store.record_answer(poll, user_id, option, now, self.svc.local_date(zone))
            if counted:
                store.remember_member(poll.chat_id, user_id, name)
            return counted

        if poll_id in self._ours:
            self.svc.db.post(record)
            return True
        return await self.svc.db(record, hot=True) is not None

    async def stop(self, chat_id: int) -> bool:
        """End the chat's round early with its results so far; False if none was running."""

        def close_all(store: Store) -> tuple[Round, list[PollRecord]] | None:
            """The running round and the polls this call closed."""
            rnd = store.running_round(chat_id)
            if rnd is None:
                return None
            return rnd, [p for p in store.round_polls(rnd.id) if store.close_poll(p.poll_id)]

        found = await self.svc.db(close_all)
        if found is None:
            return False
        rnd, closed = found
        for poll in closed:
            try:
                await self.bot.stop_poll(chat_id, poll.message_id)
            except TelegramError as exc:
                log.info("could not stop poll %s: %s", poll.poll_id, exc)
        await self.finish(rnd, "stopped")
        return True

    async def finish(self, rnd: Round, status: str) -> None:
        def end(store: Store) -> tuple[list[PollRecord], list[AnswerRecord], dict[int, str]] | None:
            if not store.end_round(rnd.id, status):
                return None  # someone else already posted the results
            return store.round_polls(rnd.id), store.round_answers(rnd.id), store.member_names(rnd.chat_id)

        ended = await self.svc.db(end)
        if ended is None:
            return
        polls, answers, names = ended
        text = render.quiz_results(self.svc.doc, polls=polls, answers=answers, names=names,
                                   questions=self.questions, stopped=status == "stopped")
        if rnd.kind == "daily":
            text = render.daily_quiz_closed() + text
        try:
            await self.bot.send_message(rnd.chat_id, text, parse_mode="HTML",
                                        reply_markup=render.review_link_keyboard(self.bot.username, rnd.chat_id))
        except TelegramError as exc:
            log.warning("could not post quiz results to %s: %s", rnd.chat_id, exc)

    # --- daily rounds: open for hours, closed by our own timer -----------------------------------------------

    async def _local_close(self, chat_id: int, closes_at: float) -> datetime:
        group = await self.svc.db(lambda s: s.group(chat_id))
        zone = ZoneInfo(group.timezone if group else self.svc.config.push.default_timezone)
        return datetime.fromtimestamp(closes_at, zone)

    async def close_due(self) -> int:
        """Close every daily round whose time is up (the minute tick calls this; restart-safe by construction)."""
        now = self.now()
        due = await self.svc.db(lambda s: [r for r in s.running_rounds()
                                           if r.closes_at is not None and r.closes_at <= now])
        for rnd in due:
            await self.close_daily(rnd)
        return len(due)

    async def close_daily(self, rnd: Round) -> None:
        """Stop the round's open polls, then post its results (once, whoever gets here first)."""
        closed = await self.svc.db(lambda s: [p for p in s.round_polls(rnd.id) if s.close_poll(p.poll_id)])
        for poll in closed:
            try:
                await self.bot.stop_poll(poll.chat_id, poll.message_id)
            except TelegramError as exc:  # closed by Telegram already (open_period), or deleted
                log.info("could not stop poll %s: %s", poll.poll_id, exc)
        await self.finish(rnd, "finished")

    async def resume_all(self) -> None:
        """After a restart: every running round continues where it was (or ends if its time is long gone)."""
        running = await self.svc.db(lambda s: [(r, s.round_polls(r.id)) for r in s.running_rounds()])
        for rnd, polls in running:
            self._ours.update(p.poll_id for p in polls if not p.closed)
            current = next((p for p in polls if p.position == rnd.position), None)
            try:
                if rnd.kind == "daily":
                    if rnd.closes_at is not None and rnd.closes_at <= self.now():
                        await self.close_daily(rnd)
                    elif current is None:
                        await self._ask(rnd)  # the restart came while its polls were going out
                    elif rnd.position + 1 < len(rnd.question_ids):
                        await self._ask(await self.svc.db(partial(Store.advance_round, round_id=rnd.id)))
                    continue
                if current is None:
                    await self._ask(rnd)
                elif current.closed or current.closes_at <= self.now():
                    await self.svc.db(partial(Store.close_poll, poll_id=current.poll_id))
                    await self._next(rnd)
                else:
                    self._schedule_close(current)
            except TelegramError as exc:
                log.warning("could not resume the quiz in %s: %s", rnd.chat_id, exc)
