"""End to end in a private chat: a member's quiz misses come back as review polls, spaced; reminders; /forgetme."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

from bot.handlers.review import REVIEW_KEY
from bot.review import PersonalReview
from bot.standin.state import SentRecord
from bot.store import GroupChanges
from records import chart, wording
from tests.botkit import ADMIN, GROUP, Harness, add_group, bot_running, settle
from tests.test_quiz_e2e import correct, poll_id, polls, wrong

ALICE, BOB = 31, 32
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The bot's clock, moved by the test (quiz answers are stamped with real time, so it starts at now)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def personal(h: Harness) -> PersonalReview:
    found = h.running.app.bot_data[REVIEW_KEY]
    assert isinstance(found, PersonalReview)
    return found


async def miss_one_in_the_group(h: Harness, member: int = ALICE, read_everything: bool = True) -> SentRecord:
    """A one-question group quiz that `member` answers wrong."""
    await add_group(h)
    await h.say(GROUP, member, "/quiz 1 all", replies=2)
    [poll] = await polls(h, 1)
    h.world.user_answers_poll(poll_id(poll), member, wrong(poll))
    await settle(lambda: h.svc.store.chat_scores(GROUP).get(member) == (0, 1))
    if read_everything:  # the group has been sent the whole plan: every section may be reviewed
        h.svc.store.update_group(GROUP, GroupChanges(next_day=len(h.svc.plan) + 1))  # past the end: finished
    return poll


async def private_polls(h: Harness, count: int, member: int = ALICE) -> list[SentRecord]:
    return await h.standin.wait_for_sent(member, count, method="sendPoll")


async def test_a_missed_question_comes_back_in_private_and_a_right_answer_spaces_it_out(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        group_poll = await miss_one_in_the_group(h)
        clock.now += timedelta(days=2)  # the miss is due (within a day of the quiz)
        intro, _ = await h.say(ALICE, ALICE, f"/start review_{GROUP}", replies=2)
        assert "复习开始" in (intro.text or "")
        [review] = await private_polls(h, 1)
        assert review.poll is not None and review.poll["type"] == "quiz" and not review.poll["is_anonymous"]
        assert group_poll.poll is not None
        asked_again = sorted(o["text"] for o in review.poll["options"])
        assert asked_again == sorted(o["text"] for o in group_poll.poll["options"])
        before = len(h.standin.sent(ALICE))
        h.world.user_answers_poll(poll_id(review), ALICE, correct(review))
        [done] = (await h.standin.wait_for_sent(ALICE, before + 1))[before:]
        assert "本次复习完成：答对 1 / 1 题" in (done.text or "")
        [card] = h.svc.store.review_cards(GROUP, ALICE)
        assert card.reviews == 2 and card.due > clock.now + timedelta(days=1)
        # Nothing is due now: /review says when, and offers new questions on the latest readings.
        [nothing] = await h.say(ALICE, ALICE, "/review")
        assert "目前没有到期的复习题" in (nothing.text or "")
        assert nothing.reply_markup is not None
        data = nothing.reply_markup["inline_keyboard"][0][0]["callback_data"]
        h.world.user_presses(ALICE, ALICE, nothing.message_id, data)
        fresh = (await private_polls(h, 2))[1]
        assert fresh.poll is not None and fresh.poll["question"].startswith("［复习第 1 题］")


async def test_a_wrong_review_answer_shows_the_sentence_and_its_reference(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h)
        clock.now += timedelta(days=2)
        await h.say(ALICE, ALICE, f"/start review_{GROUP}", replies=2)
        [review] = await private_polls(h, 1)
        before = len(h.standin.sent(ALICE))
        h.world.user_answers_poll(poll_id(review), ALICE, wrong(review))
        missed, done = (await h.standin.wait_for_sent(ALICE, before + 2))[before:]
        assert "正确答案" in (missed.text or "") and "/section" in (missed.text or "")
        assert "〔" in (missed.text or "")
        assert "答对 0 / 1 题" in (done.text or "")
        [card] = h.svc.store.review_cards(GROUP, ALICE)
        assert card.lapses == 2 and card.due <= clock.now + timedelta(days=1)
        # A repeated answer to the same review poll counts once.
        h.world.enqueue("poll_answer", {"poll_id": poll_id(review), "user": h.world.user(ALICE).to_api(),
                                        "option_ids": correct(review), "option_persistent_ids": ["x"]})
        await h.say(ALICE, ALICE, "/reminder")
        assert h.svc.store.review_cards(GROUP, ALICE)[0].reviews == card.reviews


async def test_questions_on_sections_the_group_has_not_read_are_never_asked(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h, read_everything=False)  # day 1 not even pushed: nothing is read
        clock.now += timedelta(days=2)
        [reply] = await h.say(ALICE, ALICE, "/review")
        assert "没有需要复习的题" in (reply.text or "") or "没有到期" in (reply.text or "")
        assert h.standin.sent(ALICE, method="sendPoll") == []


async def test_the_reminder_comes_once_a_day_at_the_members_time_and_stops_when_they_leave(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h)
        [set_reply] = await h.say(ALICE, ALICE, "/reminder 21:00")
        assert "21:00" in (set_reply.text or "") and "Asia/Shanghai" in (set_reply.text or "")
        due_day = (clock.now + timedelta(days=2)).astimezone(SHANGHAI).date()
        clock.now = datetime(due_day.year, due_day.month, due_day.day, 20, 59, tzinfo=SHANGHAI)
        assert await personal(h).remind() == 0  # not yet 21:00 in Shanghai
        clock.now += timedelta(minutes=2)
        assert await personal(h).remind() == 1
        assert await personal(h).remind() == 0  # once a day
        [reminder] = [r for r in h.standin.sent(ALICE) if "道复习题到期" in (r.text or "")]
        assert "1 道复习题到期" in (reminder.text or "")
        clock.now += timedelta(days=1)
        assert await personal(h).remind() == 1  # still due, next day: again
        h.world.enqueue("message", {"message_id": 999, "date": 0, "chat": h.world.chat_api(h.world.chat(GROUP)),
                                    "from": h.world.user(ALICE).to_api(),
                                    "left_chat_member": h.world.user(ALICE).to_api()})
        await settle(lambda: h.svc.store.review_groups(ALICE) == [])
        clock.now += timedelta(days=1)
        assert await personal(h).remind() == 0  # left the group: history kept, no reminders
        assert len(h.svc.store.review_cards(GROUP, ALICE)) == 1
        [off] = await h.say(ALICE, ALICE, "/reminder off")
        assert "关闭" in (off.text or "") and h.svc.store.review_reminder(ALICE) is None


async def test_no_reminder_for_cards_on_sections_the_group_has_not_read(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h, read_everything=False)  # nothing pushed yet: no section is readable
        await h.say(ALICE, ALICE, "/reminder 21:00")
        due_day = (clock.now + timedelta(days=2)).astimezone(SHANGHAI).date()
        clock.now = datetime(due_day.year, due_day.month, due_day.day, 21, 1, tzinfo=SHANGHAI)
        assert await personal(h).remind() == 0
        assert len(h.svc.store.review_cards(GROUP, ALICE)) == 1  # the miss was carded all the same


async def test_forgetme_deletes_review_data_after_confirmation_and_forged_buttons_do_nothing(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h)
        await h.say(ALICE, ALICE, "/reminder 21:00")
        clock.now += timedelta(days=2)
        await h.say(ALICE, ALICE, "/review", replies=2)
        assert h.svc.store.review_cards(GROUP, ALICE) != []
        # Bob never answered in the group: a forged button for it shows him nothing.
        [bob_reply] = await h.say(BOB, BOB, "/review")
        query = h.world.user_presses(BOB, BOB, bob_reply.message_id, f"rv:grp:{GROUP}")
        await settle(lambda: h.world.callback_answers.get(query) is not None)
        assert "失效" in h.world.callback_answers[query]["text"]
        assert h.standin.sent(BOB, method="sendPoll") == []
        [confirm] = await h.say(ALICE, ALICE, "/forgetme")
        assert "无法撤销" in (confirm.text or "") and h.svc.store.review_cards(GROUP, ALICE) != []
        h.world.user_presses(ALICE, ALICE, confirm.message_id, "rv:forget:yes")
        await settle(lambda: h.svc.store.review_cards(GROUP, ALICE) == [])
        assert h.svc.store.review_reminder(ALICE) is None
        # The group's quiz record is not review data: it stays.
        assert h.svc.store.chat_scores(GROUP) == {ALICE: (0, 1)}


async def test_quiz_results_and_mystats_carry_the_private_review_link(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        poll = await miss_one_in_the_group(h)
        before = len(h.standin.sent(GROUP))
        h.world.close_poll(poll_id(poll))
        [results] = (await h.standin.wait_for_sent(GROUP, before + 1))[before:]
        assert results.reply_markup is not None
        url = results.reply_markup["inline_keyboard"][0][0]["url"]
        assert url == f"https://t.me/studybot_test_bot?start=review_{GROUP}"
        [stats] = await h.say(GROUP, ALICE, "/mystats")
        assert "需要加强" in (stats.text or "")
        assert stats.reply_markup is not None and stats.reply_markup["inline_keyboard"][0][0]["url"] == url
        [in_group] = await h.say(GROUP, ALICE, "/review")
        assert "私聊" in (in_group.text or "") and in_group.reply_markup is not None


async def test_the_organizers_export_has_the_mastery_table_and_a_heatmap_in_private(tmp_path: Path) -> None:
    clock = Clock()
    async with bot_running(tmp_path, clock=clock) as h:
        await miss_one_in_the_group(h)
        clock.now += timedelta(days=2)
        await h.say(ALICE, ALICE, f"/start review_{GROUP}", replies=2)
        [review] = await private_polls(h, 1)
        h.world.user_answers_poll(poll_id(review), ALICE, correct(review))  # relearnt: known again
        await settle(lambda: h.svc.store.review_cards(GROUP, ALICE)[0].reviews == 2)
        [done] = await h.say(GROUP, ADMIN, "/export")
        assert "私信" in (done.text or "")
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None
        rows = list(openpyxl.load_workbook(io.BytesIO(doc.file.data))[wording.MASTERY_SHEET].iter_rows(
            values_only=True))
        assert rows[0][:2] == wording.MASTERY_HEADERS and len(rows) == 2
        name, user_id, *figures = rows[1]
        assert (name, user_id) == ("User31", ALICE) and len(figures) == 1
        assert figures[0] is not None and 0.8 < figures[0] <= 1.0  # right at its review: known
        if chart.cjk_font() is not None:
            [heatmap] = await h.standin.wait_for_sent(ADMIN, 1, method="sendPhoto")
            assert heatmap.file is not None and heatmap.file.data.startswith(b"\x89PNG")
        assert h.standin.sent(GROUP, method="sendPhoto") == []  # names and figures never go to the group
