"""End to end: check-ins, the roster, excuses and reminders through the stand-in, on a fake clock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from bot.campaign import CAMPAIGN_KEY, CampaignState
from bot.standin import StandIn
from bot.standin.state import FakeUser, SentRecord
from bot.store import GroupChanges
from schedules.clock import FakeClock
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, Harness, add_group, bot_running, settle

TUESDAY = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # 08:01 in Shanghai, just after the 08:00 push time
D1, D2 = date(2026, 12, 1), date(2026, 12, 2)
WANG = FakeUser(41, "小王", "xiaowang")
LI = FakeUser(42, "小李", "xiaoli")
ZHANG = FakeUser(43, "小张")
HELPER_BOT = FakeUser(49, "Helper", "helper_bot", is_bot=True)


async def subscribed(h: Harness, **changes: Any) -> None:
    await add_group(h)
    h.svc.store.update_group(GROUP, GroupChanges(subscribed=True, push_time=time(8, 0), timezone="Asia/Shanghai",
                                                 **changes))


async def push(h: Harness) -> SentRecord:
    """Run the push tick; the reading message it sent (the one with the 已学习 button)."""
    before = len(h.standin.sent(GROUP, "sendMessage"))
    await h.running.pusher.run_now()
    sent = (await h.standin.wait_for_sent(GROUP, before + 1, method="sendMessage"))[before:]
    return next(r for r in sent if checkin_button(r.reply_markup) is not None)


def checkin_button(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    buttons = [b for row in (markup or {}).get("inline_keyboard", []) for b in row]
    return next((b for b in buttons if str(b.get("callback_data", "")).startswith("ck:")), None)


def live_label(h: Harness, message_id: int) -> str:
    button = checkin_button(h.world.chat(GROUP).messages[message_id].get("reply_markup"))
    assert button is not None
    return str(button["text"])


async def press(h: Harness, user: int | FakeUser, message: SentRecord, data: str | None = None) -> str:
    """The user presses the message's 已学习 (or forged `data`); the toast the bot answered with."""
    button = checkin_button(message.reply_markup)
    assert button is not None
    query = h.world.user_presses(GROUP, user, message.message_id, data if data is not None else button["callback_data"])
    await settle(lambda: h.world.callback_answers[query] is not None)
    return str(h.world.callback_answers[query]["text"])


async def test_a_press_checks_in_once_and_an_older_reading_counts_as_late(tmp_path: Path) -> None:
    clock = FakeClock(TUESDAY)
    async with bot_running(tmp_path, clock=clock) as h:
        await subscribed(h)
        first = await push(h)
        assert checkin_button(first.reply_markup) == {"text": "✅ 已学习", "callback_data": "ck:1:20261201"}
        assert await press(h, MEMBER, first) == "✅ 打卡成功：第 1 天"
        assert await press(h, MEMBER, first) == "已记录：第 1 天"
        store = h.svc.store
        [record] = store.checkins(GROUP)
        assert (record.user_id, record.day, record.push_date, record.local_date, record.late) == (
            MEMBER, 1, D1, D1, False)
        assert record.local_time == time(8, 1)
        clock.set(datetime(2026, 12, 2, 0, 1, tzinfo=UTC))
        second = await push(h)
        assert checkin_button(second.reply_markup) == {"text": "✅ 已学习", "callback_data": "ck:2:20261202"}
        # Someone the roster has never seen presses yesterday's reading: 补学 for day 1, dated today.
        assert await press(h, ZHANG, first) == "✅ 打卡成功：第 1 天（补学）"
        late = store.checkin(GROUP, ZHANG.id, D1)
        assert late is not None and late.late and late.local_date == D2 and late.day == 1
        assert ZHANG.id in {m.user_id for m in store.roster(GROUP)}  # the press put them on the roster
        # Forged or stale data: a day that was not pushed that date, a date never pushed, garbage.
        for forged in ("ck:2:20261201", "ck:1:20991231", "ck:1:20261301", "ck:x", "ck:1:2026120"):
            assert await press(h, MEMBER, second, forged) == "这条消息的打卡已失效，请发送 /today 在最新的内容下打卡。"
        assert [(c.user_id, c.push_date) for c in store.checkins(GROUP)] == [(MEMBER, D1), (ZHANG.id, D1)]


async def test_the_live_count_is_edited_in_coalesced_steps_and_today_carries_it(tmp_path: Path) -> None:
    clock = FakeClock(TUESDAY)
    async with bot_running(tmp_path, clock=clock) as h:
        state = h.running.app.bot_data[CAMPAIGN_KEY]
        assert isinstance(state, CampaignState)
        state.counts.interval = 2.0
        await subscribed(h)
        reading = await push(h)
        queries = [h.world.user_presses(GROUP, 100 + i, reading.message_id, "ck:1:20261201") for i in range(8)]
        await settle(lambda: all(h.world.callback_answers[q] is not None for q in queries))
        await settle(lambda: live_label(h, reading.message_id) == "✅ 已学习（8）")
        edits = h.standin.sent(GROUP, "editMessageReplyMarkup")
        assert 1 <= len(edits) <= 2  # eight presses, at most one edit now and one when the interval is up
        # The other buttons survive the edits.
        labels = [b["text"] for b in edits[-1].reply_markup["inline_keyboard"][0]]  # type: ignore[index]
        assert labels == ["📖 目录", "读全文（本段所在各部分）"]
        [today] = await h.say(GROUP, MEMBER, "/today")
        assert checkin_button(today.reply_markup) == {"text": "✅ 已学习（8）", "callback_data": "ck:1:20261201"}
        assert await press(h, MEMBER, today) == "✅ 打卡成功：第 1 天"
        assert h.svc.store.checkin_count(GROUP, D1) == 9


async def test_the_roster_follows_joins_leaves_and_chat_member_updates_and_never_lists_bots(tmp_path: Path) -> None:
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await add_group(h)
        world = h.world
        world.user_joins(GROUP, WANG)
        world.user_joins(GROUP, HELPER_BOT, by_user=ADMIN)
        await h.say(GROUP, LI, "/toc")  # a message teaches the roster too
        store = h.svc.store
        await settle(lambda: {m.user_id for m in store.roster(GROUP)} == {WANG.id, LI.id, ADMIN})
        joined = store.member(GROUP, WANG.id)
        assert joined is not None and joined.username == "xiaowang" and joined.joined_at == TUESDAY.timestamp()
        world.user_leaves(GROUP, WANG)
        await settle(lambda: WANG.id not in {m.user_id for m in store.roster(GROUP)})
        gone = store.member(GROUP, WANG.id)
        assert gone is not None and gone.status == "left"
        # Made an admin, the bot gets chat_member updates (it asks for them): a kick with no service message.
        world.set_status(GROUP, world.bot.id, "administrator")
        world.set_status(GROUP, LI.id, "kicked", by_user=ADMIN)
        await settle(lambda: LI.id not in {m.user_id for m in store.roster(GROUP)})
        world.set_status(GROUP, ZHANG.id, "member", by_user=ZHANG)
        await settle(lambda: ZHANG.id in {m.user_id for m in store.roster(GROUP)})
        assert store.member(GROUP, HELPER_BOT.id) is None


async def test_roster_goes_to_the_admin_privately_and_the_group_sees_a_count(tmp_path: Path) -> None:
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await add_group(h)
        h.world.user_joins(GROUP, WANG)
        await h.say(GROUP, LI, "/toc")
        await settle(lambda: len(h.svc.store.roster(GROUP)) == 3)
        [refused] = await h.say(GROUP, MEMBER, "/roster")
        assert refused.text == "抱歉，这个命令只有群管理员可以使用。"
        [count] = await h.say(GROUP, ADMIN, "/roster")
        assert "已登记 4 人" in (count.text or "") and "私信" in (count.text or "")  # Wang, Li, the admin, MEMBER
        assert "小王" not in (count.text or "")
        [table] = h.standin.sent(ADMIN, "sendMessage")
        assert "小王 @xiaowang" in (table.text or "") and "小李" in (table.text or "")
        [removed] = await h.say(GROUP, ADMIN, "/roster remove @xiaowang")
        assert "小王" in (removed.text or "")
        gone = h.svc.store.member(GROUP, WANG.id)
        assert gone is not None and gone.status == "removed"
        h.world.user_blocks_bot(ADMIN)  # the admin's private chat is closed: the group reply links to it
        [linked] = await h.say(GROUP, ADMIN, "/roster")
        assert [e["url"] for e in linked.entities if e["type"] == "text_link"] == [
            f"https://t.me/studybot_test_bot?start=roster_{GROUP}"]
        assert "已登记 3 人" in (linked.text or "")  # Wang was taken off the roll
        # The link opens the private chat with /start roster_<group>, which delivers the roster (it only said
        # 再回到群里发送命令: come back to the group and send the command again).
        h.world.chat(ADMIN).blocked = False  # Telegram's Restart unblocks, then sends the link's /start
        [table] = await h.say(ADMIN, ADMIN, f"/start roster_{GROUP}")
        assert "名单" in (table.text or "") and "小王 @xiaowang（已移出名单）" in (table.text or "")
        [refused] = await h.say(LI.id, LI, f"/start roster_{GROUP}")  # not an admin: nothing private
        assert "不是该群的管理员" in (refused.text or "")


async def test_excuse_by_username_and_by_reply_and_the_reminder_names_exactly_who_is_missing(tmp_path: Path) -> None:
    clock = FakeClock(TUESDAY)
    async with bot_running(tmp_path, clock=clock) as h:
        await subscribed(h)
        world, store = h.world, h.svc.store
        for person in (WANG, LI, ZHANG, HELPER_BOT):
            world.user_joins(GROUP, person)
        said = world.user_sends(GROUP, ZHANG, "大家好")
        await settle(lambda: len(store.roster(GROUP)) == 4)  # the admin (from adding the bot) and three people
        [done] = await h.say(GROUP, ADMIN, "/excuse @xiaowang 12-01..12-05 出差")
        assert "小王" in (done.text or "") and "12-01 至 12-05" in (done.text or "")
        [done] = await h.say(GROUP, ADMIN, "/excuse 今天 病假", reply_to=said["message_id"])
        assert "小张" in (done.text or "")
        assert store.excused_on(GROUP, D1) == {WANG.id, ZHANG.id}
        [bad] = await h.say(GROUP, ADMIN, "/excuse @nobody 12-01")
        assert "没有找到" in (bad.text or "")
        [refused] = await h.say(GROUP, LI, "/excuse @xiaowang 12-01")
        assert refused.text == "抱歉，这个命令只有群管理员可以使用。"
        [refused] = await h.say(GROUP, LI, "/remind 20:30")
        assert refused.text == "抱歉，这个命令只有群管理员可以使用。"
        [ok] = await h.say(GROUP, ADMIN, "/remind 20:30")
        assert "20:30" in (ok.text or "")
        reading = await push(h)
        await press(h, ADMIN, reading)
        before = len(h.standin.sent(GROUP, "sendMessage"))
        clock.set(datetime(2026, 12, 1, 12, 29, tzinfo=UTC))  # 20:29 local: not yet
        await h.running.campaign.run_now()
        assert len(h.standin.sent(GROUP, "sendMessage")) == before
        clock.set(datetime(2026, 12, 1, 12, 31, tzinfo=UTC))
        await h.running.campaign.run_now()
        await h.running.campaign.run_now()  # twice in the minute: still one message
        [reminder] = h.standin.sent(GROUP, "sendMessage")[before:]
        text = reminder.text or ""
        # Li only: Wang and Zhang are excused, the admin checked in, the bot is no member.
        assert "小李" in text and "小王" not in text and "小张" not in text and "Helper" not in text
        assert [e["user"]["id"] for e in reminder.entities if e["type"] == "text_mention"] == [LI.id]


async def test_the_reminder_is_once_a_day_across_a_restart_and_never_on_a_day_without_a_push(tmp_path: Path) -> None:
    clock = FakeClock(TUESDAY)
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        async with bot_running(tmp_path, clock=clock, standin=server) as h:
            await subscribed(h, weekdays=frozenset({1}))  # Tuesdays only
            h.world.user_joins(GROUP, LI)
            await h.say(GROUP, ADMIN, "/remind 20:30")
            await push(h)
            clock.set(datetime(2026, 12, 1, 12, 31, tzinfo=UTC))
            await h.running.campaign.run_now()
            assert sum("小李" in t for t in h.texts(GROUP)) == 1
            sent = len(server.sent(GROUP, "sendMessage"))
        async with bot_running(tmp_path, clock=clock, standin=server) as again:
            await again.running.campaign.run_now()  # the same evening after a restart: not again
            clock.set(datetime(2026, 12, 2, 12, 31, tzinfo=UTC))  # Wednesday: no push, so no reminder
            await again.running.pusher.run_now()
            await again.running.campaign.run_now()
            assert len(server.sent(GROUP, "sendMessage")) == sent


async def test_a_roster_write_that_fails_is_written_when_its_update_is_handled_again(tmp_path: Path) -> None:
    """The roster learner posts its write (not awaited). SQLite refuses it (in its group commit and again when the
    batch is done one by one): the update is not confirmed but handled again, and that second handling writes the
    member, though the roster cache had already seen them."""
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await add_group(h)
        store = h.svc.store
        learned = store.remember_member
        refused: list[int] = []

        def remember_refused_twice(chat_id: int, user_id: int, *args: Any, **kwargs: Any) -> None:
            if user_id == LI.id and len(refused) < 2:
                refused.append(user_id)
                raise sqlite3.OperationalError("database is locked")
            learned(chat_id, user_id, *args, **kwargs)

        store.remember_member = remember_refused_twice  # type: ignore[method-assign]
        before = len(h.standin.sent(GROUP))
        await h.say(GROUP, LI, "/toc")
        await settle(lambda: store.member(GROUP, LI.id) is not None)
        await settle(lambda: not h.world.updates)  # then confirmed
        assert refused == [LI.id, LI.id]
        assert len(h.standin.sent(GROUP)) == before + 2  # handled again: /toc was answered twice


async def test_a_member_without_a_username_is_excused_by_the_name_the_roster_shows(tmp_path: Path) -> None:
    """小张 has no @username: /roster lists 小张, and an organizer types /excuse @小张 or /excuse 小张."""
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await subscribed(h)
        world, store = h.world, h.svc.store
        for person in (WANG, ZHANG):
            world.user_joins(GROUP, person)
        await settle(lambda: len(store.roster(GROUP)) == 3)
        [done] = await h.say(GROUP, ADMIN, "/excuse @小张 12-01..12-02 出差")
        assert "小张" in (done.text or "") and "12-01 至 12-02" in (done.text or "")
        assert store.excused_on(GROUP, date(2026, 12, 2)) == {ZHANG.id}
        [cancelled] = await h.say(GROUP, ADMIN, "/excuse 小张 取消")
        assert "小张" in (cancelled.text or "")
        assert store.excused_on(GROUP, date(2026, 12, 2)) == set()
        [done] = await h.say(GROUP, ADMIN, "/excuse @xiaowang 今天")  # a username still wins
        assert "小王" in (done.text or "")
        [unknown] = await h.say(GROUP, ADMIN, "/excuse @小周 今天")
        assert "没有找到“@小周”" in (unknown.text or "") and "名单上的名字" in (unknown.text or "")


async def test_an_excuse_typed_end_first_is_refused_not_kept_for_a_year(tmp_path: Path) -> None:
    """/excuse @xiaowang 12-05..12-03 was kept as 12-05 to next year's 12-03 (363 days), confirmed as
    “12-05 至 12-03”; it is refused with the dates the right way round, and nothing is stored."""
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await subscribed(h)
        h.world.user_joins(GROUP, WANG)
        await settle(lambda: h.svc.store.member(GROUP, WANG.id) is not None)
        [refused] = await h.say(GROUP, ADMIN, "/excuse @xiaowang 12-05..12-03 出差")
        assert "结束日期 12-03 在开始日期 12-05 之前" in (refused.text or "") and "12-03..12-05" in (refused.text or "")
        [refused] = await h.say(GROUP, ADMIN, "/excuse @xiaowang 2026-12-05..2026-12-03 出差")
        assert "2026-12-03..2026-12-05" in (refused.text or "")
        assert h.svc.store.excuses(GROUP) == []
        [done] = await h.say(GROUP, ADMIN, "/excuse @xiaowang 12-30..01-02 探亲")  # over the new year: as meant
        assert "12-30 至 01-02" in (done.text or "")
        assert [(e.start, e.end) for e in h.svc.store.excuses(GROUP)] == [(date(2026, 12, 30), date(2027, 1, 2))]


async def test_today_before_the_first_push_says_so_after_a_goto_too(tmp_path: Path) -> None:
    """/today after /goto 5 and before any push showed day 4 with no word that nothing was pushed yet (and no
    ✅ button, unexplained); a subscribed group was still told to /subscribe."""
    async with bot_running(tmp_path, clock=FakeClock(TUESDAY)) as h:
        await add_group(h)
        [today] = await h.say(GROUP, MEMBER, "/today")
        assert (today.text or "").startswith("还没有开始推送，先看看第一天的内容（管理员可发 /subscribe 订阅）")
        await subscribed(h)
        [today] = await h.say(GROUP, MEMBER, "/today")
        assert (today.text or "").startswith("还没有开始推送，先看看第一天的内容（推送后在推送下方点“✅ 已学习”打卡）")
        await h.say(GROUP, ADMIN, "/goto 5")
        [today] = await h.say(GROUP, MEMBER, "/today")
        first, header = (today.text or "").splitlines()[:3:2]
        assert first.startswith("还没有开始推送，先看看第一次推送的第 5 天内容"), first
        assert "第 5 天" in header and checkin_button(today.reply_markup) is None
        reading = await push(h)  # the push sends day 5: /today shows it, with the button
        [today] = await h.say(GROUP, MEMBER, "/today")
        assert not (today.text or "").startswith("还没有") and "第 5 天" in (today.text or "").splitlines()[0]
        assert checkin_button(today.reply_markup) is not None and "第 5 天" in (reading.text or "")
