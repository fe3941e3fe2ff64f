"""Running the real studybot Application against the Bot API stand-in, for end-to-end tests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import build_config
from bot.ratelimit import FloodLimiter
from bot.retry import RetryPolicy
from bot.runner import Running, start, stop
from bot.services import Services, build_services
from bot.standin import StandIn
from bot.standin.state import SentRecord

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
