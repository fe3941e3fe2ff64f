"""From the store and the loaded content to a `records.Campaign`, and from there to reports and export files.

`load_campaign` runs on the store's thread (it is one `svc.db` call); the counting and the file writing run on a
thread of their own (`asyncio.to_thread`), so neither the event loop nor the store waits for a 5,000-member table.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden

from bot import render
from bot.channels_view import with_channels
from bot.services import Services
from bot.store import Store
from records import chart, wording
from records.export import csv_files, write_export
from records.ledger import Summary, summarize
from records.model import Answer, Asked, Campaign, CheckIn, Excuse, Mastery, Member, Period, PushDay
from records.period import parse_period
from schedules.review import Answered, ReviewSchedule, mastery

log = logging.getLogger(__name__)
T = TypeVar("T")
CHART_MOST_DAYS = 31  # a chart of more push days than this would be unreadable on a phone
PRIVATE_MESSAGES_MOST = 4  # a longer member table goes as a CSV document


class _Parsed(dict[str, T]):
    """ISO text to a value, each distinct text parsed once (60 dates for 300,000 rows)."""

    def __init__(self, parse: Callable[[str], T]) -> None:
        super().__init__()
        self.parse = parse

    def __call__(self, text: str) -> T:
        found = self.get(text)
        if found is None:
            found = self[text] = self.parse(text)
        return found


def _ref_names(svc: Services) -> dict[str, str]:
    """Section refs as the record shows them: numbers stay (2.3 sorts and reads well), opening/closing in Chinese."""
    return {s.ref: s.label for s in svc.doc.sections() if not s.ref.replace(".", "").isdigit()}


def load_campaign(store: Store, svc: Services, chat_id: int, period: Period, today: date,
                  with_mastery: bool = True) -> Campaign:
    """The group's record for `period`; call it on the store thread (`await svc.db(lambda s: load_campaign(...))`)."""
    group = store.group(chat_id)
    zone = ZoneInfo(group.timezone if group else svc.config.push.default_timezone)
    facts = store.record_facts(chat_id, period.first, period.last)
    texts = {q.id: q.question for q in svc.questions}
    names = _ref_names(svc)
    push_days = tuple(
        PushDay(day_date, day, render.reading_title(svc.doc, svc.reading(day)),
                tuple(names.get(r, r) for r in svc.reading(day).refs))
        for day_date, day in facts.pushed)
    asked = []
    for question_id, ref, closes_at in facts.asked:
        day = datetime.fromtimestamp(closes_at, zone).date()
        if day in period:
            asked.append(Asked(question_id, names.get(ref, ref), texts.get(question_id, ""), day))
    members = []
    for m in facts.members:
        # The roster counts a member on the day they joined and on the day they left (issue10a's rule).
        joined = datetime.fromtimestamp(m.joined_at, zone).date() if m.joined_at is not None else None
        left = datetime.fromtimestamp(m.left_at, zone).date() + timedelta(days=1) if m.left_at is not None else None
        member = Member(m.user_id, m.name, joined, left)
        if (joined is None or joined <= period.last) and (left is None or left > period.first):
            members.append(member)
    days = _Parsed(date.fromisoformat)
    times = _Parsed(time.fromisoformat)
    checkins = tuple(CheckIn(uid, days(pushed), datetime.combine(days(pressed), times(at)))
                     for uid, pushed, pressed, at in facts.checkins)
    raw = tuple(Answer(uid, qid, ref, correct == 1, days(day)) for uid, qid, ref, correct, day in facts.answers)
    # Renamed copies only for the few answers on opening/closing; mastery works on the stored refs.
    answers = tuple(replace(a, ref=names[a.ref]) if a.ref in names else a for a in raw)
    excuses = tuple(Excuse(e.user_id, e.start, e.end, e.reason) for e in facts.excuses)
    return Campaign(
        # Only exports show mastery: a report skips its cost (every review card of the group).
        mastery=_mastery(store, svc, chat_id, raw, zone, lambda ref: names.get(ref, ref)) if with_mastery else (),
        chat_id=chat_id, title=group.title if group else str(chat_id), period=period, today=today,
        push_days=push_days, members=tuple(members), checkins=checkins, excuses=excuses,
        answers=answers, asked=tuple(asked))


def _mastery(store: Store, svc: Services, chat_id: int, answers: Sequence[Answer], zone: ZoneInfo,
             name: Callable[[str], str]) -> tuple[Mastery, ...]:
    """Each member's mastery per section, in reading order, from their review cards and the period's answers."""
    schedule = ReviewSchedule(svc.config.review.desired_retention)
    cards = store.group_review_cards(chat_id)
    answered: dict[int, list[Answered]] = {}
    for a in answers:
        at = datetime.combine(a.local_date, datetime.min.time(), zone)
        answered.setdefault(a.user_id, []).append(Answered(a.question_id, a.ref, a.correct, at))
    order = {s.ref: i for i, s in enumerate(svc.doc.sections())}
    now = svc.clock()
    out = []
    for user_id in sorted(set(cards) | set(answered)):
        figures = mastery(schedule, cards.get(user_id, ()), answered.get(user_id, ()), now)
        ranked = sorted(figures.items(), key=lambda kv: order.get(kv[0], len(order)))
        out.append(Mastery(user_id, tuple((name(ref), share) for ref, share in ranked)))
    return tuple(out)


async def period_of(svc: Services, chat_id: int, text: str) -> Period:
    """The period `text` names for this group (ValueError if none)."""
    today = await svc.local_today(chat_id)
    first = await svc.db(lambda s: s.first_push(chat_id))
    return parse_period(text, today, first_push=first)


async def summary_of(svc: Services, chat_id: int, period: Period, with_mastery: bool = False) -> Summary:
    today = await svc.local_today(chat_id)
    campaign = await svc.db(lambda s: load_campaign(s, svc, chat_id, period, today, with_mastery))
    return await asyncio.to_thread(summarize, campaign)


async def export_file(svc: Services, summary: Summary, fmt: str, folder: Path) -> Path:
    """Write the export into `folder` (named after group and period); returns its path."""
    from records.export import file_name

    summary = await with_channels(svc, summary)  # the 渠道 sheet, when the group has robot channels
    path = folder / file_name(summary, fmt)
    return await asyncio.to_thread(write_export, summary, fmt, path)


async def chart_png(summary: Summary) -> bytes | None:
    """The chart, or None without a Chinese font (said once at start-up) or without push days."""
    if not summary.days:
        return None
    try:
        return await asyncio.to_thread(chart.render_chart, summary)
    except chart.NoCjkFont:
        return None


def warn_without_cjk_font() -> bool:
    """Log once, at start-up, that charts are off for want of a Chinese font; True if one is there."""
    if chart.cjk_font() is None:
        log.warning("no Chinese (CJK) font found: report charts are off, text reports still work "
                    "(install one, e.g. apt-get install fonts-wqy-microhei)")
        return False
    return True


# --- delivering reports and files to an admin in private ------------------------------------------------------


async def send_private(bot: Bot, user_id: int, texts: list[str]) -> bool:
    """Send `texts` to the user's private chat; False if they never started one (or blocked the bot)."""
    try:
        for text in texts:
            await bot.send_message(user_id, text, parse_mode="HTML")
    except (Forbidden, BadRequest) as exc:
        log.info("no private chat with user %s: %s", user_id, exc.message)
        return False
    return True


async def send_private_report(bot: Bot, user_id: int, summary: Summary, intro: str | None = None) -> bool:
    """The full per-member table in private: a few messages, or for a big group the first one (the members with
    the lowest rates) and the whole table as one CSV document, rather than dozens of messages."""
    texts = render.report_private(summary)
    attachment: tuple[str, bytes] | None = None
    if len(texts) > PRIVATE_MESSAGES_MOST:
        texts = [f"{texts[0]}\n\n{render.report_table_attached(len(summary.members))}"]
        attachment = next((name, data) for name, data in csv_files(summary, only=wording.SUMMARY_SHEET))
    if intro:
        texts[0] = f"{intro}\n{texts[0]}"
    if not await send_private(bot, user_id, texts):
        return False
    if attachment is not None:
        period = summary.campaign.period
        await bot.send_document(user_id, attachment[1],
                                filename=f"{wording.MEMBERS_FILE}_{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv")
    return True


async def send_chart(bot: Bot, chat_id: int, summary: Summary) -> None:
    if len(summary.days) > CHART_MOST_DAYS:
        return
    png = await chart_png(summary)
    if png is not None:
        await bot.send_photo(chat_id, png, caption=render.chart_caption(summary), parse_mode="HTML",
                             filename=render.chart_file_name(summary))


async def send_export(bot: Bot, svc: Services, user_id: int, chat_id: int, period_text: str = "all",
                      fmt: str = "xlsx", note: str | None = None) -> bool:
    """Build the export and send it to `user_id` in private; False if they have no private chat with the bot."""
    try:
        # Shows "sending a file…" while a big ledger is written, and finds out before any work whether the admin
        # has a private chat with the bot at all (Telegram answers 403 if not).
        await bot.send_chat_action(user_id, ChatAction.UPLOAD_DOCUMENT)
    except (Forbidden, BadRequest) as exc:
        log.info("no private chat with user %s: %s", user_id, exc.message)
        return False
    period = await period_of(svc, chat_id, period_text)
    summary = await with_channels(svc, await summary_of(svc, chat_id, period, with_mastery=True))
    with tempfile.TemporaryDirectory(prefix="studybot-export-") as folder:
        path = await export_file(svc, summary, fmt, Path(folder))
        caption = render.export_caption(summary, fmt)
        if note is not None:
            caption = f"{note}\n{caption}"
        try:
            with path.open("rb") as handle:
                await bot.send_document(user_id, handle, filename=path.name, caption=caption, parse_mode="HTML")
        except (Forbidden, BadRequest) as exc:
            log.info("export not delivered to user %s: %s", user_id, exc.message)
            return False
    heatmap = await mastery_png(summary)
    if heatmap is not None:
        await bot.send_photo(user_id, heatmap, caption=render.mastery_caption(summary), parse_mode="HTML",
                             filename=render.mastery_file_name(summary))
    return True


async def mastery_png(summary: Summary) -> bytes | None:
    """The section × member heatmap, or None without figures or without a Chinese font."""
    try:
        return await asyncio.to_thread(chart.render_mastery_heatmap, summary)
    except chart.NoCjkFont:
        return None
