"""From the store and the loaded content to a `records.Campaign`, and from there to reports and export files.

`load_campaign` runs on the store's read-only connection and its own thread (one `svc.db.read` call), so the
writes of every other chat go on meanwhile; the counting and the file writing run on a thread of their own
(`asyncio.to_thread`), so neither the event loop nor the store waits for a 5,000-member table.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden

from bot import render
from bot.channels_view import ChannelStatus, group_statuses, with_channels
from bot.services import Services
from bot.store import RecordTallies, Store
from records import chart, wording
from records.export import csv_files, write_export
from records.ledger import Summary, summarize
from records.model import SEP, Asked, Campaign, Excuse, Mastery, Member, MemberDays, Period, PushDay, Tallies
from records.period import parse_period
from schedules.review import Answered, ReviewCard, ReviewSchedule, mastery

log = logging.getLogger(__name__)
T = TypeVar("T")
K = TypeVar("K")
CHART_MOST_DAYS = 31  # a chart of more push days than this would be unreadable on a phone
PRIVATE_MESSAGES_MOST = 4  # a longer member table goes as a CSV document


class _Parsed(dict[K, T]):
    """ISO text (or another key) to a value, each distinct one parsed once (60 dates for 300,000 rows):
    `parsed[text]`, or `map(parsed.__getitem__, texts)`, which stays in C for every text already seen."""

    def __init__(self, parse: Callable[[K], T]) -> None:
        super().__init__()
        self.parse = parse

    def __missing__(self, key: K) -> T:
        found = self[key] = self.parse(key)
        return found

    def __call__(self, key: K) -> T:
        return self[key]


def _pair(text: str) -> tuple[int, int]:
    answered, correct = text.split(",")
    return int(answered), int(correct)


def _ref_names(svc: Services) -> dict[str, str]:
    """Section refs as the record shows them: numbers stay (2.3 sorts and reads well), opening/closing in Chinese."""
    return {s.ref: s.label for s in svc.doc.sections() if not s.ref.replace(".", "").isdigit()}


def load_campaign(store: Store, svc: Services, chat_id: int, period: Period, today: date,
                  with_mastery: bool = True, full: bool | None = None) -> Campaign:
    """The group's record for `period`, counted by SQLite; call it on the store's reader
    (`await svc.db.read(lambda s: load_campaign(...))`: one snapshot, off the writer's thread).

    `full` (default: as `with_mastery`, i.e. for an export) also counts what only the files show: answers per
    member and day (台账) and per question (测验). A report counts check-ins and answers per section only.
    An export loads faster by `load_summary`, which counts and summarizes at once.
    """
    full = with_mastery if full is None else full
    base, zone, names = _campaign_base(store, svc, chat_id, period, today)
    counts = store.record_tallies(chat_id, period.first, period.last, full=full)
    tallies = tallies_from(counts, names)
    mastery: tuple[Mastery, ...] = ()
    if with_mastery:
        mastery = _mastery(svc, store.group_review_cards(chat_id), mastery_answers(counts), zone,
                           lambda ref: names.get(ref, ref))
    member_days = None if counts.daily is None else MemberDays(counts.checkins, counts.daily)
    return replace(base, tallies=tallies, mastery=mastery, member_days=member_days)


def load_summary(store: Store, svc: Services, chat_id: int, period: Period, today: date) -> Summary:
    """An export's record (as `load_campaign`, mastery included) and its summary; call it on the store's reader.

    Three things at once, on two cores: SQLite counts the check-ins and the answers per member and section on this
    thread (in C, which lets go of the GIL), the answers per day and per question on a second read-only
    connection of their own thread (`_day_tallies_beside`: the same snapshot, checked), while a helper thread works
    on what is counted already — the check-ins into Tallies while the answers per section are counted, then
    mastery and the summary.
    """
    first, last = period.first, period.last
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="studybot-summary") as helper, \
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="studybot-days") as beside:
        days = None
        if store.has_reader():  # a database in a file: a second connection can count beside this one
            # Opened here: Store's methods hold its guard, which this thread holds around the whole read.
            days = beside.submit(_day_tallies_beside, store.reader(), store.record_answers_mark(chat_id), chat_id,
                                 first, last)
        base, zone, names = _campaign_base(store, svc, chat_id, period, today)
        checkins = store.record_checkin_tallies(chat_id, first, last)
        pressed = helper.submit(_pressed, checkins)  # while SQLite counts the answers per member and section
        by_ref, answered = store.record_answer_tallies(chat_id, first, last)
        counts = RecordTallies(checkins=checkins, by_ref=by_ref, answered=answered)
        cards = store.group_review_cards(chat_id)

        def summarized() -> Summary:  # on the helper, after `pressed`
            mastery = _mastery(svc, cards, mastery_answers(counts), zone, lambda ref: names.get(ref, ref))
            tallies = Tallies(checkins=pressed.result(), by_ref=_by_ref(by_ref, names))
            return summarize(replace(base, tallies=tallies, mastery=mastery))

        summary = helper.submit(summarized)
        counted_beside = days.result() if days is not None else None
        daily, questions = counted_beside or store.record_day_tallies(chat_id, first, last)
        counted = summary.result()
    assert counted.campaign.tallies is not None  # summarized() counted them
    # The answers per day stay the store's texts (member_days): all the 台账 writers read, where Tallies' dicts of
    # dates would cost 250,000 entries more.
    tallies = replace(counted.campaign.tallies,
                      questions={qid: (names.get(ref, ref), n, c) for qid, ref, n, c, _ in questions})
    campaign = replace(counted.campaign, tallies=tallies, member_days=MemberDays(counts.checkins, daily))
    return replace(counted, campaign=campaign)


def _day_tallies_beside(twin: Store, mark: tuple[int, int], chat_id: int, first: date, last: date
                        ) -> tuple[dict[int, str], tuple[tuple[str, str, int, int, int], ...]] | None:
    """`record_day_tallies` on `twin`, a second read-only connection (closed here, on this thread of its own), or
    None when its snapshot holds other answers than the first connection's (`mark`, the first's
    `record_answers_mark`: a write committed between the two snapshots; then the first counts them itself, and
    the export stays one snapshot)."""
    try:
        with twin.snapshot():
            if twin.record_answers_mark(chat_id) != mark:
                return None
            return twin.record_day_tallies(chat_id, first, last)
    finally:
        twin.close()


Shares = Mapping[int, Sequence[tuple[str, int, int]]]  # member -> (stored ref, answered, right) per section


def mastery_answers(counts: RecordTallies) -> tuple[list[tuple[int, str, str, bool, date]], Shares]:
    """What mastery needs of the period's answers: for members with review cards, the latest answer to every
    question they answered (member, question, stored ref, correct, local date), for mastery(); for the others,
    their answers and right answers per section (by_ref): a miss they never reviewed counts as not known, so their
    figure is the share they got right (mastery()'s own figure when each question was put to them once; a question
    asked again counts each answer)."""
    days: _Parsed[str, date] = _Parsed(date.fromisoformat)
    carded = {uid for uid, *_ in counts.answered or ()}
    answered = [(uid, qid, ref, correct == 1, days(day)) for uid, qid, ref, correct, day, _ in counts.answered or ()]
    shares: dict[int, list[tuple[str, int, int]]] = {}
    for uid, ref, n, right, *_ in counts.by_ref:
        if uid not in carded:
            shares.setdefault(uid, []).append((ref, n, right))
    return answered, shares


def tallies_from(counts: RecordTallies, names: Mapping[str, str]) -> Tallies:
    """SQLite's counts as records' `Tallies`: dates parsed (each distinct one once), sections named as the record
    names them (`names`: opening/closing in Chinese; two stored refs never share a name)."""
    tallies = Tallies(checkins=_pressed(counts.checkins), by_ref=_by_ref(counts.by_ref, names))
    if counts.daily is None or counts.questions is None:
        return tallies
    return replace(tallies, **_day_tallies(counts.daily, counts.questions, names))


def _pressed(checkins: Mapping[int, str]) -> dict[int, dict[date, datetime]]:
    """`Tallies.checkins` from the store's per-member texts (`RecordTallies.checkins`)."""
    days: _Parsed[str, date] = _Parsed(date.fromisoformat)
    times: _Parsed[str, time] = _Parsed(time.fromisoformat)
    day, moment, combine = days.__getitem__, times.__getitem__, datetime.combine
    out: dict[int, dict[date, datetime]] = {}
    for uid, text in checkins.items():  # per member: push date, local date, local time, late; four a press
        f = text.split(SEP)
        out[uid] = dict(zip(map(day, f[0::4]), map(combine, map(day, f[1::4]), map(moment, f[2::4])), strict=True))
    return out


def _by_ref(rows: Iterable[tuple[Any, ...]], names: Mapping[str, str]) -> dict[int, dict[str, tuple[int, int]]]:
    """`Tallies.by_ref` from the store's rows, sections named as the record names them."""
    by_ref: dict[int, dict[str, tuple[int, int]]] = {}
    for uid, ref, n, correct, *_ in rows:
        mine = by_ref.setdefault(uid, {})
        old = mine.get(shown := names.get(ref, ref), (0, 0))  # should two refs share a name, they add up
        mine[shown] = (old[0] + n, old[1] + correct)
    return by_ref


def _day_tallies(daily: Mapping[int, str], questions: Sequence[tuple[str, str, int, int, int]],
                 names: Mapping[str, str]) -> dict[str, Any]:
    """`Tallies`' answers per member and day and per question, from the store's counts."""
    days: _Parsed[str, date] = _Parsed(date.fromisoformat)
    pairs: _Parsed[str, tuple[int, int]] = _Parsed(_pair)  # "answered,correct": a few dozen distinct ones
    per_day = {}
    for uid, text in daily.items():  # per member: local date, "answered,correct"
        f = text.split(SEP)
        per_day[uid] = dict(zip(map(days.__getitem__, f[0::2]), map(pairs.__getitem__, f[1::2]), strict=True))
    return {"daily": per_day, "questions": {qid: (names.get(ref, ref), n, c) for qid, ref, n, c, _ in questions}}


def _campaign_base(store: Store, svc: Services, chat_id: int, period: Period, today: date
                   ) -> tuple[Campaign, ZoneInfo, dict[str, str]]:
    """The record without its check-ins and answers: push days, roster, excuses, questions asked; the group's
    zone and the section names."""
    group = store.group(chat_id)
    zone = ZoneInfo(group.timezone if group else svc.config.push.default_timezone)
    texts = {q.id: q.question for q in svc.questions}
    names = _ref_names(svc)
    push_days = tuple(
        PushDay(day_date, day, render.reading_title(svc.doc, svc.reading(day)),
                tuple(names.get(r, r) for r in svc.reading(day).refs))
        for day_date, day in store.pushes(chat_id, period.first, period.last))
    asked = []
    for question_id, ref, closes_at in store.record_polls(chat_id):
        day = datetime.fromtimestamp(closes_at, zone).date()
        if day in period:
            asked.append(Asked(question_id, names.get(ref, ref), texts.get(question_id, ""), day))
    members = []
    for m in store.roster(chat_id, include_gone=True):
        # The roster counts a member on the day they joined and on the day they left (issue10a's rule).
        joined = datetime.fromtimestamp(m.joined_at, zone).date() if m.joined_at is not None else None
        left = datetime.fromtimestamp(m.left_at, zone).date() + timedelta(days=1) if m.left_at is not None else None
        if (joined is None or joined <= period.last) and (left is None or left > period.first):
            members.append(Member(m.user_id, m.name, joined, left))
    excuses = tuple(Excuse(e.user_id, e.start, e.end, e.reason) for e in store.excuses(chat_id, period.first,
                                                                                       period.last))
    campaign = Campaign(chat_id=chat_id, title=group.title if group else str(chat_id), period=period, today=today,
                        push_days=push_days, members=tuple(members), excuses=excuses, asked=tuple(asked),
                        sections=tuple(names.get(s.ref, s.ref) for s in svc.doc.sections()))
    return campaign, zone, names


def _mastery(svc: Services, cards: Mapping[int, Sequence[ReviewCard]],
             answers: tuple[Sequence[tuple[int, str, str, bool, date]], Shares], zone: ZoneInfo,
             name: Callable[[str], str]) -> tuple[Mastery, ...]:
    """Each member's mastery per section, in reading order, from their review cards (store.group_review_cards)
    and their answers of the period (`mastery_answers`)."""
    order = {s.ref: i for i, s in enumerate(svc.doc.sections())}
    return mastery_rows(ReviewSchedule(svc.config.review.desired_retention), cards, *answers, zone, name, order,
                        svc.clock())


def mastery_rows(schedule: ReviewSchedule, cards: Mapping[int, Sequence[ReviewCard]],
                 answers: Sequence[tuple[int, str, str, bool, date]], shares: Shares, zone: ZoneInfo,
                 name: Callable[[str], str], order: Mapping[str, int], now: datetime) -> tuple[Mastery, ...]:
    """`_mastery`'s rows, sections ranked by `order` (reading order): schedules.review.mastery for a member with a
    card reviewed (from `answers`), the share right per section for the others (from `shares`)."""
    answered: dict[int, list[tuple[str, str, bool, date]]] = {}
    for uid, qid, ref, correct, day in answers:
        answered.setdefault(uid, []).append((qid, ref, correct, day))
    moments: _Parsed[date, datetime] = _Parsed(lambda day: datetime.combine(day, datetime.min.time(), zone))
    out = []
    for user_id in sorted(set(cards) | set(answered) | set(shares)):
        mine, theirs = cards.get(user_id, ()), answered.get(user_id, ())
        figures: Mapping[str, float]
        if not any(card.reviews for card in mine):
            # No card reviewed (most members): their misses stand, uncarded (schedules.review.mastery), so a
            # section is the share they got right; counted by SQLite, without an Answered object per answer.
            figures = {ref: right / n for ref, n, right in shares.get(user_id, ()) if n}
        else:
            figures = mastery(schedule, mine, [Answered(qid, ref, correct, moments(day))
                                               for qid, ref, correct, day in theirs], now)
        ranked = sorted(figures.items(), key=lambda kv: order.get(kv[0], len(order)))
        out.append(Mastery(user_id, tuple((name(ref), share) for ref, share in ranked)))
    return tuple(out)


async def period_of(svc: Services, chat_id: int, text: str) -> Period:
    """The period `text` names for this group (ValueError if none)."""
    today = await svc.local_today(chat_id)
    first = await svc.db(lambda s: s.first_record(chat_id))
    return parse_period(text, today, first_push=first)


async def summary_of(svc: Services, chat_id: int, period: Period, with_mastery: bool = False) -> Summary:
    """A report's summary, or with `with_mastery` an export's (everything the files show)."""
    return (await summary_and_channels(svc, chat_id, period, with_mastery, channels=False))[0]


async def summary_and_channels(svc: Services, chat_id: int, period: Period, with_mastery: bool = False,
                               channels: bool = True) -> tuple[Summary, list[ChannelStatus]]:
    """The group's summary and (for /report) its robot channels in the period, at once: the record on the
    store's reader (one snapshot, off the writer's thread; an export's is summarized there too, `load_summary`),
    the channels on the store's thread (reading them makes sure each configured one has its row: a write), and
    no trip at all when no channel belongs to a group."""

    def load(store: Store) -> Campaign | Summary:
        group = store.group(chat_id)
        today = svc.local_date(group.timezone if group else None)
        if with_mastery:
            return load_summary(store, svc, chat_id, period, today)
        return load_campaign(store, svc, chat_id, period, today, with_mastery=False)

    async def no_channels() -> list[ChannelStatus]:
        return []

    loaded, found = await asyncio.gather(
        svc.db.read(load), group_statuses(svc, chat_id, period.first, period.last) if channels else no_channels())
    if isinstance(loaded, Summary):
        return loaded, found
    return await asyncio.to_thread(summarize, loaded), found


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
