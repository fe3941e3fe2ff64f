"""End to end: daily pushes through the stand-in with a controllable clock — in order, once, whatever happens."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.standin import StandIn
from bot.store import GroupChanges, SqliteLedger
from bot.storeworker import StoreWorker
from schedules.clock import FakeClock
from tests.botkit import TOKEN, Harness, bot_running

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
DAY_RE = re.compile(r"第 (\d+) 天 / 共 (\d+) 天")


def subscribe(h: Harness, chat_id: int, at: time, zone: str, **changes: object) -> None:
    h.svc.store.ensure_group(chat_id, f"group {chat_id}")
    h.svc.store.update_group(chat_id, GroupChanges(subscribed=True, push_time=at, timezone=zone, **changes))


def days_received(h: Harness, chat_id: int) -> list[int]:
    return [int(m.group(1)) for t in h.texts(chat_id) if (m := DAY_RE.search(t))]


async def run_clock(h: Harness, clock: FakeClock, until: datetime, step: timedelta = timedelta(minutes=10)) -> None:
    while clock.now + step <= until:
        clock.advance(step)
        await h.running.pusher.run_now()


async def test_groups_in_different_zones_get_their_readings_in_order_once_at_local_time(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with bot_running(tmp_path, clock=clock) as h:
        subscribe(h, -1, time(8, 0), "Asia/Shanghai")
        subscribe(h, -2, time(7, 30), "Europe/London")
        subscribe(h, -3, time(20, 0), "America/New_York", weekdays=frozenset({0, 2, 4}))
        await run_clock(h, clock, START + timedelta(days=5, minutes=-1))
        assert days_received(h, -1) == [1, 2, 3, 4, 5]
        assert days_received(h, -2) == [1, 2, 3, 4, 5]
        # New York pushes Mon/Wed/Fri at 20:00 local (01:00 UTC the next day): Monday's and Wednesday's fit.
        assert days_received(h, -3) == [1, 2]
        local_dates = [d for d, _, status in h.svc.store.deliveries(-3) if status == "sent"]
        assert [d.isoformat() for d in local_dates] == ["2026-03-02", "2026-03-04"]
        shanghai = h.standin.sent(-1, "sendMessage")[0]
        assert shanghai.reply_markup is not None and "《" in (shanghai.text or "")


async def test_racing_ticks_and_a_restart_at_the_push_minute_send_nothing_twice(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC))  # 08:00:30 in Shanghai
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        async with bot_running(tmp_path, clock=clock, standin=server) as h:
            subscribe(h, -1, time(8, 0), "Asia/Shanghai")
            await asyncio.gather(*(h.running.pusher.run_now() for _ in range(5)))
        async with bot_running(tmp_path, clock=clock, standin=server) as h2:
            await h2.running.pusher.run_now()
            clock.advance(minutes=1)
            await h2.running.pusher.run_now()
            assert days_received(h2, -1) == [1]


async def test_downtime_is_caught_up_within_grace_and_skipped_beyond_it_without_losing_the_reading(
        tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 2, 30, tzinfo=UTC))  # 10:30 in Shanghai: 2.5 h late, grace 3 h
    async with bot_running(tmp_path, clock=clock) as h:
        subscribe(h, -1, time(8, 0), "Asia/Shanghai")
        subscribe(h, -2, time(6, 0), "Asia/Shanghai")  # 4.5 h late: skipped today
        await h.running.pusher.run_now()
        assert days_received(h, -1) == [1]
        assert days_received(h, -2) == []
        clock.set(datetime(2026, 3, 2, 22, 0, 30, tzinfo=UTC))  # 06:00:30 next day in Shanghai
        await h.running.pusher.run_now()
        assert days_received(h, -2) == [1]  # the skipped day's reading was not lost


async def test_flood_waits_and_server_errors_are_retried_and_delivered_once(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    async with bot_running(tmp_path, clock=clock) as h:
        for chat in (-1, -2, -3):
            subscribe(h, chat, time(8, 0), "Asia/Shanghai")
        h.standin.fail_next("sendMessage", 429, count=2, description="Too Many Requests: retry after 1",
                            parameters={"retry_after": 1})
        h.standin.fail_next("sendMessage", 502, count=2)
        await h.running.pusher.run_now()
        assert [days_received(h, c) for c in (-1, -2, -3)] == [[1], [1], [1]]


async def test_a_push_that_keeps_failing_is_not_marked_delivered_and_is_retried_later(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    async with bot_running(tmp_path, clock=clock) as h:
        subscribe(h, -1, time(8, 0), "Asia/Shanghai")
        h.running.svc.config  # noqa: B018 - the config is the default: 5 attempts per push
        h.standin.fail_next("sendMessage", 500, count=5)
        await h.running.pusher.run_now()
        assert days_received(h, -1) == []
        group = h.svc.store.group(-1)
        assert group is not None and group.next_day == 1 and group.last_pushed is None
        clock.advance(minutes=6)  # past the scheduler's back-off after a failure
        await h.running.pusher.run_now()
        assert days_received(h, -1) == [1]


async def test_kicked_group_is_deactivated_and_migrated_group_gets_the_push_at_its_new_id(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    async with bot_running(tmp_path, clock=clock) as h:
        h.standin.add_bot_to_group(-7, "kicked group", by_user=11)
        h.standin.add_bot_to_group(-8, "old group", by_user=11)
        await h.standin.wait_for_sent(-8, 1)
        await h.standin.wait_for_sent(-7, 1)
        subscribe(h, -7, time(8, 0), "Asia/Shanghai")
        subscribe(h, -8, time(8, 0), "Asia/Shanghai")
        h.standin.world.set_status(-7, h.standin.world.bot.id, "kicked")  # no update reaches the bot
        new_id = h.standin.world.migrate_group(-8)
        h.standin.world.updates.clear()  # the bot missed the migration messages: only the send tells it
        await h.running.pusher.run_now()
        kicked = h.svc.store.group(-7)
        assert kicked is not None and not kicked.active
        assert days_received(h, new_id) == [1]
        moved = h.svc.store.group(new_id)
        assert moved is not None and moved.next_day == 2 and h.svc.store.group(-8) is None


async def test_end_of_plan_tells_the_group_and_stops(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    async with bot_running(tmp_path, clock=clock) as h:
        total = len(h.svc.plan)
        subscribe(h, -1, time(8, 0), "Asia/Shanghai", next_day=total)
        await h.running.pusher.run_now()
        assert days_received(h, -1) == [total]
        assert "已学完" in h.texts(-1)[-1]
        clock.advance(days=1)
        await h.running.pusher.run_now()
        assert days_received(h, -1) == [total]


async def test_a_daily_quiz_on_the_days_reading_follows_the_push_where_asked(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    async with bot_running(tmp_path, clock=clock) as h:
        subscribe(h, -1, time(8, 0), "Asia/Shanghai", daily_quiz=2, next_day=3)
        subscribe(h, -2, time(8, 0), "Asia/Shanghai")
        await h.running.pusher.run_now()
        # The daily round sends both questions at once: they stay open until the evening (22:00 local).
        first, second = await h.standin.wait_for_sent(-1, 2, method="sendPoll")
        assert first.poll is not None and first.poll["question"].startswith("【1/2】")
        assert second.poll is not None and second.poll["question"].startswith("【2/2】")
        rnd = h.svc.store.running_round(-1, "daily")
        day_refs = set(h.svc.reading(3).refs)
        assert rnd is not None and rnd.scope == "今天的内容"
        asked = {q.ref for q in h.svc.questions if q.id in rnd.question_ids}
        assert asked and all(ref in day_refs or ref.split(".")[0] in day_refs for ref in asked)
        assert h.standin.sent(-2, "sendPoll") == []


async def test_the_pushes_of_a_broadcast_share_their_trips_to_the_store(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """In a broadcast each trip to the store thread is a hand-over of the GIL both ways, and each ledger transaction
    a BEGIN and a COMMIT: the claims asked for in one loop turn go as one trip (one transaction), and so do the
    records; a push makes no trip of its own besides. The group's settings for the follow-up (daily quiz) come
    with the claim, and the record answers the progress without reading it back."""
    clock = FakeClock(datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC))
    trips: list[str] = []
    batches: list[tuple[str, int]] = []
    real_call = StoreWorker.__call__
    real_claim_many, real_record_many = SqliteLedger.claim_many, SqliteLedger.record_many

    async def counting(self: StoreWorker, call: Any, *, hot: bool = False) -> Any:
        task = asyncio.current_task()
        if task is not None:
            trips.append(task.get_name())
        return await real_call(self, call, hot=hot)

    def claim_many(self: SqliteLedger, asks: Any) -> Any:
        batches.append(("claims", len(asks)))
        return real_claim_many(self, asks)

    def record_many(self: SqliteLedger, asks: Any) -> Any:
        batches.append(("records", len(asks)))
        return real_record_many(self, asks)

    async with bot_running(tmp_path, clock=clock) as h:
        subscribe(h, -1, time(8, 0), "Asia/Shanghai", daily_quiz=2)
        for chat_id in range(-2, -6, -1):
            subscribe(h, chat_id, time(8, 0), "Asia/Shanghai")
        monkeypatch.setattr(StoreWorker, "__call__", counting)
        monkeypatch.setattr(SqliteLedger, "claim_many", claim_many)
        monkeypatch.setattr(SqliteLedger, "record_many", record_many)
        result = await h.running.pusher.run_now()
        monkeypatch.undo()
        assert sorted(key for key, _ in result.delivered) == [-5, -4, -3, -2, -1]
        assert all(days_received(h, chat_id) == [1] for chat_id in range(-1, -6, -1))
        assert len(h.standin.sent(-1, "sendPoll")) == 2  # the daily quiz followed, from the group read with the claim
        # The five deliveries start in one loop turn: one transaction claims for all of them.
        assert [n for kind, n in batches if kind == "claims"] == [5], batches
        records = [n for kind, n in batches if kind == "records"]
        assert sum(records) == 5, batches  # one record each, in as many batches as turns the answers came in
        assert trips.count("store batch _claim_all") == 1, trips
        assert trips.count("store batch _record_all") == len(records), trips
        # Only -1's daily quiz makes trips of its own (the round and its polls); the others none.
        assert not [t for t in trips if t.startswith("push ") and not t.startswith("push -1 ")], trips
