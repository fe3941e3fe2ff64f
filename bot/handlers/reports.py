"""Organizer commands: /report and /export (admins), their private delivery and the /start deep links back to it.

Member names and per-member figures go to the admin's private chat only. If the admin never opened one, Telegram
refuses (403 "bot can't initiate conversation"): the group reply then carries a t.me link that opens the private chat
with `/start report_<chat>` (or `export_<chat>_<format>`, either with the period asked for), handled by
`start_payload`.
"""

from __future__ import annotations

import logging
import re

from telegram import Bot, Chat, Update
from telegram.ext import ContextTypes

from bot import render
from bot.handlers.lookup import reply
from bot.handlers.records import chat_size, send_roster
from bot.reports import period_of, send_chart, send_export, send_private_report, summary_and_channels, summary_of
from bot.services import Services, services
from records import wording
from records.export import FORMATS
from records.model import Period
from records.period import ReversedPeriod

log = logging.getLogger(__name__)
# A start payload is at most 64 of A-Z a-z 0-9 _ -: report_<chat>[_<period>], export_<chat>_<fmt>[_<period>],
# the period `month`, `all` or first-last as YYYYMMDD-YYYYMMDD (none: a report's week, an export's all).
_PAYLOAD = re.compile(r"^(report|export|roster)_(-?\d{1,20})(?:_(xlsx|csv))?(?:_(month|all|\d{8}-\d{8}))?$")
_NAMED = {wording.MONTH: "month", wording.ALL: "all"}


def deep_link(bot: Bot, kind: str, chat_id: int, fmt: str = "", period: Period | None = None) -> str:
    """The t.me link that opens the private chat and asks again for what was asked in the group, period included."""
    link = f"https://t.me/{bot.username}?start={kind}_{chat_id}" + (f"_{fmt}" if fmt else "")
    if period is None or period.label == (wording.WEEK if kind == "report" else wording.ALL):
        return link
    return f"{link}_{_NAMED.get(period.label) or f'{period.first:%Y%m%d}-{period.last:%Y%m%d}'}"


def _period_text(payload: str | None, default: str) -> str:
    """The period a payload names, as /report would read it typed."""
    if payload is None:
        return default
    if "-" not in payload:
        return payload
    first, last = (f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in payload.split("-"))
    return f"{first}..{last}"


async def _admin_in_group(update: Update, svc: Services) -> Chat | None:
    """The group, if the command came from one of its admins; otherwise answers the refusal and returns None."""
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return None
    if chat.type == Chat.PRIVATE:
        await reply(update, render.records_in_group_only())
        return None
    if not await svc.admins.is_admin(update):
        await reply(update, render.records_admins_only())
        return None
    return chat


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report [week|month|all|D..D]: a summary in the group, the full table to the admin in private."""
    svc = services(context)
    chat = await _admin_in_group(update, svc)
    if chat is None or update.effective_user is None:
        return
    try:
        period = await period_of(svc, chat.id, " ".join(context.args or []))
    except ReversedPeriod as typed:
        await reply(update, render.period_reversed(typed.start, typed.end, typed.with_years))
        return
    except ValueError:
        await reply(update, render.report_usage())
        return
    summary, channels = await summary_and_channels(svc, chat.id, period)
    if not summary.days and not summary.quiz_answers and not channels:
        first = await svc.db(lambda s: s.first_push(chat.id))
        await reply(update, render.records_nothing(period, first, "/report"))
        return
    sent = await send_private_report(context.bot, update.effective_user.id, summary)
    link = None if sent else deep_link(context.bot, "report", chat.id, period=period)
    text = render.report_group(summary, await chat_size(context, chat.id), link, sent)
    if channels:
        text = f"{text}\n\n{render.report_channels(channels)}"
    await reply(update, text)
    await send_chart(context.bot, chat.id, summary)


def parse_export_args(args: list[str]) -> tuple[str, str]:
    """(format, period text) from `/export [period] [csv|xlsx]`, the format word anywhere."""
    fmt = next((a.lower() for a in args if a.lower() in FORMATS), "xlsx")
    rest = " ".join(a for a in args if a.lower() not in FORMATS)
    return fmt, rest or "all"


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export [period] [csv]: the 学习台账 file, to the admin in private."""
    svc = services(context)
    chat = await _admin_in_group(update, svc)
    if chat is None or update.effective_user is None:
        return
    fmt, text = parse_export_args(list(context.args or []))
    try:
        period = await period_of(svc, chat.id, text)  # refuse a bad period before any work
    except ReversedPeriod as typed:
        await reply(update, render.period_reversed(typed.start, typed.end, typed.with_years))
        return
    except ValueError:
        await reply(update, render.export_usage())
        return
    found, first = await svc.db(lambda s: (s.has_record(chat.id, period.first, period.last), s.first_push(chat.id)))
    if not found:
        await reply(update, render.records_nothing(period, first, "/export"))
        return
    if await send_export(context.bot, svc, update.effective_user.id, chat.id, period_text=text, fmt=fmt):
        await reply(update, render.export_sent())
    else:
        await reply(update, render.export_link(deep_link(context.bot, "export", chat.id, fmt, period)))


async def start_payload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Handle `/start report_<chat>[_<period>]`, `/start export_<chat>_<fmt>[_<period>]` (the period asked for in
    the group) or `/start roster_<chat>` in private; False if it is no such link."""
    args = list(context.args or [])
    chat, user = update.effective_chat, update.effective_user
    match = _PAYLOAD.match(args[0]) if len(args) == 1 else None
    if match is None or chat is None or user is None or chat.type != Chat.PRIVATE:
        return False
    svc = services(context)
    kind, group_id, fmt = match.group(1), int(match.group(2)), match.group(3) or "xlsx"
    group = await svc.db(lambda s: s.group(group_id))
    if group is None or user.id not in await svc.admins.admin_ids(context.bot, group_id):
        await reply(update, render.records_link_expired())
        return True
    if kind == "roster":
        await send_roster(context.bot, svc, user.id, group_id)
        return True
    text = _period_text(match.group(4), "all" if kind == "export" else "week")
    try:
        period = await period_of(svc, group_id, text)
    except ValueError:  # a link's dates edited by hand
        await reply(update, render.records_link_expired())
        return True
    if kind == "export":
        await send_export(context.bot, svc, user.id, group_id, period_text=text, fmt=fmt)
        return True
    summary = await summary_of(svc, group_id, period)
    await send_private_report(context.bot, user.id, summary)
    await send_chart(context.bot, user.id, summary)
    return True


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: a report or export deep link, else the usual introduction."""
    from bot.handlers.lookup import start as introduce

    if not await start_payload(update, context):
        await introduce(update, context)
