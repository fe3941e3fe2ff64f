"""The one retry policy for every request the bot makes, and following a group that became a supergroup.

The policy is applied in one place only, the rate limiter every Bot API call passes through (bot/ratelimit.py), so a
push, a quiz poll, a command reply and a button answer are all retried alike, and no caller wraps another retry
loop around it (two nested loops multiply: 3 flood retries inside each of 5 attempts sent 20 requests for one message).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: 429 waits its retry_after; 5xx, timeouts and dropped connections back off.

    Every kind of failure spends one of `attempts`. A timed-out request may have been carried out anyway; Telegram
    has no idempotency key, so retrying makes such a send at-least-once (the push ledger records what it knows).
    """

    attempts: int = 5
    backoff: float = 0.5  # seconds before the second attempt after a network error; doubles each time
    backoff_cap: float = 8.0
    flood_margin: float = 0.1  # added to retry_after: Telegram counts from its own clock

    def wait(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1` after `exc` failed attempt `attempt` (1-based), or None
        when `exc` must be raised: the attempts are spent, or retrying cannot help (bad request, forbidden,
        migrated, invalid token)."""
        if attempt >= self.attempts:
            return None
        if isinstance(exc, RetryAfter):
            return retry_seconds(exc) + self.flood_margin
        if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):  # 5xx, TimedOut, connection errors
            return min(self.backoff * 2 ** (attempt - 1), self.backoff_cap)
        return None


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait (PTB 22 gives an int or a timedelta, depending on an opt-in)."""
    value: object = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def follow_migration(call: Callable[[], Awaitable[T]], on_migrated: Callable[[int], Awaitable[None]]) -> T:
    """`call()`; if the group became a supergroup, `on_migrated(new id)` re-targets it (the callback records the new
    id, which `call` must then use) and the call is made again. Passing failures are retried below, by the policy."""
    for _ in range(3):  # a chat migrates once; a loop here would be the stand-in's or Telegram's bug
        try:
            return await call()
        except ChatMigrated as exc:
            await on_migrated(exc.new_chat_id)
    return await call()
