"""Lookup commands: /start, /help, /toc, /section, /search, /today, /next, plain-text lookups and buttons."""

from __future__ import annotations

import re

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot import render
from bot.campaign import checkin_button
from bot.services import Services, services
from content.model import Section
from content.refs import RefError, resolve
from content.search import split_page

SEARCH_WORDS = re.compile(r"^(搜索|查找|搜|查)\s*[:：]?\s*(.+)$", re.S)
# In a group, chatter such as "查一下天气" is not a search: only 搜索/查找 followed by a space or colon is.
GROUP_SEARCH_WORDS = re.compile(r"^(搜索|查找)[\s:：]+(.+)$", re.S)
OUTLINE_WORDS = {"目录", "大纲", "提纲", "toc"}
# In a group, plain text is taken as a reference only when it is clearly one, so chatter is left alone.
CLEAR_REF = re.compile(r"^[〔\[【(（]?\s*(第.+部分|.{1,3}[、.．\-－].{0,3}|开头|结语|开篇|结尾|结束语)\s*[〕\]】)）]?$")


def section_keyboard(svc: Services, section: Section) -> InlineKeyboardMarkup:
    before, after = svc.doc.neighbours(section.ref)
    row = []
    if before is not None:
        row.append(InlineKeyboardButton(f"◀ {before.label}", callback_data=f"sec:{before.ref}"))
    row.append(InlineKeyboardButton("目录", callback_data="toc"))
    if after is not None:
        row.append(InlineKeyboardButton(f"{after.label} ▶", callback_data=f"sec:{after.ref}"))
    return InlineKeyboardMarkup([row])


async def send_section(chat: Chat, svc: Services, section: Section) -> None:
    messages = render.section_messages(svc.doc, section)
    for i, text in enumerate(messages):
        markup = section_keyboard(svc, section) if i == len(messages) - 1 else None
        await chat.send_message(text, parse_mode="HTML", reply_markup=markup)


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_html(text, reply_markup=markup, do_quote=False)


async def send_outline(update: Update, svc: Services) -> None:
    for text in render.outline_messages(svc.doc):
        await reply(update, text)


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
        await reply(update, render.ref_error(text, str(exc)))
        return
    if update.effective_chat is not None:
        await send_section(update.effective_chat, svc, found)


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Full-text search: /search 终身学习."""
    svc = services(context)
    query, page = split_page(" ".join(context.args or []))  # /search 学习 2: the second page
    await reply(update, render.search_results(query, svc.index.page(query, page)))


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
    started = group.last_pushed is not None or group.next_day > 1
    total = len(svc.plan)
    if upcoming and group.finished:
        await reply(update, render.plan_finished(svc.doc, total))
        return
    day = group.next_day if upcoming or not started else group.next_day - 1
    reading = svc.reading(day)
    note = render.reading_note(upcoming=upcoming, started=started)
    # /today carries the same 已学习 button as the push it repeats.
    checkin = None if upcoming or not started else await checkin_button(svc, chat.id, reading.day)
    await reply(update, note + render.reading_message(svc.doc, reading, total),
                render.reading_keyboard(reading.refs[0] if reading.refs else None, checkin))


def reading_keyboard(ref: str | None) -> InlineKeyboardMarkup:
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
        await reply(update, render.search_results(query, svc.index.page(query, page)))
    elif private or to_bot or CLEAR_REF.match(text):
        try:
            await send_section(chat, svc, resolve(svc.doc, text))
        except RefError:
            if private or to_bot:
                await reply(update, render.plain_text_hint())


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The outline and previous/next section buttons."""
    svc = services(context)
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return
    data = query.data or ""
    await query.answer()
    if data == "toc":
        await send_outline(update, svc)
    elif data.startswith("sec:") and svc.doc.has(data[4:]):
        await send_section(update.effective_chat, svc, svc.doc.section(data[4:]))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not know, in a private chat or addressed to this bot."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    command = message.text.split()[0]
    addressed = "@" in command and command.split("@", 1)[1].lower() == (context.bot.username or "").lower()
    if chat.type == Chat.PRIVATE or addressed:
        await reply(update, render.unknown_command(command.split("@", 1)[0][:32]))
