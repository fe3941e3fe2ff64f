"""Settings that read like a person wrote them, usage for every unknown argument, one throttle notice and
plain-text triggers only for unambiguous references (issue 11)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot import render
from bot.standin import StandIn
from schedules.due import parse_timezone
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, Harness, add_group, bot_running, settle


@pytest.mark.parametrize(("typed", "zone"), [
    ("UTC+8", "Etc/GMT-8"), ("GMT+8", "Etc/GMT-8"), ("+08:00", "Etc/GMT-8"), ("+8", "Etc/GMT-8"),
    ("utc+0800", "Etc/GMT-8"), ("UTC-5", "Etc/GMT+5"), ("东八区", "Asia/Shanghai"), ("西五区", "Etc/GMT+5"),
    ("Asia/Beijing", "Asia/Shanghai"), ("北京", "Asia/Shanghai"), ("成都", "Asia/Shanghai"),
    ("乌鲁木齐", "Asia/Urumqi"), ("UTC+5:30", "Asia/Kolkata"), ("asia/tokyo", "Asia/Tokyo"), ("UTC", "UTC"),
])
def test_zone_aliases(typed: str, zone: str) -> None:
    assert parse_timezone(typed) == zone


@pytest.mark.parametrize(("zone", "label"), [
    ("Etc/GMT-8", "UTC+8"), ("Etc/GMT+5", "UTC-5"), ("UTC", "UTC"), ("Asia/Shanghai", "北京时间（UTC+8）"),
    ("Asia/Urumqi", "新疆时间（UTC+6）"), ("Asia/Kolkata", "Asia/Kolkata（UTC+5:30）"),
])
def test_zones_are_shown_as_people_know_them(zone: str, label: str) -> None:
    assert render.zone_label(zone) == label


async def test_timezone_utc_plus_8_is_shown_as_utc_plus_8(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [answer] = await h.say(GROUP, ADMIN, "/timezone UTC+8")
        assert "UTC+8" in (answer.text or "") and "Etc/GMT" not in (answer.text or "")
        assert "下次推送" in (answer.text or "") or "未订阅" in (answer.text or "")
        [answer] = await h.say(GROUP, ADMIN, "/timezone 东八区")
        assert "北京时间（UTC+8）" in (answer.text or "")


@pytest.mark.parametrize(("command", "shown"), [
    ("/settime", "当前推送时间：08:00"), ("/timezone", "当前时区：北京时间（UTC+8）"), ("/days", "当前推送日：每天"),
    ("/dailyquiz", "当前推送后小测验：关闭"),
])
async def test_a_setting_without_argument_shows_its_value_and_an_example(tmp_path: Path, command: str,
                                                                         shown: str) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [answer] = await h.say(GROUP, ADMIN, command)
        assert shown in (answer.text or "") and f"修改示例：{command} " in (answer.text or "")


@pytest.mark.parametrize("command", ["/goto -1", "/goto +2", "/leaderboard month", "/leaderboard 本月"])
async def test_unknown_arguments_get_usage_text(tmp_path: Path, command: str) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [answer] = await h.say(GROUP, ADMIN, command)
        text = answer.text or ""
        assert "例如" in text or "/leaderboard week" in text
        assert "已调整进度" not in text and "总排行榜" not in text


async def test_help_lists_each_command_once(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [answer] = await h.say(GROUP, MEMBER, "/help")
        text = answer.text or ""
        listed = re.findall(r"(?:^|　)/([a-z]+)", text, re.M)  # a command heading a line or an entry
        assert "subscribe" in listed and len(listed) == len(set(listed)), listed


async def test_a_throttled_member_is_told_once_and_admin_settings_get_through(tmp_path: Path) -> None:
    # Without the outgoing flood limiter: it would rightly space 40 replies to one group over two minutes.
    async with bot_running(tmp_path, rate_limit=False) as h:
        await add_group(h)
        before = len(h.standin.sent(GROUP))
        for _ in range(30):
            h.standin.user_sends(GROUP, MEMBER, "/toc")
        for _ in range(15):
            h.standin.user_sends(GROUP, ADMIN, "/progress")
        h.standin.user_sends(GROUP, ADMIN, "/settime 07:30")
        def texts() -> list[str]:
            return [r.text or "" for r in h.standin.sent(GROUP)[before:]]

        await settle(lambda: any("07:30" in t and "已更新" in t for t in texts()))  # the setting was not dropped
        await asyncio.sleep(0.5)  # let any further notice arrive, so counting them means something
        assert texts().count(render.throttled()) == 2  # one notice for each flooding member, not one per command


@asynccontextmanager
async def privacy_off(tmp_path: Path) -> AsyncIterator[Harness]:
    """A group where the bot sees every message (privacy mode off, as README suggests for plain-text lookups)."""
    server = StandIn(TOKEN, "studybot_test_bot", limits_enabled=False, privacy_mode=False)
    async with server, bot_running(tmp_path, standin=server) as h:
        yield h


@pytest.mark.parametrize("chatter", ["2-1", "1.1", "1、", "开头", "结语", "3.2 号开会", "一、统一思想吧"])
async def test_group_chatter_that_looks_like_a_number_posts_nothing(tmp_path: Path, chatter: str) -> None:
    async with privacy_off(tmp_path) as h:
        await add_group(h)
        assert await h.quiet(GROUP, MEMBER, chatter) == []


@pytest.mark.parametrize(("typed", "expected"), [
    ("二、3", "二、3 突出推动科学发展"), ("第二部分第三点", "二、3 突出推动科学发展"), ("目录", "〔4.4〕"),
    ("搜索 学风", "学风"), ("〔2.3〕", "二、3 突出推动科学发展"),
])
async def test_unambiguous_plain_text_in_a_group_is_answered(tmp_path: Path, typed: str, expected: str) -> None:
    async with privacy_off(tmp_path) as h:
        await add_group(h)
        [answer] = await h.say(GROUP, MEMBER, typed)
        assert expected in (answer.text or "")
