"""Personal review in private chat: each member's missed questions come back as private quiz polls, spaced by FSRS.

A review is a short series (config `review.questions_per_review`) of the member's due cards for one group, asked one
poll at a time: each answer moves its card (schedules/review.py) and brings the next. Cards start from the member's
misses in that group's quizzes; only questions on sections the group has already read are ever asked. State lives
in the store, so a restart loses nothing: the open poll is still answered, and /review continues.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from telegram import Bot, Poll
from telegram.error import Forbidden, TelegramError

from bot import render
from bot.services import Services
from bot.store import AnswerRecord, Group, ReviewPoll, Store
from content.questions import Question
from content.readings import sentence_containing
from content.scoring import answer_is_right
from schedules.review import (
    Answered,
    ReviewCard,
    ReviewSchedule,
    cards_from_answers,
    due_cards,
    fresh_questions,
    mastery,
    next_due,
)

log = logging.getLogger(__name__)
REVIEW_KEY = "studybot.review"
FRESH_OFFER = 3  # new questions offered when nothing is due


@dataclass(frozen=True)
class Standing:
    """A member's review state for one group, read in one store call."""

    group: Group | None
    cards: tuple[ReviewCard, ...]
    answers: tuple[Answered, ...]


class PersonalReview:
    """Starts reviews, takes their answers and sends the daily reminders; one instance per bot."""

    def __init__(self, svc: Services, bot: Bot, questions: Sequence[Question],
                 rng: random.Random | None = None) -> None:
        self.svc = svc
        self.bot = bot
        self.questions = {q.id: q for q in questions}
        self.schedule = ReviewSchedule(svc.config.review.desired_retention)
        self.rng = rng or random.Random()

    # --- what the member may be asked ----------------------------------------------------------------------

    def readable(self, group: Group | None) -> frozenset[str]:
        """Sections the group has been sent so far: review never asks about what nobody has read yet."""
        if group is None:
            return frozenset()
        return frozenset(ref for reading in self.svc.plan[:self.svc.days_sent(group)] for ref in reading.refs)

    async def standing(self, user_id: int, chat_id: int) -> Standing:
        """The member's cards for this group, with cards added for every quiz miss not yet carded."""
        now = self.svc.clock()

        def load(store: Store) -> Standing:
            self._card_new_misses(store, chat_id, user_id, now)
            answers = tuple(_answered(a, now) for a in store.member_answers(chat_id, user_id))
            return Standing(store.group(chat_id), tuple(store.review_cards(chat_id, user_id)), answers)

        return await self.svc.db(load)

    def _card_new_misses(self, store: Store, chat_id: int, user_id: int, now: datetime) -> None:
        """Cards for the member's quiz misses in this group that have none yet (runs on the store thread)."""
        fresh = tuple(_answered(a, now) for a in store.uncarded_answers(chat_id, user_id))
        added = cards_from_answers(self.schedule, fresh, ())
        if added:
            store.save_review_cards(chat_id, user_id, added)

    def mastery(self, standing: Standing) -> dict[str, float]:
        return mastery(self.schedule, standing.cards, standing.answers, self.svc.clock())

    # --- a review ------------------------------------------------------------------------------------------

    async def begin(self, user_id: int, chat_id: int) -> None:
        """Ask the member's first due question for this group, or say when the next one is due."""
        standing = await self.standing(user_id, chat_id)
        readable = self.readable(standing.group)
        due = self._due(standing.cards, readable)
        title = standing.group.title if standing.group else ""
        if not due:
            when = next_due(standing.cards, readable)
            zone = ZoneInfo(standing.group.timezone if standing.group else self.svc.config.push.default_timezone)
            can_offer = bool(self._fresh(standing, readable))
            await self.bot.send_message(user_id, render.review_nothing_due(title, when, zone, self.svc.clock()),
                                        parse_mode="HTML",
                                        reply_markup=render.review_fresh_keyboard(chat_id) if can_offer else None)
            return
        limit = min(len(due), self.svc.config.review.questions_per_review)
        await self.bot.send_message(user_id, render.review_intro(title, limit), parse_mode="HTML")
        await self._ask(user_id, chat_id, uuid.uuid4().hex, 0, due[0])

    async def begin_fresh(self, user_id: int, chat_id: int) -> None:
        """Nothing was due: a few questions never asked yet, on the group's latest readings."""
        standing = await self.standing(user_id, chat_id)
        picked = self._fresh(standing, self.readable(standing.group))
        if not picked:
            await self.bot.send_message(user_id, render.review_no_fresh(), parse_mode="HTML")
            return
        now = self.svc.clock()
        cards = [self.schedule.new_card(q, self.questions[q].ref, now) for q in picked]
        await self.svc.db(lambda s: s.save_review_cards(chat_id, user_id, cards))
        await self.begin(user_id, chat_id)

    async def answered(self, poll_id: str, user_id: int, option_ids: Sequence[int]) -> bool:
        """A member answered a review poll: move its card, explain a miss, ask the next. False if not a review poll."""
        if not option_ids:
            return False
        now = self.svc.clock()

        def take(store: Store) -> tuple[ReviewPoll, bool, list[ReviewPoll]] | None:
            """Record the answer once and move its card, in one transaction."""
            with store.atomic():
                poll = store.unanswered_review_poll(poll_id, user_id)
                if poll is None:
                    return None
                right = answer_is_right(option_ids, poll.correct_ids)
                store.answer_review_poll(poll_id, right)
                card = next((c for c in store.review_cards(poll.chat_id, user_id)
                             if c.question_id == poll.question_id), None)
                if card is not None:
                    store.save_review_cards(poll.chat_id, user_id, [self.schedule.review(card, right, now)])
                return poll, right, store.session_polls(poll.session)

        taken_answer = await self.svc.db(take)
        if taken_answer is None:
            return False
        taken, correct, asked = taken_answer
        question = self.questions.get(taken.question_id)
        if not correct and question is not None:
            await self.bot.send_message(user_id, render.review_missed(self.svc.doc, question,
                                                                      self._proof(question)), parse_mode="HTML")
        await self._continue(user_id, taken, asked)
        return True

    async def _continue(self, user_id: int, last: ReviewPoll, asked: Sequence[ReviewPoll]) -> None:
        standing = await self.standing(user_id, last.chat_id)
        readable = self.readable(standing.group)
        done = {p.question_id for p in asked}
        due = [c for c in self._due(standing.cards, readable) if c.question_id not in done]
        if due and len(asked) < self.svc.config.review.questions_per_review:
            await self._ask(user_id, last.chat_id, last.session, len(asked), due[0])
            return
        right = sum(1 for p in asked if p.correct)
        when = next_due(standing.cards, readable)
        zone = ZoneInfo(standing.group.timezone if standing.group else self.svc.config.push.default_timezone)
        await self.bot.send_message(user_id, render.review_done(right, len(asked), when, zone, self.svc.clock()),
                                    parse_mode="HTML")

    def _due(self, cards: Sequence[ReviewCard], readable: frozenset[str]) -> list[ReviewCard]:
        known = [c for c in cards if c.question_id in self.questions]
        return due_cards(known, self.svc.clock(), readable, limit=len(known))

    def _fresh(self, standing: Standing, readable: frozenset[str]) -> list[str]:
        if standing.group is None:
            return []
        sent = self.svc.plan[:self.svc.days_sent(standing.group)]
        recent = [ref for reading in reversed(sent) for ref in reading.refs]
        refs = {q.id: q.ref for q in self.questions.values() if q.ref in readable}
        return fresh_questions(refs, {c.question_id for c in standing.cards}, recent, FRESH_OFFER)

    def _proof(self, question: Question) -> str | None:
        """The sentence of the speech that states the answer, when it can be found in the cited section."""
        if not self.svc.doc.has(question.ref):
            return None
        text = self.svc.doc.section(question.ref).text
        return sentence_containing(text, question.support or question.answer)

    async def _ask(self, user_id: int, chat_id: int, session: str, position: int, card: ReviewCard) -> None:
        question = self.questions[card.question_id]
        options, correct = question.shuffled(self.rng)
        message = await self.bot.send_poll(  # passing failures are retried by the request layer (bot/retry.py)
            user_id, render.review_question(question.question, position + 1, question.multiple),
            [render.quiz_option(o) for o in options], type=Poll.QUIZ, is_anonymous=False,
            allows_multiple_answers=question.multiple,
            correct_option_ids=list(correct),  # type: ignore[arg-type]  # PTB types ids as Literal[0..11]
            explanation=render.quiz_explanation(question.explanation))
        assert message.poll is not None
        record = ReviewPoll(poll_id=message.poll.id, user_id=user_id, chat_id=chat_id, question_id=question.id,
                            correct_ids=correct, session=session, position=position, answered=False)
        await self.svc.db(lambda s: s.record_review_poll(record))

    # --- reminders -----------------------------------------------------------------------------------------

    async def remind(self) -> int:
        """Send today's reminder to every member whose time has come and who has cards due; returns how many."""
        now = self.svc.clock()
        sent = 0
        for reminder in await self.svc.db(lambda s: s.review_reminders()):
            local = now.astimezone(ZoneInfo(reminder.timezone))
            if local.time() >= reminder.at and reminder.last_sent != local.date():
                sent += await self._remind(reminder.user_id, local.date(), now)
        return sent

    async def _remind(self, user_id: int, today: date, now: datetime) -> int:
        # The day is claimed first, so the due count is worked out once a day per member, not every minute.
        if not await self.svc.db(lambda s: s.mark_review_reminded(user_id, today)):
            return 0  # another tick (or process) did today's
        due = await self._due_count(user_id)
        if due == 0:
            return 0
        try:
            await self.bot.send_message(user_id, render.review_reminder(due), parse_mode="HTML")
            return 1
        except Forbidden:
            log.info("member %s blocked the bot: reminders off", user_id)
            await self.svc.db(lambda s: s.set_review_reminder(user_id, None, ""))
        except TelegramError as exc:
            log.warning("could not send the review reminder to %s: %s", user_id, exc)
        return 0

    async def _due_count(self, user_id: int) -> int:
        """Due cards on readable sections, over the groups the member reviews and has not left.

        Once a day per member and for every member at the same minute, so it stays in SQL: only quiz misses not yet
        carded become cards here (as `standing` would make them), and the due cards are counted by the due index.
        """
        now = self.svc.clock()

        def count(store: Store) -> int:
            total = 0
            for chat_id, _, _ in store.review_groups(user_id):
                self._card_new_misses(store, chat_id, user_id, now)
                readable = self.readable(store.group(chat_id))
                total += sum(1 for question_id, ref in store.due_review_refs(chat_id, user_id, now)
                             if ref in readable and question_id in self.questions)
            return total

        return await self.svc.db(count)


def _answered(answer: AnswerRecord, now: datetime) -> Answered:
    return Answered(answer.question_id, answer.ref, answer.correct, datetime.fromtimestamp(answer.answered_at,
                                                                                           now.tzinfo))
