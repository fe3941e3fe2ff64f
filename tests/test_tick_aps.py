"""Issue 9 case 4 on the real scheduler: the push tick as the bot runs it, an interval job on PTB's JobQueue
(APScheduler's AsyncIOScheduler, `max_instances=1`), while a broadcast lasts several tick intervals. The tick starts
deliveries and returns, so APScheduler never skips a run ("maximum number of running instances reached") and a
group due the next minute is served while the broadcast still runs."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

import pytest

from schedules.clock import FakeClock
from tests.botkit import bot_running, settle
from tests.test_ledger_e2e import GROUPS, PUSH_AT, readings, subscribe

TICK = timedelta(seconds=0.3)


async def test_a_broadcast_longer_than_the_tick_interval_skips_no_tick_and_serves_the_next_minute(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(PUSH_AT - timedelta(seconds=30))  # 08:00:30
    async with bot_running(tmp_path, clock=clock, push={"concurrency": 2}) as h:
        subscribe(h, GROUPS)
        late = -7
        subscribe(h, [late], at=time(8, 1))
        # 12 sends two at a time, each answered 0.4 s late: the broadcast lasts about 8 tick intervals.
        h.standin.delay_next("sendMessage", 0.4, count=len(GROUPS))
        h.running.pusher.start(interval=TICK)  # the bot's own tick job, on the application's JobQueue scheduler
        await settle(lambda: sum(1 for chat in GROUPS if readings(h.standin, chat)) >= 2)
        clock.advance(minutes=1)  # 08:01:30: the late group is due at the next tick
        await settle(lambda: readings(h.standin, late) == [1])
        served = sum(1 for chat in GROUPS if readings(h.standin, chat))
        assert served < len(GROUPS)  # served while the 08:00 broadcast was still going
        await settle(lambda: all(readings(h.standin, chat) == [1] for chat in GROUPS)
                     and not h.running.pusher.in_flight)
        summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("push tick of")]
        h.running.pusher.stop()
    skipped = [r.getMessage() for r in caplog.records if "maximum number of running instances" in r.getMessage()]
    assert skipped == []
    assert len(summaries) >= 2  # the ticks' own summaries: the broadcast's and the late group's
