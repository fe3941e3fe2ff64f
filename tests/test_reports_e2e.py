"""End to end: /report and /export through the stand-in — numbers equal to what was injected, private delivery,
the deep-link fallback for an admin who never opened a private chat, and refusals for everyone else."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

from bot.digest import WeeklyDigest
from bot.store import Checkin, GroupChanges, PollRecord, Store
from records import chart, wording
from schedules.clock import FakeClock
from tests.botkit import ADMIN, GROUP, MEMBER, Harness, add_group, bot_running, settle

WANG, LI = 41, 42
LINK = f"https://t.me/studybot_test_bot?start=report_{GROUP}"


async def inject(h: Harness) -> date:
    """Two pushes (yesterday and today), three members, check-ins (one 补学), an excuse, three answers (two right).

    The admin is excused on both days, so the figures stay the same whether or not the roster counts them.
    """
    today = await h.svc.local_today(GROUP)
    yesterday = today - timedelta(days=1)

    def facts(s: Store) -> None:
        for n, day in enumerate((today - timedelta(days=1), today), start=1):
            assert s.record_push(GROUP, day, 100 + n) is not None
        for uid, name in ((WANG, "小王"), (LI, "小李"), (MEMBER, "小张")):
            s.remember_member(GROUP, uid, name)
        now = datetime.now().timestamp()
        for uid, push, pressed in ((WANG, yesterday, today), (WANG, today, today), (LI, today, today)):
            day = 1 if push == yesterday else 2
            assert s.record_checkin(Checkin(GROUP, uid, push, day, pressed, time(7, 30), now, pressed > push)) is None
        s.add_excuse(GROUP, MEMBER, yesterday, yesterday, "出差", ADMIN, now)
        s.add_excuse(GROUP, ADMIN, yesterday, today, "", ADMIN, now)
        for i, (uid, option) in enumerate(((WANG, 0), (WANG, 0), (LI, 1))):
            poll = PollRecord(f"p{i}", 1, GROUP, 200 + i, f"q{i % 2}", "1.1", 0, i, now + 60, False)
            if s.poll(poll.poll_id) is None:
                s.record_poll(poll)
            assert s.record_answer(poll, uid, option, now, today)

    await h.svc.db(facts)
    return today


async def test_report_in_group_counts_and_full_table_in_private(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        [summary] = await h.say(GROUP, ADMIN, "/report", replies=1)
        text = summary.text or ""
        assert "推送天数：2 天" in text and "打卡率：平均 60%" in text
        # Yesterday: 王 and 李 expected (张 excused), 王 checked in the next day; today: all three, 王 and 李.
        assert "第 1 天　1/2（50%） 含补学 1" in text and "第 2 天　2/3（67%）" in text
        assert "今天还有 1 人未打卡。" in text
        assert "学习之星：小王（2 天）、小李（1 天）" in text
        assert "测验：2 人参与，作答 3 次，正确率 67%" in text
        assert "完整的成员明细已私信发给你" in text
        assert "小李" not in text.split("学习之星")[0]  # names only among the few top members
        [table] = await h.standin.wait_for_sent(ADMIN, 1)
        lines = (table.text or "").splitlines()
        wang = next(line for line in lines if line.startswith("小王"))
        li = next(line for line in lines if line.startswith("小李"))
        assert "打卡 2/2（100%） · 连续 2 · 答对 2/2 · 补学 1" in wang
        assert "打卡 1/2（50%） · 连续 1 · 答对 0/1 · 薄弱 1.1" in li
        zhang = next(line for line in lines if line.startswith("小张"))
        assert "打卡 0/1（0%）" in zhang and "请假 1 天" in zhang
        if chart.cjk_font() is not None:  # the week's chart follows in the group (counts only, no names)
            [photo] = await h.standin.wait_for_sent(GROUP, 1, method="sendPhoto")
            assert photo.file is not None and photo.file.data.startswith(b"\x89PNG")


async def test_non_admins_are_refused_and_get_nothing_private(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        [refusal] = await h.say(GROUP, MEMBER, "/report")
        assert refusal.text == "抱歉，学习报告和台账只有群管理员可以查看。"
        [refusal] = await h.say(GROUP, MEMBER, "/export csv")
        assert "只有群管理员" in (refusal.text or "")
        # A forged deep link: the member is not an admin of the group.
        [expired] = await h.say(MEMBER, MEMBER, f"/start report_{GROUP}")
        assert "不是该群的管理员" in (expired.text or "")
        assert all("小王" not in (r.text or "") for r in h.standin.sent(MEMBER))
        [bad] = await h.say(GROUP, ADMIN, "/report 12-40")
        assert (bad.text or "").startswith("用法：/report")


async def test_admin_without_a_private_chat_gets_a_deep_link_that_delivers(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        h.world.unstarted.add(ADMIN)
        [summary] = await h.say(GROUP, ADMIN, "/report")
        assert f'<a href="{LINK}">' not in (summary.text or "")  # the text arrives parsed: link as an entity
        entity = next(e for e in summary.entities if e["type"] == "text_link")
        assert entity["url"] == LINK
        assert h.standin.sent(ADMIN) == []
        # The admin follows the link: Telegram opens the private chat and sends /start with the payload.
        [table] = await h.say(ADMIN, ADMIN, f"/start report_{GROUP}")
        assert "成员明细" in (table.text or "") and "小王" in (table.text or "")


async def test_export_xlsx_and_csv_arrive_in_private_with_the_injected_cells(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        today = await inject(h)
        [done] = await h.say(GROUP, ADMIN, "/export")
        assert done.text == "学习台账已私信发给你。"
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None and doc.file.filename.endswith(".xlsx")
        book = openpyxl.load_workbook(io.BytesIO(doc.file.data))
        caption = str((doc.message or {}).get("caption"))
        assert f"共 {len(book.sheetnames)} 张表（{'、'.join(book.sheetnames)}）" in caption  # names what it holds
        ledger = list(book[wording.LEDGER_SHEET].iter_rows(values_only=True))
        assert ledger[0] == wording.LEDGER_HEADERS
        assert len([r for r in ledger if r[0] != "User11"]) == 1 + 3 * 2  # three members, two push days
        wang_today = next(r for r in ledger if r[0] == "小王" and r[2] == datetime.combine(today, datetime.min.time()))
        assert (wang_today[1], wang_today[3], wang_today[7], wang_today[10], wang_today[11]) == (WANG, 2, None, 2, 2)
        wang_before = next(r for r in ledger if r[0] == "小王" and r != wang_today)
        assert wang_before[6] == datetime.combine(today, time(7, 30)) and wang_before[7] == "是"
        zhang_before = next(r for r in ledger if r[0] == "小张" and r[3] == 1)
        assert zhang_before[6:10] == (None, None, "是", "出差")
        summary = {r[0]: r for r in book[wording.SUMMARY_SHEET].iter_rows(min_row=2, values_only=True)}
        assert summary["小李"][9:13] == (1, 0, 0.0, "1.1")
        quiz = {r[0]: r for r in book[wording.QUIZ_SHEET].iter_rows(min_row=2, values_only=True)}
        assert quiz["q0"][3:7] == (2, 2, 1, 0.5) and quiz["q1"][3:7] == (1, 1, 1, 1.0)

        await h.say(GROUP, ADMIN, "/export csv")
        [_, archive] = await h.standin.wait_for_sent(ADMIN, 2, method="sendDocument")
        assert archive.file is not None
        with zipfile.ZipFile(io.BytesIO(archive.file.data)) as z:
            rows = z.read("汇总.csv").decode("utf-8-sig").splitlines()
        assert rows[0].split(",") == list(wording.SUMMARY_HEADERS)
        assert f"小王,{WANG},2,2,100.0%,1,0,2,2,2,2,100.0%," in rows


async def test_export_deep_link_when_the_admin_never_started_the_bot(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        h.world.unstarted.add(ADMIN)
        [answer] = await h.say(GROUP, ADMIN, "/export csv")
        link = next(e for e in answer.entities if e["type"] == "text_link")["url"]
        assert link == f"https://t.me/studybot_test_bot?start=export_{GROUP}_csv"
        await h.say(ADMIN, ADMIN, f"/start export_{GROUP}_csv", replies=0)
        await settle(lambda: h.standin.sent(ADMIN, "sendDocument"))
        [doc] = h.standin.sent(ADMIN, "sendDocument")
        assert doc.file is not None and doc.file.filename.endswith(".zip")


async def test_weekly_digest_goes_to_admins_once_per_week(tmp_path: Path) -> None:
    monday = datetime(2026, 11, 30, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with bot_running(tmp_path) as h:
        await add_group(h)

        def facts(s: Store) -> None:
            for n, day in enumerate((date(2026, 11, 24), date(2026, 11, 25)), start=1):
                assert s.record_push(GROUP, day, 100 + n) is not None
            s.remember_member(GROUP, WANG, "小王")
            s.record_checkin(Checkin(GROUP, WANG, date(2026, 11, 24), 1, date(2026, 11, 24), time(8), 0.0, False))

        await h.svc.db(facts)
        digest = WeeklyDigest(h.svc, h.running.app.bot)
        assert await digest.tick(monday - timedelta(hours=2)) == 0  # Monday, but before 09:00
        assert await digest.tick(monday + timedelta(days=1)) == 0  # Tuesday
        assert h.standin.sent(ADMIN) == []
        assert await digest.tick(monday) == 1
        [text] = [r.text or "" for r in h.standin.sent(ADMIN, "sendMessage")]
        assert text.startswith("🗓 每周学习简报 · 学习小组（上周）")
        assert "上周：11-23 至 11-29" in text and "小王　打卡 1/2（50%）" in text
        assert await digest.tick(monday + timedelta(minutes=5)) == 0  # claimed: once per week, across restarts
        assert len(h.standin.sent(ADMIN, "sendMessage")) == 1


async def test_a_big_group_gets_one_message_and_the_table_as_a_csv_document(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        await h.svc.db(lambda s: [s.remember_member(GROUP, 1000 + i, f"学员{i:03d}") for i in range(700)])
        await h.say(GROUP, ADMIN, "/report")
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        messages = h.standin.sent(ADMIN, "sendMessage")
        roster = len(await h.svc.db(lambda s: s.roster(GROUP)))
        assert roster >= 703
        assert len(messages) == 1 and f"成员较多（{roster} 人）" in (messages[0].text or "")
        assert len(messages[0].text or "") <= 4096
        assert doc.file is not None and doc.file.filename.endswith(".csv")
        rows = doc.file.data.decode("utf-8-sig").splitlines()
        assert rows[0].split(",")[0] == "成员" and len(rows) == 1 + roster
        assert any(r.startswith("学员699,1699,2,0,0.0%") for r in rows)


async def test_a_finished_plan_sends_the_admins_the_full_export(tmp_path: Path) -> None:
    push = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # 08:01 in Shanghai
    clock = FakeClock(push)
    async with bot_running(tmp_path, clock=clock) as h:
        total = len(h.svc.plan)
        await add_group(h)
        await h.svc.db(lambda s: s.update_group(GROUP, GroupChanges(subscribed=True, push_time=time(8, 0),
                                                timezone="Asia/Shanghai", next_day=total)))
        await h.running.pusher.run_now()
        reading = next(r for r in await h.standin.wait_for_sent(GROUP, 2, method="sendMessage")
                       if r.reply_markup and "ck:" in str(r.reply_markup))
        query = h.world.user_presses(GROUP, MEMBER, reading.message_id, f"ck:{total}:20261201")
        await settle(lambda: h.world.callback_answers[query] is not None)
        clock.set(datetime(2026, 12, 1, 14, 1, tzinfo=UTC))  # 22:01: the last day's quiz has closed
        await h.running.campaign.run_now()
        await h.running.campaign.run_now()
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None and doc.file.filename.endswith(".xlsx")
        assert "已学完全部内容" in str((doc.message or {}).get("caption"))
        ledger = list(openpyxl.load_workbook(io.BytesIO(doc.file.data))[wording.LEDGER_SHEET].iter_rows(
            min_row=2, values_only=True))
        member = next(r for r in ledger if r[1] == MEMBER)
        assert member[3] == total and member[6] is not None  # the last day, checked in
        assert len(h.standin.sent(ADMIN, "sendDocument")) == 1  # once


async def test_report_and_roster_count_the_group_without_the_bot(tmp_path: Path) -> None:
    """getChatMemberCount counts the bot too: /roster said 4 members and /report 5 for the same group."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        chat = h.world.chat(GROUP)
        for uid in (WANG, LI, MEMBER):
            chat.members[uid] = "member"
        people = sum(1 for uid in chat.members if uid != h.world.bot.id)
        [count] = await h.say(GROUP, ADMIN, "/roster", replies=1)  # first: /report's chart follows its summary
        assert f"群成员共 {people} 人，不含机器人" in (count.text or "")
        [summary] = await h.say(GROUP, ADMIN, "/report", replies=1)
        assert f"（群成员 {people} 人）" in (summary.text or "")


async def test_a_typed_period_is_named_once_and_a_full_day_is_praised(tmp_path: Path) -> None:
    """/report 12-01..12-02 was headed （12-01..12-02：12-01 至 12-02） or, in another year, （2025-12-01..2025-12-07：
    12-01 至 12-07）, the year lost in the run-on; and 今天还有 0 人未打卡 read oddly."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        today = await inject(h)
        yesterday = today - timedelta(days=1)
        now = datetime.now().timestamp()
        await h.svc.db(lambda s: s.record_checkin(Checkin(GROUP, MEMBER, today, 2, today, time(9), now, False)))
        typed = f"{yesterday:%m-%d}..{today:%m-%d}"
        [summary] = await h.say(GROUP, ADMIN, f"/report {typed}", replies=1)
        text = summary.text or ""
        assert text.splitlines()[0].endswith(f"（{yesterday:%m-%d} 至 {today:%m-%d}）"), text.splitlines()[0]
        assert "今天全员已打卡" in text and "0 人未打卡" not in text
        later = today + timedelta(days=3)  # not yet this year: last year's, and the header says which year
        if later.year == today.year:  # the first report's chart may still be on its way: wait for the text
            before = len(h.standin.sent(GROUP, "sendMessage"))
            h.standin.user_sends(GROUP, ADMIN, f"/report {later:%m-%d}..{later:%m-%d}")
            await settle(lambda: len(h.standin.sent(GROUP, "sendMessage")) > before)
            old = h.standin.sent(GROUP, "sendMessage")[before]
            # Nothing was pushed then: the one-line answer names the period with its year.
            assert f"📊 {later.year - 1}-{later:%m-%d}：" in (old.text or "").splitlines()[0]


async def test_a_period_typed_end_first_is_refused_with_the_dates_the_right_way_round(tmp_path: Path) -> None:
    """/report 12-07..12-01 typed on 12-02 was a 360-day report from last December (and /export a 360-day file);
    it is refused, naming the range the organizer meant, and nothing goes to the private chat."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        for command in ("/report", "/export", "/export csv"):  # on any date: a 12-01 after 12-07 is 359 days on
            [refused] = await h.say(GROUP, ADMIN, f"{command} 12-07..12-01")
            text = refused.text or ""
            assert "结束日期 12-01 在开始日期 12-07 之前" in text and "12-01..12-07" in text, text
        assert h.standin.sent(ADMIN) == []


async def test_the_mastery_sheet_counts_a_miss_never_reviewed_as_not_known(tmp_path: Path) -> None:
    """小李 answered his one question in 1.1 wrong and never opened /review: the 掌握度 sheet said 100% (green in
    the heatmap) beside 汇总's 正确率 0% and 薄弱章节 1.1. A miss not reviewed counts as not known."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        await inject(h)
        await h.say(GROUP, ADMIN, "/export")
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None
        book = openpyxl.load_workbook(io.BytesIO(doc.file.data))
        rows = list(book[wording.MASTERY_SHEET].iter_rows(values_only=True))
        column = rows[0].index("1.1")
        mastery = {r[0]: r[column] for r in rows[1:]}
        assert mastery["小李"] == 0.0 and mastery["小王"] == 1.0, mastery


async def test_a_period_with_nothing_in_it_gets_one_short_answer_and_no_table_or_file(tmp_path: Path) -> None:
    """/report of a range before the campaign sent the admin a table of 0/0（0%） for everyone and said
    完整的成员明细已私信发给你; /export sent an empty ledger. Now one line in the group says when pushing began."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [fresh] = await h.say(GROUP, ADMIN, "/report")
        assert "没有可统计的记录" in (fresh.text or "") and "还没有推送过" in (fresh.text or "")
        today = await inject(h)
        start = today - timedelta(days=1)
        for command in ("/report", "/export", "/export csv"):
            [nothing] = await h.say(GROUP, ADMIN, f"{command} 2025-01-01..2025-01-05")
            text = nothing.text or ""
            assert "2025-01-01 至 2025-01-05" in text and "没有可统计的记录" in text, text
            assert f"本群从 {start:%Y-%m-%d} 开始推送，发 {command.split()[0]} all 可查看全部" in text
        assert h.standin.sent(ADMIN) == []


async def test_the_deep_link_delivers_the_period_asked_for_in_the_group(tmp_path: Path) -> None:
    """/report month or /export 12-02 from an admin without a private chat gave a link whose /start sent the
    week's table or the whole ledger, whatever was asked. The link now carries the period."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        today = await inject(h)
        h.world.unstarted.add(ADMIN)
        [summary] = await h.say(GROUP, ADMIN, "/report month")
        url = next(e for e in summary.entities if e["type"] == "text_link")["url"]
        assert url == f"{LINK}_month"
        [table] = await h.say(ADMIN, ADMIN, f"/start {url.split('start=')[1]}", replies=1)
        assert "近 30 天" in (table.text or "").splitlines()[0]
        h.world.unstarted.add(ADMIN)
        before = len(h.standin.sent(GROUP, "sendMessage"))
        h.standin.user_sends(GROUP, ADMIN, f"/export {today:%m-%d} csv")  # the month's chart may still be on its way
        await settle(lambda: len(h.standin.sent(GROUP, "sendMessage")) > before)
        answer = h.standin.sent(GROUP, "sendMessage")[before]
        url = next(e for e in answer.entities if e["type"] == "text_link")["url"]
        assert url == f"https://t.me/studybot_test_bot?start=export_{GROUP}_csv_{today:%Y%m%d}-{today:%Y%m%d}"
        await h.say(ADMIN, ADMIN, f"/start {url.split('start=')[1]}", replies=0)
        await settle(lambda: h.standin.sent(ADMIN, "sendDocument"))
        [doc] = h.standin.sent(ADMIN, "sendDocument")
        assert doc.file is not None and doc.file.filename.endswith(f"_{today:%Y%m%d}-{today:%Y%m%d}.zip")


async def test_all_begins_at_the_first_quiz_when_the_group_tried_quizzes_before_its_first_push(tmp_path: Path) -> None:
    """/report all and /export (all by default) began at the first push, so quizzes answered before subscribing were
    left out of the record. `all` begins at the group's first day on record."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        today = await inject(h)
        early = today - timedelta(days=4)

        def before(s: Store) -> None:
            poll = PollRecord("early", 1, GROUP, 300, "q9", "1.2", 0, 0, datetime.now().timestamp() + 60, False)
            s.record_poll(poll)
            assert s.record_answer(poll, WANG, 0, datetime.now().timestamp(), early)

        await h.svc.db(before)
        [summary] = await h.say(GROUP, ADMIN, "/report all", replies=1)
        header = (summary.text or "").splitlines()[0]
        assert f"全部：{early:%m-%d} 至 {today:%m-%d}" in header, header
        assert "作答 4 次" in (summary.text or "")


async def test_a_calendar_month_is_reported_and_exported_whole(tmp_path: Path) -> None:
    """/report 12月 (this month, by name) covers the month's days and says which, /export 2026-12 csv sends the
    month's file, 上周 is last Monday to Sunday, and /report 13月 gets the usage, not a report."""
    async with bot_running(tmp_path) as h:
        await add_group(h)
        today = await inject(h)
        first = today.replace(day=1)
        last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
        [summary] = await h.say(GROUP, ADMIN, f"/report {today.month}月", replies=1)
        text = summary.text or ""
        assert text.splitlines()[0].endswith(f"（{today.month} 月：{first:%m-%d} 至 {last:%m-%d}）"), text
        pushed = 2 if today.day > 1 else 1  # the injected pushes are yesterday and today
        assert f"推送天数：{pushed} 天" in text
        await settle(lambda: h.standin.sent(ADMIN, "sendMessage"))  # the private table, before the next command
        if chart.cjk_font() is not None:  # and the chart, or it is taken for the next command's reply
            await h.standin.wait_for_sent(GROUP, 1, method="sendPhoto")
        [usage] = await h.say(GROUP, ADMIN, "/report 13月")
        assert (usage.text or "").startswith("用法：/report")
        monday = today - timedelta(days=today.weekday() + 7)
        if today.weekday() > 0:  # the campaign began yesterday, this week: nothing last week
            [before] = await h.say(GROUP, ADMIN, "/export 上周 csv")
            assert (before.text or "").startswith(f"📊 上周（{monday:%m-%d} 至 {monday + timedelta(days=6):%m-%d}）：")
        [done] = await h.say(GROUP, ADMIN, f"/export {today.year}-{today.month} csv")
        assert done.text == "学习台账已私信发给你。"
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None and doc.file.filename.endswith(f"_{first:%Y%m%d}-{last:%Y%m%d}.zip")
