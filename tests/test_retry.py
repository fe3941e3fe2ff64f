"""Retrying sends: which failures are retried, how long it waits, and migrations."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter, TimedOut

from bot.retry import with_retries


class Script:
    """Raises the scripted errors in turn, then returns 'sent'; records the waits."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.waits: list[float] = []

    async def call(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_flood_waits_and_network_errors_are_retried_with_backoff() -> None:
    script = Script(RetryAfter(3), NetworkError("502"), TimedOut(), NetworkError("reset"))
    assert await with_retries(script.call, sleep=script.sleep) == "sent"
    assert script.waits == [3.0, 1.0, 2.0, 4.0]


async def test_gives_up_after_the_last_attempt() -> None:
    script = Script(*(NetworkError("down") for _ in range(5)))
    with pytest.raises(NetworkError):
        await with_retries(script.call, attempts=3, sleep=script.sleep)
    assert script.calls == 3


async def test_bad_requests_are_not_retried() -> None:
    script = Script(BadRequest("message is too long"))
    with pytest.raises(BadRequest):
        await with_retries(script.call, sleep=script.sleep)
    assert script.calls == 1 and script.waits == []


async def test_a_migrated_group_is_followed_without_spending_an_attempt() -> None:
    moved: list[int] = []
    script = Script(ChatMigrated(-1001), NetworkError("x"))
    async def migrated(new_id: int) -> None:
        moved.append(new_id)

    assert await with_retries(script.call, attempts=2, on_migrated=migrated, sleep=script.sleep) == "sent"
    assert moved == [-1001]
    with pytest.raises(ChatMigrated):
        await with_retries(Script(ChatMigrated(-5)).call, sleep=script.sleep)
