"""The flood limiter: steady pacing, per-group budgets, and no burst when a flood pause ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.ratelimit import FloodLimiter


class Telegram:
    """Records the loop time of each request; answers 429 to the ones scripted to fail."""

    def __init__(self, fail_first: int = 0, retry_after: int = 1) -> None:
        self.times: list[float] = []
        self.fail_first = fail_first
        self.retry_after = retry_after

    async def call(self) -> dict[str, Any]:
        self.times.append(asyncio.get_running_loop().time())
        if self.fail_first > 0:
            self.fail_first -= 1
            raise RetryAfter(self.retry_after)
        return {"ok": True}


async def send(limiter: FloodLimiter, telegram: Telegram, chat_id: int) -> object:
    return await limiter.process_request(telegram.call, (), {}, "sendMessage", {"chat_id": chat_id}, None)


def overflow(times: list[float], rate: float) -> float:
    """How far the sends overfill a leaky bucket of `rate` per second (Telegram's model, and the stand-in's)."""
    level, last, worst = 0.0, None, 0.0
    for t in sorted(times):
        level = max(0.0, level - (t - last) * rate) if last is not None else 0.0
        level += 1.0
        worst = max(worst, level - rate)
        last = t
    return worst


async def test_overall_rate_is_kept_after_the_first_burst() -> None:
    limiter, telegram = FloodLimiter(overall_rate=20.0), Telegram()
    await asyncio.gather(*(send(limiter, telegram, chat) for chat in range(1, 61)))
    assert len(telegram.times) == 60
    assert overflow(telegram.times, 20.0) <= 0.5
    assert max(telegram.times) - min(telegram.times) >= 1.8  # 40 more after the first second's 20 take 2 s


async def test_one_group_gets_its_own_budget() -> None:
    limiter, telegram = FloodLimiter(overall_rate=1000.0, group_rate=3.0), Telegram()
    tasks = [asyncio.create_task(send(limiter, telegram, -100)) for _ in range(5)]
    await asyncio.sleep(0.3)
    assert len(telegram.times) == 3  # the other two wait for the group's minute budget
    await send(limiter, telegram, -200)  # another group is not held up
    assert len(telegram.times) == 4
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_after_a_flood_pause_the_queue_leaves_at_the_steady_rate_not_in_a_burst() -> None:
    limiter, telegram = FloodLimiter(overall_rate=10.0), Telegram(fail_first=1, retry_after=1)
    await asyncio.gather(*(send(limiter, telegram, chat) for chat in range(1, 31)))
    assert len(telegram.times) == 31  # 30 messages, one of them sent twice
    first_429 = telegram.times[0]
    assert all(t >= first_429 + 1.0 for t in telegram.times[1:])  # nothing went out during the pause
    assert overflow(telegram.times, 10.0) <= 0.5  # and its end brought no burst beyond the bucket


async def test_a_persistent_flood_error_is_raised_after_the_retries() -> None:
    limiter, telegram = FloodLimiter(max_retries=1), Telegram(fail_first=5, retry_after=0)
    with pytest.raises(RetryAfter):
        await send(limiter, telegram, 7)
    assert len(telegram.times) == 2
