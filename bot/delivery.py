"""Delivering the daily reading to one group: claim, send with retries, record. Handed to schedules/ as a function."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import render
from bot.campaign import checkin_data
from bot.retry import follow_migration
from bot.services import Services
from bot.store import Group, Store
from content.model import Reading

log = logging.getLogger(__name__)

GONE = ("chat not found", "group chat was deactivated", "bot is not a member")


@dataclass
class Target:
    """Where one push goes; a migration during the push moves it."""

    chat_id: int


class PushFailed(Exception):
    """The push was not delivered; the scheduler will try again later within the grace period."""


class Deliverer:
    """`await deliverer(chat_id, local_date)`: the group's next reading, sent at most once per local date."""

    def __init__(self, svc: Services, bot: Bot,
                 after_push: Callable[[int, Reading], Awaitable[None]] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.svc = svc
        self.bot = bot
        self.after_push = after_push
        self.sleep = sleep

    async def __call__(self, chat_id: int, local_date: date) -> None:
        db = self.svc.db
        total = len(self.svc.plan)

        def claim(store: Store) -> Group | None:
            """The group, if this run may push `local_date` to it now (it is not sent, nor being sent)."""
            group = store.group(chat_id)
            if group is None or not group.pushable:
                return None
            if group.next_day > total:  # the plan got shorter since (another speech or other reading bounds)
                store.update_group(chat_id, finished=True)
                return None
            return group if store.claim_delivery(chat_id, local_date, group.next_day) else None

        group = await db(claim)
        if group is None:
            return
        reading = self.svc.reading(group.next_day)
        target = Target(chat_id)
        try:
            message = await self._send(target, render.reading_message(self.svc.doc, reading, total),
                                       render.reading_keyboard(reading.refs[0] if reading.refs else None,
                                                               (checkin_data(reading.day, local_date), 0)))
        except asyncio.CancelledError:
            raise  # stopping: the claim stays with this run, so the next process sends it
        except BaseException as exc:
            await db(lambda s: s.release_delivery(target.chat_id, local_date))
            if isinstance(exc, Forbidden) or (isinstance(exc, BadRequest)
                                              and any(g in exc.message.lower() for g in GONE)):
                await db(lambda s: s.deactivate(target.chat_id))
                log.info("chat %s is gone (%s): deactivated", target.chat_id, exc)
                return
            if isinstance(exc, TelegramError):
                raise PushFailed(f"chat {target.chat_id}: {exc}") from exc
            raise
        restart = self.svc.config.push.at_end == "restart"
        group = await db(lambda s: s.complete_delivery(target.chat_id, local_date, reading.day, message.message_id,
                                                       total, restart_at_end=restart))
        if reading.day == total:
            await self._try_send(target.chat_id, render.finished_push(self.svc.doc, total, not group.finished))
        if self.after_push is not None:
            try:
                await self.after_push(target.chat_id, reading)
            except Exception:  # the reading was delivered: a failing follow-up must not count as a failed push
                log.exception("the follow-up to the push in chat %s failed", target.chat_id)

    async def _send(self, target: Target, text: str, keyboard: InlineKeyboardMarkup) -> Message:
        """Send to the target chat, following a migration (which re-targets it); the rate limiter retries."""

        async def migrated(new_id: int) -> None:
            old_id = target.chat_id
            await self.svc.db(lambda s: s.migrate_chat(old_id, new_id))
            log.info("chat %s migrated to %s during a push", target.chat_id, new_id)
            target.chat_id = new_id

        return await follow_migration(
            lambda: self.bot.send_message(target.chat_id, text, parse_mode="HTML", reply_markup=keyboard),
            migrated)

    async def _try_send(self, chat_id: int, text: str) -> None:
        try:
            await self.bot.send_message(chat_id, text, parse_mode="HTML")
        except TelegramError as exc:
            log.warning("could not send the end-of-plan note to %s: %s", chat_id, exc)

