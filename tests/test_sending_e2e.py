"""One retry policy and a flood limiter that never bursts, end to end: the real bot against the stand-in.

Issue 9's cases 5 (one stubborn chat), 6 (a restart at the push minute under a strict sliding window) and 7 (a
command reply meets a 5xx and a dropped connection); case 9 (the webhook secret) is in test_webhook.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.retry import RetryPolicy
from bot.runner import stop
from bot.standin import Bucket, LimitConfig, StandIn
from schedules.clock import FakeClock
from tests.botkit import GROUP, MEMBER, TOKEN, ErrorRecords, add_group, bot_running, settle
from tests.test_faults import ASKER, BYSTANDERS, PUSH_AT, assert_each_got, readings, still_answers, subscribe


def statuses(server: StandIn, method: str, chat: int) -> list[int]:
    return [r.status for r in server.stats.requests if r.method == method and r.chat_id == str(chat)]


async def test_a_command_reply_survives_a_server_error_and_a_dropped_connection(
        tmp_path: Path, errors: ErrorRecords) -> None:
    async with bot_running(tmp_path) as h:
        h.standin.fail_next("sendMessage", 502)
        h.standin.drop_next("sendMessage")
        [reply] = await h.say(ASKER, ASKER, "/start")
        assert "/toc" in (reply.text or "")
        assert statuses(h.standin, "sendMessage", ASKER) == [502, 0, 200]  # answered on the third attempt
    assert errors.messages() == []


async def test_a_button_answer_survives_a_server_error(tmp_path: Path, errors: ErrorRecords) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [section] = await h.say(GROUP, MEMBER, "/section 1.1")
        h.standin.fail_next("answerCallbackQuery", 500)
        query = h.standin.user_presses(GROUP, MEMBER, section.message_id, "toc")
        await settle(lambda: h.world.callback_answers.get(query) is not None)
        answers = [r.status for r in h.standin.stats.requests if r.method == "answerCallbackQuery"]
        assert answers == [500, 200]
    assert errors.messages() == []


async def test_one_chat_that_keeps_drawing_429_neither_multiplies_requests_nor_stalls_the_others(
        tmp_path: Path) -> None:
    """Case 5: before, 3 flood retries inside each of 5 attempts sent 20 requests, and each 429 paused all chats."""
    stubborn = -777
    clock = FakeClock(PUSH_AT)
    async with bot_running(tmp_path, clock=clock) as h:  # the production limiter; Telegram refuses one chat
        subscribe(h, [stubborn, *BYSTANDERS])
        h.standin.fail_next("sendMessage", 429, count=50, description="Too Many Requests: retry after 1",
                            parameters={"retry_after": 1}, chat_id=stubborn)
        tick = asyncio.create_task(h.running.pusher.run_now())
        await settle(lambda: len(statuses(h.standin, "sendMessage", stubborn)) == 1)
        await still_answers(h)  # a command while the stubborn chat waits out its 429
        result = await tick
        assert [chat for chat, _ in result.failed] == [stubborn]
        assert_each_got(h.standin, BYSTANDERS, [1])
        assert readings(h.standin, stubborn) == []
        sends = [r for r in h.standin.stats.requests if r.method == "sendMessage"]
        to_stubborn = [i for i, r in enumerate(sends) if r.chat_id == str(stubborn)]
        assert len(to_stubborn) == RetryPolicy().attempts  # one 429 waited out per attempt, at one layer
        others = [i for i, r in enumerate(sends) if r.chat_id != str(stubborn)]
        assert max(others) < to_stubborn[1]  # everyone else was served during its first wait


MANY = [-(30_000 + i) for i in range(90)]


def sent_rows(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM ledger_days WHERE state = 'sent'").fetchone()[0])


async def test_a_restart_at_the_push_minute_draws_no_429_under_a_strict_sliding_window(tmp_path: Path) -> None:
    """Case 6: a new process that opens with a burst while Telegram still counts the old one's last second draws a
    run of 429s. The stand-in's windows are strict (no leaky-bucket tolerance) with room for 40 a second: both
    processes pace at the ~29.4/s they use against Telegram, so only a burst (the old 29 at once, or the old
    process's last second plus the new one's first) could be refused."""
    clock = FakeClock(PUSH_AT)
    limits = LimitConfig(overall=Bucket(40, 1.0), strict=True)
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limit_config=limits) as server:
        async with bot_running(tmp_path, clock=clock, standin=server) as h:
            subscribe(h, MANY)
            tick: asyncio.Task[object] = asyncio.create_task(h.running.pusher.run_now())
            await settle(lambda: sum(1 for chat in MANY if readings(server, chat)) >= 40)
            # kill -9 now. So that the kill loses no answer of a send Telegram carried out (the documented
            # at-least-once window, tested in test_faults), Telegram goes slow first and the kill comes once every
            # answered send is recorded.
            arrived = server.stats.requests_by_method["sendMessage"]
            server.delay_next("sendMessage", 5.0, count=len(MANY), deliver=False)
            await settle(lambda: server.stats.requests_by_method["sendMessage"] > arrived)
            delivered = sum(1 for chat in MANY if readings(server, chat))
            await settle(lambda: sent_rows(tmp_path / "studybot.db") == delivered)
            await h.running.pusher.aclose(timeout=0)  # killed: the deliveries under way die mid-request
            tick.cancel()
            await stop(h.running)
            await asyncio.gather(tick, return_exceptions=True)
        server.clear_faults()
        restarted_at = server.world.clock()
        async with bot_running(tmp_path, clock=clock, standin=server) as h2:
            await h2.running.pusher.run_now()
            await settle(lambda: all(readings(server, chat) for chat in MANY) and not h2.running.pusher.in_flight)
            assert_each_got(server, MANY, [1])  # 0 lost, 0 doubled
            assert [t for t in server.stats.refused_at if t >= restarted_at] == []  # 0 × 429 after the restart
            assert server.stats.too_many_requests == 0  # nor before it
            await still_answers(h2)
