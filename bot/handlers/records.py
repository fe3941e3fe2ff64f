"""Campaign records in the chat: the 已学习 button, the roster learned from every message, /roster, /excuse, /remind."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, Chat, ChatMemberUpdated, Message, MessageEntity, Update, User
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import render
from bot.campaign import CAMPAIGN_KEY, CampaignState, parse_checkin_data
from bot.handlers.groups import PRESENT
from bot.handlers.lookup import reply
from bot.services import Services, services
from bot.store import Checkin, Group, Member, Store
from records.period import ReversedPeriod
from schedules.campaign import parse_date_range
from schedules.due import parse_time

log = logging.getLogger(__name__)
GROUPS = (Chat.GROUP, Chat.SUPERGROUP)
CANCEL_WORDS = {"取消", "撤销", "cancel", "off", "删除"}
OFF_WORDS = {"off", "关闭", "关", "0", "取消"}
RANGE_WORDS = {"..", "~", "～", "到", "至", "-", "—"}

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def campaign(context: ContextTypes.DEFAULT_TYPE) -> CampaignState:
    found = context.bot_data[CAMPAIGN_KEY]
    assert isinstance(found, CampaignState)
    return found


def organizers(handler: Handler) -> Handler:
    """Group admins only, in the group itself; everyone else gets a short refusal."""

    async def checked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type not in GROUPS:
            await reply(update, render.group_only())
        elif await services(context).admins.is_admin(update):
            await handler(update, context)
        else:
            await reply(update, render.organizers_only())

    checked.__doc__ = handler.__doc__
    checked.__name__ = handler.__name__
    return checked


# --- the 已学习 button -------------------------------------------------------------------------------------------


async def checkin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member pressed 已学习: record it once (补学 for an older reading) and answer with a toast."""
    svc = services(context)
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.message is None:
        return
    parsed = parse_checkin_data(query.data or "")
    if parsed is None or user.is_bot:
        await query.answer(render.checkin_stale())
        return
    day, push_date = parsed
    chat_id, now = query.message.chat.id, svc.clock()

    def record(store: Store) -> tuple[Checkin, bool] | None:
        """(the check-in that stands, whether this press made it), or None if the data names no push here."""
        group = store.group(chat_id)
        if group is None or store.pushed_day(chat_id, push_date) != day:
            return None
        local = now.astimezone(ZoneInfo(group.timezone))
        new = Checkin(chat_id=chat_id, user_id=user.id, push_date=push_date, day=day, local_date=local.date(),
                      local_time=local.time().replace(microsecond=0, tzinfo=None), at=now.timestamp(),
                      late=local.date() > push_date)
        with store.atomic():
            store.remember_member(chat_id, user.id, user.full_name, user.username, now=now.timestamp())
            existing = store.record_checkin(new)
        return (existing, False) if existing is not None else (new, True)

    result = await svc.db(record)
    if result is None:
        await query.answer(render.checkin_stale())
        return
    done, made = result
    await query.answer(render.checkin_done(done.day, done.late) if made else render.checkin_already(done.day))
    message = query.message
    if made and isinstance(message, Message) and message.reply_markup is not None:
        campaign(context).counts.touch(chat_id, message.message_id, message.reply_markup, push_date)


# --- the roster --------------------------------------------------------------------------------------------------


async def learn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every message and button press in a group puts its sender on the roster (bots never)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or user.is_bot or chat.type not in GROUPS:
        return
    message = update.message
    if message is not None and (message.new_chat_members or message.left_chat_member is not None):
        return  # joins and leaves are handled as such: the sender of a leave is the one who left
    if message is None and update.callback_query is None:
        return  # a chat_member update's sender is whoever made the change
    roster = campaign(context).roster
    if roster.fresh(chat.id, user.id, user.full_name, user.username):
        return
    svc = services(context)
    now = svc.clock().timestamp()
    # Posted, not awaited: in a burst of lookups from new members every message is a roster write, and a store
    # trip per message (its own transaction, three statements, an answer back to the loop) was most of what the
    # store thread cost the burst. Posted writes are group-committed, and the update fetcher (or the webhook queue)
    # flushes them before the update is confirmed, so nothing acknowledged is lost. A write that fails makes its
    # update be handled again: the sighting is forgotten first, or the cache would call the retry fresh and skip
    # the write.
    svc.db.post(lambda s: s.remember_member(chat.id, user.id, user.full_name, user.username, now=now),
                on_failure=lambda _: roster.forget(chat.id, user.id))


async def joined(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Join service message: everyone added (bots never) is on the roster from now."""
    message, svc = update.effective_message, services(context)
    if message is None or message.chat.type not in GROUPS:
        return
    people = [u for u in message.new_chat_members or () if not u.is_bot]
    adder = message.from_user
    if adder is not None and (adder.is_bot or adder.id in {u.id for u in people}):
        adder = None
    now = svc.clock().timestamp()

    def add(store: Store) -> None:
        with store.atomic():
            for u in people:
                store.member_joined(message.chat.id, u.id, u.full_name, u.username, False, now)
            if adder is not None:  # whoever added them (the bot, say) is a member too
                store.remember_member(message.chat.id, adder.id, adder.full_name, adder.username, now=now)

    await svc.db(add)
    for u in people:
        campaign(context).roster.forget(message.chat.id, u.id)


async def left(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Leave service message: off the roster from now (their records stay)."""
    message = update.effective_message
    if message is None or message.left_chat_member is None or message.left_chat_member.is_bot:
        return
    await _gone(context, message.chat.id, message.left_chat_member.id)


async def _gone(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> None:
    svc = services(context)
    now = svc.clock().timestamp()
    await svc.db(lambda s: s.member_left(chat_id, user_id, now))
    campaign(context).roster.forget(chat_id, user_id)


async def chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member's status changed (Telegram sends these to admin bots that ask): join or leave the roster."""
    change: ChatMemberUpdated | None = update.chat_member
    if change is None or change.chat.type not in GROUPS or change.new_chat_member.user.is_bot:
        return
    person = change.new_chat_member.user
    old, new = change.old_chat_member, change.new_chat_member
    was = old.status in PRESENT and bool(getattr(old, "is_member", True))
    now_in = new.status in PRESENT and bool(getattr(new, "is_member", True))
    svc = services(context)
    if now_in and not was:
        at = svc.clock().timestamp()
        await svc.db(lambda s: s.member_joined(change.chat.id, person.id, person.full_name, person.username,
                                               False, at))
        campaign(context).roster.forget(change.chat.id, person.id)
    elif was and not now_in:
        await _gone(context, change.chat.id, person.id)


def _target(update: Update, args: list[str]) -> tuple[User | str | None, list[str]]:
    """Whom an organizer command is about: the replied-to member, a text mention, or the first word (@name, name)."""
    message = update.effective_message
    if message is None:
        return None, args
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return replied.from_user, args
    for entity in message.entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            mentioned = message.parse_entity(entity)
            rest = [a for a in args if a not in mentioned.split()]
            return entity.user, rest
    return (args[0], args[1:]) if args else (None, args)


async def _member_for(context: ContextTypes.DEFAULT_TYPE, chat_id: int, who: User | str
                      ) -> tuple[Member | None, str | None]:
    """The roster entry, or (None, refusal text)."""
    svc = services(context)
    if isinstance(who, User):
        now = svc.clock().timestamp()

        def ensure(store: Store) -> Member | None:
            store.remember_member(chat_id, who.id, who.full_name, who.username, now=now)
            return store.member(chat_id, who.id)

        return await svc.db(ensure), None
    if who.startswith("@"):
        found = await svc.db(lambda s: s.member_by_username(chat_id, who))
        if found is not None:
            return found, None
    # A member without a username is typed as the roster shows them, often with an @ (/excuse @小王).
    name = who.removeprefix("@") or who
    named = await svc.db(lambda s: s.members_named(chat_id, name))
    if len(named) == 1:
        return named[0], None
    return None, render.excuse_ambiguous(who, len(named)) if named else render.excuse_unknown(who)


@organizers
async def excuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Mark a member excused: /excuse @name 12-01..12-05 出差 (or reply to their message: /excuse 12-01 病假)."""
    svc = services(context)
    chat, admin = update.effective_chat, update.effective_user
    assert chat is not None and admin is not None
    who, rest = _target(update, list(context.args or []))
    if who is None or not rest:
        await reply(update, render.excuse_usage())
        return
    member, refusal = await _member_for(context, chat.id, who)
    if member is None:
        await reply(update, refusal or render.excuse_usage())
        return
    today = await svc.local_today(chat.id)
    if rest[0].lower() in CANCEL_WORDS:
        count = await svc.db(lambda s: s.remove_excuses(chat.id, member.user_id, today))
        await reply(update, render.excuse_cancelled(member.name, count))
        return
    if len(rest) >= 3 and rest[1] in RANGE_WORDS:
        rest = [f"{rest[0]}..{rest[2]}", *rest[3:]]
    try:
        start, end = parse_date_range(rest[0], today)
    except ReversedPeriod as typed:
        await reply(update, render.period_reversed(typed.start, typed.end, typed.with_years))
        return
    except ValueError:
        await reply(update, render.excuse_usage())
        return
    reason, now = " ".join(rest[1:])[:100], svc.clock().timestamp()
    await svc.db(lambda s: s.add_excuse(chat.id, member.user_id, start, end, reason, admin.id, now))
    await reply(update, render.excuse_done(member.name, start, end, reason))


@organizers
async def roster(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The roster: a count in the group, the full table in the admin's private chat; /roster remove @name."""
    svc = services(context)
    chat, admin = update.effective_chat, update.effective_user
    assert chat is not None and admin is not None
    args = list(context.args or [])
    if args and args[0].lower() in {"remove", "移除", "删除", "rm"}:
        await _remove(update, context, args[1:])
        return
    if args:
        await reply(update, render.roster_usage())
        return
    await svc.db(lambda s: s.ensure_group(chat.id, chat.title or ""))
    present, sent = await send_roster(context.bot, svc, admin.id, chat.id)
    text = render.roster_count(present, await chat_size(context, chat.id), sent)
    if not sent:
        text += "\n" + render.private_needed(f"https://t.me/{context.bot.username}?start=roster_{chat.id}")
    await reply(update, text)


async def send_roster(bot: Bot, svc: Services, admin_id: int, chat_id: int) -> tuple[int, bool]:
    """The full roster to the admin in private: (members present, whether it could be sent)."""
    today = await svc.local_today(chat_id)

    def load(s: Store) -> tuple[Group | None, list[Member], set[int]]:
        return s.group(chat_id), s.roster(chat_id, include_gone=True), s.excused_on(chat_id, today)

    group, members, excused = await svc.db(load)
    present = sum(m.status == "present" for m in members)
    try:
        for text in render.roster_table(group.title if group else None, members, excused,
                                        group.timezone if group else svc.config.push.default_timezone):
            await bot.send_message(admin_id, text, parse_mode="HTML")
    except (Forbidden, TelegramError) as exc:  # never started a private chat with the bot (or cannot be written to)
        log.info("roster for %s: private chat with %s failed: %s", chat_id, admin_id, exc)
        return present, False
    return present, True


async def _remove(update: Update, context: ContextTypes.DEFAULT_TYPE, args: list[str]) -> None:
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    who, _ = _target(update, args)
    if who is None:
        await reply(update, render.roster_usage())
        return
    member, _ = await _member_for(context, chat.id, who)
    if member is None:
        await reply(update, render.roster_not_found(who if isinstance(who, str) else who.full_name))
        return
    now = svc.clock().timestamp()
    await svc.db(lambda s: s.member_left(chat.id, member.user_id, now, status="removed"))
    campaign(context).roster.forget(chat.id, member.user_id)
    await reply(update, render.roster_removed(member.name))


async def chat_size(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> int | None:
    """getChatMemberCount without this bot: the denominator of participation; None if Telegram will not say."""
    try:
        return max(await context.bot.get_chat_member_count(chat_id) - 1, 0)
    except TelegramError as exc:
        log.info("member count of %s unavailable: %s", chat_id, exc)
        return None


@organizers
async def remind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The evening reminder: /remind 20:30 names who has not checked in; /remind off."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    text = " ".join(context.args or []).strip()
    await svc.db(lambda s: s.ensure_group(chat.id, chat.title or ""))
    if not text:
        current = await svc.db(lambda s: s.reminder(chat.id))
        await reply(update, render.remind_status(current.remind_time if current else None))
        return
    if text.lower() in OFF_WORDS:
        await svc.db(lambda s: s.set_reminder(chat.id, None))
        await reply(update, render.remind_off())
        return
    try:
        at = parse_time(text)
    except ValueError:
        await reply(update, render.remind_usage())
        return
    await svc.db(lambda s: s.set_reminder(chat.id, at))
    await reply(update, render.remind_set(at))
