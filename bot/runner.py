"""Starting and stopping the bot: online (polling or webhook) and the pieces the offline chat and tests share."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import logging
import signal
from dataclasses import dataclass
from urllib.parse import urlsplit

from telegram.ext import Application, ContextTypes

from bot import render
from bot.app import ALLOWED_UPDATES, build_application, register_commands
from bot.campaign import CAMPAIGN_KEY, CampaignState, CampaignTick
from bot.channels_view import stop_notice
from bot.config import Config
from bot.delivery import Deliverer
from bot.digest import TICK_SECONDS, WeeklyDigest
from bot.fetcher import HandledQueue, UpdateFetcher, leave_out_unparsed, retry_after_header
from bot.handlers import review
from bot.handlers.quiz import ROUNDS_KEY
from bot.logs import redact_also
from bot.quizrounds import QuizRounds, Scope
from bot.reports import warn_without_cjk_font
from bot.robots.push import RobotPusher
from bot.services import Services, build_services
from bot.store import Group, Store
from content.model import Reading
from schedules.campaign import daily_quiz_close
from schedules.scheduler import PushScheduler

log = logging.getLogger(__name__)


@dataclass
class Running:
    """A started bot: the application, its services and its push scheduler."""

    app: Application
    svc: Services
    pusher: PushScheduler[int]
    campaign: CampaignTick  # reminders, daily quiz closes, end-of-plan summaries: `run_now()` with a fake clock
    robots: RobotPusher
    fetcher: UpdateFetcher | None = None  # polling mode; webhook mode receives through PTB's updater


def rounds_of(app: Application) -> QuizRounds:
    found = app.bot_data[ROUNDS_KEY]
    assert isinstance(found, QuizRounds)
    return found


def attach_pusher(app: Application, svc: Services, robots: RobotPusher | None = None) -> PushScheduler[int]:
    """The daily push, on the application's own APScheduler (one scheduler per process)."""
    assert app.job_queue is not None, "python-telegram-bot must be installed with the job-queue extra"
    rounds = rounds_of(app)

    async def after_push(chat_id: int, reading: Reading, group: Group) -> None:
        """Robot channels that follow this group post it too; the day's quiz where the group asked for one, open
        until the evening. `group` is as the delivery read it when it claimed the push."""
        if robots is not None:
            await robots.kick()
        if group.daily_quiz > 0:
            closes = daily_quiz_close(svc.clock(), group.timezone, svc.config.quiz.daily_until)
            scope = Scope(frozenset(reading.refs), render.scope_label("today"))
            refusal = await rounds.start(chat_id, app.bot.id, group.daily_quiz, scope, closes_at=closes.timestamp())
            if refusal is not None:
                log.info("no daily quiz in %s: %s", chat_id, refusal)

    deliverer = Deliverer(svc, app.bot, after_push=after_push)
    return PushScheduler[int](
        app.job_queue.scheduler, lambda: svc.db(Store.push_candidates), deliverer, clock=svc.clock,
        grace=svc.grace, concurrency=svc.config.push.concurrency,
    )


def attach_records_jobs(app: Application, svc: Services) -> None:
    """The weekly digest tick, and one look for a Chinese font (charts) a few seconds after start-up."""
    assert app.job_queue is not None
    digest = WeeklyDigest(svc, app.bot)

    async def digest_tick(context: object) -> None:
        await digest.tick()

    async def font_check(context: object) -> None:
        await check_fonts()

    app.job_queue.run_repeating(digest_tick, interval=TICK_SECONDS, first=60, name="studybot.weekly_digest")
    app.job_queue.run_once(font_check, when=5, name="studybot.font_check")


async def start(svc: Services, base_url: str | None = None, rate_limit: bool = True,
                schedule_pushes: bool = True) -> Running:
    """Initialise, register commands, start the push tick and receive updates; the caller stops it with `stop`.

    `schedule_pushes=False` leaves the push tick to `running.pusher.run_now()` (tests with a fake clock).
    """
    app = build_application(svc, base_url=base_url, rate_limit=rate_limit)
    await app.initialize()
    await register_commands(app)
    robots = RobotPusher(svc, on_stop=stop_notice(svc, app.bot))  # a stopped channel: its group's admins are told
    pusher = attach_pusher(app, svc, robots)
    campaign = CampaignTick(svc, app.bot, rounds_of(app))
    await app.start()
    if schedule_pushes:
        pusher.start()
        assert app.job_queue is not None
        app.job_queue.run_repeating(review.remind_job, interval=60, first=5, name="studybot.review_reminders")
        attach_records_jobs(app, svc)
        robots.start(app.job_queue.scheduler)

        async def tick(_: ContextTypes.DEFAULT_TYPE) -> None:
            await campaign.run_now()

        app.job_queue.run_repeating(tick, interval=60, first=5, name="campaign-tick")
    await rounds_of(app).resume_all()
    fetcher = await _receive_updates(app, svc)
    return Running(app=app, svc=svc, pusher=pusher, campaign=campaign, robots=robots, fetcher=fetcher)


async def _receive_updates(app: Application, svc: Services) -> UpdateFetcher | None:
    """Updates are confirmed to Telegram only once handled and stored (bot/fetcher.py): polling by our own
    fetcher, a webhook POST answered when the update queue's `put` returns."""
    telegram = svc.config.telegram
    if telegram.mode == "webhook":
        assert app.updater is not None and isinstance(app.update_queue, HandledQueue)
        app.update_queue.attach(app, svc.db.flush)
        hook = telegram.webhook
        await app.updater.start_webhook(
            listen=hook.listen, port=hook.port, url_path=urlsplit(hook.url).path.lstrip("/"), webhook_url=hook.url,
            secret_token=webhook_secret(hook.secret_token, telegram.token), allowed_updates=ALLOWED_UPDATES)
        retry_after_header(app, app.update_queue)
        leave_out_unparsed(app, app.update_queue)
        return None
    fetcher = UpdateFetcher(app, svc.db.flush, ALLOWED_UPDATES, timeout=10)
    await fetcher.start()
    return fetcher


class WebhookSecret(str):
    """A webhook secret that compares in constant time and keeps out of reprs.

    PTB's webhook handler checks the header with `header != secret`; the right operand being a str subclass, Python
    calls this class's `__ne__` first, so the check is `hmac.compare_digest` instead of an early-exit comparison.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(str.encode(self, "utf-8", "surrogatepass"),
                                   other.encode("utf-8", "surrogatepass"))

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return "'<secret>'"


def webhook_secret(configured: str, token: str) -> WebhookSecret:
    """The secret Telegram must send with every update (PTB's webhook refuses updates without it with 403).

    Without one, anyone who finds the URL could post a forged update. None configured, one is derived from the bot
    token (HMAC): as unguessable as the token, yet the same in every replica and after every restart, so a second
    webhook replica or the new process of a rolling deploy does not re-key Telegram (setWebhook) to a secret the
    other process would then refuse every update with. It is redacted from the logs and never printed.
    """
    if configured:
        return WebhookSecret(configured)
    digest = hmac.new(token.encode(), b"studybot webhook secret_token", hashlib.sha256).digest()
    secret = WebhookSecret(base64.urlsafe_b64encode(digest).decode().rstrip("="))  # 43 of A-Z a-z 0-9 _ -
    redact_also(secret)
    log.info("telegram.webhook.secret_token is not set: using one derived from the bot token; "
             "updates without it are refused")
    return secret


async def stop(running: Running) -> None:
    await running.pusher.aclose()
    await running.robots.aclose()
    app = running.app
    state = app.bot_data.get(CAMPAIGN_KEY)
    if isinstance(state, CampaignState):
        await state.counts.aclose()
    if running.fetcher is not None:
        await running.fetcher.stop()
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if isinstance(app.update_queue, HandledQueue):
        # Webhook mode: PTB's Application.stop waits for every handler without a limit; a hung one would hold
        # SIGTERM up until a supervisor kills the process mid-write.
        await app.update_queue.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


FREEZE_AFTER = 1.0  # seconds after start-up: the first long poll is out, the bot most likely idle


def freeze_startup_objects() -> None:
    """Move everything built at start-up (the text, the question bank, PTB, the handlers) out of the garbage
    collector's sight: they live as long as the process, and a full collection walking them all held the event loop
    for ~0.1 s every so often during a broadcast (measured: `python -m bench --only push-off`)."""
    gc.collect()
    gc.freeze()


async def check_fonts() -> None:
    """The start-up look for a Chinese font, on a worker thread. It imports matplotlib (~35,000 objects that live
    as long as the process): in a process that froze its start-up objects, these are frozen too, or every later
    full collection walks them (at the bench's push they doubled its pause, to ~0.2 s)."""
    await asyncio.to_thread(warn_without_cjk_font)
    if gc.get_freeze_count():
        gc.freeze()  # no collect() first: that would be the full pass this avoids; the few leftovers stay put


async def serve(config: Config) -> None:
    """Serve Telegram until SIGINT or SIGTERM, then stop cleanly."""
    svc = build_services(config)
    running = await start(svc)
    log.info("studybot serving %s (%d readings) by %s", svc.doc.title, len(svc.plan), config.telegram.mode)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Not before the first getUpdates: the collection takes 0.05-0.1 s, all of it added to the start-up.
    loop.call_later(FREEZE_AFTER, freeze_startup_objects)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        log.info("studybot stopping")
        await stop(running)
        svc.db.close()
