"""End to end through the local robot stand-ins: WeCom, DingTalk and Feishu groups get each day's reading once.

A fake clock drives the Telegram tick, the robot tick, the robots' limiters, the signatures' timestamps and the
stand-ins' rate windows alike; the limiters' waits advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.robots.push import LEASE, RobotPusher
from bot.robots.standin import Robot, RobotStandIn
from bot.services import build_services
from bot.standin import StandIn
from content.typography import to_display
from schedules.clock import FakeClock
from schedules.ledger import channel_key
from tests.botkit import TOKEN, Harness, bot_running, make_config
from tests.test_push_e2e import subscribe  # one way to subscribe a group in tests, whatever the store's shape

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai
DAY_RE = re.compile(r"第 (\d+) 天 / 共 \d+ 天")
PART_RE = re.compile(r"（(\d+)/(\d+)）")
DING_SECRET = "SECtest-0123456789abcdef0123456789"
FEISHU_SECRET = "feishu-signing-secret-42"
LONG = {"min_chars": 3000, "max_chars": 3500}
LONG_DAY = 5  # then the shipped speech's longest reading (1,378 characters): 2 WeCom markdown posts, 3 text posts


def start_at_day(h: Harness, name: str, day: int) -> None:
    kind = next(c.kind for c in h.svc.config.channels if c.name == name)
    h.svc.store.ledger.set_next_day(channel_key(kind, name), day)


def fake_sleep(clock: FakeClock) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=max(0.0, seconds)))
        await asyncio.sleep(0)

    return sleep


def days(robot: Robot) -> list[int]:
    return [int(m.group(1)) for t in robot.texts() if (m := DAY_RE.search(t))]


def telegram_days(h: Harness, chat_id: int) -> list[int]:
    return [int(m.group(1)) for t in h.texts(chat_id) if (m := DAY_RE.search(t))]


def channel(robots: RobotStandIn, robot: Robot, name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": robot.kind, "webhook": robots.url(robot), **more}


@asynccontextmanager
async def running(tmp_path: Path, clock: FakeClock, channels: list[dict[str, Any]], standin: StandIn | None = None,
                  **sections: Any) -> AsyncIterator[Harness]:
    async with bot_running(tmp_path, clock=clock, channels=channels, standin=standin, **sections) as h:
        h.running.robots.sleep = fake_sleep(clock)
        yield h


async def run_until(h: Harness, clock: FakeClock, until: datetime, step: timedelta = timedelta(minutes=20)) -> None:
    while clock.now + step <= until:
        clock.advance(step)
        await h.running.pusher.run_now()
        await h.running.robots.wait_idle()
        await h.running.robots.tick()


class Secrets(logging.Handler):
    """Every log message from every logger, unredacted, to check that none carries a URL key or a secret."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # quieted to WARNING in production (bot/logs.py) and redacted there
        self.lines.append(record.getMessage() + (repr(record.exc_info[1]) if record.exc_info else ""))

    def assert_clean(self, *secrets: str) -> None:
        text = "\n".join(self.lines)
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def log_lines() -> AsyncIterator[Secrets] | Any:
    handler = Secrets()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


async def test_three_robots_and_two_telegram_groups_get_each_day_once_across_a_restart(
        tmp_path: Path, log_lines: Secrets) -> None:
    clock = FakeClock(START - timedelta(minutes=30))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots, \
            StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as telegram:
        wx = robots.add("wecom")
        dd = robots.add("dingtalk", secret=DING_SECRET)
        fs = robots.add("feishu", secret=FEISHU_SECRET, keywords=("学习",))
        channels = [channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai"),
                    channel(robots, dd, "dd", secret=DING_SECRET, time="07:45", timezone="Europe/London"),
                    channel(robots, fs, "fs", secret=FEISHU_SECRET, follow=-1)]
        async with running(tmp_path, clock, channels, telegram) as h:
            subscribe(h, -1, time(8, 0), "Asia/Shanghai")
            subscribe(h, -2, time(7, 30), "Europe/London")
            await run_until(h, clock, START + timedelta(days=2))
        async with running(tmp_path, clock, channels, telegram) as h2:  # a restart: a new process, the same database
            await run_until(h2, clock, START + timedelta(days=4))
            assert telegram_days(h2, -1) == [1, 2, 3, 4] and telegram_days(h2, -2) == [1, 2, 3, 4]
            assert days(wx) == [1, 2, 3, 4]
            assert days(dd) == [1, 2, 3, 4]
            assert days(fs) == [1, 2, 3, 4]  # whatever group -1 received, when it received it
            assert not (wx.refused or dd.refused or fs.refused)  # signatures, keywords, limits all fine
            rows = {r.name: r for r in h2.svc.store.robots.all()}
            assert rows["wx"].next_day == 5 and rows["wx"].last_pushed == date(2026, 3, 5)
            # One ledger for all five targets: each has its four days recorded sent, once each.
            ledger = h2.svc.store.ledger
            for key in ("tg:-1", "tg:-2", "wecom:wx", "dingtalk:dd", "feishu:fs"):
                assert ledger.progress(key).next_day == 5
            assert [d for d, _, state, _ in h2.svc.store.robots.deliveries("fs") if state == "sent"] == [
                date(2026, 3, d) for d in (2, 3, 4, 5)]
        log_lines.assert_clean(wx.token, dd.token, fs.token, DING_SECRET, FEISHU_SECRET)


async def test_a_long_reading_is_posted_in_numbered_parts_that_give_back_the_reading(tmp_path: Path) -> None:
    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx = robots.add("wecom")
        channels = [channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai")]
        async with running(tmp_path, clock, channels, readings=LONG) as h:
            start_at_day(h, "wx", LONG_DAY)
            await run_until(h, clock, START + timedelta(minutes=30), step=timedelta(minutes=10))
            labels = [PART_RE.search(t) for t in wx.texts()]
            assert len(labels) > 1 and all(labels)
            n = len(labels)
            assert [(int(m.group(1)), int(m.group(2))) for m in labels if m] == [(i, n) for i in range(1, n + 1)]
            assert all(len(p["markdown"]["content"].encode()) <= 4096 for p in wx.posts)
            reading = to_display(h.svc.reading(LONG_DAY).text)  # posted in display typography
            bodies = [p["markdown"]["content"].split("\n\n", 1)[1] for p in wx.posts]
            bodies[-1] = bodies[-1].rsplit("\n\n> 出处", 1)[0]
            assert "".join(bodies).replace("\n", "").replace(" ", "") == reading.replace("\n", "").replace(" ", "")


async def test_a_robot_throttled_mid_push_resumes_without_a_loss_or_a_repeat(tmp_path: Path) -> None:
    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx = robots.add("wecom")
        channels = [channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai", format="text")]
        async with running(tmp_path, clock, channels, readings=LONG) as h:
            start_at_day(h, "wx", LONG_DAY)
            clock.set(START + timedelta(seconds=30))
            # Another system posted 18 messages through the same robot a moment ago: our third part meets 45009.
            wx.sends.extend(clock().timestamp() - 10 + i * 0.1 for i in range(18))
            delivered = await h.running.robots.tick()
            assert delivered == [] and wx.refused == [45009] and len(wx.posts) == 2
            # The ledger has the claim released with the two parts posted: the next claim resumes after them.
            assert h.svc.store.robots.deliveries("wx") == [(date(2026, 3, 2), LONG_DAY, "released", 2)]
            await run_until(h, clock, START + timedelta(hours=1), step=timedelta(minutes=2))
            parts = [PART_RE.search(t) for t in wx.texts()]
            n = int(parts[0].group(2)) if parts[0] else 0
            assert n > 2
            assert [int(m.group(1)) for m in parts if m] == list(range(1, n + 1))  # each part once, in order
            assert h.svc.store.robots.deliveries("wx") == [(date(2026, 3, 2), LONG_DAY, "sent", n)]


async def test_an_answer_lost_after_posting_repeats_that_part_once_and_loses_nothing(tmp_path: Path) -> None:
    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        fs = robots.add("feishu")
        fs.faults.append(("drop", 0))  # accepted and posted, then the connection drops before the answer
        channels = [channel(robots, fs, "fs", time="08:10", timezone="Asia/Shanghai")]
        async with running(tmp_path, clock, channels) as h:
            await run_until(h, clock, START + timedelta(days=1, hours=1), step=timedelta(minutes=10))
            assert days(fs) == [1, 1, 2]  # day 1 repeated once (unknowable), day 2 once


async def test_a_bad_signature_stops_the_channel_and_tells_the_organizer_without_the_secret(
        tmp_path: Path, log_lines: Secrets) -> None:
    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        dd = robots.add("dingtalk", secret=DING_SECRET)
        wrong = "SECwrong-secret-value-00000000000"
        channels = [channel(robots, dd, "dd", secret=wrong, time="08:00", timezone="Asia/Shanghai")]
        async with running(tmp_path, clock, channels) as h:
            await run_until(h, clock, START + timedelta(days=2), step=timedelta(minutes=30))
            assert dd.posts == [] and dd.refused == [310000]  # tried once, then stopped: no retry storm
            row = h.svc.store.robots.get("dd")
            assert row is not None and not row.active and "sign not match" in row.stop_reason
        assert any("robot channel dd" in m and "stopped" in m for m in log_lines.lines)
        log_lines.assert_clean(dd.token, DING_SECRET, wrong)


async def test_two_processes_on_one_database_post_each_reading_once(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(minutes=1))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        bots = [robots.add(kind) for kind in ("wecom", "dingtalk", "feishu")]
        cfg = make_config(tmp_path, channels=[
            channel(robots, r, f"c{i}", time="08:00", timezone="Asia/Shanghai",
                    **({"secret": DING_SECRET} if r.kind == "dingtalk" else {})) for i, r in enumerate(bots)])
        robots.robots[bots[1].token].secret = DING_SECRET
        one, two = build_services(cfg, clock=clock), build_services(cfg, clock=clock)
        pushers = [RobotPusher(svc, sleep=fake_sleep(clock)) for svc in (one, two)]
        try:
            await asyncio.gather(*(p.tick() for p in pushers for _ in range(3)))
            assert [len(r.posts) for r in bots] == [1, 1, 1]
            for i, r in enumerate(bots):  # one day record each in the shared ledger, sent
                assert one.store.robots.deliveries(f"c{i}") == [(date(2026, 3, 2), 1, "sent", 1)]
                assert two.store.ledger.progress(channel_key(r.kind, f"c{i}")).next_day == 2
        finally:
            for p, svc in zip(pushers, (one, two), strict=True):
                await p.aclose()
                svc.db.close()


async def test_a_process_killed_mid_reading_is_resumed_after_its_lease_from_the_next_part(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(minutes=1))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        wx = robots.add("wecom")
        cfg = make_config(tmp_path, channels=[channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai",
                                                      format="text")], readings=LONG)
        dead, alive = build_services(cfg, clock=clock), build_services(cfg, clock=clock)
        pusher = RobotPusher(alive, sleep=fake_sleep(clock))
        try:
            key = channel_key("wecom", "wx")
            dead.store.ledger.set_next_day(key, LONG_DAY)
            claim = dead.store.ledger.claim(key, date(2026, 3, 2), dead.owner, clock().timestamp(), dead.plan_rule,
                                            LEASE)
            assert claim is not None and claim.day == LONG_DAY
            dead.store.ledger.record_part(claim, 2, None)  # parts 1 and 2 of 3 went out, then the process died
            assert await pusher.tick() == []  # its lease is live: not ours to take
            assert wx.posts == []
            clock.advance(seconds=LEASE + 1)  # the dead process never renews it
            assert await pusher.tick() == [("wx", date(2026, 3, 2))]
            labels = [PART_RE.search(t) for t in wx.texts()]
            # Parts 1 and 2 were posted by the dead process: only part 3 of 3 is left.
            assert [(int(m.group(1)), int(m.group(2))) for m in labels if m] == [(3, 3)]
        finally:
            await pusher.aclose()
            for svc in (dead, alive):
                svc.db.close()


async def test_the_limiter_holds_the_robot_rate_limit_even_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(hours=3))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        dd = robots.add("dingtalk", secret=DING_SECRET)
        cfg = make_config(tmp_path, channels=[channel(robots, dd, "dd", secret=DING_SECRET, follow=-5)])
        began = clock().timestamp()
        for tests in (15, 15):  # two processes, one after the other, 30 posts in all
            svc = build_services(cfg, clock=clock)
            pusher = RobotPusher(svc, sleep=fake_sleep(clock))
            try:
                answers = [await pusher.test(cfg.channels[0]) for _ in range(tests)]
            finally:
                await pusher.aclose()
                svc.db.close()
            assert all(a.outcome == "ok" for a in answers)
        assert len(dd.posts) == 30 and dd.refused == []  # a 130101 would have throttled the robot for 10 minutes
        assert clock().timestamp() - began >= 60  # the limiter waited rather than burst


async def test_feishu_posts_wait_out_the_busy_minute_on_the_hour(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(seconds=30))  # 08:00:30 in Shanghai
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        fs, wx = robots.add("feishu"), robots.add("wecom")
        cfg = make_config(tmp_path, channels=[channel(robots, fs, "fs", time="08:00", timezone="Asia/Shanghai"),
                                              channel(robots, wx, "wx", time="08:00", timezone="Asia/Shanghai")])
        svc = build_services(cfg, clock=clock)
        pusher = RobotPusher(svc, sleep=fake_sleep(clock))
        try:
            assert await pusher.tick() == [("wx", date(2026, 3, 2))]  # WeCom has no such rule
            clock.advance(seconds=30)  # 08:01:00
            assert await pusher.tick() == [("fs", date(2026, 3, 2))]
            assert days(fs) == [1] and days(wx) == [1]
        finally:
            await pusher.aclose()
            svc.db.close()


async def test_daily_question_rides_with_the_reading_and_its_answer_opens_the_next_day(tmp_path: Path) -> None:
    from bot.robots.dailyq import pick

    clock = FakeClock(START - timedelta(minutes=5))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        dd = robots.add("dingtalk", secret=DING_SECRET)
        channels = [channel(robots, dd, "dd", secret=DING_SECRET, time="08:00", timezone="Asia/Shanghai",
                            daily_question=True)]
        async with running(tmp_path, clock, channels) as h:
            # Days on which the reading has a question, so both the question and the next day's answer show.
            day = next(d for d in range(2, len(h.svc.plan))
                       if pick(h.svc.questions, h.svc.reading(d - 1), "dd") and pick(h.svc.questions,
                                                                                   h.svc.reading(d), "dd"))
            start_at_day(h, "dd", day - 1)
            await run_until(h, clock, START + timedelta(days=1, hours=1), step=timedelta(minutes=30))
            texts = dd.texts()
            first = pick(h.svc.questions, h.svc.reading(day - 1), "dd")
            assert first is not None
            question_posts = [t for t in texts if "📝 每日一题" in t]
            assert len(question_posts) == 2  # one each day, after that day's reading
            assert all(f"{letter}. " in question_posts[0] for letter in "AB")
            assert "答案" not in texts[0]  # the first day opens with nothing to answer
            reading_next = next(t for t in texts[2:] if "📝" not in t)
            assert f"答案：{first.letter}. {first.options[first.correct]}" in reading_next
            assert first.options[first.correct] == first.question.answer
            assert days(dd)[:1] == [day - 1]


async def test_downtime_is_caught_up_within_grace_and_beyond_it_the_reading_waits_for_the_next_day(
        tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 2, 30, tzinfo=UTC))  # 10:30 in Shanghai, the first tick after downtime
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        late, too_late = robots.add("wecom"), robots.add("wecom")
        cfg = make_config(tmp_path, channels=[
            channel(robots, late, "late", time="08:00", timezone="Asia/Shanghai"),  # 2.5 h late, grace 3 h
            channel(robots, too_late, "too-late", time="06:00", timezone="Asia/Shanghai")])  # 4.5 h late
        svc = build_services(cfg, clock=clock)
        pusher = RobotPusher(svc, sleep=fake_sleep(clock))
        try:
            assert await pusher.tick() == [("late", date(2026, 3, 2))]
            assert days(late) == [1] and days(too_late) == []
            clock.set(datetime(2026, 3, 2, 22, 0, 30, tzinfo=UTC))  # 06:00:30 the next day
            assert await pusher.tick() == [("too-late", date(2026, 3, 3))]
            assert days(too_late) == [1]  # the skipped day's reading was not lost
        finally:
            await pusher.aclose()
            svc.db.close()


async def test_two_processes_post_what_the_followed_group_received_once_each_day(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(minutes=1))
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        fs = robots.add("feishu")
        cfg = make_config(tmp_path, channels=[channel(robots, fs, "fs", follow=-1)])
        one, two = build_services(cfg, clock=clock), build_services(cfg, clock=clock)
        pushers = [RobotPusher(svc, sleep=fake_sleep(clock)) for svc in (one, two)]
        one.store.ensure_group(-1, "学习小组")
        try:
            for n in range(3):  # the group receives day 1, 2, 3 on three mornings; both processes tick thrice
                assert one.store.record_push(-1, date(2026, 3, 2 + n)) is not None
                await asyncio.gather(*(p.tick() for p in pushers for _ in range(3)))
                clock.advance(timedelta(days=1))
            assert days(fs) == [1, 2, 3] and fs.refused == []
            assert [(d, day, state) for d, day, state, _ in two.store.robots.deliveries("fs")] == [
                (date(2026, 3, 2 + n), n + 1, "sent") for n in range(3)]
        finally:
            for p, svc in zip(pushers, (one, two), strict=True):
                await p.aclose()
                svc.db.close()
