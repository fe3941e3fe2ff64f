"""Lookup commands: /start, /help, /toc, /section, /search, /today, /next, plain-text lookups and buttons."""

from __future__ import annotations

import re

from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import render
from bot.campaign import checkin_button
from bot.services import Services, services
from content.model import Reading, Section
from content.numbering import CN
from content.refs import RefError, resolve
from content.search import split_page

SEARCH_WORDS = re.compile(r"^(搜索|查找|搜|查)\s*[:：]?\s*(.+)$", re.S)
# In a group, chatter such as "查一下天气" is not a search: only 搜索/查找 followed by a space or colon is.
GROUP_SEARCH_WORDS = re.compile(r"^(搜索|查找)[\s:：]+(.+)$", re.S)
OUTLINE_WORDS = {"目录", "大纲", "提纲", "toc"}
# In a group, plain text is taken as a reference only when it cannot be anything else: 二、3, 第二部分第三点,
# or a reference as the outline prints it (〔2.3〕). "2-1", "1.1", "1、" or "开头" alone are ordinary chatter.
_CN = f"[{CN}]"
CLEAR_REF = re.compile(rf"^(?:{_CN}{{1,3}}、\s*(?:[0-9]{{1,2}}|{_CN}{{1,3}})?"
                       rf"|第{_CN}{{1,3}}部分(?:第{_CN}{{1,3}}[点条])?"
                       r"|〔\s*[0-9]{1,2}(?:\.[0-9]{1,2})?\s*〕)$")


async def send_section(chat: Chat, svc: Services, section: Section) -> None:
    """A section in one message: its first page, with buttons for the other pages and the neighbours."""
    pages, keyboard = svc.views.section(section)
    await chat.send_message(pages[0], parse_mode="HTML", reply_markup=keyboard)


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_html(text, reply_markup=markup, do_quote=False)


async def send_outline(update: Update, svc: Services) -> None:
    """The outline in one message, with a button for every part and point (and pages if it is long)."""
    pages = render.outline_messages(svc.doc)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(pages[0], parse_mode="HTML",
                                reply_markup=render.toc_keyboard(svc.doc, 0, len(pages)))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Introduce the bot and its commands."""
    svc = services(context)
    private = update.effective_chat is not None and update.effective_chat.type == Chat.PRIVATE
    await reply(update, render.help_text(svc.doc, private=private, offline=svc.offline))


async def toc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the outline of the speech."""
    await send_outline(update, services(context))


async def section(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show one part or point: /section 2.3."""
    svc = services(context)
    text = " ".join(context.args or [])
    if not text.strip():
        await reply(update, render.section_usage())
        return
    await show_ref(update, svc, text)


async def show_ref(update: Update, svc: Services, text: str) -> None:
    try:
        found = resolve(svc.doc, text)
    except RefError as exc:
        await reply(update, render.ref_error(text, svc.doc, exc))
        return
    if update.effective_chat is not None:
        await send_section(update.effective_chat, svc, found)


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Full-text search: /search 终身学习."""
    svc = services(context)
    query, page = split_page(" ".join(context.args or []))  # /search 学习 2: the second page
    await send_search(update, svc, query, page)


async def send_search(update: Update, svc: Services, query: str, page: int) -> None:
    text, keyboard = svc.views.search(query, page)
    await reply(update, text, keyboard)


async def today(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show this chat's current reading again."""
    await _reading(update, context, upcoming=False)


async def next_reading(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the reading the next push will send."""
    await _reading(update, context, upcoming=True)


async def _reading(update: Update, context: ContextTypes.DEFAULT_TYPE, upcoming: bool) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    title = chat.title or chat.full_name or ""
    group = await svc.db(lambda s: s.ensure_group(chat.id, title))
    started = group.last_pushed is not None  # a /goto before the first push moves the day, it starts nothing
    total = len(svc.plan)
    if upcoming and group.finished:
        await reply(update, render.plan_finished(svc.doc, total))
        return
    day = group.next_day if upcoming or not started else group.next_day - 1
    reading = svc.reading(day)
    note = render.reading_note(upcoming=upcoming, started=started, day=day, subscribed=group.subscribed)
    # /today carries the same 已学习 button as the push it repeats.
    checkin = None if upcoming or not started else await checkin_button(svc, chat.id, reading.day)
    await reply(update, note + render.reading_message(svc.doc, reading, total),
                render.reading_keyboard(reading.refs[0] if reading.refs else None, checkin, day=reading.day))


def reading_keyboard(ref: str | None) -> InlineKeyboardMarkup:
    """The buttons under a daily push (kept here for the push path; the renderer builds them)."""
    return render.reading_keyboard(ref)


async def plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member writes 目录, 搜索 终身学习 or a reference like 二、3 without a command."""
    svc = services(context)
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    text = message.text.strip()
    private = chat.type == Chat.PRIVATE
    to_bot = (message.reply_to_message is not None and message.reply_to_message.from_user is not None
              and message.reply_to_message.from_user.id == context.bot.id)
    found = (SEARCH_WORDS if private or to_bot else GROUP_SEARCH_WORDS).match(text)
    if text.lower() in OUTLINE_WORDS:
        await send_outline(update, svc)
    elif found:
        query, page = split_page(found.group(2))
        await send_search(update, svc, query, page)
    elif private or to_bot or CLEAR_REF.match(text):
        try:
            await send_section(chat, svc, resolve(svc.doc, text))
        except RefError:
            if private or to_bot:
                await reply(update, render.plain_text_hint())


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Outline, section, search, page and 读全文 buttons: a view edits its own message; a reading gets a new one."""
    svc = services(context)
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return
    kind, _, rest = (query.data or "").partition(":")
    await query.answer()
    if kind == "toc":
        await _edit_outline(query, svc, _number(rest))
    elif kind == "opentoc":
        await send_outline(update, svc)
    elif kind == "sec":
        ref, page, day = [*rest.split(":"), "", ""][:3]
        if svc.doc.has(ref):
            await _edit_section(query, svc, svc.doc.section(ref), _number(page), _plan_reading(svc, ref, _number(day)))
    elif kind == "open" and svc.doc.has(rest):
        await send_section(update.effective_chat, svc, svc.doc.section(rest))
    elif kind == "srch":
        page, _, text = rest.partition(":")
        if _number(page) and text.strip():
            shown, markup = svc.views.search(text, _number(page))
            await _edit(query, shown, markup or InlineKeyboardMarkup([]))
    elif kind == "rd":
        ref, _, day = rest.partition(":")
        text = query.message.text if isinstance(query.message, Message) and query.message.text else ""
        reading = _plan_reading(svc, ref, _number(day) or render.reading_day_in(text))
        if reading is not None and svc.doc.has(ref):
            await _send_reading_sections(update.effective_chat, svc, reading)


def _number(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _plan_reading(svc: Services, ref: str, day: int | None) -> Reading | None:
    """The plan's reading for `day` if it covers `ref`, else the first reading that does (None: no reading asked)."""
    if not day:
        return None
    reading = svc.reading(day)
    return reading if ref in reading.refs else next((r for r in svc.plan if ref in r.refs), None)


async def _send_reading_sections(chat: Chat, svc: Services, reading: Reading) -> None:
    """读全文: the reading's first section in full, with a button for each of its other sections."""
    section = svc.doc.section(reading.refs[0])
    pages = svc.views.section_pages(section)
    await chat.send_message(pages[0], parse_mode="HTML",
                            reply_markup=render.section_keyboard(svc.doc, section, 0, len(pages), reading))


async def _edit_outline(query: CallbackQuery, svc: Services, page: int) -> None:
    pages = render.outline_messages(svc.doc)
    page = min(page, len(pages) - 1)
    await _edit(query, pages[page], render.toc_keyboard(svc.doc, page, len(pages)))


async def _edit_section(query: CallbackQuery, svc: Services, section: Section, page: int,
                        reading: Reading | None) -> None:
    pages = svc.views.section_pages(section)
    page = min(page, len(pages) - 1)
    await _edit(query, pages[page], render.section_keyboard(svc.doc, section, page, len(pages), reading))


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    """Replace the pressed message's text and buttons (a second press on the same button changes nothing)."""
    try:
        await query.edit_message_text(text, parse_mode="HTML", reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def section_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tappable /section_2_3 (or /section_opening) from the outline or a hint."""
    message = update.effective_message
    if message is None or not message.text:
        return
    tail = message.text.split()[0].split("@")[0][len("/section_"):]
    await show_ref(update, services(context), render.ref_of_command(tail))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not know, in a private chat or addressed to this bot."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    command = message.text.split()[0]
    addressed = "@" in command and command.split("@", 1)[1].lower() == (context.bot.username or "").lower()
    if chat.type == Chat.PRIVATE or addressed:
        await reply(update, render.unknown_command(command.split("@", 1)[0][:32]))
