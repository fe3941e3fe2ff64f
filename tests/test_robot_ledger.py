"""Robot channels on the shared push ledger: the migration from their own records (m013) loses nothing, and after it
the pusher carries on where the old records left off."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlite_utils import Database

from bot.robots.push import LEASE, RobotPusher
from bot.robots.standin import RobotStandIn
from bot.services import build_services
from bot.store import Store, migrations
from schedules.clock import FakeClock
from schedules.ledger import PlanRule, Progress, channel_key, telegram_key
from tests.botkit import make_config
from tests.test_robots_e2e import DAY_RE, PART_RE, channel, fake_sleep

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 0, 1, tzinfo=UTC).timestamp()  # 08:01 in Shanghai
CHANNEL = {"active": 1, "stop_reason": "", "finished": 0, "last_pushed": None, "last_delivery_at": None,
           "failures": 0, "last_error": "", "hold_until": 0.0, "recent_sends": "[]",
           "created_at": "2026-02-28T10:00:00+08:00"}
DELIVERY = {"owner": "old-run", "lease_until": 0.0, "parts": 1, "attempts": 1,
            "updated_at": "2026-03-01T08:00:09+08:00"}


def old_database(path: Path) -> None:
    """A database as the pre-ledger robot code left it: progress in robot_channels, claims in robot_deliveries."""
    db = Database(path)
    migrations.apply(db, stop_before="m013_robot_channels_on_ledger")
    db["robot_channels"].insert_all([
        # Posted days 2 and 3; day 4 is next.
        {**CHANNEL, "name": "wx", "kind": "wecom", "next_day": 4, "last_pushed": D2.isoformat(),
         "last_delivery_at": "2026-03-02T08:00:05+08:00", "recent_sends": "[1772409605.0]"},
        # Half-way through day 5 (2 of 3 parts posted) under a lease still live at NOW.
        {**CHANNEL, "name": "half", "kind": "wecom", "next_day": 5, "failures": 2, "last_error": "too fast",
         "hold_until": NOW + 30},
        # Finished the 14-day plan; its last date has no delivery row (kept from before deliveries were recorded).
        {**CHANNEL, "name": "fs", "kind": "feishu", "next_day": 15, "finished": 1, "last_pushed": D1.isoformat()},
        # Its robot refused it: stopped, with one failed attempt at day 1.
        {**CHANNEL, "name": "gone", "kind": "feishu", "next_day": 1, "active": 0,
         "stop_reason": "robot removed: gone: HTTP 200, 19001 webhook token invalid", "failures": 1},
    ])
    db["robot_deliveries"].insert_all([
        {**DELIVERY, "name": "wx", "local_date": D1.isoformat(), "day": 2, "status": "sent", "parts_sent": 2,
         "parts": 2},
        {**DELIVERY, "name": "wx", "local_date": D2.isoformat(), "day": 3, "status": "sent", "parts_sent": 1,
         "updated_at": "2026-03-02T08:00:05+08:00"},
        {**DELIVERY, "name": "half", "local_date": D2.isoformat(), "day": 5, "status": "sending", "parts_sent": 2,
         "parts": 3, "lease_until": NOW + 100},
        {**DELIVERY, "name": "gone", "local_date": D2.isoformat(), "day": 1, "status": "failed", "parts_sent": 0},
    ])
    # A Telegram group beside them: its ledger records must come through untouched.
    db["groups"].insert({"chat_id": -1, "title": "", "push_time": "08:00", "timezone": "Asia/Shanghai",
                         "weekdays": "0,1,2,3,4,5,6", "created_at": "2026-03-01T00:00:00+00:00", "subscribed": 1})
    db.execute("INSERT INTO ledger_progress VALUES ('tg:-1', 3)")
    db.close()


def test_m013_moves_every_channels_progress_and_deliveries_into_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_database(path)
    store = Store(path, plan=PlanRule(14))
    try:
        assert "m013_robot_channels_on_ledger" in store.applied_migrations()
        tables = set(store.db.table_names())
        assert "robot_deliveries" not in tables  # the second ledger is gone
        assert not {"next_day", "finished", "last_pushed", "last_delivery_at"} & set(store.db["robot_channels"]
                                                                                     .columns_dict)
        ledger = store.ledger
        assert ledger.progress(channel_key("wecom", "wx")) == Progress(4, D2)
        assert ledger.progress(channel_key("wecom", "half")) == Progress(5, None)
        assert ledger.progress(channel_key("feishu", "fs")) == Progress(15, D1)
        assert ledger.progress(channel_key("feishu", "gone")) == Progress(1, None)
        assert ledger.progress(telegram_key(-1)) == Progress(3, None)
        assert store.robots.deliveries("wx") == [(D1, 2, "sent", 2), (D2, 3, "sent", 1)]
        assert store.robots.deliveries("half") == [(D2, 5, "claimed", 2)]
        assert store.robots.deliveries("fs") == [(D1, 14, "sent", 1)]
        assert store.robots.deliveries("gone") == [(D2, 1, "released", 0)]
        rows = {r.name: r for r in store.robots.all()}
        wx, half, fs, gone = rows["wx"], rows["half"], rows["fs"], rows["gone"]
        assert (wx.next_day, wx.last_pushed, wx.last_delivery_at) == (4, D2, "2026-03-02T08:00:05+08:00")
        assert wx.recent_sends == (1772409605.0,) and not wx.finished
        assert (half.failures, half.last_error, half.hold_until) == (2, "too fast", NOW + 30)
        assert fs.finished and fs.last_pushed == D1
        assert not gone.active and "19001" in gone.stop_reason
        # The live claim is still live: nobody takes it; once its lease runs out it resumes after part 2, day 5.
        assert ledger.claim(half.key, D2, "new", NOW + 99, store.plan, LEASE) is None
        taken = ledger.claim(half.key, D2, "new", NOW + 101, store.plan, LEASE)
        assert taken is not None and (taken.day, taken.parts_sent) == (5, 2)
        # Sent days are never claimed again; the released one is claimable; the finished channel gets nothing.
        assert ledger.claim(wx.key, D2, "new", NOW, store.plan) is None
        assert ledger.claim(channel_key("feishu", "gone"), D2, "new", NOW, store.plan) is not None
        assert ledger.claim(fs.key, D2, "new", NOW, store.plan) is None
    finally:
        store.close()


async def test_after_the_migration_the_pusher_carries_on_where_the_old_records_left_off(tmp_path: Path) -> None:
    old_database(tmp_path / "studybot.db")  # make_config's database
    clock = FakeClock(datetime.fromtimestamp(NOW + 31, UTC))  # past half's hold, before its old lease runs out
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx, half = robots.add("wecom"), robots.add("wecom")
        cfg = make_config(tmp_path, readings={"min_chars": 3000, "max_chars": 3500}, channels=[
            channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai"),
            channel(robots, half, "half", time="08:00", timezone="Asia/Shanghai", format="text")])
        svc = build_services(cfg, clock=clock)
        pusher = RobotPusher(svc, sleep=fake_sleep(clock))
        try:
            assert await pusher.tick() == []  # wx posted 2 March already; half's claim is the old process's
            assert wx.posts == [] and half.posts == []
            clock.set(datetime.fromtimestamp(NOW + 101, UTC))
            assert await pusher.tick() == [("half", D2)]
            # Only what the old process had not posted of day 5: part 3 of 3, nothing repeated.
            assert [m.group(0) for t in half.texts() if (m := PART_RE.search(t))] == ["（3/3）"]
            clock.set(datetime(2026, 3, 3, 0, 1, tzinfo=UTC))
            assert sorted(await pusher.tick()) == [("half", date(2026, 3, 3)), ("wx", date(2026, 3, 3))]
            assert [int(m.group(1)) for t in wx.texts() if (m := DAY_RE.search(t))] == [4]
            assert [int(m.group(1)) for t in half.texts() if (m := DAY_RE.search(t))] == [5, 6]  # (3/3) of 5, then 6
        finally:
            await pusher.aclose()
            svc.db.close()
