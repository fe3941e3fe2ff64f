"""`studybot config check` and `studybot channels test/list` against stand-in robots: answers shown, no secret shown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.robots.standin import RobotStandIn
from tests.test_cli import assert_clean_failure, studybot

DING_SECRET = "SECcli-test-secret-0123456789abcdef"


@pytest.fixture
def robots() -> Iterator[RobotStandIn]:
    """Stand-in robots served from a thread of their own, so the CLI under test can run in a subprocess."""
    loop = asyncio.new_event_loop()
    server = RobotStandIn()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_check_test_and_list_report_the_platforms_answers_and_never_a_key_or_secret(
        tmp_path: Path, robots: RobotStandIn) -> None:
    dd = robots.add("dingtalk", secret=DING_SECRET)
    fs = robots.add("feishu", keywords=("打卡",))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"database": "bot.db", "channels": [
        {"name": "dd", "kind": "dingtalk", "webhook": robots.url(dd), "secret": DING_SECRET, "time": "08:00"},
        {"name": "fs", "kind": "feishu", "webhook": robots.url(fs), "follow": -100123},
    ]}, allow_unicode=True), encoding="utf-8")
    outputs = []

    check = studybot("config", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "robot channel dd: DingTalk (markdown, signed), 每天 08:00 Asia/Shanghai" in check.stdout
    assert "robot channel fs: Feishu (post, unsigned), follows Telegram chat -100123" in check.stdout

    posted = studybot("channels", "test", "dd", cwd=tmp_path)
    assert posted.returncode == 0, posted.stderr
    assert "dd (DingTalk): test message posted" in posted.stdout
    assert len(dd.posts) == 1 and "测试消息" in dd.texts()[0]

    refused = studybot("channels", "test", "fs", cwd=tmp_path)
    assert_clean_failure(refused, 1)
    assert "19024" in refused.stderr and "keyword missing" in refused.stderr
    assert fs.posts == []

    listed = studybot("channels", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "dd: DingTalk" in listed.stdout and "fs: Feishu" in listed.stdout

    unknown = studybot("channels", "test", "nope", cwd=tmp_path)
    assert_clean_failure(unknown, 1)
    assert "no robot channel named 'nope' (channels: dd, fs)" in unknown.stderr

    outputs += [check, posted, refused, listed, unknown]
    for result in outputs:
        for secret in (dd.token, fs.token, DING_SECRET):
            assert secret not in result.stdout + result.stderr


def test_a_bad_channel_config_is_reported_without_the_url_key(tmp_path: Path) -> None:
    key = "0123456789abcdef0123"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"channels": [
        {"name": "wx", "kind": "wecom", "webhook": f"https://example.com/cgi-bin/webhook/send?key={key}",
         "time": "08:00"}]}), encoding="utf-8")
    result = studybot("config", "check", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert "channels.wx.webhook: not a WeCom robot URL" in result.stderr
    assert key not in result.stderr
