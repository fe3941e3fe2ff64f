"""The one place every Bot API request passes through: paced under Telegram's flood limits, retried by one policy.

Pacing never bursts. Telegram counts about 30 messages in any second; a leaky bucket (PTB's AIORateLimiter,
aiolimiter) lets its whole capacity out at once after a quiet spell, so each broadcast opened with 30 sends in ~40 ms
and a strict sliding window answered 2–3 × 429. Here messages leave at least `spacing` apart and at most `count` in
any `window` seconds, counted on the times they actually left. A new limiter assumes the previous window was full
(a restarted process may follow one that was sending at the ceiling until it was killed), so the first message
goes one slot after start-up and the stream simply continues the old one's pace: no 429 after a restart.

Retries (bot/retry.py's RetryPolicy) live here and nowhere else: a 429 waits its retry_after once per attempt, network
errors and 5xx back off with a cap. A 429 pauses only the chat it was for; when two different chats get one within a
window, it is Telegram's overall limit and every chat waits. So one chat that keeps failing never stalls the others.
PTB's BaseRateLimiter docs suggest handling only RetryAfter here; handling network errors too is deliberate: this is
the one layer that sees every request, and a retry must take a pacing slot like any other send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.retry import RetryPolicy

log = logging.getLogger(__name__)
JSONDict = dict[str, Any]
Result = bool | JSONDict | list[JSONDict]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
ChatKey = int | str


class Window:
    """At most `count` sends in any `window` seconds and `spacing` between two sends, on the times sends left."""

    def __init__(self, count: int, window: float, spacing: float = 0.0, *, full_at: float | None = None) -> None:
        self.count = count
        self.window = window
        self.spacing = spacing
        self._sent: deque[list[float]] = deque(maxlen=count)  # one cell per send; a reservation is filled in later
        if full_at is not None:  # as if the previous window had been sent at an even pace, ending at `full_at`
            step = window / count
            self._sent.extend([full_at - step * (count - 1 - k)] for k in range(count))

    def earliest(self, now: float) -> float:
        """When the next send may leave (never before `now`)."""
        at = now
        if self._sent:
            at = max(at, self._sent[-1][0] + self.spacing)
            if len(self._sent) == self.count:
                at = max(at, self._sent[0][0] + self.window)
        return at

    def reserve(self, now: float) -> list[float]:
        """Take the next slot (at `earliest(now)`); the caller writes the time it really left into the cell."""
        cell = [self.earliest(now)]
        self._sent.append(cell)
        return cell

    def idle(self, now: float) -> bool:
        """Nothing sent within the window: the window can be forgotten."""
        return not self._sent or self._sent[-1][0] + self.window <= now


class FloodLimiter(BaseRateLimiter[int]):
    """Paces (overall and per group) and retries every request; `overall_rate=None` retries without pacing.

    `rate_limit_args` (PTB's per-call `rate_limit_args=`) overrides the number of attempts for one call.
    """

    def __init__(self, overall_rate: float | None = 30.0, group_rate: float | None = 20.0, *,
                 window_margin: float = 0.02, policy: RetryPolicy | None = None,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        # `overall_rate` messages in any (1 + margin) s; the margin absorbs the jitter between leaving here and
        # arriving at Telegram. Spacing is a tenth under the average pace, so the window, not the spacing, sets
        # the rate and a late wake-up is caught up rather than lost.
        self._overall_rate = overall_rate
        self._group_rate = group_rate
        self._margin = window_margin
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._overall: Window | None = None
        self._turn = asyncio.Lock()  # one request at a time takes an overall slot, so slots follow real send times
        self._groups: dict[ChatKey, Window] = {}
        self._resume_at = 0.0  # clock time when a pause of every chat ends
        self._chat_resume: dict[ChatKey, float] = {}  # clock time when a pause of one chat ends
        self._floods: deque[tuple[float, ChatKey]] = deque(maxlen=8)  # recent 429s

    @property
    def paces_groups(self) -> bool:
        """Whether sends to a group wait for its minute budget (False when pacing is off)."""
        return self._group_rate is not None

    async def initialize(self) -> None:
        """Start pacing now, assuming the previous second was full (see the module docstring)."""
        self._start()

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _start(self) -> Window | None:
        if self._overall is None and self._overall_rate is not None:
            count = max(1, round(self._overall_rate))
            window = count / self._overall_rate + self._margin
            self._overall = Window(count, window, spacing=window / count * 0.9, full_at=self._clock())
        return self._overall

    # --- pauses after a 429 ----------------------------------------------------------------------------------

    def _paused_until(self, chat: ChatKey | None) -> float:
        until = self._resume_at
        if chat is not None:
            until = max(until, self._chat_resume.get(chat, 0.0))
        return until

    def _flood(self, chat: ChatKey, wait: float, endpoint: str) -> None:
        """A 429 for `chat`: that chat waits; if another chat had one within the window, every chat waits."""
        now = self._clock()
        until = now + wait
        window = self._overall.window if self._overall is not None else 1.0
        recent = {c for t, c in self._floods if t > now - window}
        self._floods.append((now, chat))
        self._chat_resume[chat] = max(self._chat_resume.get(chat, 0.0), until)
        if recent - {chat}:
            self._resume_at = max(self._resume_at, until)
            log.info("flood limit (%s, several chats): every chat waits %.1f s", endpoint, wait)
        else:
            log.info("flood limit (%s) for chat %s: it waits %.1f s", endpoint, chat, wait)

    async def _wait_out_pauses(self, chat: ChatKey | None) -> None:
        while (left := self._paused_until(chat) - self._clock()) > 0:
            await self._sleep(left)
        if chat is not None and chat in self._chat_resume:
            del self._chat_resume[chat]

    # --- pacing ---------------------------------------------------------------------------------------------

    def _group(self, chat: ChatKey) -> Window:
        window = self._groups.get(chat)
        if window is None:
            assert self._group_rate is not None
            if len(self._groups) > 4096:  # forget groups with nothing in their window
                now = self._clock()
                self._groups = {k: v for k, v in self._groups.items() if not v.idle(now)}
            count = max(1, round(self._group_rate))
            # A whole second of margin: a group's slot is taken before its overall slot, which may come later.
            window = self._groups[chat] = Window(count, 60.0 + 1.0)
        return window

    async def _slot(self, chat: ChatKey, in_group: bool) -> None:
        """Wait until a message to `chat` may leave: no pause, the group's minute budget, the overall pace."""
        await self._wait_out_pauses(chat)
        cell: list[float] | None = None
        if in_group and self._group_rate is not None:
            cell = self._group(chat).reserve(self._clock())
            if (left := cell[0] - self._clock()) > 0:
                await self._sleep(left)
        overall = self._start()
        if overall is None:
            return
        async with self._turn:
            while True:
                await self._wait_out_pauses(None)
                if (left := overall.earliest(self._clock()) - self._clock()) <= 0:
                    break
                await self._sleep(left)
            now = self._clock()
            overall.reserve(now)[0] = now
            if cell is not None:
                cell[0] = now

    # --- the request ----------------------------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        chat: ChatKey | None = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat = int(chat)  # type: ignore[arg-type]
        in_group = (isinstance(chat, int) and chat < 0) or isinstance(chat, str)
        attempts = self.policy.attempts if rate_limit_args is None else max(1, rate_limit_args)
        attempt = 0
        while True:
            attempt += 1
            if chat is not None:
                await self._slot(chat, in_group)
            try:
                return await callback(*args, **kwargs)
            except Exception as exc:
                wait = self.policy.wait(exc, attempt) if attempt < attempts else None
                if wait is None:
                    raise
                if isinstance(exc, RetryAfter) and chat is not None:
                    self._flood(chat, wait, endpoint)  # the next attempt's slot waits it out
                else:
                    log.info("%s: retrying after %s (attempt %d of %d)", endpoint, exc, attempt, attempts)
                    await self._sleep(wait)
