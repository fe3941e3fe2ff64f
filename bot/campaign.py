"""Campaign records at run time: the 已学习 button's data and live count, the roster cache, and the minute tick that
sends evening reminders, closes daily quizzes and posts end-of-plan summaries.

Rules live in `content/attendance.py` and `schedules/campaign.py`; records in the store; wording in the renderer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

from bot import render
from bot.quizrounds import QuizRounds
from bot.reports import send_export
from bot.services import Services
from bot.store import Group, Store
from content.attendance import current_cycle, summarize, to_remind
from schedules.campaign import daily_quiz_close, reminder_due

log = logging.getLogger(__name__)
CHECKIN_DATA = re.compile(r"^ck:(\d{1,5}):(\d{8})$")


def checkin_data(day: int, push_date: date) -> str:
    """The 已学习 button's callback data: the plan day and the push's local date (checked against the ledger)."""
    return f"ck:{day}:{push_date:%Y%m%d}"


def parse_checkin_data(data: str) -> tuple[int, date] | None:
    found = CHECKIN_DATA.match(data)
    if found is None:
        return None
    try:
        return int(found.group(1)), datetime.strptime(found.group(2), "%Y%m%d").date()
    except ValueError:
        return None


async def checkin_button(svc: Services, chat_id: int, day: int) -> tuple[str, int] | None:
    """(data, count) for the button under the reading of `day`, if it is the group's latest push."""
    def find(store: Store) -> tuple[str, int] | None:
        last = store.last_push(chat_id)
        if last is None or last[1] != day:
            return None
        return checkin_data(day, last[0]), store.checkin_count(chat_id, last[0])

    return await svc.db(find)


def with_count(markup: InlineKeyboardMarkup, count: int) -> InlineKeyboardMarkup:
    """The same keyboard with the 已学习 button's label showing `count`."""
    rows = [[InlineKeyboardButton(render.checkin_label(count), callback_data=b.callback_data)
             if isinstance(b.callback_data, str) and b.callback_data.startswith("ck:") else b for b in row]
            for row in markup.inline_keyboard]
    return InlineKeyboardMarkup(rows)


@dataclass
class CountEditor:
    """Keeps each message's 已学习 count current with at most one keyboard edit per `interval` seconds.

    Presses in between are coalesced into the next edit, which reads the count from the store: edits count against
    Telegram's ~20 messages a minute per group, so a burst of 50 presses costs two edits, not 50.
    """

    svc: Services
    bot: Bot
    interval: float = 5.0
    _last: dict[tuple[int, int], float] = field(default_factory=dict)
    _pending: dict[tuple[int, int], tuple[InlineKeyboardMarkup, date]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def touch(self, chat_id: int, message_id: int, markup: InlineKeyboardMarkup, push_date: date) -> None:
        """A press was recorded on this message: make sure an edit follows, soon but not too soon."""
        key = (chat_id, message_id)
        scheduled = key in self._pending
        self._pending[key] = (markup, push_date)
        if scheduled:
            return
        delay = max(0.0, self._last.get(key, float("-inf")) + self.interval - clock.monotonic())
        task = asyncio.get_running_loop().create_task(self._edit_later(key, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _edit_later(self, key: tuple[int, int], delay: float) -> None:
        await asyncio.sleep(delay)
        # Taken before reading the count: a press from here on schedules the next edit.
        markup, push_date = self._pending.pop(key)
        self._last[key] = clock.monotonic()
        self._forget_old()
        chat_id, message_id = key
        try:
            count = await self.svc.db(lambda s: s.checkin_count(chat_id, push_date))
            updated = with_count(markup, count)
            if updated != markup:
                await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=updated)
        except BadRequest as exc:  # not modified, or the message is gone: the count is only a courtesy
            log.info("could not update the check-in count in %s: %s", chat_id, exc)
        except TelegramError as exc:
            log.warning("could not update the check-in count in %s: %s", chat_id, exc)

    def _forget_old(self) -> None:
        if len(self._last) > 1000:
            cutoff = clock.monotonic() - self.interval
            self._last = {k: t for k, t in self._last.items() if t >= cutoff}

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass
class RosterCache:
    """Who the store already knows, so a busy group's every message is not a write."""

    refresh: float = 3600.0  # seconds before a sighting is written again (seen_at)
    _known: dict[tuple[int, int], tuple[str, str | None, float]] = field(default_factory=dict)

    def fresh(self, chat_id: int, user_id: int, name: str, username: str | None) -> bool:
        """True if this sighting changes nothing worth writing; otherwise it is remembered as written."""
        key, now = (chat_id, user_id), clock.monotonic()
        known = self._known.get(key)
        if known is not None and known[:2] == (name, username) and now - known[2] < self.refresh:
            return True
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[key] = (name, username, now)
        return False

    def forget(self, chat_id: int, user_id: int) -> None:
        self._known.pop((chat_id, user_id), None)


class CampaignTick:
    """Once a minute: close daily quizzes whose time is up, remind, and sum up finished plans. Restart-safe: every
    'once' is claimed in the store."""

    def __init__(self, svc: Services, bot: Bot, rounds: QuizRounds) -> None:
        self.svc = svc
        self.bot = bot
        self.rounds = rounds

    async def run_now(self) -> None:
        for step in (self.rounds.close_due, self.remind_due, self.summaries_due):
            try:
                await step()
            except Exception:  # one failing step must not stop the others, nor the next minute
                log.exception("campaign tick: %s failed", step.__name__)

    async def remind_due(self) -> int:
        """Send each due group's evening reminder, once per local day; returns how many were sent."""
        now = self.svc.clock()
        groups = await self.svc.db(lambda s: [(r, s.group(r.chat_id)) for r in s.reminders()])
        sent = 0
        for reminder, group in groups:
            if group is None or not group.active or reminder.remind_time is None:
                continue
            today = reminder_due(reminder.remind_time, group.timezone, now, reminder.reminded_on)
            if today is not None and await self._remind(group.chat_id, today):
                sent += 1
        return sent

    async def _remind(self, chat_id: int, today: date) -> bool:
        def pick(store: Store) -> tuple[int, list[tuple[int, str]]] | None:
            day = store.pushed_day(chat_id, today)
            if day is None or not store.claim_reminder(chat_id, today):
                return None  # no push today (yet): nothing to remind of; looked at again next minute
            roster = store.roster(chat_id)
            checked = {c.user_id for c in store.checkins(chat_id, today, today)}
            names = {m.user_id: m.name for m in roster}
            missing = to_remind([m.user_id for m in roster], checked, store.excused_on(chat_id, today))
            return day, [(uid, names[uid]) for uid in missing]

        picked = await self.svc.db(pick)
        if picked is None or not picked[1]:
            return False
        text = render.reminder(*picked)
        try:
            await self.bot.send_message(chat_id, text, parse_mode="HTML")
        except TelegramError as exc:  # claimed, so never twice: a lost reminder is the lesser harm
            log.warning("could not send the reminder to %s: %s", chat_id, exc)
            return False
        return True

    async def summaries_due(self) -> int:
        """Post the completion summary to groups whose plan ended, once the last day's quiz has closed."""
        now, total = self.svc.clock(), len(self.svc.plan)
        ended = await self.svc.db(lambda s: [(g, d) for g, d in s.plan_ends(total)])
        posted = 0
        for group, push_date in ended:
            if now >= self.day_closes(group, push_date) and await self._post_summary(group, push_date, now):
                posted += 1
                await self._export_to_admins(group)
        return posted

    async def _export_to_admins(self, group: Group) -> None:
        """The plan is finished: each admin gets the full 学习台账 in private (issue 10b), for the records."""
        for admin in sorted(await self.svc.admins.admin_ids(self.bot, group.chat_id)):
            try:
                await send_export(self.bot, self.svc, admin, group.chat_id, note=render.plan_finished_export())
            except TelegramError as exc:  # the summary stands; a missed export is asked for with /export
                log.warning("could not send the final export to admin %s of %s: %s", admin, group.chat_id, exc)

    async def _post_summary(self, group: Group, push_date: date, now: datetime) -> bool:
        text = await self.svc.db(lambda s: self._summary(s, group, push_date, now.timestamp()))
        if text is None:
            return False
        try:
            await self.bot.send_message(group.chat_id, text, parse_mode="HTML")
        except TelegramError as exc:
            log.warning("could not send the completion summary to %s: %s", group.chat_id, exc)
            return False
        return True

    def day_closes(self, group: Group, push_date: date) -> datetime:
        """When the push of `push_date` is over: its daily quiz's close (the completion summary waits for it)."""
        zone = ZoneInfo(group.timezone)
        pushed = datetime.combine(push_date, group.push_time, tzinfo=zone)
        return daily_quiz_close(pushed, group.timezone, self.svc.config.quiz.daily_until)

    def _summary(self, store: Store, group: Group, push_date: date, now: float) -> str | None:
        """The summary text, if this call claimed the right to send it."""
        if not store.claim_completion(group.chat_id, push_date, now):
            return None
        cycle = current_cycle(store.pushes(group.chat_id, until=push_date))
        dates = [d for d, _ in cycle]
        first = dates[0] if dates else push_date
        members = [m.user_id for m in store.roster(group.chat_id)]
        checkins = [(c.user_id, c.push_date) for c in store.checkins(group.chat_id, first, push_date)]
        excused = [(e.user_id, first + timedelta(days=i)) for e in store.excuses(group.chat_id, first, push_date)
                   for i in range((push_date - first).days + 1) if e.covers(first + timedelta(days=i))]
        answers = [a.correct for a in store.answers_between(group.chat_id, first, push_date)]
        return render.completion_summary(self.svc.doc, summarize(dates, members, checkins, excused, answers))


CAMPAIGN_KEY = "campaign"


@dataclass
class CampaignState:
    """What the records handlers share at run time (kept in bot_data): the roster cache and the count editor."""

    roster: RosterCache
    counts: CountEditor
