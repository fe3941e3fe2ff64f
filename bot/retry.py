"""Sending through Telegram's passing failures: flood waits, server errors, timeouts and group migrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 5


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS,
                       on_migrated: Callable[[int], Awaitable[None]] | None = None,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    """`call()` until it succeeds: a 429 waits its retry_after, network errors back off 1, 2, 4 … s.

    A timed-out request may have been carried out anyway; Telegram has no idempotency key, so the retry makes such a
    send at-least-once. With `on_migrated`, a group that became a supergroup is re-targeted (the callback records the
    new id, which `call` must then use) without spending an attempt. Bad requests are never retried.
    """
    delay = 1.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except ChatMigrated as exc:
            if on_migrated is None:
                raise
            await on_migrated(exc.new_chat_id)
            attempt -= 1
        except BadRequest:
            raise  # a subclass of NetworkError, but retrying cannot fix it
        except RetryAfter as exc:
            if attempt >= attempts:
                raise
            await sleep(retry_seconds(exc))
        except NetworkError as exc:  # TimedOut included
            if attempt >= attempts:
                raise
            log.info("retrying after %s (attempt %d of %d)", exc, attempt, attempts)
            await sleep(delay)
            delay *= 2


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait (PTB 22 gives an int or a timedelta, depending on an opt-in)."""
    value: object = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
