"""End to end: quiz rounds through the stand-in — answers right, wrong, late and twice; results; restart mid-round."""

from __future__ import annotations

from pathlib import Path

from bot.standin import StandIn
from bot.standin.state import SentRecord
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, Harness, add_group, bot_running, settle

ALICE, BOB, CAROL = 31, 32, 33


async def polls(h: Harness, count: int, chat: int = GROUP) -> list[SentRecord]:
    return await h.standin.wait_for_sent(chat, count, method="sendPoll")


def correct(poll: SentRecord) -> list[int]:
    assert poll.poll is not None
    return [int(i) for i in poll.poll["correct_option_ids"]]  # all of them: a multiple-answer quiz needs the set


def wrong(poll: SentRecord) -> list[int]:
    return [next(i for i in range(len(poll.poll["options"])) if i not in correct(poll))]  # type: ignore[index]


def poll_id(poll: SentRecord) -> str:
    assert poll.poll is not None
    return str(poll.poll["id"])


async def test_a_round_scores_first_answers_only_and_posts_ranked_results(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await h.say(GROUP, ALICE, "/quiz 2 all", replies=2)
        [first] = await polls(h, 1)
        assert first.poll is not None and first.poll["type"] == "quiz" and not first.poll["is_anonymous"]
        assert first.poll["question"].startswith("【1/2】")
        world = h.standin.world
        world.user_answers_poll(poll_id(first), ALICE, correct(first))
        world.user_answers_poll(poll_id(first), BOB, wrong(first))
        world.user_answers_poll(poll_id(first), CAROL, correct(first))
        # A second (forged) answer from Bob and answers to unknown polls change nothing.
        world.enqueue("poll_answer", {"poll_id": poll_id(first), "user": world.user(BOB).to_api(),
                                      "option_ids": correct(first), "option_persistent_ids": ["x"]})
        world.enqueue("poll_answer", {"poll_id": "no-such-poll", "user": world.user(BOB).to_api(),
                                      "option_ids": [0], "option_persistent_ids": ["x"]})
        await settle(lambda: len(h.svc.store.chat_scores(GROUP)) == 3)
        world.close_poll(poll_id(first))
        second = (await polls(h, 2))[1]
        world.user_answers_poll(poll_id(second), ALICE, correct(second))
        world.user_answers_poll(poll_id(second), CAROL, wrong(second))
        await settle(lambda: sum(n for _, n in h.svc.store.chat_scores(GROUP).values()) == 5)
        before = len(h.standin.sent(GROUP))
        world.close_poll(poll_id(second))
        [results] = (await h.standin.wait_for_sent(GROUP, before + 1))[before:]
        text = results.text or ""
        assert "本轮测验结束" in text
        lines = text.splitlines()
        alice = next(i for i, line in enumerate(lines) if "User31" in line)
        carol = next(i for i, line in enumerate(lines) if "User33" in line)
        bob = next(i for i, line in enumerate(lines) if "User32" in line)
        assert "🥇" in lines[alice] and "2/2" in lines[alice]
        assert "🥈" in lines[carol] and "1/2" in lines[carol]
        assert "🥉" not in lines[bob] and "3. " in lines[bob] and "0/2" in lines[bob]  # no medal for 0 points
        assert "错得最多的题" in text and "/section" in text
        assert h.svc.store.chat_scores(GROUP) == {ALICE: (2, 2), BOB: (0, 1), CAROL: (1, 2)}

        [board] = await h.say(GROUP, BOB, "/leaderboard")
        board_lines = (board.text or "").splitlines()
        assert "User31" in board_lines[1] and "2 分" in board_lines[1]
        [mine] = await h.say(GROUP, CAROL, "/mystats")
        assert "答题：2 题" in (mine.text or "") and "正确率：50%" in (mine.text or "")
        assert "连续答题：1 天" in (mine.text or "")


async def test_one_round_at_a_time_and_only_starter_or_admin_may_stop_it(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await h.say(GROUP, ALICE, "/quiz 3 二", replies=2)
        [busy] = await h.say(GROUP, BOB, "/quiz")
        assert "正在进行" in (busy.text or "")
        [refused] = await h.say(GROUP, BOB, "/stopquiz")
        assert "只有发起" in (refused.text or "")
        records = await h.say(GROUP, ADMIN, "/stopquiz", replies=2)
        assert records[0].method == "stopPoll"
        assert "测验已结束" in (records[-1].text or "")
        assert h.svc.store.running_round(GROUP) is None


async def test_quiz_arguments_are_checked(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [too_many] = await h.say(GROUP, MEMBER, "/quiz 50")
        assert "用法" in (too_many.text or "")
        [bad_ref] = await h.say(GROUP, MEMBER, "/quiz 3 9.9")
        assert "没有第九部分" in (bad_ref.text or "")
        [nothing] = await h.say(GROUP, MEMBER, "/stopquiz")
        assert "没有进行中的测验" in (nothing.text or "")


async def test_a_group_where_polls_are_not_allowed_gets_a_clear_message(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        h.standin.fail_next("sendPoll", 400, description="Bad Request: not enough rights to send polls to the chat")
        records = await h.say(GROUP, MEMBER, "/quiz 2", replies=2)
        assert "无法发送投票" in (records[-1].text or "")
        assert h.svc.store.running_round(GROUP) is None


async def test_a_restart_mid_round_keeps_answers_and_the_round_goes_on(tmp_path: Path) -> None:
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        async with bot_running(tmp_path, standin=server) as h:
            await add_group(h)
            await h.say(GROUP, ALICE, "/quiz 2 all", replies=2)
            [first] = await polls(h, 1)
            server.world.user_answers_poll(poll_id(first), ALICE, correct(first))
            await settle(lambda: h.svc.store.chat_scores(GROUP) == {ALICE: (1, 1)})
        async with bot_running(tmp_path, standin=server) as h2:
            assert h2.svc.store.running_round(GROUP) is not None
            server.world.close_poll(poll_id(first))  # Telegram closes the poll while the new process runs
            second = (await polls(h2, 2))[1]
            server.world.user_answers_poll(poll_id(second), ALICE, correct(second))
            await settle(lambda: h2.svc.store.chat_scores(GROUP) == {ALICE: (2, 2)})
            before = len(server.sent(GROUP))
            server.world.close_poll(poll_id(second))
            [results] = (await server.wait_for_sent(GROUP, before + 1))[before:]
            assert "2/2" in (results.text or "")
