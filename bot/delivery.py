"""Delivering the daily reading to one group: claim, send with retries, record. Handed to schedules/ as a function."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date

from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot import render
from bot.handlers.lookup import reading_keyboard
from bot.retry import with_retries
from bot.services import Services

log = logging.getLogger(__name__)

GONE = ("chat not found", "group chat was deactivated", "bot is not a member")


class PushFailed(Exception):
    """The push was not delivered; the scheduler will try again later within the grace period."""


class Deliverer:
    """`await deliverer(chat_id, local_date)`: the group's next reading, sent at most once per local date."""

    def __init__(self, svc: Services, bot: Bot,
                 after_push: Callable[[int], Awaitable[None]] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.svc = svc
        self.bot = bot
        self.after_push = after_push
        self.sleep = sleep

    async def __call__(self, chat_id: int, local_date: date) -> None:
        store = self.svc.store
        group = store.group(chat_id)
        if group is None or not group.pushable:
            return
        if not store.claim_delivery(chat_id, local_date, group.next_day):
            return  # already sent, or being sent by a racing tick
        reading = self.svc.reading(group.next_day)
        total = len(self.svc.plan)
        text = render.reading_message(self.svc.doc, reading, total)
        try:
            chat_id, message = await self._send(chat_id, text, reading.refs[0] if reading.refs else None)
        except (Forbidden, BadRequest) as exc:
            store.release_delivery(chat_id, local_date)
            if isinstance(exc, Forbidden) or any(g in exc.message.lower() for g in GONE):
                store.update_group(chat_id, active=False)
                log.info("chat %s is gone (%s): deactivated", chat_id, exc.message)
                return
            raise PushFailed(f"chat {chat_id}: {exc.message}") from exc
        except (NetworkError, RetryAfter) as exc:
            store.release_delivery(chat_id, local_date)
            raise PushFailed(f"chat {chat_id}: {exc}") from exc
        group = store.complete_delivery(chat_id, local_date, message.message_id, total,
                                        restart_at_end=self.svc.config.push.at_end == "restart")
        if reading.day == total:
            await self._try_send(chat_id, render.finished_push(self.svc.doc, total, not group.finished))
        if self.after_push is not None:
            await self.after_push(chat_id)

    async def _send(self, chat_id: int, text: str, ref: str | None) -> tuple[int, Message]:
        """Send, following a migration and retrying flood waits and network errors; returns the final chat id."""
        target = [chat_id]

        def migrated(new_id: int) -> None:
            self.svc.store.migrate_chat(target[0], new_id)
            log.info("chat %s migrated to %s during a push", target[0], new_id)
            target[0] = new_id

        message = await with_retries(
            lambda: self.bot.send_message(target[0], text, parse_mode="HTML", reply_markup=reading_keyboard(ref)),
            on_migrated=migrated, sleep=self.sleep)
        return target[0], message

    async def _try_send(self, chat_id: int, text: str) -> None:
        try:
            await self.bot.send_message(chat_id, text, parse_mode="HTML")
        except (NetworkError, RetryAfter, Forbidden, BadRequest) as exc:
            log.warning("could not send the end-of-plan note to %s: %s", chat_id, exc)

