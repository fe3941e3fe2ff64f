"""Group lifecycle (added, removed, migrated) and the admins' settings commands."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.ext import ContextTypes

from bot import render
from bot.handlers.lookup import reply
from bot.services import Services, services
from bot.store import Group, GroupChanges, Store
from content.refs import RefError, resolve
from schedules.due import due_date, held_date, next_push_after, parse_time, parse_timezone, parse_weekdays

log = logging.getLogger(__name__)
PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def _was_present(change: ChatMemberUpdated) -> tuple[bool, bool]:
    old, new = change.old_chat_member, change.new_chat_member
    was = old.status in PRESENT and (old.status != ChatMember.RESTRICTED or bool(getattr(old, "is_member", True)))
    now = new.status in PRESENT and (new.status != ChatMember.RESTRICTED or bool(getattr(new, "is_member", True)))
    return was, now


async def my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was added to or removed from a chat."""
    svc = services(context)
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    was, now = _was_present(change)
    if now and not was:
        group = await _group(update, svc, GroupChanges(active=True))
        svc.admins.forget(chat.id)
        if chat.type != chat.PRIVATE:
            await context.bot.send_message(chat.id, render.greeting(svc.doc, group), parse_mode="HTML")
    elif was and not now:
        await svc.db(lambda s: s.deactivate(chat.id))
        log.info("removed from chat %s", chat.id)


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: move its record to the new id (both service messages may arrive)."""
    svc = services(context)
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    if await svc.db(lambda s: s.migrate_chat(old, new)):
        log.info("chat %s migrated to %s", old, new)


def admin_only(handler: Handler) -> Handler:
    """Lets group admins (anonymous ones included) through; others get a polite refusal."""

    async def checked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await services(context).admins.is_admin(update):
            await handler(update, context)
        else:
            await reply(update, render.admins_only())

    checked.__doc__ = handler.__doc__
    checked.__name__ = handler.__name__
    return checked


async def _group(update: Update, svc: Services, changes: GroupChanges | None = None) -> Group:
    """This chat's record (created with the defaults if new), with `changes` applied in the same store call.

    A change that makes today's push due at once holds it instead: settings never push by themselves.
    """
    chat = update.effective_chat
    assert chat is not None
    title = chat.title or chat.full_name or ""
    now, grace = svc.clock(), svc.grace

    def ensure_and_change(store: Store) -> Group:
        group = store.ensure_group(chat.id, title)
        if changes is None:
            return group
        changed = store.update_group(chat.id, changes)
        if changed.pushable:
            last = max(filter(None, (group.last_pushed, store.push_hold(chat.id))), default=None)
            held = held_date(group.schedule if group.pushable else None, changed.schedule, last, now, grace)
            if held is not None:
                store.hold_push(chat.id, held)
        return changed

    return await svc.db(ensure_and_change)


async def _show_settings(update: Update, svc: Services, group: Group, changed: str = "") -> None:
    now = svc.clock()
    upcoming = None
    if group.pushable:
        hold = await svc.db(lambda s: s.push_hold(group.chat_id))
        last = max(filter(None, (group.last_pushed, hold)), default=None)
        # Today's push may still be due (within the grace period): then it goes out at the next minute's tick.
        due_today = due_date(group.schedule, last, now, svc.grace) is not None
        upcoming = now if due_today else next_push_after(group.schedule, now, last)
    await reply(update, changed + render.settings(group, len(svc.plan), upcoming, now))


@admin_only
async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start daily pushes for this chat."""
    svc = services(context)
    group = await _group(update, svc, GroupChanges(subscribed=True, active=True, paused=False))
    await _show_settings(update, svc, group, render.subscribed_note())


@admin_only
async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop daily pushes; progress is kept."""
    svc = services(context)
    await _group(update, svc, GroupChanges(subscribed=False))
    await reply(update, render.unsubscribed_note())


async def _set(update: Update, context: ContextTypes.DEFAULT_TYPE, field: str, parse: Callable[[str], Any],
               bad_input: Callable[[], str]) -> None:
    """Parse the command's argument into one group setting, or say what would work."""
    svc = services(context)
    text = " ".join(context.args or []).strip()
    if not text:
        await reply(update, render.current_setting(field, await _group(update, svc), svc.clock()))
        return
    try:
        value = parse(text)
    except ValueError:
        await reply(update, bad_input())
        return
    group = await _group(update, svc, GroupChanges(**{field: value}))
    await _show_settings(update, svc, group, render.changed_note())


@admin_only
async def settime(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set the local push time: /settime 07:30."""
    await _set(update, context, "push_time", parse_time, render.bad_time)


@admin_only
async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set the time zone: /timezone Asia/Shanghai."""
    await _set(update, context, "timezone", parse_timezone, render.bad_timezone)


@admin_only
async def days(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set the push weekdays: /days 工作日."""
    await _set(update, context, "weekdays", parse_weekdays, render.bad_days)


@admin_only
async def dailyquiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A short quiz after each daily push: /dailyquiz 2 (0 turns it off)."""
    await _set(update, context, "daily_quiz", _quiz_size, render.dailyquiz_usage)


def _quiz_size(text: str) -> int:
    if not (text.isdigit() and 0 <= int(text) <= 3):
        raise ValueError(f"daily quiz size must be 0-3, got {text!r}")
    return int(text)


@admin_only
async def pause(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pause daily pushes."""
    svc = services(context)
    group = await _group(update, svc, GroupChanges(paused=True))
    await _show_settings(update, svc, group, render.paused_note() if group.subscribed else render.not_subscribed_note())


@admin_only
async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Resume daily pushes."""
    svc = services(context)
    group = await _group(update, svc, GroupChanges(paused=False))
    # "Resumed" would be untrue of a group that never subscribed: nothing is pushed until /subscribe.
    note = render.resumed_note() if group.subscribed else render.not_subscribed_note()
    await _show_settings(update, svc, group, note)


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show this chat's push settings (anyone may look)."""
    svc = services(context)
    await _show_settings(update, svc, await _group(update, svc))


@admin_only
async def goto(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Jump the group's progress: /goto 5 (day 5) or /goto 2.3 (the day that reading starts)."""
    svc = services(context)
    text = " ".join(context.args or []).strip()
    day = _day_for(svc, text)
    if day is None:
        await reply(update, render.goto_usage(len(svc.plan)))
        return
    group = await _group(update, svc, GroupChanges(next_day=day))
    await reply(update, render.goto_done(svc.doc, svc.reading(group.next_day), len(svc.plan)))


DAY_NUMBER = re.compile(r"^(?:第\s*)?(\d+)\s*(?:天)?$|^day\s*(\d+)$", re.IGNORECASE)


def _day_for(svc: Services, text: str) -> int | None:
    """A plan day ('5', '第5天', 'day 5') or the first reading that covers a section ('2.3', '二', '第二部分')."""
    typed = unicodedata.normalize("NFKC", text).strip()
    if not typed or typed[0] in "+-−":
        return None  # "-1" is not a day, and must not be read as a reference either
    number = DAY_NUMBER.match(typed)
    if number:
        day = int(number.group(1) or number.group(2))
        return day if 1 <= day <= len(svc.plan) else None
    try:
        section = resolve(svc.doc, typed)
    except RefError:
        return None
    return next((r.day for r in svc.plan if section.ref in r.refs), None)


async def progress(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Where this chat stands in the reading plan."""
    svc = services(context)
    group = await _group(update, svc)
    await reply(update, render.progress(svc.doc, group, svc.plan))
