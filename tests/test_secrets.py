"""The bot token never leaks: not in a log line (at DEBUG, httpx included), not in a logged traceback, not in the
command line's output, and not in any file the bot writes — on the happy path and on the error paths.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import CommandHandler, ContextTypes

import tests.botkit as botkit
from bot.app import build_application
from bot.services import build_services
from bot.standin import StandIn
from tests.botkit import ADMIN, GROUP, Harness, add_group, bot_running, debug_log, fast_retries, make_config, settle

SECRET = "123456789:AAF" + "k3Vq9ZpX2mT7rW4yB8nC1dE6fG0hJ5sL"  # shaped like a real token: 32 characters after AAF
SECRET_PART = SECRET.split(":", 1)[1]
ROOT = Path(__file__).resolve().parent.parent


def leaks(text: str) -> bool:
    return SECRET in text or SECRET_PART in text


def files_with_the_token(folder: Path) -> list[str]:
    """Every file under `folder` (the database and its WAL, the question cache ...) that holds the token."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if SECRET_PART.encode() in data or SECRET_PART.encode("utf-16-le") in data:
                found.append(str(path))
    return found


@pytest.fixture
def log_text(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging as `studybot run` sets it up, at DEBUG, written to a buffer; httpx too, URLs and all (the worst case:
    httpx logs every request URL, and the URL carries the token)."""
    monkeypatch.setattr(botkit, "TOKEN", SECRET)  # the harness's bot and stand-in use the real-looking token
    with debug_log(SECRET) as buffer:
        yield buffer


async def boom(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A handler bug whose message quotes the bot (whose repr holds the token) and the token itself."""
    raise RuntimeError(f"handler failed for {context.bot!r} using {context.bot.token}")


async def test_no_log_line_traceback_or_file_holds_the_token(tmp_path: Path, log_text: io.StringIO) -> None:
    data = tmp_path / "data"
    data.mkdir()
    async with bot_running(data) as h:
        h.running.app.add_handler(CommandHandler("boom", boom), group=1)  # group 0 takes unknown commands
        await add_group(h)
        await h.say(GROUP, ADMIN, "/toc")
        await h.say(GROUP, ADMIN, "/subscribe")
        h.standin.user_sends(GROUP, ADMIN, "/boom")  # a handler that raises
        h.standin.fail_next("sendMessage", 500)  # a 500 from "Telegram" inside a handler
        h.standin.user_sends(GROUP, ADMIN, "/section 2.3")
        h.standin.fail_next("getUpdates", 502)  # and in the polling loop
        # The section's reply is sent again after its 500 (0.5 s later): it must be out before the push below,
        # or its retry takes one of the push's 500s and the push gets through.
        await settle(lambda: any((m.text or "").startswith("📍") and "› 二、3" in (m.text or "")
                                 for m in h.standin.sent(GROUP)), timeout=10)
        [answer] = await h.say(GROUP, ADMIN, "/search 学习", timeout=10)
        assert "学习" in (answer.text or "")
        await h.say(GROUP, ADMIN, "/quiz 1 all", replies=2)
        await _push_that_fails(h)
        await _rejected_token(tmp_path / "rejected", h)
    text = log_text.getvalue()
    # The capture really saw everything: DEBUG lines, request URLs, the tracebacks of each error path.
    for expected in ("DEBUG", "/bot<token>/getUpdates", "handler failed for", "RuntimeError", "Internal Server Error",
                     "Bad Gateway", "push to", "InvalidToken", "rejected by the server"):
        assert expected in text, expected
    assert [line for line in text.splitlines() if leaks(line)] == []
    assert files_with_the_token(tmp_path) == []
    assert list(data.glob("studybot.db*"))  # (the question cache may be memoised in-process: see the CLI test)


async def _push_that_fails(h: Harness) -> None:
    """A daily push that fails every attempt: the scheduler logs the failure with its traceback."""
    from datetime import UTC, datetime

    from bot.delivery import Deliverer
    h.standin.fail_next("sendMessage", 500, count=fast_retries(h).attempts)
    deliver = Deliverer(h.svc, h.running.app.bot)
    try:
        await deliver(GROUP, datetime.now(UTC).date())
    except Exception:
        logging.getLogger("schedules.scheduler").exception("push to %r failed", GROUP)
    else:
        raise AssertionError("the push should have failed")


async def _rejected_token(folder: Path, h: Harness) -> None:
    """Telegram says 401: PTB's InvalidToken quotes the token in its own message; the log must not."""
    folder.mkdir()
    async with StandIn(token="987654321:another-token-altogether-000000000") as other:
        svc = build_services(make_config(folder))
        app = build_application(svc, base_url=other.base_url)
        try:
            with pytest.raises(InvalidToken) as caught:
                await app.initialize()
            logging.getLogger("bot.runner").error("could not start", exc_info=caught.value)
        finally:
            for request in app.bot._request:  # initialize() failed half-way: close its HTTP clients
                await request.shutdown()
            svc.db.close()


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": SECRET}


async def _studybot(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=cwd, env=_cli_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_the_command_line_never_prints_the_token(tmp_path: Path) -> None:
    async with StandIn(token=SECRET, bot_username="studybot_test_bot", limits_enabled=False) as server:
        (tmp_path / "config.yaml").write_text(f"telegram:\n  base_url: {server.base_url}\nlog_level: DEBUG\n",
                                              encoding="utf-8")
        check = await _studybot("config", "check", cwd=tmp_path)
        out, err = await asyncio.wait_for(check.communicate(), 30)
        assert check.returncode == 0 and "token: set" in out.decode()
        assert not leaks(out.decode() + err.decode())

        bot = await _studybot("run", cwd=tmp_path)
        try:
            await _until(lambda: server.stats.requests_by_method["getUpdates"] > 0)
            server.fail_next("sendMessage", 500)
            server.user_sends(-1, ADMIN, "/toc")  # fails: a handler error is logged with its traceback
            server.user_sends(-1, ADMIN, "/section 9.9")
            await server.wait_for_sent(-1, 1, timeout=15)
        finally:
            bot.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(bot.communicate(), 30)
        output = out.decode() + err.decode()
        assert "Internal Server Error" in output and "DEBUG" in output
        assert [line for line in output.splitlines() if leaks(line)] == []
        assert files_with_the_token(tmp_path) == []
        assert list(tmp_path.glob("studybot.db*")) and list(tmp_path.glob(".studybot-cache/*"))  # files were written

    async with StandIn(token="987654321:another-token-altogether-000000000") as other:
        (tmp_path / "config.yaml").write_text(f"telegram:\n  base_url: {other.base_url}\n", encoding="utf-8")
        rejected = await _studybot("run", cwd=tmp_path)
        out, err = await asyncio.wait_for(rejected.communicate(), 30)
        assert rejected.returncode == 1
        assert "rejected the bot token" in err.decode()
        assert not leaks(out.decode() + err.decode())


async def _until(predicate: object, timeout: float = 20.0) -> None:
    assert callable(predicate)
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not start polling in time")
