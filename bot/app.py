"""Builds the python-telegram-bot Application: every handler is registered here, in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, Chat, ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import render
from bot.campaign import CAMPAIGN_KEY, CampaignState, CountEditor, RosterCache
from bot.fetcher import HandledQueue, RawUpdate, UpdatesRequest
from bot.handlers import groups, lookup, quiz, records, reports, review
from bot.quizrounds import QuizRounds
from bot.ratelimit import FloodLimiter
from bot.review import PersonalReview
from bot.services import SERVICES_KEY, Services, services

log = logging.getLogger(__name__)

# CHAT_MEMBER: joins and leaves for the roster (Telegram sends them only to admin bots, and only when asked).
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER, Update.CHAT_MEMBER,
                   Update.POLL_ANSWER, Update.POLL]

POLL_GROUP = -3  # poll updates, before every other handler (PollNews)
LEARN_GROUP = 5  # handler group of the roster learner: any handler group between 0 and it stays free for others


# Settings an admin sends are never dropped: a flood of lookups must not swallow "/settime 07:30".
ADMIN_ONLY = {"subscribe", "unsubscribe", "settime", "timezone", "days", "pause", "resume", "goto", "dailyquiz",
              "stopquiz"}


def _command(update: Update) -> str:
    text = update.message.text if update.message is not None and update.message.text else ""
    return text[1:].split(maxsplit=1)[0].split("@")[0].lower() if text.startswith("/") and len(text) > 1 else ""


async def throttle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop a member's flood of commands with one short notice; other members and groups are unaffected."""
    user = update.effective_user
    if (user is None or update.poll_answer is not None or update.poll is not None
            or update.my_chat_member is not None or update.chat_member is not None):
        return
    svc = services(context)
    now = time.monotonic()
    if svc.throttle.allow(user.id, now):
        await _group_budget(update, context, svc, now)
        return
    if _command(update) in ADMIN_ONLY and await svc.admins.is_admin(update):
        return
    log.info("throttled user %s", user.id)
    if update.callback_query is not None:
        # Unanswered, the member's button would spin; the answer is a toast, not a chat message.
        await update.callback_query.answer(render.throttled())
    elif update.effective_message is not None and svc.throttle.first_refusal(user.id):
        await update.effective_message.reply_text(render.throttled(), do_quote=True)
    raise ApplicationHandlerStop


async def _group_budget(update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, now: float) -> None:
    """A group's commands beyond what its replies can use in a minute are dropped (bot/throttle.py ChatBudget),
    so no handler waits a minute for that group's flood budget while other chats wait for a handler."""
    chat, command = update.effective_chat, _command(update)
    if chat is None or chat.type not in (Chat.GROUP, Chat.SUPERGROUP) or not command:
        return
    limiter = context.bot.rate_limiter
    if not isinstance(limiter, FloodLimiter) or not limiter.paces_groups:
        return  # replies do not wait for a group's budget: nothing to keep them from
    if svc.chat_budget.allow(chat.id, now):
        return
    if command in ADMIN_ONLY and await svc.admins.is_admin(update):
        return
    log.info("group %s is over its reply budget: command dropped", chat.id)
    if svc.chat_budget.first_refusal(chat.id):
        # Not awaited: the notice waits for the group's budget like any send, in a task of its own.
        context.application.create_task(_notify_busy(context, chat.id), update=update)
    raise ApplicationHandlerStop


async def _notify_busy(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    try:
        await context.bot.send_message(chat_id, render.group_over_budget())
    except TelegramError as exc:
        log.info("could not tell group %s it is over its budget: %s", chat_id, exc)


async def allowed_chats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """With `telegram.allowed_chats` set, the bot serves only those groups: elsewhere it says so once and leaves."""
    allowed = services(context).config.telegram.allowed_chats
    chat = update.effective_chat
    if not allowed or chat is None or chat.type not in (Chat.GROUP, Chat.SUPERGROUP) or chat.id in allowed:
        return
    message = update.effective_message
    if message is not None and message.migrate_from_chat_id in allowed:
        return  # a listed group became a supergroup: its new id belongs to it (list it too, see README)
    change = update.my_chat_member
    leaving = change is not None and change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED)
    if not leaving:
        log.info("chat %s is not in telegram.allowed_chats: leaving", chat.id)
        try:
            await context.bot.send_message(chat.id, render.chat_not_allowed())
            await context.bot.leave_chat(chat.id)
        except TelegramError as exc:
            log.info("could not leave chat %s: %s", chat.id, exc)
    raise ApplicationHandlerStop


class StrangerChats(TypeHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Updates from a group outside `telegram.allowed_chats` (none when the list is empty). Decided here, not in the
    callback: a callback costs a context and a coroutine per update, twice per quiz answer (answer + vote counts)."""

    def __init__(self, allowed: tuple[int, ...],
                 callback: Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]) -> None:
        super().__init__(Update, callback)
        self.allowed = frozenset(allowed)

    def check_update(self, update: object) -> bool:
        if not self.allowed or not isinstance(update, Update):
            return False
        chat = update.effective_chat
        return chat is not None and chat.type in (Chat.GROUP, Chat.SUPERGROUP) and chat.id not in self.allowed


def vote_counts(update: RawUpdate) -> bool:
    """An update that is only the new vote counts of a poll still open (Telegram sends one after every vote): no
    handler acts on it (PollNews stops it unhandled), so it is dropped unparsed, by the fetcher (bot/fetcher.py
    UpdatesRequest) and by the webhook (leave_out_unparsed). A closed poll's update is kept: it moves the round on."""
    poll = update.get("poll")
    return len(update) == 2 and isinstance(poll, dict) and poll.get("is_closed") is False


class PollNews(BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Every poll update, first of all handlers. Telegram sends one after each vote (the new counts): unmatched,
    each would be tried against every command handler; here it costs one check. Only a closed poll reaches the
    callback, and no other handler needs a poll update, so handling stops here."""

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and update.poll is not None

    async def handle_update(self, update: Update, application: Application[Any, Any, Any, Any, Any, Any],
                            check_result: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.poll is not None and update.poll.is_closed:
            await self.callback(update, context)
        raise ApplicationHandlerStop


class MemberUpdates(TypeHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Updates a member sent (messages, button presses), the ones the throttle weighs. Poll answers, poll updates
    and membership news are left out here, not in the callback: a quiz burst then costs no extra callback."""

    def __init__(self, callback: Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]) -> None:
        super().__init__(Update, callback)

    def check_update(self, update: object) -> bool:
        return (isinstance(update, Update) and update.poll_answer is None and update.poll is None
                and update.my_chat_member is None)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every handler error with its traceback; the token is redacted by the logging filter."""
    log.error("error while handling an update", exc_info=context.error)


async def register_commands(app: Application) -> None:
    """setMyCommands with Chinese descriptions, for groups and private chats."""
    commands = [BotCommand(name, desc) for name, desc in render.COMMANDS]
    for scope in (BotCommandScopeAllGroupChats(), BotCommandScopeAllPrivateChats()):
        await app.bot.set_my_commands(commands, scope=scope)
    await app.bot.set_my_commands(commands)


def add_handlers(app: Application) -> None:
    app.add_handler(PollNews(quiz.poll_update), group=POLL_GROUP)
    allowed = app.bot_data[SERVICES_KEY].config.telegram.allowed_chats
    app.add_handler(StrangerChats(allowed, allowed_chats), group=-2)
    app.add_handler(MemberUpdates(throttle), group=-1)
    # Poll answers come in bursts during a quiz: matched first, they skip two dozen command checks each.
    app.add_handler(PollAnswerHandler(quiz.poll_answer))
    commands = {
        "start": reports.start, "help": lookup.start, "toc": lookup.toc, "section": lookup.section,
        "search": lookup.search, "today": lookup.today, "next": lookup.next_reading,
        "subscribe": groups.subscribe, "unsubscribe": groups.unsubscribe, "settime": groups.settime,
        "timezone": groups.timezone, "days": groups.days, "pause": groups.pause, "resume": groups.resume,
        "settings": groups.settings, "goto": groups.goto, "dailyquiz": groups.dailyquiz, "progress": groups.progress,
        "quiz": quiz.quiz, "stopquiz": quiz.stopquiz, "leaderboard": quiz.leaderboard, "mystats": quiz.mystats,
        "excuse": records.excuse, "roster": records.roster, "remind": records.remind,
        "report": reports.report, "export": reports.export,
        "review": review.review, "reminder": review.reminder, "forgetme": review.forgetme,
    }
    # The 去私聊复习 deep link is a /start with a payload: it goes to review before the plain /start.
    app.add_handler(CommandHandler("start", review.start_from_link, filters=filters.Regex(r"^/start\S*\s+review_")))
    for name, handler in commands.items():
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(ChatMemberHandler(groups.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, groups.migrated))
    app.add_handler(ChatMemberHandler(records.chat_member, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, records.joined))
    app.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, records.left))
    app.add_handler(CallbackQueryHandler(records.checkin, pattern=r"^ck:"))
    app.add_handler(CallbackQueryHandler(review.button, pattern=r"^rv:"))
    app.add_handler(CallbackQueryHandler(lookup.button))
    app.add_handler(MessageHandler(filters.Regex(r"^/section_[a-z0-9_]+(@\w+)?(\s|$)"), lookup.section_command))
    app.add_handler(MessageHandler(filters.COMMAND, lookup.unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, lookup.plain_text))
    # A group of its own, after the handlers above: every message and press also teaches the roster.
    app.add_handler(MemberUpdates(records.learn), group=LEARN_GROUP)
    # Second group: these see updates the first group also handles (quiz polls, service messages).
    app.add_handler(PollAnswerHandler(review.poll_answer), group=1)
    app.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, review.member_left), group=1)
    app.add_error_handler(on_error)


SEND_CONNECTIONS = 128  # at most this many requests in flight at once (more wait up to 30 s for a connection)
# Connections kept open while idle, beyond which an idle one is closed. httpcore walks every connection of the pool
# at each request's start and end (for each idle one a poll of its socket, and a count of the whole pool), so a pool
# left at the size of a past burst (httpx keeps idle connections 5 s, refreshed by any use) made every request of a
# limits-off broadcast cost ~1.5x as much CPU. At Telegram's 30 messages a second a bot has a few requests in flight,
# far below this: a connection is only closed and opened again above it, in a burst.
KEPT_ALIVE = 16


def sending_request(timeout: float, proxy: str | None) -> HTTPXRequest:
    """PTB's client for every request but getUpdates: its connection pool with at most KEPT_ALIVE idle connections
    (PTB's own sets no such limit)."""
    return HTTPXRequest(
        connection_pool_size=SEND_CONNECTIONS,
        pool_timeout=30,
        # Generous, so a slow answer is waited for rather than retried: a retried send could arrive twice.
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=min(timeout, 10.0),
        proxy=proxy or None,
        httpx_kwargs={"limits": httpx.Limits(max_connections=SEND_CONNECTIONS, max_keepalive_connections=KEPT_ALIVE)},
    )


def build_application(svc: Services, base_url: str | None = None, rate_limit: bool = True) -> Application:
    """The bot, pointed at Telegram or at a local stand-in (`base_url`), with the services attached."""
    config = svc.config
    token = config.telegram.token or "0:offline"
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url or config.telegram.base_url)
        .update_queue(HandledQueue(vote_counts))  # webhook: a POST is answered once its update is stored (fetcher.py)
        .concurrent_updates(64)
        .request(sending_request(config.telegram.timeout, config.telegram.proxy))
    )
    # The long-poll client for getUpdates: PTB's own defaults (one connection, default timeouts), with the proxy.
    builder = builder.get_updates_request(UpdatesRequest(vote_counts, connection_pool_size=1,
                                                         proxy=config.telegram.proxy or None))
    # Every request is retried by one policy in the limiter; `rate_limit=False` keeps the retries, drops the pacing.
    limiter = FloodLimiter() if rate_limit else FloodLimiter(overall_rate=None, group_rate=None)
    builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]
    app = builder.build()
    app.bot_data[SERVICES_KEY] = svc
    assert app.job_queue is not None, "python-telegram-bot must be installed with the job-queue extra"
    app.bot_data[quiz.ROUNDS_KEY] = QuizRounds(svc, app.bot, app.job_queue, svc.questions)
    app.bot_data[CAMPAIGN_KEY] = CampaignState(RosterCache(), CountEditor(svc, app.bot))
    app.bot_data[review.REVIEW_KEY] = PersonalReview(svc, app.bot, svc.questions)
    add_handlers(app)
    return app
