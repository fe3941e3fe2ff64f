"""schedules.scheduler: the push tick on a real AsyncIOScheduler, with a fake clock and a list-backed store."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from schedules.clock import FakeClock, SystemClock
from schedules.due import PushSchedule
from schedules.scheduler import FIRST_TICK_JOB_ID, TICK_JOB_ID, PushScheduler

UTC = dt.UTC
MON = dt.date(2024, 6, 3)
SHANGHAI_8 = PushSchedule(dt.time(8, 0), "Asia/Shanghai")
AT_8_SHANGHAI = dt.datetime(2024, 6, 3, 0, 0, tzinfo=UTC)


class FakeStore:
    """Groups' schedules and last pushed dates; `deliver` records what was sent, like the bot's delivery."""

    def __init__(self, groups: dict[int, PushSchedule], fail: Iterable[int] = ()) -> None:
        self.schedules = dict(groups)
        self.last_pushed: dict[int, dt.date] = {}
        self.fail = set(fail)
        self.sent: list[tuple[int, dt.date]] = []
        self.gate: asyncio.Event | None = None  # when set, deliveries wait for it
        self.active = 0
        self.max_active = 0
        self.all_sent = asyncio.Event()
        self.expect = 0

    async def candidates(self) -> list[tuple[int, PushSchedule, dt.date | None]]:
        return [(k, s, self.last_pushed.get(k)) for k, s in self.schedules.items()]

    async def deliver(self, key: int, local_date: dt.date) -> bool:
        if self.last_pushed.get(key) == local_date:
            return False  # what the ledger says for a date already sent
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            if key in self.fail:
                raise RuntimeError(f"chat {key} is gone")
            self.sent.append((key, local_date))
            self.last_pushed[key] = local_date
            if len(self.sent) >= self.expect:
                self.all_sent.set()
            return True
        finally:
            self.active -= 1


@pytest.fixture
async def aps() -> AsyncIterator[AsyncIOScheduler]:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    yield scheduler
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # let the loop run the scheduled shutdown


def make(
    aps: AsyncIOScheduler,
    store: FakeStore,
    clock: FakeClock,
    concurrency: int = 8,
    failure_backoff: dt.timedelta = dt.timedelta(minutes=5),
) -> PushScheduler[int]:
    return PushScheduler(
        aps,
        store.candidates,
        store.deliver,
        clock,
        dt.timedelta(hours=3),
        concurrency=concurrency,
        failure_backoff=failure_backoff,
    )


async def test_start_adds_aligned_minute_tick_and_catches_up_at_once(aps: AsyncIOScheduler) -> None:
    store = FakeStore({1: SHANGHAI_8, 2: SHANGHAI_8, 3: PushSchedule(dt.time(20, 0), "Asia/Shanghai")})
    store.expect = 2
    clock = FakeClock(AT_8_SHANGHAI + dt.timedelta(minutes=42))  # restarted at 08:42: still within grace
    pusher = make(aps, store, clock)
    pusher.start()
    assert pusher.running

    job = aps.get_job(TICK_JOB_ID)
    assert job is not None
    assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == dt.timedelta(seconds=60)
    assert job.next_run_time.second == 0 and job.next_run_time.microsecond == 0
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time is None

    await asyncio.wait_for(store.all_sent.wait(), timeout=10)  # the catch-up tick, not the minute one
    assert sorted(store.sent) == [(1, MON), (2, MON)]
    await asyncio.sleep(0)
    assert aps.get_job(FIRST_TICK_JOB_ID) is None  # a one-off

    pusher.stop()
    pusher.stop()  # idempotent
    assert aps.get_job(TICK_JOB_ID) is None and not pusher.running


async def test_jobs_added_before_the_scheduler_starts_still_run() -> None:
    # The bot registers the tick in post_init, before PTB starts its job queue.
    scheduler = AsyncIOScheduler(timezone=UTC)
    store = FakeStore({1: SHANGHAI_8})
    store.expect = 1
    pusher = make(scheduler, store, FakeClock(AT_8_SHANGHAI))
    pusher.start()
    scheduler.start()
    try:
        await asyncio.wait_for(store.all_sent.wait(), timeout=10)
        assert store.sent == [(1, MON)]
    finally:
        pusher.stop()
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


async def test_tick_delivers_due_groups_once_per_local_day(aps: AsyncIOScheduler) -> None:
    store = FakeStore({1: SHANGHAI_8, 2: PushSchedule(dt.time(8, 0), "Europe/London")})
    clock = FakeClock(AT_8_SHANGHAI - dt.timedelta(minutes=1))
    pusher = make(aps, store, clock)

    assert (await pusher.run_now()).due == ()
    clock.advance(minutes=1)
    result = await pusher.run_now()
    assert result.delivered == ((1, MON),) and store.sent == [(1, MON)]
    for _ in range(5):  # the following minutes: already recorded, not due again
        clock.advance(minutes=1)
        assert (await pusher.tick()).due == ()
    clock.set(dt.datetime(2024, 6, 3, 7, 0, tzinfo=UTC))  # 08:00 in London (BST)
    assert (await pusher.run_now()).delivered == ((2, MON),)
    clock.set(dt.datetime(2024, 6, 4, 0, 0, tzinfo=UTC))
    assert (await pusher.run_now()).delivered == ((1, dt.date(2024, 6, 4)),)


async def test_one_failing_delivery_does_not_stop_the_others(
    aps: AsyncIOScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    store = FakeStore({k: SHANGHAI_8 for k in range(1, 6)}, fail={3})
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI))
    with caplog.at_level(logging.ERROR, logger="schedules.scheduler"):
        result = await pusher.run_now()
    assert sorted(store.sent) == [(k, MON) for k in (1, 2, 4, 5)]
    assert result.failed == ((3, MON),)
    assert sorted(result.delivered) == [(k, MON) for k in (1, 2, 4, 5)]
    assert any("chat 3 is gone" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert pusher.in_flight == frozenset()


async def test_failed_group_backs_off_then_retries_within_grace(aps: AsyncIOScheduler) -> None:
    store = FakeStore({7: SHANGHAI_8}, fail={7})
    clock = FakeClock(AT_8_SHANGHAI)
    pusher = make(aps, store, clock, failure_backoff=dt.timedelta(minutes=5))
    assert (await pusher.run_now()).failed == ((7, MON),)
    clock.advance(minutes=1)
    assert (await pusher.run_now()).skipped == ((7, MON),)  # not hammered every minute
    clock.advance(minutes=4)
    store.fail.clear()
    assert (await pusher.run_now()).delivered == ((7, MON),)


async def test_zero_backoff_retries_on_the_next_tick(aps: AsyncIOScheduler) -> None:
    store = FakeStore({7: SHANGHAI_8}, fail={7})
    clock = FakeClock(AT_8_SHANGHAI)
    pusher = make(aps, store, clock, failure_backoff=dt.timedelta(0))
    await pusher.run_now()
    clock.advance(minutes=1)
    assert (await pusher.run_now()).failed == ((7, MON),)


async def test_concurrency_is_bounded(aps: AsyncIOScheduler) -> None:
    store = FakeStore({k: SHANGHAI_8 for k in range(10)})
    store.gate = asyncio.Event()
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI), concurrency=3)
    tick = asyncio.create_task(pusher.run_now())
    for _ in range(20):
        await asyncio.sleep(0)
    assert store.active == 3
    store.gate.set()
    result = await tick
    assert len(result.delivered) == 10 and store.max_active == 3


async def test_a_big_broadcast_creates_tasks_only_as_slots_free_up(aps: AsyncIOScheduler) -> None:
    """Starting 10,000 deliveries as 10,000 tasks in one turn stalled the loop for ~0.8 s: a task per slot only.
    Large enough that `due_groups` runs on a worker thread (OFF_LOOP_AT)."""
    groups = 2_000
    store = FakeStore({k: SHANGHAI_8 for k in range(groups)})
    store.gate = asyncio.Event()
    store.expect = groups
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI), concurrency=5)
    result = await pusher.tick()
    assert len(result.started) == groups and pusher.in_flight == frozenset(range(groups))
    for _ in range(20):
        await asyncio.sleep(0)
    pushes = [t for t in asyncio.all_tasks() if t.get_name().startswith("push ") and not t.done()]
    assert len(pushes) == 5 and store.active == 5
    store.gate.set()
    await store.all_sent.wait()
    assert sorted(store.sent) == [(k, MON) for k in range(groups)] and store.max_active == 5
    for _ in range(20):
        await asyncio.sleep(0)
    assert pusher.in_flight == frozenset()


async def test_concurrent_ticks_never_start_a_group_twice(aps: AsyncIOScheduler) -> None:
    store = FakeStore({k: SHANGHAI_8 for k in range(4)})
    store.gate = asyncio.Event()
    clock = FakeClock(AT_8_SHANGHAI)
    pusher = make(aps, store, clock)
    first = asyncio.create_task(pusher.run_now())
    second = asyncio.create_task(pusher.run_now())
    for _ in range(5):
        await asyncio.sleep(0)
    assert pusher.in_flight == frozenset(range(4))
    store.gate.set()
    a, b = await asyncio.gather(first, second)
    assert sorted(store.sent) == [(k, MON) for k in range(4)]
    assert len(a.delivered) + len(b.delivered) == 4
    assert len(a.skipped) + len(b.skipped) == 4
    clock.advance(minutes=1)
    assert (await pusher.tick()).due == ()


async def test_a_tick_returns_at_once_and_the_next_tick_starts_while_a_broadcast_runs(
        aps: AsyncIOScheduler) -> None:
    store = FakeStore({k: SHANGHAI_8 for k in range(20)})
    store.gate = asyncio.Event()  # the 08:00 broadcast hangs
    clock = FakeClock(AT_8_SHANGHAI)
    pusher = make(aps, store, clock, concurrency=2)
    first = await pusher.tick()
    assert len(first.started) == 20 and first.delivered == ()
    for _ in range(5):
        await asyncio.sleep(0)
    assert store.active == 2
    store.schedules[99] = PushSchedule(dt.time(8, 1), "Asia/Shanghai")
    clock.advance(minutes=1)
    second = await pusher.tick()  # returns though every slot is held by the broadcast
    assert second.started == ((99, MON),) and len(second.skipped) == 20
    for _ in range(5):
        await asyncio.sleep(0)
    store.expect = 1
    store.gate.set()
    await asyncio.wait_for(store.all_sent.wait(), timeout=5)
    # The newest tick's group got the first free slot, ahead of the eighteen still waiting from 08:00.
    assert store.sent[2] == (99, MON)
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(store.sent) == 21 and pusher.in_flight == frozenset()


async def test_a_tick_counts_only_real_deliveries(aps: AsyncIOScheduler) -> None:
    store = FakeStore({1: SHANGHAI_8, 2: SHANGHAI_8})
    stale = await store.candidates()
    store.candidates = lambda: _value(stale)  # type: ignore[method-assign]  # a load taken before 2 was recorded
    store.last_pushed[2] = MON
    result = await make(aps, store, FakeClock(AT_8_SHANGHAI)).run_now()
    assert result.delivered == ((1, MON),) and result.already == ((2, MON),)


async def _value(value: list[tuple[int, PushSchedule, dt.date | None]]) -> list[tuple[int, PushSchedule,
                                                                                      dt.date | None]]:
    return value


async def test_many_concurrent_ticks_racing_deliveries_that_finish(aps: AsyncIOScheduler) -> None:
    # Deliveries that complete while other ticks are mid-flight: the store's record must keep them unique.
    store = FakeStore({k: SHANGHAI_8 for k in range(50)})
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI), concurrency=4)
    ticks = []
    for _ in range(10):
        ticks.append(asyncio.create_task(pusher.run_now()))
        for _ in range(3):
            await asyncio.sleep(0)
    results = await asyncio.gather(*ticks)
    assert sorted(store.sent) == [(k, MON) for k in range(50)]
    assert sum(len(r.delivered) for r in results) == 50


async def test_changed_schedule_needs_no_job_surgery(aps: AsyncIOScheduler) -> None:
    store = FakeStore({1: SHANGHAI_8})
    clock = FakeClock(AT_8_SHANGHAI - dt.timedelta(hours=1))
    pusher = make(aps, store, clock)
    pusher.start()
    jobs_before = {job.id for job in aps.get_jobs()}
    store.schedules[1] = PushSchedule(dt.time(7, 0), "Asia/Shanghai")  # admin moves it an hour earlier
    assert (await pusher.run_now()).delivered == ((1, MON),)
    assert {job.id for job in aps.get_jobs()} <= jobs_before
    pusher.stop()


async def test_failing_load_is_logged_and_the_tick_survives(
    aps: AsyncIOScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> list[tuple[int, PushSchedule, dt.date | None]]:
        raise OSError("database is locked")

    async def deliver(key: int, local_date: dt.date) -> None:
        raise AssertionError("nothing should be delivered")

    pusher = PushScheduler(aps, broken, deliver, FakeClock(AT_8_SHANGHAI))
    with caplog.at_level(logging.ERROR, logger="schedules.scheduler"):
        result = await pusher.tick()
    assert result.due == () and "could not load" in caplog.text


async def test_a_cancelled_run_now_leaves_its_deliveries_running(aps: AsyncIOScheduler) -> None:
    store = FakeStore({1: SHANGHAI_8, 2: SHANGHAI_8})
    store.gate = asyncio.Event()
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI), concurrency=1)
    waiting = asyncio.create_task(pusher.run_now())
    for _ in range(3):
        await asyncio.sleep(0)
    assert pusher.in_flight == {1, 2}
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    store.gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert sorted(store.sent) == [(1, MON), (2, MON)] and pusher.in_flight == frozenset()


def test_constructor_validates() -> None:
    async def deliver(key: int, local_date: dt.date) -> None:
        return None

    scheduler = AsyncIOScheduler(timezone=UTC)
    with pytest.raises(ValueError, match="concurrency"):
        PushScheduler(scheduler, list, deliver, concurrency=0)
    with pytest.raises(ValueError, match="failure_backoff"):
        PushScheduler(scheduler, list, deliver, failure_backoff=dt.timedelta(seconds=-1))


def test_fake_clock() -> None:
    clock = FakeClock(dt.datetime(2024, 6, 3, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert clock() == AT_8_SHANGHAI and clock().tzinfo is UTC
    assert clock.advance(minutes=90) == AT_8_SHANGHAI + dt.timedelta(minutes=90)
    assert clock.advance(dt.timedelta(seconds=30), seconds=30) == AT_8_SHANGHAI + dt.timedelta(minutes=91)
    clock.set(AT_8_SHANGHAI)
    assert clock.now == AT_8_SHANGHAI
    with pytest.raises(ValueError, match="forward"):
        clock.advance(minutes=-1)
    with pytest.raises(ValueError, match="aware"):
        clock.set(dt.datetime(2024, 6, 3))
    now = SystemClock()()
    assert now.tzinfo is UTC


def test_schedules_never_import_telegram() -> None:
    package = Path(__file__).resolve().parent.parent / "schedules"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            roots = {n.split(".")[0] for n in names}
            assert not roots & {"telegram", "bot"}, f"{path.name} imports {sorted(roots & {'telegram', 'bot'})}"


async def test_aclose_starts_no_new_delivery_and_cancels_the_slow_ones(aps: AsyncIOScheduler) -> None:
    store = FakeStore({k: SHANGHAI_8 for k in range(10)})
    store.gate = asyncio.Event()  # deliveries hang, like sends to a Telegram that does not answer
    pusher = make(aps, store, FakeClock(AT_8_SHANGHAI), concurrency=3)
    pusher.start()  # the catch-up tick runs at once, as APScheduler's job
    for _ in range(100):
        if store.active == 3:
            break
        await asyncio.sleep(0.01)
    assert store.active == 3
    await pusher.aclose(timeout=0.1)
    assert store.active == 0 and store.sent == []  # seven never started; three were cancelled mid-send
    assert pusher.in_flight == frozenset()
