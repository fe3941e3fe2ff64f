"""End to end: the quiz after a push stays open until the evening, closes by our own timer, and posts its results."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from bot.standin import StandIn
from bot.standin.state import SentRecord
from bot.store import GroupChanges
from schedules.clock import FakeClock
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, Harness, add_group, bot_running, settle

PUSH = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # 08:01 in Shanghai
NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
BEFORE_CLOSE = datetime(2026, 12, 1, 13, 59, tzinfo=UTC)  # 21:59
AFTER_CLOSE = datetime(2026, 12, 1, 14, 1, tzinfo=UTC)  # 22:01
LI = 42


async def subscribed(h: Harness, **changes: object) -> None:
    await add_group(h)
    h.svc.store.update_group(GROUP, GroupChanges(subscribed=True, push_time=time(8, 0), timezone="Asia/Shanghai",
                                                 **changes))


def correct(poll: SentRecord) -> int:
    assert poll.poll is not None
    return int(poll.poll["correct_option_ids"][0])


def poll_id(poll: SentRecord) -> str:
    assert poll.poll is not None
    return str(poll.poll["id"])


async def test_the_daily_quiz_is_open_until_22_and_a_running_round_does_not_swallow_it(tmp_path: Path) -> None:
    clock = FakeClock(PUSH)
    async with bot_running(tmp_path, clock=clock) as h:
        await subscribed(h, daily_quiz=2)
        await h.say(GROUP, ADMIN, "/quiz 3 all", replies=2)  # a /quiz round is running when the push comes
        await h.running.pusher.run_now()
        polls = await h.standin.wait_for_sent(GROUP, 3, method="sendPoll")
        daily = polls[1:]
        assert any("22:00 前都可以作答" in t for t in h.texts(GROUP))
        # Longer than Telegram's 600 s open_period: no open_period, so our own timer must close them.
        assert all(p.poll is not None and "open_period" not in p.poll for p in daily)
        rnd = h.svc.store.running_round(GROUP, "daily")
        assert rnd is not None and rnd.closes_at == datetime(2026, 12, 1, 14, 0, tzinfo=UTC).timestamp()
        clock.set(NOON)  # members answer hours later and still count
        h.world.user_answers_poll(poll_id(daily[0]), MEMBER, [correct(daily[0])])
        h.world.user_answers_poll(poll_id(daily[1]), LI, [(correct(daily[1]) + 1) % 2])
        await settle(lambda: len(h.svc.store.round_answers(rnd.id)) == 2)
        clock.set(BEFORE_CLOSE)
        await h.running.campaign.run_now()
        assert h.standin.sent(GROUP, "stopPoll") == []
        clock.set(AFTER_CLOSE)
        before = len(h.standin.sent(GROUP, "sendMessage"))
        await h.running.campaign.run_now()
        await h.running.campaign.run_now()
        stopped = {r.message_id for r in h.standin.sent(GROUP, "stopPoll")}
        assert {p.message_id for p in daily} <= stopped
        results = [r.text or "" for r in h.standin.sent(GROUP, "sendMessage")[before:]]
        assert len(results) == 1 and results[0].startswith("⏰ 今日小测验已截止")
        assert "2 人参与" in results[0]
        assert h.svc.store.running_round(GROUP, "daily") is None
        assert h.svc.store.running_round(GROUP) is not None  # the /quiz round goes on by itself


async def test_a_daily_quiz_open_across_a_restart_is_closed_after_it(tmp_path: Path) -> None:
    clock = FakeClock(PUSH)
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        async with bot_running(tmp_path, clock=clock, standin=server) as h:
            await subscribed(h, daily_quiz=1)
            await h.running.pusher.run_now()
            [poll] = await server.wait_for_sent(GROUP, 1, method="sendPoll")
            server.user_answers_poll(poll_id(poll), MEMBER, [correct(poll)])
            await settle(lambda: bool(h.svc.store.chat_scores(GROUP)))
        clock.set(AFTER_CLOSE)
        before = len(server.sent(GROUP, "sendMessage"))
        async with bot_running(tmp_path, clock=clock, standin=server):
            await server.wait_for_sent(GROUP, 1, method="stopPoll")
            [results] = (await server.wait_for_sent(GROUP, before + 1, method="sendMessage"))[before:]
            assert "今日小测验已截止" in (results.text or "") and "1 人参与" in (results.text or "")


async def test_the_end_of_the_plan_gets_one_completion_summary_after_the_last_day_closes(tmp_path: Path) -> None:
    clock = FakeClock(PUSH)
    async with bot_running(tmp_path, clock=clock) as h:
        total = len(h.svc.plan)
        await subscribed(h, next_day=total)
        await h.running.pusher.run_now()
        reading = next(r for r in await h.standin.wait_for_sent(GROUP, 2, method="sendMessage")
                       if r.reply_markup and "ck:" in str(r.reply_markup))
        query = h.world.user_presses(GROUP, MEMBER, reading.message_id, f"ck:{total}:20261201")
        await settle(lambda: h.world.callback_answers[query] is not None)
        await h.running.campaign.run_now()
        assert not any("学习总结" in t for t in h.texts(GROUP))  # the last day is not over yet
        clock.set(AFTER_CLOSE)
        await h.running.campaign.run_now()
        await h.running.campaign.run_now()
        [summary] = [t for t in h.texts(GROUP) if "学习总结" in t]
        # One push in this run; the roster is the admin and the member; one check-in of two possible.
        assert "推送 1 天" in summary and "名单 2 人" in summary and "累计打卡 1 人次" in summary
        assert "打卡率 50%" in summary and "全勤 1 人" in summary


async def test_an_admin_may_close_the_days_quiz_early_and_a_member_may_not(tmp_path: Path) -> None:
    async with bot_running(tmp_path, clock=FakeClock(PUSH)) as h:
        await subscribed(h, daily_quiz=1)
        await h.running.pusher.run_now()
        await h.standin.wait_for_sent(GROUP, 1, method="sendPoll")
        [refused] = await h.say(GROUP, MEMBER, "/stopquiz")
        assert "管理员" in (refused.text or "")
        stop, results = await h.say(GROUP, ADMIN, "/stopquiz", replies=2)
        assert stop.method == "stopPoll" and (results.text or "").startswith("⏰ 今日小测验已截止")
        assert h.svc.store.running_round(GROUP, "daily") is None
