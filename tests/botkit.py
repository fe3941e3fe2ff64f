"""Running the real studybot Application against the Bot API stand-in, for end-to-end tests."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import sqlite3
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bot.config import build_config
from bot.fetcher import HandledQueue
from bot.logs import setup_logging
from bot.ratelimit import FloodLimiter
from bot.retry import RetryPolicy
from bot.runner import Running, start, stop
from bot.services import Services, build_services
from bot.standin import StandIn
from bot.standin.state import SentRecord
from bot.store import Group, Store

TOKEN = "123456789:AAE-studybot-test-token-000000000000"
GROUP = -100123
ADMIN = 11
MEMBER = 22


@dataclass
class Harness:
    standin: StandIn
    running: Running
    svc: Services

    @property
    def world(self) -> Any:
        return self.standin.world

    async def say(self, chat_id: int, user: int, text: str, replies: int = 1, timeout: float = 5.0,
                  **kwargs: Any) -> list[SentRecord]:
        """A member posts `text`; returns the bot's next `replies` records in that chat."""
        before = len(self.standin.sent(chat_id))
        self.standin.user_sends(chat_id, user, text, **kwargs)
        if replies == 0:
            return []
        records = await self.standin.wait_for_sent(chat_id, before + replies, timeout=timeout)
        return records[before:]

    async def quiet(self, chat_id: int, user: int, text: str, wait: float = 0.5) -> list[SentRecord]:
        """A member posts `text` that should get no reply; returns whatever did arrive within `wait` seconds."""
        before = len(self.standin.sent(chat_id))
        self.standin.user_sends(chat_id, user, text)
        await asyncio.sleep(wait)
        return self.standin.sent(chat_id)[before:]

    def texts(self, chat_id: int) -> list[str]:
        return [r.text or "" for r in self.standin.sent(chat_id) if r.text is not None]


class ErrorRecords(logging.Handler):
    """Collects ERROR (and worse) records from every logger while installed (fixture `errors` in conftest)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
                for r in self.records]


async def settle(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until `predicate()` is true (the bot handles updates concurrently), or fail."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def make_config(tmp_path: Path, **sections: Any) -> Any:
    raw: dict[str, Any] = {"database": str(tmp_path / "studybot.db"), **sections}
    return build_config(raw, "test", tmp_path, env={"TELEGRAM_BOT_TOKEN": TOKEN})


@asynccontextmanager
async def bot_running(tmp_path: Path, *, clock: Callable[[], datetime] | None = None, limits: bool = False,
                      standin: StandIn | None = None, rate_limit: bool = True,
                      **sections: Any) -> AsyncIterator[Harness]:
    """The bot started on a fresh (or reused) stand-in with its database in tmp_path.

    With a fake `clock` the test drives the push tick itself (`running.pusher.run_now()`), so no wall-clock minute
    tick races it.
    """
    own = standin is None
    server = standin or StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=limits)
    if own:
        await server.start()
    svc = build_services(make_config(tmp_path, **sections), clock=clock)
    running = await start(svc, base_url=server.base_url, rate_limit=rate_limit, schedule_pushes=clock is None)
    try:
        yield Harness(server, running, svc)
    finally:
        await stop(running)
        svc.db.close()
        if own:
            await server.stop()


def fast_retries(h: Harness) -> RetryPolicy:
    """The bot's retry policy with near-zero back-off (attempts unchanged), for tests that exhaust it."""
    limiter = h.running.app.bot.rate_limiter
    assert isinstance(limiter, FloodLimiter)
    limiter.policy = RetryPolicy(attempts=limiter.policy.attempts, backoff=0.01, backoff_cap=0.05)
    return limiter.policy


async def add_group(h: Harness, chat_id: int = GROUP, title: str = "学习小组", admin: int = ADMIN) -> None:
    """The admin adds the bot to a new group; waits for the greeting."""
    before = len(h.standin.sent(chat_id))
    h.standin.add_bot_to_group(chat_id, title, by_user=admin)
    await h.standin.wait_for_sent(chat_id, before + 1)


def refuse_first_group_write(store: Store) -> list[int]:
    """The store's first `ensure_group` meets "database is locked" (another process's long write, past busy_timeout);
    later ones work. Returns the list the refused chat id is put in."""
    real = store.ensure_group
    refused: list[int] = []

    def ensure_group(chat_id: int, title: str = "") -> Group:
        if not refused:
            refused.append(chat_id)
            raise sqlite3.OperationalError("database is locked")
        return real(chat_id, title)

    store.ensure_group = ensure_group  # type: ignore[method-assign]
    return refused


@contextmanager
def debug_log(token: str) -> Iterator[io.StringIO]:
    """Logging as `studybot run` sets it up (redacting `token`), at DEBUG for every library, httpx and its request
    URLs included, written to a buffer; the logging set-up is put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler", "telegram")}
    buffer = io.StringIO()
    setup_logging("DEBUG", token)
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    for name in noisy:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)


# Webhook mode: the test plays Telegram, POSTing updates to the bot's own webhook server.

WEBHOOK_SECRET = "s3cret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, update: dict[str, object], secret: str | None = WEBHOOK_SECRET) -> int:
    return answer(url, update, secret)[0]


def answer(url: str, update: dict[str, object],
           secret: str | None = WEBHOOK_SECRET) -> tuple[int, dict[str, str]]:
    """POST an update as Telegram does (`secret` None: without the secret header); the answer's status and headers.
    The timeout is wide (Telegram's own is 60 s): a POST is answered when the bot is done with it, never sooner."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers)


@asynccontextmanager
async def webhook_bot(tmp_path: Path, secret: str | None = WEBHOOK_SECRET,
                      **queue: float) -> AsyncIterator[tuple[StandIn, Running, str]]:
    """A bot in webhook mode behind the stand-in, its secret `secret` (None: none configured, so the bot makes one);
    `queue` sets HandledQueue's bounds (patience, give_up, ...), shortened for a test. Yields the stand-in, the
    running bot and the webhook URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/studybot/hook"
    webhook: dict[str, Any] = {"listen": "127.0.0.1", "port": port, "url": url}
    if secret is not None:
        webhook["secret_token"] = secret
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        svc = build_services(make_config(tmp_path, telegram={"mode": "webhook", "webhook": webhook}))
        running = await start(svc, base_url=server.base_url)
        handled = running.app.update_queue
        assert isinstance(handled, HandledQueue)
        for name, value in queue.items():
            assert hasattr(handled, name)
            setattr(handled, name, value)
        try:
            yield server, running, url
        finally:
            await stop(running)
            svc.db.close()


@asynccontextmanager
async def stuck_handler(h: Harness, text: str = "hang") -> AsyncIterator[asyncio.Event]:
    """A handler, ahead of the bot's own, that never finishes for a message `text` until the yielded event is set
    (set on leaving): a reply waiting a minute for its flood budget, or one that hangs for good."""
    release = asyncio.Event()

    async def hang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await release.wait()

    h.running.app.add_handler(MessageHandler(filters.Regex(f"^{text}$"), hang), group=-10)
    try:
        yield release
    finally:
        release.set()
