"""A settings change never triggers today's push by itself; catch-up after downtime still does (issue 11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from schedules.clock import FakeClock
from schedules.due import PushSchedule, held_date
from tests.botkit import ADMIN, GROUP, add_group, bot_running

SHANGHAI_0845 = datetime(2026, 3, 2, 0, 45, tzinfo=UTC)  # Monday 08:45 in Shanghai


def test_held_date_holds_only_what_the_change_made_due() -> None:
    at_8 = PushSchedule(time(8, 0), "Asia/Shanghai")
    at_9 = PushSchedule(time(9, 0), "Asia/Shanghai")
    today = date(2026, 3, 2)
    assert held_date(at_9, at_8, None, SHANGHAI_0845) == today  # 09:00 → 08:00 at 08:45: not pushed today
    assert held_date(None, at_8, None, SHANGHAI_0845) == today  # subscribing at 08:45
    assert held_date(at_8, at_8, None, SHANGHAI_0845) is None  # it was due already (downtime): catch-up stays
    assert held_date(at_8, at_9, None, SHANGHAI_0845) is None  # 09:00 is still ahead
    assert held_date(at_9, at_8, today, SHANGHAI_0845) is None  # already pushed today


async def test_changing_the_time_past_now_pushes_tomorrow_not_within_a_minute(tmp_path: Path) -> None:
    clock = FakeClock(SHANGHAI_0845)
    async with bot_running(tmp_path, clock=clock) as h:
        await add_group(h)
        await h.say(GROUP, ADMIN, "/settime 09:00")
        [subscribed] = await h.say(GROUP, ADMIN, "/subscribe")
        assert "下次推送：2026-03-02 09:00" in (subscribed.text or "")
        [changed] = await h.say(GROUP, ADMIN, "/settime 08:00")
        assert "下次推送：2026-03-03 08:00" in (changed.text or "")  # the reply says when the next push is
        before = len(h.standin.sent(GROUP))
        for _ in range(3):
            clock.advance(timedelta(minutes=1))
            await h.running.pusher.run_now()
        assert h.standin.sent(GROUP)[before:] == []  # no push in the middle of setting up
        [shown] = await h.say(GROUP, ADMIN, "/settings")
        assert "2026-03-03 08:00" in (shown.text or "")
        clock.advance(timedelta(days=1))  # Tuesday 08:48: the held date is over, tomorrow's push is on time
        await h.running.pusher.run_now()
        pushed = [r.text or "" for r in h.standin.sent(GROUP)[before:]]
        assert any("第 1 天 / 共" in t for t in pushed)
