"""The organizer sees robot channels: /report and /export of their group, the weekly digest, one private notice when
a channel stops, `studybot groups` — and never a webhook key or a secret."""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import yaml

from bot.digest import WeeklyDigest
from bot.robots.client import stop_cause
from bot.robots.standin import RobotStandIn
from bot.store import Store
from records import wording
from schedules.clock import FakeClock
from schedules.ledger import PlanRule, channel_key
from tests.botkit import ADMIN, GROUP, add_group, bot_running, settle
from tests.test_cli import studybot

WX_KEY = "wxkey0123456789"
DD_TOKEN = "ddtoken0123456789"
OTHER_KEY = "otherkey0123456789"
DD_SECRET = "SECorganizer-secret-0123456789abcdef"
CHANNELS: list[dict[str, Any]] = [
    # Webhooks on a loopback address nobody serves: these tests write the channels' records, nothing is posted.
    {"name": "wx", "kind": "wecom", "webhook": f"http://127.0.0.1:9/cgi-bin/webhook/send?key={WX_KEY}",
     "follow": GROUP},
    {"name": "dd", "kind": "dingtalk", "webhook": f"http://127.0.0.1:9/robot/send?access_token={DD_TOKEN}",
     "secret": DD_SECRET, "time": "08:00", "group": GROUP},
    {"name": "other", "kind": "wecom", "webhook": f"http://127.0.0.1:9/cgi-bin/webhook/send?key={OTHER_KEY}",
     "follow": -999},  # another group's: never shown in this group's records
]
STOPPED = "refused: stop: HTTP 200, 310000 refused by the robot's security settings (keywords not in content)"


def channel_facts(s: Store, days: list[date]) -> None:
    """wx posted on `days`; dd posted on the first of them, then its robot refused it and it stopped."""
    s.robots.sync([(c["name"], c["kind"]) for c in CHANNELS])
    plan = PlanRule(30)
    for key, dates in ((channel_key("wecom", "wx"), days), (channel_key("dingtalk", "dd"), days[:1]),
                       (channel_key("wecom", "other"), days)):
        for on in dates:
            claim = s.ledger.claim(key, on, "test", 0.0, plan)
            assert claim is not None
            s.ledger.record(claim, None, plan)
    s.robots.failed("dd", "part 1 of 1 not posted")
    assert s.robots.stop("dd", STOPPED)
    assert not s.robots.stop("dd", STOPPED)  # stopped already: only the first stop tells the organizer


def assert_no_secret(text: str) -> None:
    for secret in (WX_KEY, DD_TOKEN, OTHER_KEY, DD_SECRET):
        assert secret not in text


async def test_report_and_export_show_the_groups_channels_and_no_other(tmp_path: Path) -> None:
    async with bot_running(tmp_path, channels=CHANNELS) as h:
        await add_group(h)
        today = await h.svc.local_today(GROUP)
        days = [today - timedelta(days=1), today]

        def facts(s: Store) -> None:
            for n, day in enumerate(days, start=1):
                assert s.record_push(GROUP, day, 100 + n) is not None
            channel_facts(s, days)

        await h.svc.db(facts)
        [summary] = await h.say(GROUP, ADMIN, "/report", replies=1)
        text = summary.text or ""
        lines = text.splitlines()
        assert "🤖 机器人渠道" in lines
        wx = next(line for line in lines if "wx（" in line)
        assert wx.strip() == f"wx（企业微信，跟随本群推送）：本期推送 2 天，最近 {today:%m-%d}，正常"
        dd = next(line for line in lines if "dd（" in line)
        assert dd.strip().startswith("⚠️ dd（钉钉，每天 08:00")
        assert f"本期推送 1 天，最近 {days[0]:%m-%d}，已停止：消息里没有机器人安全设置中的自定义关键词" in dd
        assert "other" not in text
        assert_no_secret(text)

        await h.say(GROUP, ADMIN, "/export")
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None
        book = openpyxl.load_workbook(io.BytesIO(doc.file.data))
        caption = str((doc.message or {}).get("caption"))
        assert f"共 {len(book.sheetnames)} 张表（{'、'.join(book.sheetnames)}）" in caption and "、渠道）" in caption
        rows = list(book[wording.CHANNELS_SHEET].iter_rows(values_only=True))
        assert rows[0] == wording.CHANNELS_HEADERS
        assert [r[:5] for r in rows[1:]] == [
            ("wx", "企业微信", "跟随本群推送", 2, datetime.combine(today, datetime.min.time())),
            ("dd", "钉钉", rows[2][2], 1, datetime.combine(days[0], datetime.min.time()))]
        assert rows[1][5] == "正常" and str(rows[2][5]).startswith("已停止")

        await h.say(GROUP, ADMIN, "/export csv")
        [_, archive] = await h.standin.wait_for_sent(ADMIN, 2, method="sendDocument")
        assert archive.file is not None
        with zipfile.ZipFile(io.BytesIO(archive.file.data)) as z:
            csv_rows = z.read(f"{wording.CHANNELS_SHEET}.csv").decode("utf-8-sig").splitlines()
            everything = b"".join(z.read(n) for n in z.namelist()).decode("utf-8-sig", "replace")
        assert csv_rows[1].startswith(f"wx,企业微信,跟随本群推送,2,{today.isoformat()},正常")
        assert_no_secret(everything)


async def test_a_group_without_channels_has_no_channel_lines_or_sheet(tmp_path: Path) -> None:
    async with bot_running(tmp_path, channels=CHANNELS[2:]) as h:  # only another group's channel
        await add_group(h)
        today = await h.svc.local_today(GROUP)
        await h.svc.db(lambda s: s.record_push(GROUP, today, 100))
        [summary] = await h.say(GROUP, ADMIN, "/report", replies=1)
        assert "机器人渠道" not in (summary.text or "")
        await h.say(GROUP, ADMIN, "/export")
        [doc] = await h.standin.wait_for_sent(ADMIN, 1, method="sendDocument")
        assert doc.file is not None
        assert wording.CHANNELS_SHEET not in openpyxl.load_workbook(io.BytesIO(doc.file.data)).sheetnames


async def test_the_weekly_digest_names_a_channel_that_keeps_failing(tmp_path: Path) -> None:
    monday = datetime(2026, 11, 30, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with bot_running(tmp_path, channels=CHANNELS) as h:
        await add_group(h)
        days = [date(2026, 11, 24), date(2026, 11, 25)]

        def facts(s: Store) -> None:
            for n, day in enumerate(days, start=1):
                assert s.record_push(GROUP, day, 100 + n) is not None
            channel_facts(s, days)
            for _ in range(3):  # wx: three failed attempts in a row since its last post
                s.robots.failed("wx", "part 1 of 1 not posted: retry: HTTP 200, 45009 too fast")

        await h.svc.db(facts)
        assert await WeeklyDigest(h.svc, h.running.app.bot).tick(monday) == 1
        [text] = [r.text or "" for r in h.standin.sent(ADMIN, "sendMessage")]
        warning = next(line for line in text.splitlines() if line.startswith("⚠️ 机器人渠道"))
        assert "wx、dd" in warning and "other" not in text
        assert_no_secret(text)


async def test_a_stopped_channel_tells_the_groups_admins_once_in_private(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 0, 5, tzinfo=UTC))  # 08:05 in Shanghai
    async with RobotStandIn(clock=lambda: clock().timestamp()) as robots:
        fs = robots.add("feishu", keywords=("打卡提醒",))  # the readings never carry it: 19024
        channels = [{"name": "fs", "kind": "feishu", "webhook": robots.url(fs), "time": "08:00", "group": GROUP}]
        async with bot_running(tmp_path, clock=clock, channels=channels) as h:
            await add_group(h)
            before = len(h.standin.sent(ADMIN))
            with caplog.at_level(logging.INFO):
                assert await h.running.robots.tick() == []
                await settle(lambda: len(h.standin.sent(ADMIN)) > before)
                clock.advance(timedelta(days=1))  # the next day: stopped, so nothing is tried, nobody told again
                assert await h.running.robots.tick() == []
            notices = [r.text or "" for r in h.standin.sent(ADMIN)[before:]]
            assert len(notices) == 1 and fs.refused == [19024]
            assert notices[0].startswith("⚠️ 机器人渠道「fs」（飞书）已停止推送："
                                         "消息里没有机器人安全设置中的自定义关键词")
            assert "studybot channels test fs" in notices[0]
            assert fs.token not in notices[0]
            # httpx's request lines are quieted to WARNING in production and redacted there (bot/logs.py).
            logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
            assert "robot channel fs (Feishu) stopped" in logged and f"admins of Telegram group {GROUP}" in logged
            assert "told 1 admin(s)" in logged and fs.token not in logged
            row = await h.svc.db(lambda s: s.robots.get("fs"))
            assert row is not None and not row.active


def test_stop_causes_from_the_platforms_answers() -> None:
    assert stop_cause("robot removed: gone: HTTP 200, 93000 invalid webhook URL") == "removed"
    assert stop_cause("refused: stop: HTTP 200, 19024 keyword missing: the message lacks …") == "keyword"
    assert stop_cause("refused: stop: HTTP 200, 19021 bad signature, or the clock is more than an hour off") == \
        "signature"
    assert stop_cause("refused: stop: HTTP 200, 310000 refused by the robot's security settings (sign not match)") \
        == "signature"
    assert stop_cause(STOPPED) == "keyword"
    assert stop_cause("refused: stop: HTTP 200, 310000 refused (ip 1.2.3.4 not in whitelist)") == "ip"
    assert stop_cause("refused: stop: HTTP 200, 9499 bad request (malformed or larger than 20 KB)") == "refused"


def test_studybot_groups_lists_channels_with_their_state_and_no_key_or_secret(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"database": "bot.db", "channels": CHANNELS},
                                                         allow_unicode=True), encoding="utf-8")
    store = Store(tmp_path / "bot.db")
    store.ensure_group(GROUP, "学习小组")
    channel_facts(store, [date(2026, 3, 2), date(2026, 3, 3)])
    store.close()
    listed = studybot("groups", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "robot channels:" in lines
    wx = next(line.split("\t") for line in lines if line.startswith("wx\t"))
    assert wx[:5] == ["wx", "WeCom", f"follows Telegram chat {GROUP}", "next day 3", "2 days posted"]
    assert wx[5].startswith("last delivery 2026-03-03") and wx[6] == "ok"
    dd = next(line.split("\t") for line in lines if line.startswith("dd\t"))
    assert dd[1] == "DingTalk" and f"reported in group {GROUP}" in dd[2] and dd[4] == "1 days posted"
    assert dd[6] == f"STOPPED: {STOPPED}"
    assert_no_secret(listed.stdout + listed.stderr)


async def test_a_group_that_became_a_supergroup_still_sees_the_channel_its_config_names_by_the_old_id(
        tmp_path: Path) -> None:
    old = -4242  # the id the config was written with, before the group became a supergroup (GROUP now)
    channels = [{**CHANNELS[0], "follow": old}]
    async with bot_running(tmp_path, channels=channels) as h:
        await add_group(h)
        today = await h.svc.local_today(GROUP)

        def moved(s: Store) -> None:
            s.ensure_group(old, "旧群")
            assert s.migrate_chat(old, GROUP)
            assert s.record_push(GROUP, today, 101) is not None
            channel_facts(s, [today])

        await h.svc.db(moved)
        [summary] = await h.say(GROUP, ADMIN, "/report", replies=1)
        assert "wx（企业微信，跟随本群推送）：本期推送 1 天" in (summary.text or "")
