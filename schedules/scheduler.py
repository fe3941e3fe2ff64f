"""The once-a-minute push tick, run on the APScheduler the bot already has (PTB's `job_queue.scheduler`).

Why a tick and not one cron job per group or per time: the tick re-reads every group's schedule and last
pushed date each minute and asks `due.due_groups`, so a restart catches up by itself, DST cannot fire a push
twice, and a changed push time or time zone takes effect at the next tick with no job surgery.

Exactly-once delivery is split in two: within this process a group is never delivered twice at the same time
(the in-flight map), and across ticks and restarts the store's record of the pushed local date (handed back
through `load_candidates`) makes the group not due any more. `deliver` must record that date before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class TickResult(Generic[K]):
    """What one tick did; each entry is (group key, local date of the push)."""

    now: dt.datetime
    due: tuple[tuple[K, dt.date], ...] = ()
    delivered: tuple[tuple[K, dt.date], ...] = ()
    failed: tuple[tuple[K, dt.date], ...] = ()
    # Still in flight from an earlier tick, or backing off after a failure.
    skipped: tuple[tuple[K, dt.date], ...] = ()


class PushScheduler(Generic[K]):
    """Adds the push tick to a given APScheduler and runs `deliver(key, local_date)` for every group due."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        load_candidates: Callable[[], Awaitable[Iterable[tuple[K, PushSchedule, dt.date | None]]]],
        deliver: Callable[[K, dt.date], Awaitable[None]],
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
        # One semaphore for all ticks: a slow broadcast and the next tick share the same delivery budget.
        self._semaphore = asyncio.Semaphore(concurrency)
        # key -> token of the tick that started it, so a tick only ever clears the deliveries it started.
        self._in_flight: dict[K, object] = {}
        # key -> (local date that failed, no retry before): a kicked bot must not retry every minute.
        self._backoff: dict[K, tuple[dt.date, dt.datetime]] = {}
        self._started = False
        self._closing = False
        self._ticks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._started

    @property
    def in_flight(self) -> frozenset[K]:
        return frozenset(self._in_flight)

    def start(self) -> None:
        """Add the minute tick (aligned to :00 seconds) and a tick right away, to catch up after a restart."""
        # APScheduler fires on real time; the injected clock only decides what is due.
        real_now = dt.datetime.now(dt.UTC)
        next_minute = real_now.replace(second=0, microsecond=0) + TICK_INTERVAL
        common: dict[str, Any] = {
            "coalesce": True,
            "max_instances": 1,
            # A late tick is harmless (it re-reads the clock), so never drop one for lateness.
            "misfire_grace_time": None,
            "replace_existing": True,
        }
        every_minute = IntervalTrigger(seconds=60, start_date=next_minute, timezone=dt.UTC)
        self._scheduler.add_job(
            self._scheduled_tick,
            every_minute,
            id=TICK_JOB_ID,
            name="studybot push tick",
            **common,
        )
        self._scheduler.add_job(
            self._scheduled_tick,
            DateTrigger(run_date=real_now, timezone=dt.UTC),
            id=FIRST_TICK_JOB_ID,
            name="studybot push catch-up tick",
            **common,
        )
        self._started = True

    def stop(self) -> None:
        """Remove the tick jobs (the scheduler is the bot's); deliveries in flight finish on their own."""
        for job_id in (TICK_JOB_ID, FIRST_TICK_JOB_ID):
            # The one-off catch-up tick removes itself after running.
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id)
        self._started = False

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop for good: no new deliveries start; those under way get `timeout` seconds, then are cancelled.

        A delivery that has not started leaves nothing behind, so the next process picks it up; one cancelled
        mid-send is retried by the next process (its claim belongs to this run).
        """
        self.stop()
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        ticks = [t for t in self._ticks if not t.done() and t is not asyncio.current_task()]
        for task in ticks:
            task.cancel()
        await asyncio.gather(*ticks, return_exceptions=True)

    async def run_now(self) -> TickResult[K]:
        """Run one tick immediately, outside APScheduler (offline mode, admin "push now", tests)."""
        return await self.tick()

    async def _scheduled_tick(self) -> None:
        task = asyncio.current_task()
        if task is not None:  # only APScheduler's tick tasks are ours to cancel in aclose()
            self._ticks.add(task)
            task.add_done_callback(self._ticks.discard)
        result = await self.tick()
        if result.due:
            log.info(
                "push tick: %d due, %d delivered, %d failed, %d skipped",
                len(result.due),
                len(result.delivered),
                len(result.failed),
                len(result.skipped),
            )

    async def tick(self) -> TickResult[K]:
        """Deliver to every group due now, `concurrency` at a time; one failure never stops the others."""
        now = self._clock()
        try:
            due = due_groups(await self._load_candidates(), now, self._grace)
        except Exception:
            log.exception("push tick: could not load groups or work out which are due")
            return TickResult(now=now)
        # From working out who is due to marking them in flight there is no await: a concurrent tick either sees
        # our marks or loaded after our deliveries were recorded; a stale load is caught by the store's claim.
        self._backoff = {k: v for k, v in self._backoff.items() if v[1] > now}
        token = object()
        started: list[tuple[K, dt.date]] = []
        skipped: list[tuple[K, dt.date]] = []
        for key, local_date in due:
            held = self._backoff.get(key)
            if key in self._in_flight or (held is not None and held[0] == local_date):
                skipped.append((key, local_date))
            else:
                self._in_flight[key] = token
                started.append((key, local_date))
        try:
            ok = await asyncio.gather(*(self._deliver_one(key, d, token) for key, d in started))
        finally:
            # Covers deliveries cancelled before they began (their own `finally` never ran).
            for key, _ in started:
                if self._in_flight.get(key) is token:
                    del self._in_flight[key]
        return TickResult(
            now=now,
            due=tuple(due),
            delivered=tuple(item for item, good in zip(started, ok, strict=True) if good),
            failed=tuple(item for item, good in zip(started, ok, strict=True) if not good),
            skipped=tuple(skipped),
        )

    async def _deliver_one(self, key: K, local_date: dt.date, token: object) -> bool:
        try:
            async with self._semaphore:
                if self._closing:
                    return False  # shutting down: the next process delivers it
                await self._deliver(key, local_date)
        except Exception:
            log.exception("push to %r for %s failed; retrying later while within grace", key, local_date)
            if self._failure_backoff:
                self._backoff[key] = (local_date, self._clock() + self._failure_backoff)
            return False
        else:
            self._backoff.pop(key, None)
            return True
        finally:
            if self._in_flight.get(key) is token:
                del self._in_flight[key]
