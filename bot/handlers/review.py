"""Personal review commands in private chat: /review, /reminder, /forgetme, the deep link and their buttons."""

from __future__ import annotations

import re

from telegram import Chat, Update
from telegram.ext import ContextTypes

from bot import render
from bot.handlers.lookup import reply
from bot.review import REVIEW_KEY, PersonalReview
from bot.services import services
from schedules.due import parse_time

DEEP_LINK = re.compile(r"^review_(-?\d{1,20})$")


def reviews(context: ContextTypes.DEFAULT_TYPE) -> PersonalReview:
    found = context.bot_data[REVIEW_KEY]
    assert isinstance(found, PersonalReview)
    return found


def _private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == Chat.PRIVATE


async def start_from_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/start review_<group>` from the 去私聊复习 button: remember the group and begin its review."""
    user = update.effective_user
    match = DEEP_LINK.match((context.args or [""])[0])
    if user is None or match is None or not _private(update):
        return
    chat_id = int(match.group(1))
    svc = services(context)
    if await svc.db(lambda s: s.group(chat_id)) is None:
        await reply(update, render.review_no_groups())
        return
    await svc.db(lambda s: s.join_review(user.id, chat_id, current=True))
    await reviews(context).begin(user.id, chat_id)


async def review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a personal review (private chat); in a group, offer the button to the private chat."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if not _private(update):
        await reply(update, render.review_in_group(), render.review_link_keyboard(context.bot.username, chat.id))
        return
    groups = await services(context).db(lambda s: s.review_groups(user.id))
    if not groups:
        await reply(update, render.review_no_groups())
    elif len(groups) == 1 or groups[0][2]:  # the only group, or the one the member came from last
        await reviews(context).begin(user.id, groups[0][0])
    else:
        await reply(update, render.review_choose_group(),
                    render.review_groups_keyboard([(g, title) for g, title, _ in groups]))


async def reminder(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reminder 21:00 sets the daily review reminder, /reminder off stops it (private chat)."""
    user = update.effective_user
    if user is None:
        return
    if not _private(update):
        await reply(update, render.private_only())
        return
    svc = services(context)
    text = " ".join(context.args or []).strip().lower()
    if text in {"off", "关", "关闭", "取消"}:
        await svc.db(lambda s: s.set_review_reminder(user.id, None, ""))
        await reply(update, render.reminder_off())
        return
    try:
        at = parse_time(text)
    except ValueError:
        current = await svc.db(lambda s: s.review_reminder(user.id))
        await reply(update, render.reminder_usage(current.at.strftime("%H:%M") if current else None))
        return
    groups = await svc.db(lambda s: s.review_groups(user.id))
    # The member's zone is their group's: the reminder comes at their time, where they study.
    zone = svc.config.push.default_timezone
    if groups:
        group = await svc.db(lambda s: s.group(groups[0][0]))
        zone = group.timezone if group else zone
    await svc.db(lambda s: s.set_review_reminder(user.id, at, zone))
    await reply(update, render.reminder_set(at.strftime("%H:%M"), zone))


async def forgetme(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete the member's review data, after a confirmation button (private chat)."""
    if not _private(update):
        await reply(update, render.private_only())
        return
    await reply(update, render.forget_confirm(), render.forget_keyboard())


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The review buttons: choose a group, new questions, confirm /forgetme. Data is checked, never trusted."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    data = query.data or ""
    svc = services(context)
    kind, _, arg = data.removeprefix("rv:").partition(":")
    if kind == "forget" and arg in {"yes", "no"}:
        await query.answer()
        if arg == "yes":
            cards = await svc.db(lambda s: s.forget_review(user.id))
            await query.edit_message_text(render.forgotten(cards))
        else:
            await query.edit_message_text(render.forget_cancelled())
        return
    if kind in {"grp", "new"} and re.fullmatch(r"-?\d{1,20}", arg):
        chat_id = int(arg)
        allowed = {g for g, _, _ in await svc.db(lambda s: s.review_groups(user.id))}
        if chat_id in allowed:  # a forged group id would show another group's questions: refuse it
            await query.answer()
            await svc.db(lambda s: s.join_review(user.id, chat_id, current=True))
            if kind == "grp":
                await reviews(context).begin(user.id, chat_id)
            else:
                await reviews(context).begin_fresh(user.id, chat_id)
            return
    await query.answer(render.review_stale())


async def poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member answered a poll: if it is one of their review polls, score it and ask the next."""
    answer = update.poll_answer
    if answer is not None and answer.user is not None:
        await reviews(context).answered(answer.poll_id, answer.user.id, list(answer.option_ids))


async def member_left(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member left a group: keep their review history, stop its reminders."""
    message = update.effective_message
    if message is None or message.left_chat_member is None:
        return
    user_id, chat_id = message.left_chat_member.id, message.chat.id
    await services(context).db(lambda s: s.left_group(user_id, chat_id))


async def remind_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The minute tick of review reminders."""
    await reviews(context).remind()
