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

`HandledQueue` does the same for the webhook: PTB's webhook handler answers Telegram's POST 200 when
`update_queue.put` returns, so this queue's `put` returns only once the update is handled and the store has
committed what it wrote, and otherwise raises a 503 with Retry-After, which has Telegram send the update again
(it keeps it meanwhile). The handler is given `WEBHOOK_PATIENCE` seconds, the flush after it up to
`WEBHOOK_ANSWER_WITHIN` seconds from the POST; a handler still running then goes on (it is never cancelled), and a
POST of an update still being handled (Telegram sending it again) waits for that handling instead of starting a
second one. Updates handled and stored are remembered (`WEBHOOK_RECORD` of them), so a resend after the handling
ended (a proxy that timed out, a dropped connection) is answered 200 without handling it twice. A handling whose
write SQLite refused is handled again on the next resend, `STORE_RETRIES` times at most (as polling does), then
answered 200 and logged; a handling still going on after `WEBHOOK_GIVE_UP` seconds is answered 200 and logged too,
so that one update cannot hold its chat back for the day Telegram keeps it. The updates `UpdatesRequest` leaves out
of a batch are answered 200 unparsed (`leave_out_unparsed`), by the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes
from telegram.request import HTTPXRequest

from bot.retry import retry_seconds
from bot.storeworker import posted_by

if TYPE_CHECKING:
    import tornado.web

log = logging.getLogger(__name__)

Flush = Callable[[], Awaitable[None]]
RawUpdate = dict[str, Any]
T = TypeVar("T")

BACKOFF_FIRST = 1.0  # PTB's network_retry_loop: 1 s, then ×1.5 up to 30 s
BACKOFF_CAP = 30.0
RETRY_AFTER_SLACK = 0.5
# Webhook answers. Telegram's Bot API server waits 60 s for the answer to a POST, then closes the connection and sends
# the update again (levlam, its maintainer, in tdlib/telegram-bot-api#211 and #341; the 60 s timeout of the
# connections WebhookActor.cpp opens). After a non-2xx answer it sends the update again at once the first time, then
# after 2, 4, 8 ... s up to 60-120 s, or after the answer's Retry-After seconds (WebhookActor::on_update_error). It
# delivers one chat's updates in sequence, the next only once this one is answered 2xx (WebhookActor keeps a queue
# per chat; grammY's deployment guide says the same), so a slow or refused update holds its chat back either way.
# A POST is never answered 200 before its update's writes are committed: a crash after the 200 would lose it.
# How long a POST waits for the handler: past it, the answer is 503 with Retry-After, the handler goes on, and the
# resend joins it. This frees Telegram's connection (a handler stuck on a group's flood budget would hold it a minute)
# where the handler-done case below keeps it. 10 s is grammY's default `timeoutMilliseconds` of webhookCallback,
# though grammY's default on a timeout ("throw") fails the request with a 500, and its "return" answers 200 before
# the handler ends: here the answer is a 503 that asks for the update again.
WEBHOOK_PATIENCE = 10.0
# Once the handler is done, its commit (a store locked by another process: busy_timeout 5 s per statement) is waited
# for until this long after the POST came in, still well inside Telegram's 60 s; then 503 as above.
WEBHOOK_ANSWER_WITHIN = 45.0
WEBHOOK_RETRY_AFTER = 3.0  # seconds, the Retry-After of a 503 (Telegram clamps it to 0-3600)
# A handling still going on this long after it began is answered 200 (and logged at ERROR): Telegram keeps an update
# for 24 h, and a hung handler must not hold its chat's next updates back all that time.
WEBHOOK_GIVE_UP = 300.0
# How many update ids are remembered as handled and stored (a resend of one is answered 200 without handling it
# twice; Telegram resends within minutes) and how many counts of refused handlings are kept.
WEBHOOK_RECORD = 10_000
GET_UPDATES_LIMIT = 100  # the most one getUpdates returns (Bot API)
# Marks the update that stands for those `UpdatesRequest` dropped before PTB parsed them (in the Update's
# api_kwargs): the value is how many it stands for.
IGNORED = "studybot_ignored"
# A handler whose store write SQLite refused (locked, busy) did not handle its update: it is handled again, this
# many times at most, before it is confirmed (a lasting failure must not hold every later update back).
STORE_RETRIES = 3
# On stop, handlers get this long to finish; the rest are cancelled and left unconfirmed (the next start gets them
# again), so SIGTERM is not held up by a handler waiting out a flood budget, or hung for good.
STOP_PATIENCE = 5.0


def dispatch(app: Application, update: Update,
             refused: Callable[[BaseException], None] | None = None) -> asyncio.Task[None]:
    """Hand one update to the application exactly as its own update queue would (same semaphore, same errors).

    `refused` hears of a store write its handlers posted without waiting (`StoreWorker.post`) that then failed."""
    return app.create_task(app.update_processor.process_update(update, _posting(app.process_update(update), refused)),
                           update=update, name=f"studybot:update:{update.update_id}")


async def _posting(handling: Awaitable[None], refused: Callable[[BaseException], None] | None) -> None:
    """Run in the update's own task (its own context): what its handlers post is told to `refused`."""
    posted_by.set(refused)
    await handling


class UpdatesRequest(HTTPXRequest):
    """PTB's transport for getUpdates, which keeps only the id of an update no handler acts on (`ignored`).

    Telegram sends a `poll` update with the new vote counts after every vote, and a bot that wants to hear when its
    quiz polls close has to take them all: half of a quiz burst is updates nothing reads. PTB would parse each into
    an Update (its poll and every option: the costliest update there is) and the fetcher would dispatch it to the
    handlers, only for them to stop at the first. Here they are left out before PTB parses the JSON, all but the
    last of them, which is cut down to `{"update_id": n, IGNORED: how many were left out}`: the fetcher moves its
    offset past it (the ones left out have smaller ids), counts the updates Telegram sent (a full window behind a
    stuck handler, see UpdateFetcher._stop_holding) and dispatches nothing for it.
    """

    def __init__(self, ignored: Callable[[RawUpdate], bool], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignored = ignored

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        data = super().parse_json_payload(payload)
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list):
            ignored = self.ignored
            left_out = [i for i, u in enumerate(result)
                        if isinstance(u, dict) and isinstance(u.get("update_id"), int) and ignored(u)]
            if left_out:
                last, dropped = left_out[-1], set(left_out[:-1])
                result[last] = {"update_id": result[last]["update_id"], IGNORED: len(left_out)}
                data["result"] = [u for i, u in enumerate(result) if i not in dropped]
        return data


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
        if floor is None:  # the usual case, asked after every batch and each time a handler of it finishes
            return min(self._handling) if self._handling else self._next
        held = [uid for uid in self._handling if uid >= floor]
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
            if not self._hand_on(updates) and _sent(updates) >= GET_UPDATES_LIMIT:
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

    def _posted_refused(self, update: Update) -> Callable[[BaseException], None]:
        """A write the update's handler posted failed (heard during the flush before the next confirmation): the
        update did not store what it did, as with `_note_error`, though its handler may have finished already."""

        def refused(error: BaseException) -> None:
            uid = update.update_id
            if not isinstance(error, sqlite3.OperationalError) or uid in self._refused:
                return
            if uid in self._handling:
                self._refused.add(uid)
            elif self._confirmed is None or uid >= self._confirmed:  # finished, not yet confirmed (the flush
                self._refused.add(uid)  # comes first): handled again
                self._done(update)
            # else: posted later by a task its handler started, long after the update was confirmed (logged)

        return refused

    def _dispatch(self, update: Update) -> None:
        uid = update.update_id
        task = dispatch(self.app, update, self._posted_refused(update))
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
            if not update.api_kwargs or not update.api_kwargs.get(IGNORED):
                self._dispatch(update)  # (an ignored one has no handler: confirmed with the rest)
        return fresh


@dataclass
class _Handling:
    """One update being handled in webhook mode: the handler's task, then the handler and the flush together."""

    handler: asyncio.Task[None]  # PTB's process_update under its concurrency limit (dispatch)
    task: asyncio.Task[bool]  # handler, then flush: True if what it wrote is committed
    since: float  # loop time of the POST that started it (the give-up bound counts from it)
    given_up: bool = False  # answered 200 at the give-up bound while still being handled


class HandledQueue(asyncio.Queue[object]):
    """The application's update queue for webhook mode: `put(update)` returns (PTB answers Telegram's POST 200) only
    once the update is handled and what it wrote is committed; otherwise it raises a 503 (Telegram sends the update
    again). Anything else (PTB's stop signal) is queued as usual.

    Until `attach` is called (polling mode, before start), updates are queued as with a plain queue. `ignored` is
    the rule of `UpdatesRequest`: an update it names is answered 200 before PTB parses it (`leave_out_unparsed`).
    """

    def __init__(self, ignored: Callable[[RawUpdate], bool] | None = None) -> None:
        super().__init__()
        self.ignored = ignored
        self._app: Application | None = None
        self._flush: Flush | None = None
        self.patience = WEBHOOK_PATIENCE
        self.answer_within = WEBHOOK_ANSWER_WITHIN
        self.retry_after = WEBHOOK_RETRY_AFTER
        self.give_up = WEBHOOK_GIVE_UP
        self.stop_patience = STOP_PATIENCE
        self.record = WEBHOOK_RECORD
        self._handling: dict[int, _Handling] = {}
        self._refused: set[int] = set()  # handled, but a store write was refused (as UpdateFetcher._note_error)
        # Updates committed (or given up on) and answered: a resend of one is answered 200 without handling it again.
        self._settled: OrderedDict[int, None] = OrderedDict()
        self._tries: OrderedDict[int, int] = OrderedDict()  # update id -> handlings refused so far (across POSTs)

    def attach(self, app: Application, flush: Flush, patience: float = WEBHOOK_PATIENCE) -> None:
        self._app, self._flush, self.patience = app, flush, patience
        app.add_error_handler(self._note_error)

    async def _note_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and isinstance(context.error, sqlite3.OperationalError) \
                and update.update_id in self._handling:
            self._refused.add(update.update_id)

    def _posted_refused(self, uid: int) -> Callable[[BaseException], None]:
        def refused(error: BaseException) -> None:  # told by the flush, before the handling ends
            if isinstance(error, sqlite3.OperationalError) and uid in self._handling:
                self._refused.add(uid)

        return refused

    @property
    def in_flight(self) -> int:
        return len(self._handling)

    async def put(self, item: object) -> None:
        if not isinstance(item, Update) or self._app is None or self._flush is None:
            await super().put(item)
            return
        uid = item.update_id
        if uid in self._settled:
            log.info("update %s was sent again after it was handled and stored: answering 200", uid)
            return
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        handling = self._handling.get(uid)
        if handling is None:
            handler = dispatch(self._app, item, self._posted_refused(uid))
            task = asyncio.create_task(self._handle(handler, self._flush, uid), name=f"studybot:webhook:{uid}")
            handling = self._handling[uid] = _Handling(handler, task, arrived)
            task.add_done_callback(lambda _: self._settle(uid, handling))
        else:
            log.info("update %s was sent again while it is being handled: waiting for that", uid)
        # asyncio.wait never cancels: a slow handler goes on after a 503, and Telegram hanging up on the POST does
        # not stop it either; its resend joins it here.
        await asyncio.wait([handling.handler], timeout=self.patience)
        if handling.handler.done():  # the flush is waited for, up to the overall bound, never answered 200 before
            await asyncio.wait([handling.task], timeout=max(0.0, arrived + self.answer_within - loop.time()))
        task = handling.task
        if not task.done():
            if loop.time() - handling.since >= self.give_up:
                handling.given_up = True
                log.error("update %s is still being handled after %.0f s: answering Telegram 200 so that its "
                          "chat's next updates come; it is lost if the bot stops before its handler ends",
                          uid, self.give_up)
                return
            log.warning("update %s is still being handled after %.0f s: asking Telegram to send it again in %d s",
                        uid, loop.time() - arrived, self.retry_after)
            raise _retry_later("update still being handled")
        if uid in self._settled:
            return
        log.warning("update %s: its handler could not store what it did; asking Telegram to send it again", uid)
        raise _retry_later("update not stored")

    async def _handle(self, handler: asyncio.Task[None], flush: Flush, uid: int) -> bool:
        """Wait for the handler, then commit what it wrote; True if every store write of it was committed."""
        await handler
        await flush()
        return uid not in self._refused

    def _settle(self, uid: int, handling: _Handling) -> None:
        """The handling ended: record the update as settled (a resend is answered 200) or count a refusal."""
        if self._handling.get(uid) is handling:
            del self._handling[uid]
        refused = uid in self._refused
        self._refused.discard(uid)
        task = handling.task
        if task.cancelled():  # stop(): Telegram was answered 503 (or not at all) and keeps the update
            return
        if task.exception() is not None:
            log.error("handling update %s failed", uid, exc_info=task.exception())
            refused = True
        elif not task.result():
            refused = True
        if refused:
            tries = self._tries.pop(uid, 0) + 1
            if tries <= STORE_RETRIES and not handling.given_up:
                _remember(self._tries, uid, tries, self.record)
                log.warning("update %s: its handler could not store what it did (%d of %d); Telegram sends it "
                            "again", uid, tries, STORE_RETRIES + 1)
                return
            log.error("update %s: its handler could not store what it did, %d times; giving up on it", uid, tries)
        self._tries.pop(uid, None)
        _remember(self._settled, uid, None, self.record)

    async def stop(self) -> None:
        """Let the handlings in flight finish, for `stop_patience` seconds at most; cancel the rest (their POSTs
        were answered 503, so Telegram sends them again to the next process)."""
        if not self._handling:
            return
        tasks = [h.task for h in self._handling.values()]
        _, left = await asyncio.wait(tasks, timeout=self.stop_patience)
        if left:
            log.warning("%d update(s) still being handled after %.0f s: stopping them (Telegram sends them "
                        "again)", len(left), self.stop_patience)
            handlers = [h.handler for h in self._handling.values() if h.task in left]
            for task in left:
                task.cancel()
            for handler in handlers:
                handler.cancel()
            await asyncio.wait([*left, *handlers])


def _remember(record: OrderedDict[int, T], key: int, value: T, cap: int) -> None:
    """Record `key` as the newest entry, dropping the oldest beyond `cap`."""
    record[key] = value
    record.move_to_end(key)
    while len(record) > cap:
        record.popitem(last=False)


def _retry_later(reason: str) -> Exception:
    """Not 200: Telegram keeps the update and sends it again (PTB's webhook answers the raised error's status; the
    Retry-After header is added by `retry_after_header`)."""
    from tornado.web import HTTPError

    return HTTPError(503, reason=reason)


def retry_after_header(app: Application, queue: HandledQueue) -> None:
    """Add `Retry-After: queue.retry_after` to the webhook server's 503 answers (only HandledQueue answers 503).

    Telegram's Bot API server reads the header (HttpQuery::get_retry_after) and sends the update again after that
    many seconds; without it, the first resend comes at once and the later ones back off 2, 4, 8 ... up to 60-120 s.
    PTB builds the tornado application inside `start_webhook` and gives no hook for headers: it is reached through
    the updater's server, and a tornado output transform sets the header.
    """
    import tornado.web

    class RetryAfter(tornado.web.OutputTransform):
        def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes,
                                  finishing: bool) -> tuple[int, Any, bytes]:
            if status_code == 503:
                headers["Retry-After"] = str(max(1, round(queue.retry_after)))
            return status_code, headers, chunk

    web_app = _webhook_app(app)
    if web_app is None:
        log.warning("the webhook server could not be found: 503 answers go without Retry-After")
        return
    web_app.add_transform(RetryAfter)


def leave_out_unparsed(app: Application, queue: HandledQueue) -> None:
    """Answer 200 to the updates `queue.ignored` names before PTB parses them, as `UpdatesRequest` leaves them out
    of a getUpdates batch (an open poll's vote counts after every vote: half of a quiz burst, the costliest to parse).

    PTB's webhook handler parses every POST into an Update and queues it; its class is swapped in the server's route
    for a subclass that first checks the request as PTB does (content type, secret token), then reads the JSON and
    answers 200 (Telegram must not send it again) without parsing or dispatching what the rule names. Anything else
    goes to PTB's own `post`, which reads the JSON again: 4 µs for a /toc message, where parsing it into an Update
    alone takes 130 µs (timeit, this machine).
    """
    from telegram.ext._utils.webhookhandler import TelegramHandler

    if queue.ignored is None:
        return
    ignored: Callable[[RawUpdate], bool] = queue.ignored
    rules = getattr(getattr(_webhook_app(app), "wildcard_router", None), "rules", [])
    routes = [rule for rule in rules if rule.target is TelegramHandler]
    if not routes:
        log.warning("the webhook server could not be found: every update is parsed and dispatched")
        return

    class LeavingOut(TelegramHandler):
        async def post(self) -> None:
            self._validate_post()  # a forged or malformed POST is refused before anything else, as in PTB's post
            try:
                data = json.loads(self.request.body)
            except ValueError:
                data = None  # PTB's post answers it as before
            if isinstance(data, dict) and ignored(data):
                self.set_status(HTTPStatus.OK)
                return
            await super().post()

    for rule in routes:
        rule.target = LeavingOut


def _webhook_app(app: Application) -> tornado.web.Application | None:
    """The tornado application PTB's `start_webhook` built: it gives no hook for headers or routes."""
    import tornado.web

    server = getattr(getattr(app.updater, "_httpd", None), "_http_server", None)
    web_app = getattr(server, "request_callback", None)
    return web_app if isinstance(web_app, tornado.web.Application) else None


def _sent(updates: Sequence[Update]) -> int:
    """How many updates Telegram sent in this batch: one that stands for those left out unparsed counts for all."""
    return sum(int(u.api_kwargs.get(IGNORED, 1)) if u.api_kwargs else 1 for u in updates)


def _capped(offset: int | None, ceiling: int | None) -> int | None:
    return offset if ceiling is None or (offset is not None and offset <= ceiling) else ceiling


def _backoff(delay: float) -> float:
    return BACKOFF_FIRST if delay == 0 else min(BACKOFF_CAP, delay * 1.5)
