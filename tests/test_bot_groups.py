"""End to end: the group lifecycle and admin-only settings, and a restart that keeps them."""

from __future__ import annotations

import asyncio
from datetime import time
from pathlib import Path

from bot.standin import StandIn
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, add_group, bot_running


async def test_added_bot_greets_and_records_the_group_removed_bot_marks_it_inactive(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h, title="支部学习群")
        assert "/subscribe" in h.texts(GROUP)[0]
        group = h.svc.store.group(GROUP)
        assert group is not None and group.active and group.title == "支部学习群"
        h.standin.remove_bot(GROUP, kicked=True)
        for _ in range(50):
            group = h.svc.store.group(GROUP)
            if group is not None and not group.active:
                break
            await asyncio.sleep(0.05)
        assert group is not None and not group.active


async def test_settings_are_for_admins_only_anonymous_admins_included(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [refused] = await h.say(GROUP, MEMBER, "/subscribe")
        assert "只有群管理员" in (refused.text or "")
        group = h.svc.store.group(GROUP)
        assert group is not None and not group.subscribed

        [done] = await h.say(GROUP, ADMIN, "/subscribe")
        assert "已订阅" in (done.text or "") and "08:00" in (done.text or "")
        [anon] = await h.say(GROUP, MEMBER, "/settime 07:30", anonymous_admin=True)
        assert "07:30" in (anon.text or "")
        [bad] = await h.say(GROUP, ADMIN, "/settime 25:99")
        assert "时间格式不对" in (bad.text or "")
        [zone] = await h.say(GROUP, ADMIN, "/timezone Europe/London")
        assert "Europe/London" in (zone.text or "")
        [bad_zone] = await h.say(GROUP, ADMIN, "/timezone Mars/Base")
        assert "不认识这个时区" in (bad_zone.text or "")
        [days] = await h.say(GROUP, ADMIN, "/days 工作日")
        assert "工作日" in (days.text or "")
        [paused] = await h.say(GROUP, ADMIN, "/pause")
        assert "已暂停" in (paused.text or "")
        group = h.svc.store.group(GROUP)
        assert group is not None
        assert (group.push_time, group.timezone, group.weekdays, group.paused) == (
            time(7, 30), "Europe/London", frozenset(range(5)), True)


async def test_migrated_group_keeps_its_record_under_the_new_id(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h, chat_id=-300)
        await h.say(-300, ADMIN, "/subscribe")
        await h.say(-300, ADMIN, "/goto 2.1")
        new_id = h.standin.migrate_group(-300)
        for _ in range(50):
            if h.svc.store.group(new_id) is not None:
                break
            await asyncio.sleep(0.05)
        moved = h.svc.store.group(new_id)
        assert moved is not None and moved.subscribed and moved.next_day > 1
        assert h.svc.store.group(-300) is None


async def test_restart_keeps_every_setting_and_progress(tmp_path: Path) -> None:
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        async with bot_running(tmp_path, standin=server) as h:
            await add_group(h)
            await h.say(GROUP, ADMIN, "/subscribe")
            await h.say(GROUP, ADMIN, "/settime 21:15")
            await h.say(GROUP, ADMIN, "/goto 第4天")
        async with bot_running(tmp_path, standin=server) as h2:
            [shown] = await h2.say(GROUP, MEMBER, "/settings")
            assert "21:15" in (shown.text or "") and "已订阅" in (shown.text or "")
            assert "第 4 天" in (shown.text or "")
            [progress] = await h2.say(GROUP, MEMBER, "/progress")
            assert "3/" in (progress.text or "")


async def test_goto_takes_day_numbers_and_section_references(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        first_of_part_two = next(r.day for r in h.svc.plan if "2" in r.refs)
        for typed, day in (("1", 1), ("第3天", 3), ("Day 4", 4), ("二", first_of_part_two),
                           ("2.1", next(r.day for r in h.svc.plan if "2.1" in r.refs))):
            [done] = await h.say(GROUP, ADMIN, f"/goto {typed}")
            assert f"下一次推送第 {day} 天" in (done.text or ""), typed
            group = h.svc.store.group(GROUP)
            assert group is not None and group.next_day == day
        [bad] = await h.say(GROUP, ADMIN, "/goto 99")
        assert "例如" in (bad.text or "")


async def test_resume_in_a_group_that_never_subscribed_points_to_subscribe(tmp_path: Path) -> None:
    """/resume answered "▶️ 已恢复每日推送" above a status of 未订阅, and then nothing was pushed."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        for command in ("/resume", "/pause"):
            [answer] = await h.say(GROUP, ADMIN, command)
            text = answer.text or ""
            assert "已恢复" not in text and "已暂停每日推送" not in text, command
            assert "还没有订阅" in text and "/subscribe" in text, command
        await h.say(GROUP, ADMIN, "/subscribe")
        [paused] = await h.say(GROUP, ADMIN, "/pause")
        assert "已暂停每日推送" in (paused.text or "")
        [resumed] = await h.say(GROUP, ADMIN, "/resume")
        assert "已恢复每日推送" in (resumed.text or "")
