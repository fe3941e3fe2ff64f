"""Receiving updates so that nothing Telegram is told we have can be lost: handled and stored first, confirmed after.

Telegram forgets an update once the bot confirms it: with long polling, the next getUpdates whose `offset` is past
it; with a webhook, the 200 answer to its POST. PTB's Updater confirms as soon as an update is queued, before its
handler ran, and the store group-commits hot writes on its own thread: a crash in between lost the update for good.

`UpdateFetcher` (polling) replaces `Updater.start_polling`. It hands each update to the Application as PTB does
(`process_update` under the same concurrency limit, one task per update) and confirms an offset only once every
update below it has been handled and the store worker has committed what was submitted (`StoreWorker.flush`).

Between two getUpdates it waits for the handlers of the last batch: the next getUpdates can confirm only up to the
oldest unfinished update, and Telegram sends everything from there again, each update parsed again only to be
skipped by id. In a burst (handlers busy for longer than a fixed wait) that made 2.4 updates fetched and parsed
for each one handled, a quarter of the CPU a command cost. So it waits for as long as handlers keep finishing, and
polls once the batch is done. A handler may wait a minute for its group's flood budget, though, and fetching must
go on meanwhile: once no handler has finished for `patience` seconds, it polls anyway, and only the new updates
are handed on. getUpdates returns at most 100 updates, though: once a whole window of them is behind
a stuck handler, nothing newer would ever come, so the offset then moves past the stuck ones (still being handled;
only a crash before they finish loses them) and says so in the log.

Otherwise it behaves as PTB's updater: deleteWebhook first (dropping pending updates if asked), a 10 s long poll
with an explicit allowed_updates, retries with back-off on network errors, RetryAfter honoured, a clear message on
409 Conflict (another instance polling with this token), and on stop a last getUpdates that confirms what was
handled.

`HandledQueue` does the same for the webhook: PTB's webhook handler answers Telegram's POST when `update_queue.put`
returns, so this queue's `put` handles the update and flushes the store first, waiting at most `WEBHOOK_PATIENCE`
seconds for both. A handler still running then goes on (it is never cancelled) and the POST is answered anyway; a
POST of an update still being handled (Telegram sending it again) waits for that handling instead of starting a
second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes

from bot.retry import retry_seconds

log = logging.getLogger(__name__)

Flush = Callable[[], Awaitable[None]]

BACKOFF_FIRST = 1.0  # PTB's network_retry_loop: 1 s, then ×1.5 up to 30 s
BACKOFF_CAP = 30.0
RETRY_AFTER_SLACK = 0.5
# How long a webhook POST waits for its update to be handled and stored before it is answered anyway. Telegram's
# Bot API server waits 60 s for the answer, then closes the connection and sends the update again (levlam, its
# maintainer, in tdlib/telegram-bot-api#211 and #341; the 60 s read timeout of the connections WebhookActor.cpp
# opens), so the answer must come well before that. And it delivers one chat's updates in sequence, the next only
# once this one is answered (WebhookActor keeps a queue per chat; grammY's deployment guide says the same), so every
# second of the cap is a second that chat's next message may wait. 10 s is grammY's default for the same trade-off
# (`webhookCallback`'s timeoutMilliseconds): longer than an ordinary handler, a flush or one 429 of a few seconds,
# and short enough that a handler stuck on a group's flood budget holds its chat back for at most that.
WEBHOOK_PATIENCE = 10.0
GET_UPDATES_LIMIT = 100  # the most one getUpdates returns (Bot API)
# A handler whose store write SQLite refused (locked, busy) did not handle its update: it is handled again, this
# many times at most, before it is confirmed (a lasting failure must not hold every later update back).
STORE_RETRIES = 3
# On stop, handlers get this long to finish; the rest are cancelled and left unconfirmed (the next start gets them
# again), so SIGTERM is not held up by a handler waiting out a flood budget, or hung for good.
STOP_PATIENCE = 5.0


def dispatch(app: Application, update: Update) -> asyncio.Task[None]:
    """Hand one update to the application exactly as its own update queue would (same semaphore, same errors)."""
    return app.create_task(app.update_processor.process_update(update, app.process_update(update)), update=update,
                           name=f"studybot:update:{update.update_id}")


class UpdateFetcher:
    """Long polling that confirms an update to Telegram only after it is handled and stored."""

    def __init__(self, app: Application, flush: Flush, allowed_updates: Sequence[str], timeout: float = 10.0,
                 patience: float = 0.25, drop_pending_updates: bool = False) -> None:
        self.app = app
        self.flush = flush
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.patience = patience
        self.drop_pending_updates = drop_pending_updates
        self.stop_patience = STOP_PATIENCE
        self._handling: dict[int, asyncio.Task[None]] = {}  # dispatched, not finished yet
        self._next: int | None = None  # the first update id not handed on yet
        self._confirmed: int | None = None  # the offset last sent to Telegram
        # Confirmed past updates still being handled, because they filled a whole getUpdates window (_run).
        self._floor: int | None = None
        self._refused: set[int] = set()  # updates whose handler met a store error (see _note_error)
        self._tries: dict[int, int] = {}
        self._cancelling = False  # stop() is cancelling the handlers left: none is handled again
        self._progress = asyncio.Event()  # set when a handler finishes (_settle waits on it)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def offset(self) -> int | None:
        """What may be confirmed now: everything below the oldest update still being handled, leaving out those
        already confirmed past (below the floor): once a stuck one was, it no longer holds back what came after."""
        floor = self._floor
        held = [uid for uid in self._handling if floor is None or uid >= floor]
        return min(held) if held else self._next

    async def start(self) -> None:
        # deleteWebhook: getUpdates is refused while a webhook is set (PTB's bootstrap does the same, no retries).
        await self.app.bot.delete_webhook(drop_pending_updates=self.drop_pending_updates)
        self.app.add_error_handler(self._note_error)
        self._task = asyncio.create_task(self._run(), name="studybot:fetcher")

    async def stop(self) -> None:
        """Stop fetching (an unanswered long poll is abandoned), let the handlers finish, store, confirm."""
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_patience
        while self._handling and (left := deadline - loop.time()) > 0:  # (an update handled again: a new task)
            await asyncio.wait(list(self._handling.values()), timeout=left)
        ceiling = self.offset()  # below every unfinished update: those stay at Telegram's side for the next start
        if self._handling:
            stuck = list(self._handling.values())
            log.warning("%d update(s) still being handled after %.0f s: stopping them unconfirmed (the next start "
                        "gets them again)", len(stuck), self.stop_patience)
            self._cancelling = True
            for handler in stuck:
                handler.cancel()
            await asyncio.wait(stuck)
        try:
            await self._confirm(0.0, ceiling)
        except TelegramError as exc:  # the next start fetches the handled ones again (handlers are idempotent)
            log.warning("could not confirm the last updates to Telegram: %s", exc)

    async def _confirm(self, timeout: float, ceiling: int | None = None) -> list[Update]:
        """getUpdates with the confirmable offset (never past `ceiling`), after the store has committed everything
        submitted so far."""
        offset = _capped(self.offset(), ceiling)
        if offset != self._confirmed:
            await self.flush()
            # handlers may have finished during the flush: their writes are in it too
            offset = _capped(self.offset(), ceiling)
        updates = await self.app.bot.get_updates(offset=offset, timeout=timeout,
                                                 allowed_updates=self.allowed_updates)
        self._confirmed = offset
        return list(updates)

    async def _run(self) -> None:
        delay = 0.0
        while True:
            if delay:
                await asyncio.sleep(delay)
            try:
                updates = await self._confirm(self.timeout)
            except RetryAfter as exc:
                delay = retry_seconds(exc) + RETRY_AFTER_SLACK
                log.warning("getUpdates: flood control, retrying in %.1f s", delay)
                continue
            except TimedOut:
                delay = 0.0  # a long poll that outlived the read timeout: poll again at once
                continue
            except InvalidToken:
                log.critical("getUpdates: the bot token was refused; no more updates will be received")
                return
            except Conflict as exc:
                delay = _backoff(delay)
                log.error("getUpdates: 409 Conflict (%s). Another process is polling with this bot token, or a "
                          "webhook is set: run one polling instance only. Retrying in %.1f s", exc.message, delay)
                continue
            except TelegramError as exc:
                delay = _backoff(delay)
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc, delay)
                continue
            except Exception:  # an update PTB cannot parse: the batch comes again; do not spin on it
                delay = _backoff(delay)
                log.critical("getUpdates returned data that could not be read; retrying in %.1f s", delay,
                             exc_info=True)
                continue
            delay = 0.0
            if not self._hand_on(updates) and len(updates) >= GET_UPDATES_LIMIT:
                self._stop_holding()
            await self._settle()

    async def _settle(self) -> None:
        """Wait until the next getUpdates would bring only new updates (every update handed on is handled, or
        confirmed past: see _stop_holding), for as long as handlers keep finishing: no handler finished for
        `patience` seconds means one is slow, and fetching goes on."""
        while self._handling and self._resent() > 0:
            self._progress.clear()
            try:
                async with asyncio.timeout(self.patience):
                    await self._progress.wait()
            except TimeoutError:
                return

    def _resent(self) -> int:
        """How many updates already handed on the next getUpdates would bring again (at most; ids may skip)."""
        offset = self.offset()
        return 0 if offset is None or self._next is None else self._next - offset

    def _stop_holding(self) -> None:
        """A whole getUpdates window holds only updates already handed on: the ones still being handled hold the
        offset, and Telegram would never send anything newer. Confirm past them (they go on being handled; only a
        crash before they finish loses them) rather than stop receiving."""
        stuck = sorted(uid for uid in self._handling if self._next is None or uid < self._next)
        self._floor = self._next
        log.warning("%d update(s) still being handled (oldest %s) hold back a full getUpdates window: confirming "
                    "past them so that new updates come in", len(stuck), stuck[0] if stuck else "-")

    async def _note_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's process_update hands a handler's error to the error handlers and returns normally: this is how the
        fetcher learns that an update was not stored."""
        if isinstance(update, Update) and isinstance(context.error, sqlite3.OperationalError) \
                and update.update_id in self._handling:
            self._refused.add(update.update_id)

    def _dispatch(self, update: Update) -> None:
        uid = update.update_id
        task = dispatch(self.app, update)
        self._handling[uid] = task
        task.add_done_callback(lambda _: self._done(update))

    def _done(self, update: Update) -> None:
        uid = update.update_id
        if uid in self._refused:
            self._refused.discard(uid)
            tries = self._tries.get(uid, 0) + 1
            if tries <= STORE_RETRIES and self.app.running and not self._cancelling:
                self._tries[uid] = tries
                log.warning("update %s: its handler could not store what it did; handling it again (%d of %d)",
                            uid, tries, STORE_RETRIES)
                self._dispatch(update)  # the offset stays held meanwhile
                return
            log.error("update %s: its handler could not store what it did, %d times; giving up on it", uid, tries)
        self._tries.pop(uid, None)
        self._handling.pop(uid, None)
        self._progress.set()

    def _hand_on(self, updates: list[Update]) -> int:
        """Dispatch the updates not handed on yet; how many there were."""
        fresh = 0
        for update in updates:
            uid = update.update_id
            if self._next is not None and uid < self._next:
                continue  # sent again because an older one is still being handled: already handed on
            self._next = uid + 1
            fresh += 1
            self._dispatch(update)
        return fresh


class HandledQueue(asyncio.Queue[object]):
    """The application's update queue for webhook mode: `put(update)` returns once it is handled and stored (or
    after `patience` seconds), so PTB's webhook handler answers Telegram's POST only then. Anything else (PTB's stop
    signal) is queued as usual.

    Until `attach` is called (polling mode, before start), updates are queued as with a plain queue.
    """

    def __init__(self) -> None:
        super().__init__()
        self._app: Application | None = None
        self._flush: Flush | None = None
        self.patience = WEBHOOK_PATIENCE
        # update id -> its handling (handler, then flush): True when a store write was refused
        self._handling: dict[int, asyncio.Task[bool]] = {}
        self._refused: set[int] = set()  # handled, but a store write was refused (as UpdateFetcher._note_error)

    def attach(self, app: Application, flush: Flush, patience: float = WEBHOOK_PATIENCE) -> None:
        self._app, self._flush, self.patience = app, flush, patience
        app.add_error_handler(self._note_error)

    async def _note_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and isinstance(context.error, sqlite3.OperationalError) \
                and update.update_id in self._handling:
            self._refused.add(update.update_id)

    async def put(self, item: object) -> None:
        if not isinstance(item, Update) or self._app is None or self._flush is None:
            await super().put(item)
            return
        uid = item.update_id
        handling = self._handling.get(uid)
        if handling is None:
            handling = self._handling[uid] = asyncio.create_task(self._handle(self._app, self._flush, item),
                                                                 name=f"studybot:webhook:{uid}")
            handling.add_done_callback(lambda task: self._forget(uid, task))
        else:
            log.info("update %s was sent again while it is being handled: waiting for that", uid)
        # asyncio.wait never cancels: a slow handler goes on after the answer, and Telegram hanging up on the POST
        # does not stop it either.
        done, _ = await asyncio.wait([handling], timeout=self.patience)
        if not done:
            log.warning("update %s is still being handled after %.0f s: answering Telegram anyway",
                        uid, self.patience)
            return
        if handling.result():
            # Not 200: Telegram sends the update again later (PTB's webhook answers the raised error's status).
            from tornado.web import HTTPError

            log.warning("update %s: its handler could not store what it did; asking Telegram to send it again", uid)
            raise HTTPError(503, reason="update not stored")

    async def _handle(self, app: Application, flush: Flush, update: Update) -> bool:
        """Handle the update and commit what it wrote; True if a store write was refused."""
        await dispatch(app, update)
        await flush()
        return update.update_id in self._refused

    def _forget(self, uid: int, task: asyncio.Task[bool]) -> None:
        if self._handling.get(uid) is task:
            del self._handling[uid]
        self._refused.discard(uid)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling update %s failed", uid, exc_info=task.exception())


def _capped(offset: int | None, ceiling: int | None) -> int | None:
    return offset if ceiling is None or (offset is not None and offset <= ceiling) else ceiling


def _backoff(delay: float) -> float:
    return BACKOFF_FIRST if delay == 0 else min(BACKOFF_CAP, delay * 1.5)
