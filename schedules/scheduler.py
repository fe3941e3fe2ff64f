"""The once-a-minute push tick, run on the APScheduler the bot already has (PTB's `job_queue.scheduler`).

Why a tick and not one cron job per group or per time: the tick re-reads every group's schedule and last
pushed date each minute and asks `due.due_groups`, so a restart catches up by itself, DST cannot fire a push
twice, and a changed push time or time zone takes effect at the next tick with no job surgery.

The tick only starts deliveries: the due groups are queued for a feeder task and the tick returns, so a broadcast to
10,000 groups (minutes at Telegram's 30 messages a second) never holds up the next tick. The feeder creates a
delivery task only when a budget slot is free, and `due_groups` of a large group list runs on a worker thread: the
start of a 10,000-group broadcast does not stall the event loop. All deliveries share one budget
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
from collections.abc import Awaitable, Callable, Hashable, Iterable
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
# Candidates from which `due_groups` runs on a worker thread: below, the hop costs more than the sums.
OFF_LOOP_AT = 500


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

    async def acquire(self, tick: int) -> None:
        """Wait for a free slot; the caller hands it back with `release`."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
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

    def release(self) -> None:
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
        # key -> its delivery task: a group still under way is not started again by the next tick; nor is one
        # queued, waiting for a budget slot (a feeder per tick starts them as slots free up).
        self._running: dict[K, asyncio.Task[Outcome]] = {}
        self._queued: set[K] = set()
        self._feeders: set[asyncio.Task[list[asyncio.Task[Outcome] | None]]] = set()
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
        """Groups being delivered or queued for a slot."""
        return frozenset(self._running) | self._queued

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
        feeders = list(self._feeders)
        for feeder in feeders:  # queued groups are not started (their feeder may be waiting for a slot)
            feeder.cancel()
        await asyncio.gather(*feeders, return_exceptions=True)
        tasks = list(self._running.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task in [*tasks, *self._summaries]:
            task.cancel()
        await asyncio.gather(*tasks, *self._summaries, return_exceptions=True)

    async def run_now(self) -> TickResult[K]:
        """Run one tick and wait for the deliveries it started (offline mode, admin "push now", tests)."""
        return await self._outcomes(*await self._start())

    async def _outcomes(self, result: TickResult[K], feeder: asyncio.Task[list[asyncio.Task[Outcome] | None]]
                        ) -> TickResult[K]:
        # Shielded: a caller that stops waiting (a cancelled run_now) leaves the deliveries to finish.
        tasks = await asyncio.shield(feeder)
        ends = await asyncio.gather(*(asyncio.shield(t) for t in tasks if t is not None), return_exceptions=True)
        it = iter(ends)
        by: dict[str, list[tuple[K, dt.date]]] = {"delivered": [], "already": [], "failed": []}
        for item, task in zip(result.started, tasks, strict=True):
            end = next(it) if task is not None else "not started"
            by[end if isinstance(end, str) and end in by else "failed"].append(item)
        return TickResult(now=result.now, due=result.due, started=result.started, skipped=result.skipped,
                          delivered=tuple(by["delivered"]), already=tuple(by["already"]),
                          failed=tuple(by["failed"]))

    async def _scheduled_tick(self) -> None:
        result, feeder = await self._start()
        if result.started:
            # The job returns at once; the summary is logged when this tick's deliveries have ended.
            summary = asyncio.create_task(self._log_summary(result, feeder))
            self._summaries.add(summary)
            summary.add_done_callback(self._summaries.discard)

    async def _log_summary(self, started: TickResult[K],
                           feeder: asyncio.Task[list[asyncio.Task[Outcome] | None]]) -> None:
        result = await self._outcomes(started, feeder)
        log.info("push tick of %s: %d due, %d delivered, %d already done, %d failed, %d skipped",
                 result.now.isoformat(timespec="minutes"), len(result.due), len(result.delivered),
                 len(result.already), len(result.failed), len(result.skipped))

    async def tick(self) -> TickResult[K]:
        """Start a delivery for every group due now and return; one failure never stops the others."""
        return (await self._start())[0]

    async def _start(self) -> tuple[TickResult[K], asyncio.Task[list[asyncio.Task[Outcome] | None]]]:
        """Work out who is due and hand them to a feeder; return at once.

        Nothing here is proportional to the number of groups on the loop at once: `due_groups` (a time-zone sum
        per group: 10,000 groups take a good part of a second) runs on a worker thread, and the feeder starts a
        delivery task only when the budget has a slot for it, so a 10,000-group broadcast is 10,000 cheap
        queue entries, not 10,000 tasks created in one turn of the loop (which stalled it for ~0.8 s).
        """
        now = self._clock()
        try:
            candidates = list(await self._load_candidates())
            if len(candidates) < OFF_LOOP_AT:
                due = due_groups(candidates, now, self._grace)
            else:
                due = await asyncio.to_thread(due_groups, candidates, now, self._grace)
        except Exception:
            log.exception("push tick: could not load groups or work out which are due")
            return TickResult(now=now), _done_feeder()
        self._backoff = {k: v for k, v in self._backoff.items() if v[1] > now}
        tick = next(self._ticks)
        started: list[tuple[K, dt.date]] = []
        skipped: list[tuple[K, dt.date]] = []
        for key, local_date in due:
            held = self._backoff.get(key)
            if (key in self._running or key in self._queued or (held is not None and held[0] == local_date)
                    or self._closing):
                skipped.append((key, local_date))
                continue
            self._queued.add(key)
            started.append((key, local_date))
        feeder = asyncio.create_task(self._feed(tick, started), name=f"feeder of push tick {tick}")
        self._feeders.add(feeder)
        feeder.add_done_callback(self._feeders.discard)
        return TickResult(now=now, due=tuple(due), started=tuple(started), skipped=tuple(skipped)), feeder

    async def _feed(self, tick: int, items: list[tuple[K, dt.date]]) -> list[asyncio.Task[Outcome] | None]:
        """Start the tick's deliveries one by one, each when it has a budget slot (held by its task until done).
        Returns one task per item, None for one never started (closing down: the next process delivers it)."""
        tasks: list[asyncio.Task[Outcome] | None] = []
        try:
            for key, local_date in items:
                if self._closing:
                    break
                await self._budget.acquire(tick)
                self._queued.discard(key)
                if self._closing:
                    self._budget.release()
                    break
                task = asyncio.create_task(self._deliver_one(key, local_date), name=f"push {key!r} {local_date}")
                self._running[key] = task
                task.add_done_callback(functools.partial(self._forget, key))
                tasks.append(task)
        finally:
            for key, _ in items[len(tasks):]:
                self._queued.discard(key)
            tasks += [None] * (len(items) - len(tasks))
        return tasks

    def _forget(self, key: K, task: asyncio.Task[Outcome]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("push task for %r ended with an error", key, exc_info=task.exception())

    async def _deliver_one(self, key: K, local_date: dt.date) -> Outcome:
        """Deliver with the budget slot the feeder took for it, and hand the slot back."""
        try:
            sent = await self._deliver(key, local_date)
        except Exception:
            log.exception("push to %r for %s failed; retrying later while within grace", key, local_date)
            if self._failure_backoff:
                self._backoff[key] = (local_date, self._clock() + self._failure_backoff)
            return "failed"
        finally:
            self._budget.release()
        self._backoff.pop(key, None)
        return "delivered" if sent else "already"


def _done_feeder() -> asyncio.Task[list[Any]]:
    async def nothing() -> list[Any]:
        return []
    return asyncio.create_task(nothing())
