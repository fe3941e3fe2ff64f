"""The once-a-minute push tick, run on the APScheduler the bot already has (PTB's `job_queue.scheduler`).

Why a tick and not one cron job per group or per time: the tick re-reads every group's schedule and last
pushed date each minute and asks `due.due_groups`, so a restart catches up by itself, DST cannot fire a push
twice, and a changed push time or time zone takes effect at the next tick with no job surgery.

The tick only starts deliveries: each due group becomes a task and the tick returns, so a broadcast to 10,000
groups (minutes at Telegram's 30 messages a second) never holds up the next tick. All deliveries share one budget
of `concurrency` slots, handed to the newest tick's groups first: a group due at 08:01 waits for one free slot, not
for the rest of the 08:00 broadcast. Exactly-once is not this module's business: `deliver` goes through the push
ledger (schedules/ledger.py), which refuses a date already sent or claimed. Here a group that already has a task
is only not started twice, and a failing group backs off.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import heapq
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedules.clock import Clock, SystemClock
from schedules.due import DEFAULT_GRACE, PushSchedule, due_groups

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)

TICK_JOB_ID = "studybot.push_tick"
FIRST_TICK_JOB_ID = "studybot.push_tick.first"
TICK_INTERVAL = dt.timedelta(minutes=1)


Outcome = Literal["delivered", "already", "failed", "not started"]


@dataclass(frozen=True)
class TickResult(Generic[K]):
    """What one tick did; each entry is (group key, local date of the push).

    `tick()` fills in `due`, `started` and `skipped`; `run_now()` also waits and says how each started one ended:
    `delivered` (this run sent the reading), `already` (nothing to do: sent, or being sent by another process),
    `failed`.
    """

    now: dt.datetime
    due: tuple[tuple[K, dt.date], ...] = ()
    started: tuple[tuple[K, dt.date], ...] = ()
    # Still under way from an earlier tick, or backing off after a failure.
    skipped: tuple[tuple[K, dt.date], ...] = ()
    delivered: tuple[tuple[K, dt.date], ...] = ()
    already: tuple[tuple[K, dt.date], ...] = ()
    failed: tuple[tuple[K, dt.date], ...] = ()


@dataclass(order=True)
class _Waiter:
    rank: tuple[int, int]
    future: asyncio.Future[None] = field(compare=False)


class Budget:
    """`concurrency` slots shared by every delivery; a free slot goes to the waiter of the newest tick first."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: list[_Waiter] = []
        self._order = itertools.count()

    @contextlib.asynccontextmanager
    async def slot(self, tick: int) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            waiter = _Waiter((-tick, next(self._order)), asyncio.get_running_loop().create_future())
            heapq.heappush(self._waiting, waiter)
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter.future.done() and not waiter.future.cancelled():
                    self._hand_on()  # the slot was handed to us as we were cancelled: pass it on
                elif waiter in self._waiting:
                    self._waiting.remove(waiter)
                    heapq.heapify(self._waiting)
                raise
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        while self._waiting:
            waiter = heapq.heappop(self._waiting)
            if not waiter.future.done():
                waiter.future.set_result(None)
                return
        self._free += 1


class PushScheduler(Generic[K]):
    """Adds the push tick to a given APScheduler and starts `deliver(key, local_date)` for every group due.

    `deliver` returns True when it sent the reading, False when there was nothing to do; it raises when it failed.
    """

    def __init__(
        self,
        scheduler: BaseScheduler,
        load_candidates: Callable[[], Awaitable[Iterable[tuple[K, PushSchedule, dt.date | None]]]],
        deliver: Callable[[K, dt.date], Awaitable[bool]],
        clock: Clock | None = None,
        grace: dt.timedelta = DEFAULT_GRACE,
        *,
        concurrency: int = 8,
        failure_backoff: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if failure_backoff < dt.timedelta():
            raise ValueError(f"failure_backoff must not be negative, got {failure_backoff}")
        self._scheduler = scheduler
        self._load_candidates = load_candidates
        self._deliver = deliver
        self._clock: Clock = clock or SystemClock()
        self._grace = grace
        self._failure_backoff = failure_backoff
        self._budget = Budget(concurrency)
        self._ticks = itertools.count(1)
        # key -> its delivery task: a group still under way is not started again by the next tick.
        self._running: dict[K, asyncio.Task[Outcome]] = {}
        # key -> (local date that failed, no retry before): a kicked bot must not retry every minute.
        self._backoff: dict[K, tuple[dt.date, dt.datetime]] = {}
        self._started = False
        self._closing = False
        self._summaries: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._started

    @property
    def in_flight(self) -> frozenset[K]:
        return frozenset(self._running)

    def start(self, interval: dt.timedelta = TICK_INTERVAL) -> None:
        """Add the tick (every minute, aligned to :00 seconds) and a tick right away, to catch up after a restart."""
        # APScheduler fires on real time; the injected clock only decides what is due.
        real_now = dt.datetime.now(dt.UTC)
        first = (real_now.replace(second=0, microsecond=0) + interval if interval == TICK_INTERVAL
                 else real_now + interval)
        common: dict[str, Any] = {
            "coalesce": True,
            "max_instances": 1,
            # A late tick is harmless (it re-reads the clock), so never drop one for lateness.
            "misfire_grace_time": None,
            "replace_existing": True,
        }
        every = IntervalTrigger(seconds=interval.total_seconds(), start_date=first, timezone=dt.UTC)
        self._scheduler.add_job(self._scheduled_tick, every, id=TICK_JOB_ID, name="studybot push tick", **common)
        self._scheduler.add_job(
            self._scheduled_tick,
            DateTrigger(run_date=real_now, timezone=dt.UTC),
            id=FIRST_TICK_JOB_ID,
            name="studybot push catch-up tick",
            **common,
        )
        self._started = True

    def stop(self) -> None:
        """Remove the tick jobs (the scheduler is the bot's); deliveries under way finish on their own."""
        for job_id in (TICK_JOB_ID, FIRST_TICK_JOB_ID):
            # The one-off catch-up tick removes itself after running.
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id)
        self._started = False

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop for good: no new deliveries start; those under way get `timeout` seconds, then are cancelled.

        A delivery that has not started leaves nothing behind, so the next process picks it up; one cancelled
        mid-send releases its claim (or, if it cannot, the claim's lease runs out) and is retried by the next process.
        """
        self.stop()
        self._closing = True
        tasks = list(self._running.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task in [*tasks, *self._summaries]:
            task.cancel()
        await asyncio.gather(*tasks, *self._summaries, return_exceptions=True)

    async def run_now(self) -> TickResult[K]:
        """Run one tick and wait for the deliveries it started (offline mode, admin "push now", tests)."""
        return await self._outcomes(*await self._start())

    async def _outcomes(self, result: TickResult[K], tasks: list[asyncio.Task[Outcome]]) -> TickResult[K]:
        # Shielded: a caller that stops waiting (a cancelled run_now) leaves the deliveries to finish.
        ends = await asyncio.gather(*(asyncio.shield(t) for t in tasks), return_exceptions=True)
        by: dict[str, list[tuple[K, dt.date]]] = {"delivered": [], "already": [], "failed": []}
        for item, end in zip(result.started, ends, strict=True):
            by[end if isinstance(end, str) and end in by else "failed"].append(item)
        return TickResult(now=result.now, due=result.due, started=result.started, skipped=result.skipped,
                          delivered=tuple(by["delivered"]), already=tuple(by["already"]),
                          failed=tuple(by["failed"]))

    async def _scheduled_tick(self) -> None:
        result, tasks = await self._start()
        if tasks:
            # The job returns at once; the summary is logged when this tick's deliveries have ended.
            summary = asyncio.create_task(self._log_summary(result, tasks))
            self._summaries.add(summary)
            summary.add_done_callback(self._summaries.discard)

    async def _log_summary(self, started: TickResult[K], tasks: list[asyncio.Task[Outcome]]) -> None:
        result = await self._outcomes(started, tasks)
        log.info("push tick of %s: %d due, %d delivered, %d already done, %d failed, %d skipped",
                 result.now.isoformat(timespec="minutes"), len(result.due), len(result.delivered),
                 len(result.already), len(result.failed), len(result.skipped))

    async def tick(self) -> TickResult[K]:
        """Start a delivery for every group due now and return; one failure never stops the others."""
        return (await self._start())[0]

    async def _start(self) -> tuple[TickResult[K], list[asyncio.Task[Outcome]]]:
        now = self._clock()
        try:
            due = due_groups(await self._load_candidates(), now, self._grace)
        except Exception:
            log.exception("push tick: could not load groups or work out which are due")
            return TickResult(now=now), []
        self._backoff = {k: v for k, v in self._backoff.items() if v[1] > now}
        tick = next(self._ticks)
        started: list[tuple[K, dt.date]] = []
        skipped: list[tuple[K, dt.date]] = []
        tasks: list[asyncio.Task[Outcome]] = []
        for key, local_date in due:
            held = self._backoff.get(key)
            if key in self._running or (held is not None and held[0] == local_date) or self._closing:
                skipped.append((key, local_date))
                continue
            task = asyncio.create_task(self._deliver_one(key, local_date, tick), name=f"push {key!r} {local_date}")
            self._running[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
            tasks.append(task)
            started.append((key, local_date))
        return TickResult(now=now, due=tuple(due), started=tuple(started), skipped=tuple(skipped)), tasks

    def _forget(self, key: K, task: asyncio.Task[Outcome]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("push task for %r ended with an error", key, exc_info=task.exception())

    async def _deliver_one(self, key: K, local_date: dt.date, tick: int) -> Outcome:
        try:
            async with self._budget.slot(tick):
                if self._closing:
                    return "not started"  # shutting down: the next process delivers it
                sent = await self._deliver(key, local_date)
        except Exception:
            log.exception("push to %r for %s failed; retrying later while within grace", key, local_date)
            if self._failure_backoff:
                self._backoff[key] = (local_date, self._clock() + self._failure_backoff)
            return "failed"
        self._backoff.pop(key, None)
        return "delivered" if sent else "already"
