"""The flood limiter and retry layer on a virtual clock: pacing without bursts, restarts, per-chat 429s, retries."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Coroutine
from typing import Any

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.ratelimit import FloodLimiter, Window
from bot.retry import RetryPolicy


class VirtualTime:
    """A clock and a sleep that jump: when every task waits, time moves to the earliest wake-up."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, future))
        await future

    async def run(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(20):  # let every runnable task run until it waits
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return await asyncio.gather(*tasks, return_exceptions=True)
            if not self._sleepers:
                raise AssertionError("every task waits and nobody sleeps: deadlock")
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            future.set_result(None)


class Telegram:
    """Records (time, chat) of each request; fails the scripted ones, per chat."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.calls: list[tuple[float, int | None]] = []
        self.script: dict[int | None, list[Exception]] = {}

    def fail(self, chat: int | None, *errors: Exception) -> None:
        self.script.setdefault(chat, []).extend(errors)

    def times(self, chat: int | None = None) -> list[float]:
        return [t for t, c in self.calls if chat is None or c == chat]

    def request(self, chat: int | None) -> Awaitable[dict[str, Any]]:
        async def call() -> dict[str, Any]:
            self.calls.append((self.vt.now, chat))
            errors = self.script.get(chat)
            if errors:
                raise errors.pop(0)
            return {"ok": True}
        return call()


def limiter(vt: VirtualTime, **kwargs: Any) -> FloodLimiter:
    return FloodLimiter(clock=vt.clock, sleep=vt.sleep, **kwargs)


async def send(lim: FloodLimiter, tg: Telegram, chat: int | None, attempts: int | None = None) -> object:
    data = {} if chat is None else {"chat_id": chat}
    return await lim.process_request(lambda: tg.request(chat), (), {}, "sendMessage", data, attempts)


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most sends in any half-open window of `window` seconds: what a strict sliding window counts."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


# --- pacing ---------------------------------------------------------------------------------------------------

def test_a_window_counts_sends_and_spacing() -> None:
    window = Window(3, 1.0, spacing=0.1)
    assert [window.reserve(10.0)[0] for _ in range(4)] == pytest.approx([10.0, 10.1, 10.2, 11.0])


async def test_a_broadcast_is_paced_from_its_first_message_never_a_burst() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt), Telegram(vt)
    await lim.initialize()
    vt.now += 30.0  # a quiet half minute: a leaky bucket would be full of capacity now
    await vt.run(*(send(lim, tg, -i) for i in range(1, 301)))
    times = tg.times()
    assert len(times) == 300
    assert most_in_any_window(times) <= 30
    assert times[29] - times[0] >= 0.85  # the first 30 take most of a second, not 40 ms
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.025
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 0.97 * 30


async def test_a_restarted_limiter_continues_the_old_pace_instead_of_adding_a_burst() -> None:
    vt = VirtualTime()
    old, tg = limiter(vt), Telegram(vt)
    await old.initialize()
    await vt.run(*(send(old, tg, -i) for i in range(1, 91)))
    killed_at = vt.now  # kill -9 right after the last send; the new process starts at once
    new = limiter(vt)
    await new.initialize()
    await vt.run(*(send(new, tg, -i) for i in range(100, 190)))
    assert min(tg.times()[90:]) > killed_at
    assert most_in_any_window(tg.times()) <= 30


async def test_a_group_gets_at_most_its_minute_budget_and_others_are_not_held_up() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt), Telegram(vt)
    start = vt.now
    await vt.run(*(send(lim, tg, -100) for _ in range(22)), send(lim, tg, -200))
    group = tg.times(-100)
    assert len(group) == 22
    assert most_in_any_window(group, 60.0) <= 20
    assert group[20] - group[0] >= 60.0
    assert tg.times(-200)[0] - start < 2.0  # the other group went out among the first twenty


async def test_without_pacing_requests_go_at_once() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt, overall_rate=None, group_rate=None), Telegram(vt)
    start = vt.now
    await vt.run(*(send(lim, tg, -1) for _ in range(50)))
    assert tg.times() == [start] * 50


# --- 429s -----------------------------------------------------------------------------------------------------

async def test_a_429_is_waited_out_once_per_attempt_at_this_layer_only() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt, policy=RetryPolicy(attempts=5, flood_margin=0.1)), Telegram(vt)
    tg.fail(-7, *(RetryAfter(3) for _ in range(10)))
    [raised] = await vt.run(send(lim, tg, -7))
    assert isinstance(raised, RetryAfter)
    times = tg.times(-7)
    assert len(times) == 5  # five attempts in all, not 3 flood retries inside each of 5
    assert all(b - a >= 3.1 for a, b in itertools.pairwise(times))


async def test_one_chat_that_keeps_drawing_429_never_pauses_the_others() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt), Telegram(vt)
    tg.fail(-7, *(RetryAfter(5) for _ in range(10)))
    await vt.run(send(lim, tg, -7), *(send(lim, tg, -i) for i in range(100, 160)))
    stubborn = tg.times(-7)
    others = tg.times()[1:]
    assert len(stubborn) == 5
    others = [t for t, c in tg.calls if c != -7]
    assert len(others) == 60 and max(others) < stubborn[1]  # all sent during the stubborn chat's first wait


async def test_429s_for_two_chats_pause_every_chat() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt, overall_rate=None, group_rate=None), Telegram(vt)
    tg.fail(-1, RetryAfter(2))
    tg.fail(-2, RetryAfter(2))
    await vt.run(send(lim, tg, -1), send(lim, tg, -2))
    second_429 = tg.times(-2)[0]
    await vt.run(send(lim, tg, -3))  # a third chat, asking during the pause
    assert tg.times(-3)[0] >= second_429 + 2.0


# --- other failures ---------------------------------------------------------------------------------------------

async def test_server_errors_timeouts_and_dropped_connections_back_off() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt, policy=RetryPolicy(backoff=0.5, backoff_cap=1.5)), Telegram(vt)
    tg.fail(-1, NetworkError("Bad Gateway"), TimedOut(), NetworkError("Server disconnected"), NetworkError("500"))
    [result] = await vt.run(send(lim, tg, -1))
    assert result == {"ok": True}
    times = tg.times(-1)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert len(times) == 5 and gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 1.5 and gaps[3] >= 1.5


async def test_a_bad_request_is_raised_without_a_retry() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt), Telegram(vt)
    tg.fail(-1, BadRequest("message is too long"))
    [raised] = await vt.run(send(lim, tg, -1))
    assert isinstance(raised, BadRequest) and len(tg.calls) == 1


async def test_requests_without_a_chat_are_retried_too_and_a_call_may_ask_for_fewer_attempts() -> None:
    vt = VirtualTime()
    lim, tg = limiter(vt), Telegram(vt)
    tg.fail(None, NetworkError("502"))  # e.g. answerCallbackQuery
    assert await vt.run(send(lim, tg, None)) == [{"ok": True}]
    tg.fail(-1, *(NetworkError("502") for _ in range(5)))
    [raised] = await vt.run(send(lim, tg, -1, attempts=2))
    assert isinstance(raised, NetworkError) and len(tg.times(-1)) == 2
