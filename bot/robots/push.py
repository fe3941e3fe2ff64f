"""The daily reading into robot groups: claim, post every part through the robot's limiter, record.

Own-schedule channels are due by the same pure rules as Telegram groups (`schedules.due.due_groups`: time, zone,
weekdays, catch-up within the grace period). A `follow:` channel posts what its Telegram group is
delivered, once that delivery is recorded (the Telegram push kicks a tick, so it follows within moments); after an
outage it catches up the group's pushes one by one, oldest first.

Exactly once per (channel, local date), through the same push ledger as Telegram groups (`store.ledger`, key
`channel_key(kind, name)`), walked as bot/delivery.py walks it: claim → post the parts (each recorded, the lease
renewed while the claim is held) → record, retried until written. A second process, a restart or a racing tick
never posts a claimed reading again, and a claim taken over or resumed after a failure skips the parts already
posted. An answer that leaves it unknown whether a part was posted (timeout,
dropped connection, 5xx) repeats that part once at once; if that is unknown too the delivery is released and
retried later. A lost answer can therefore mean one repeat of a part; a reading is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx

from bot import render
from bot.claimhold import lease_renewed, until_written
from bot.logs import redact
from bot.robots.channels import ChannelConfig
from bot.robots.client import Answer, post
from bot.robots.dailyq import pick
from bot.robots.formats import Payload, RobotText, posts
from bot.robots.limiter import RobotLimiter, feishu_quiet_delay
from bot.services import Services
from bot.store import RobotChannel, Store
from content.model import Reading
from schedules.due import due_groups
from schedules.ledger import Claim, LostClaim, PlanRule, channel_key

log = logging.getLogger(__name__)

LEASE = 180.0  # seconds a claim stays ours without renewal: longer than a part's post and its limiter wait
RECORD_BACKOFF_CAP = 30.0
T = TypeVar("T")
# Told when a channel stops (robot removed, bad signature, keyword missing): the runner tells the group's admins.
StopNotice = Callable[[ChannelConfig, Answer], Awaitable[None]]
TICK_JOB_ID = "studybot.robot_tick"


FOLLOW_DAYS = 7  # a follow channel catches up the group's pushes of this many days after an outage


def follow_due(pushes: list[tuple[dt.date, int]], last_posted: dt.date | None) -> tuple[dt.date, int] | None:
    """The followed group's push a follow channel posts next: the oldest after its last post, one at a time.

    Before its first post a channel starts with the group's latest push (it does not replay the group's history).
    """
    if not pushes:
        return None
    if last_posted is None:
        return pushes[-1]
    return next(((d, day) for d, day in pushes if d > last_posted), None)


class RobotPushFailed(Exception):
    """Not posted (or not all parts): retried by a later tick within the grace period."""


class RobotStopped(RobotPushFailed):
    """The platform refused the channel for good: it is stopped until the robot or the config is fixed."""


def robot_text(svc: Services, reading: Reading) -> RobotText:
    total = len(svc.plan)
    return RobotText(title=render.robot_title(reading), header=render.reading_header(svc.doc, reading, total),
                     body=render.reading_body(reading), footer=render.robot_refs(svc.doc, reading))


def reading_posts(svc: Services, channel: ChannelConfig, reading: Reading) -> list[Payload]:
    """Every body of the day's post, in order: the same for the same (channel, day), so a resume skips exactly."""
    text = robot_text(svc, reading)
    if not channel.daily_question:
        return posts(channel.kind, channel.format, text)
    if reading.day > 1 and (before := pick(svc.questions, svc.reading(reading.day - 1), channel.name)) is not None:
        q = before.question
        answer = render.robot_answer(q.question, before.letter, before.options[before.correct], q.explanation)
        text = replace(text, body=f"{answer}\n\n{text.body}")
    bodies = posts(channel.kind, channel.format, text)
    today = pick(svc.questions, reading, channel.name)
    if today is not None:
        title = render.robot_question_title()
        bodies += posts(channel.kind, channel.format,
                        RobotText(title=title, header=title, body=render.robot_question(today.question.question,
                                                                                       today.options)))
    return bodies


class RobotPusher:
    """Posts due readings to every configured robot channel; one tick a minute on the bot's APScheduler."""

    def __init__(self, svc: Services, http: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, concurrency: int = 64,
                 failure_backoff: dt.timedelta = dt.timedelta(minutes=5), on_stop: StopNotice | None = None) -> None:
        self.svc = svc
        self.on_stop = on_stop
        self.channels = {c.name: c for c in svc.config.channels}
        self._http = http  # made on first use: most bots have no robot channel, and a client's TLS set-up
        self._own_http = http is None  # costs ~0.03-0.08 s of the start-up
        self.sleep = sleep
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiters: dict[str, RobotLimiter] = {}
        self._in_flight: set[str] = set()
        self._backoff: dict[str, dt.datetime] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._closing = False
        self._failure_backoff = failure_backoff

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    def wall(self) -> float:
        """Wall-clock seconds from the services' clock (a fake clock in tests drives signing and limits too)."""
        return self.svc.clock().timestamp()

    def limiter(self, channel: ChannelConfig, row: RobotChannel | None) -> RobotLimiter:
        found = self._limiters.get(channel.name)
        if found is None:
            # Seeded from the store: the previous process's recent posts still count on the platform's side.
            found = self._limiters[channel.name] = RobotLimiter(
                channel.kind, self.wall, self.sleep, row.recent_sends if row else (), row.hold_until if row else 0.0)
        return found

    # --- the tick --------------------------------------------------------------------------------------------

    def start(self, scheduler: object) -> None:
        """Add the minute tick to the bot's APScheduler (and one right away, to catch up after a restart)."""
        from apscheduler.triggers.interval import IntervalTrigger

        add_job = scheduler.add_job  # type: ignore[attr-defined]
        add_job(self.kick, IntervalTrigger(seconds=60, timezone=dt.UTC), id=TICK_JOB_ID, name="studybot robot tick",
                coalesce=True, max_instances=1, misfire_grace_time=None, replace_existing=True,
                next_run_time=dt.datetime.now(dt.UTC))

    async def kick(self) -> None:
        """Start a tick as a task of its own (the Telegram push calls this after each delivery)."""
        if self._closing or not self.channels:
            return
        task: asyncio.Task[object] = asyncio.ensure_future(self.tick())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self) -> list[tuple[str, dt.date]]:
        """Post to every channel due now; returns (channel, local date) of each delivery completed."""
        if not self.channels:
            return []
        now = self.svc.clock()
        kinds = [(c.name, c.kind) for c in self.channels.values()]
        follows = {c.follow for c in self.channels.values() if c.follow is not None}

        def load(store: Store) -> tuple[list[RobotChannel], dict[int, list[tuple[dt.date, int]]]]:
            rows = store.robots.sync(kinds)
            sent: dict[int, list[tuple[dt.date, int]]] = {}
            for chat_id in follows:
                current = store.current_chat(chat_id)  # the config names the group by an id it may have had
                group = store.group(current)
                today = now.astimezone(ZoneInfo(group.timezone)).date() if group else now.date()
                # The store reads them from the same records the Telegram push keeps (one source of truth).
                sent[chat_id] = store.pushes(current, since=today - dt.timedelta(days=FOLLOW_DAYS))
            return rows, sent

        try:
            rows, followed = await self.svc.db(load)
        except Exception:
            log.exception("robot tick: could not load the channels")
            return []
        self._backoff = {k: v for k, v in self._backoff.items() if v > now}
        due: list[tuple[ChannelConfig, dt.date, int | None]] = []  # a follow channel's day is its group's
        for row in rows:
            channel = self.channels[row.name]
            if not row.active or row.name in self._in_flight or row.name in self._backoff:
                continue
            if row.hold_until > now.timestamp():
                continue
            if channel.kind == "feishu" and feishu_quiet_delay(now, ZoneInfo(channel.zone)):
                continue  # Feishu asks senders to stay off the busy :00 and :30 minutes: the next tick posts it
            if channel.schedule is not None:
                if row.finished:
                    continue
                for _, local_date in due_groups([(row.name, channel.schedule, row.last_pushed)], now,
                                                self.svc.grace):
                    due.append((channel, local_date, None))
            elif channel.follow is not None and (todo := follow_due(followed.get(channel.follow, []),
                                                                     row.last_pushed)) is not None:
                due.append((channel, *todo))
        for channel, _, _ in due:
            self._in_flight.add(channel.name)
        rows_by_name = {r.name: r for r in rows}
        try:
            results = await asyncio.gather(*(self._deliver_one(c, d, day, rows_by_name[c.name]) for c, d, day in due))
        finally:
            for channel, _, _ in due:
                self._in_flight.discard(channel.name)
        return [(c.name, d) for (c, d, _), ok in zip(due, results, strict=True) if ok]

    async def _deliver_one(self, channel: ChannelConfig, local_date: dt.date, day: int | None,
                           row: RobotChannel) -> bool:
        try:
            async with self._semaphore:
                if self._closing:
                    return False
                return await self.deliver(channel, local_date, day, row)
        except RobotStopped:
            return False  # logged (and the organizer told) when it stopped
        except RobotPushFailed as exc:
            log.warning("robot channel %s, %s: %s; retrying later within grace", channel.name, local_date, exc)
        except Exception:
            log.exception("robot channel %s, %s: the post failed; retrying later within grace",
                          channel.name, local_date)
        if self._failure_backoff:
            self._backoff[channel.name] = self.svc.clock() + self._failure_backoff
        return False

    # --- one delivery ----------------------------------------------------------------------------------------

    async def deliver(self, channel: ChannelConfig, local_date: dt.date, follow_day: int | None,
                      row: RobotChannel | None) -> bool:
        """Post the channel's day for `local_date` unless the ledger has it posted or being posted; True when this
        call completed it. A follow channel posts `follow_day`, the day its group received."""
        svc = self.svc
        key = channel_key(channel.kind, channel.name)
        held = await svc.db(partial(_claim, key, local_date, follow_day, svc.owner, self.wall(), svc.plan_rule))
        if held is None:
            return False
        bodies = reading_posts(svc, channel, svc.reading(held.day))
        limiter = self.limiter(channel, row)
        try:
            async with self._leased(held) as lost:
                await self._post_parts(channel, held, bodies, limiter, lost)
                recorded = await self._record(held, channel.name)
        except asyncio.CancelledError:
            # Stopping: hand the claim back with the parts already posted, so the next process resumes at once.
            with contextlib.suppress(Exception):
                await asyncio.shield(svc.db(partial(_release, held, channel.name, "stopped while posting")))
            raise
        except LostClaim as exc:
            log.warning("robot channel %s, %s: stopped posting: %s", channel.name, local_date, exc)
            return False
        except BaseException as exc:
            error = redact(str(exc), [channel.webhook.reveal(), channel.secret.reveal()])  # it is stored and shown
            try:
                await svc.db(partial(_release, held, channel.name, error))
            except sqlite3.OperationalError as locked:  # its lease runs out instead
                log.warning("could not release the claim of robot channel %s: %s", channel.name, locked)
            raise
        if recorded:
            log.info("robot channel %s: day %d posted for %s (%d part(s))", channel.name, held.day, local_date,
                     len(bodies))
        return recorded

    async def _post_parts(self, channel: ChannelConfig, held: Claim, bodies: list[Payload], limiter: RobotLimiter,
                          lost: asyncio.Event) -> None:
        """Post the parts the ledger has not recorded yet, recording each (the last one too: a taker then posts
        nothing again, it only records the day)."""
        db = self.svc.db
        sent = held.parts_sent
        repeated = False
        while sent < len(bodies):
            if lost.is_set():
                raise LostClaim(f"{held.key} {held.local_date}: the lease ran out and the claim was taken over")
            at = await limiter.acquire()
            answer = await post(self.http, channel, bodies[sent], at)
            if answer.outcome == "ok":
                sent += 1
                repeated = False
                # Retried until written, as bot/delivery.py does: a part posted but not recorded is posted again.
                if not await self._until_written(partial(_part_posted, held, sent, channel.name, at, self.wall())):
                    raise LostClaim(f"{held.key} {held.local_date}: another process took the claim over")
            elif answer.outcome == "unknown" and not repeated:
                await db(partial(_note_send, channel.name, at))
                repeated = True  # maybe posted, maybe not: one repeat rather than a loss
                log.info("robot channel %s: part %d may not have been posted (%s); repeating it once",
                         channel.name, sent + 1, answer.describe())
                await self.sleep(1.0)
            elif answer.outcome in ("retry", "unknown"):
                if answer.retry_after:
                    limiter.hold(answer.retry_after)
                    await db(partial(_hold, channel.name, limiter.hold_until))
                raise RobotPushFailed(f"part {sent + 1} of {len(bodies)} not posted: {answer.describe()}")
            else:
                await self._stop(channel, answer)
                raise RobotStopped(f"stopped: {answer.describe()}")

    def _leased(self, held: Claim) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        """The claim's lease renewed while the body runs (a limiter wait, a record retried); each part posted renews
        it too (`_part_posted`)."""
        return lease_renewed(self.svc.db, held, LEASE, self.wall)

    async def _record(self, held: Claim, name: str) -> bool:
        """Record the day as sent, retried until the write lands; False if the claim was taken over (the taker
        records it)."""
        try:
            await self._until_written(partial(_record, held, name, self.svc.plan_rule))
            return True
        except LostClaim as exc:
            log.warning("robot channel %s: posted %s, but %s", name, held.local_date, exc)
            return False

    async def _until_written(self, write: Callable[[Store], T]) -> T:
        return await until_written(self.svc.db, write, RECORD_BACKOFF_CAP, "robot record", self.sleep)

    async def _stop(self, channel: ChannelConfig, answer: Answer) -> None:
        what = "robot removed" if answer.outcome == "gone" else "refused"
        reason = f"{what}: {answer.describe()}"
        if not await self.svc.db(lambda s: s.robots.stop(channel.name, reason)):
            return  # stopped already (another process, or a racing tick): it told the organizer
        group = channel.telegram_group
        told = f"; telling the admins of Telegram group {group} in private" if group is not None and self.on_stop \
            else ""
        # The organizer reads this in the log, `studybot groups`, /report and the digest; a passing
        # `studybot channels test NAME` (or a changed config) re-activates it.
        log.warning("robot channel %s (%s) stopped: %s%s. Fix the robot or the config, then run "
                    "`studybot channels test %s`.", channel.name, channel.platform, reason, told, channel.name)
        if self.on_stop is not None:
            try:
                await self.on_stop(channel, answer)
            except Exception:
                log.exception("robot channel %s: could not tell the organizer that it stopped", channel.name)

    async def test(self, channel: ChannelConfig) -> Answer:
        """Post the short test message now (the robot's limiter still applies)."""
        row = await self.svc.db(lambda s: s.robots.sync([(channel.name, channel.kind)]))
        text = RobotText(title=render.robot_test_message(channel.name), header=render.robot_test_message(channel.name),
                         body="")
        body = posts(channel.kind, channel.format, text)[0]
        at = await self.limiter(channel, row[0]).acquire()
        answer = await post(self.http, channel, body, at)
        if answer.outcome in ("ok", "unknown"):
            await self.svc.db(partial(_note_send, channel.name, at))
        if answer.outcome == "ok" and row[0].stop_reason:
            await self.svc.db(lambda s: s.robots.reactivate(channel.name))
        return answer

    async def wait_idle(self) -> None:
        """Until the ticks kicked so far have finished (tests, the offline demo)."""
        while tasks := [t for t in self._tasks if not t.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self, timeout: float = 5.0) -> None:
        """No new posts; ticks under way get `timeout` seconds, then are cancelled (their claims handed back)."""
        self._closing = True
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._own_http and self._http is not None:
            await self._http.aclose()


# The store worker calls each with the Store last: partial() binds the rest, so no lambda closes over a loop variable.


def _claim(key: str, local_date: dt.date, follow_day: int | None, owner: str, now: float, plan: PlanRule,
           store: Store) -> Claim | None:
    # A follow channel's progress is its group's: it posts the day the group received.
    if follow_day is not None and store.ledger.progress(key).next_day != follow_day:
        store.ledger.set_next_day(key, follow_day)
    return store.ledger.claim(key, local_date, owner, now, plan, LEASE)


def _part_posted(held: Claim, sent: int, name: str, at: float, now: float, store: Store) -> bool:
    """Count the post in the rate window, renew the lease and record the part; False if the claim is lost."""
    store.robots.note_send(name, at)
    if not store.ledger.renew(held, now, LEASE):
        return False
    store.ledger.record_part(held, sent, None)
    return True


def _record(held: Claim, name: str, plan: PlanRule, store: Store) -> None:
    store.ledger.record(held, None, plan)
    store.robots.delivered(name)


def _release(held: Claim, name: str, error: str, store: Store) -> None:
    store.ledger.release(held)
    store.robots.failed(name, error)


def _hold(name: str, until: float, store: Store) -> None:
    store.robots.hold(name, until)


def _note_send(name: str, at: float, store: Store) -> None:
    store.robots.note_send(name, at)
