"""The robot pusher on the shared ledger under faults: its part records follow bot/delivery.py's rules."""

from __future__ import annotations

import sqlite3
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from bot.robots.standin import RobotStandIn
from schedules.clock import FakeClock
from tests.test_push_e2e import subscribe
from tests.test_robots_e2e import (
    LONG,
    LONG_DAY,
    PART_RE,
    START,
    channel,
    days,
    run_until,
    running,
    start_at_day,
    telegram_days,
)


async def test_a_part_whose_record_meets_a_locked_database_is_not_posted_again(tmp_path: Path) -> None:
    """bot/delivery.py retries a part's record until it is written; a robot part posted while SQLite refuses the
    write once ("database is locked": another process's long write) must not be posted again by the next attempt."""
    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx = robots.add("wecom")
        channels = [channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai", format="text")]
        async with running(tmp_path, clock, channels, readings=LONG) as h:
            start_at_day(h, "wx", LONG_DAY)
            records = h.svc.store.robots
            real = records.note_send
            refused: list[float] = []

            def note_send(name: str, sent_at: float, *args: Any) -> None:
                if not refused:  # the first part's record: the database is locked past busy_timeout, once
                    refused.append(sent_at)
                    raise sqlite3.OperationalError("database is locked")
                real(name, sent_at, *args)

            records.note_send = note_send  # type: ignore[method-assign]
            clock.set(START + timedelta(seconds=30))
            await run_until(h, clock, START + timedelta(hours=1), step=timedelta(minutes=2))
            parts = [PART_RE.search(t) for t in wx.texts()]
            assert refused and parts and parts[0]
            n = int(parts[0].group(2))
            assert [int(m.group(1)) for m in parts if m] == list(range(1, n + 1))  # each part once, in order


async def test_a_follow_channel_keeps_following_its_group_after_the_group_becomes_a_supergroup(
        tmp_path: Path) -> None:
    """`follow: -1` names the group by its chat id; when the group becomes a supergroup (migrate_to_chat_id, as
    Telegram does when a group grows or an admin turns on some settings) its pushes go on under the new id. The
    follow channel must go on getting what the group gets."""
    clock = FakeClock(START - timedelta(minutes=30))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx = robots.add("wecom")
        channels = [channel(robots, wx, "wx", follow=-1)]
        async with running(tmp_path, clock, channels) as h:
            subscribe(h, -1, time(8, 0), "Asia/Shanghai")
            await run_until(h, clock, START + timedelta(hours=2))
            assert days(wx) == [1]
            assert h.svc.store.migrate_chat(-1, -1001)  # what groups.migrated / a push's ChatMigrated do
            await run_until(h, clock, START + timedelta(days=2, hours=2))
            assert telegram_days(h, -1001) == [2, 3]
            assert days(wx) == [1, 2, 3], "the follow channel stopped when its group moved to a new chat id"
