"""Delivering the daily reading to one group through the push ledger. Handed to schedules/ as a function.

One delivery: claim (group, local date) in the ledger → send the reading's parts, renewing the claim's lease while
it is held → record the day as sent. The ledger (schedules/ledger.py, kept by bot/store.py) owns every rule of
exactly-once; this module only walks its steps and copes with Telegram and SQLite failing on the way:

- a send that fails releases the claim (a later tick tries again); a kicked bot deactivates the group;
- the record after a confirmed send is retried with back-off until it lands (a database locked by another
  connection waits on the store's thread, never on the event loop), so a passing write failure neither leaves a
  claim behind nor lets the day go out again;
- a reading longer than one message goes out in parts, each recorded as sent: a crash between parts is resumed by
  whoever takes the claim over, after the last part recorded (at most the part in flight at the crash repeats);
- a group that becomes a supergroup mid-push takes its claim along (the store re-keys it), so the record lands at the
  new id.

In a broadcast the claims asked for in one turn of the event loop, or while the last batch of claims was with the
store, go to the store as one ledger transaction, and so do the records (bot/turnbatch.py; each ask is still its
own compare-and-set, schedules/ledger.py "Batches").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import render
from bot.campaign import checkin_data
from bot.claimhold import lease_renewed, until_done, until_written
from bot.retry import follow_migration
from bot.services import Services
from bot.store import Group, Store
from bot.turnbatch import TurnBatch
from content.model import Reading
from schedules.ledger import Claim, ClaimAsk, LostClaim, Progress, RecordAsk, telegram_key

log = logging.getLogger(__name__)
T = TypeVar("T")

GONE = ("chat not found", "group chat was deactivated", "bot is not a member")
RECORD_BACKOFF_CAP = 30.0
# Claimed deliveries that go on to their send in one turn of the event loop (bot/turnbatch.py): a send is 1-2 ms of
# the loop's CPU, and a whole broadcast's worth of them in one turn was the longest stall of a push (~0.1 s).
SENDS_PER_TURN = 16
# A delivery stopped (shutdown) after its send still waits this long for its record: a day sent and not recorded is
# sent again by the next process once the claim's lease runs out.
RECORD_ON_STOP = 5.0


@dataclass
class Target:
    """Where one push goes; a migration during the push moves it."""

    chat_id: int


class PushFailed(Exception):
    """The push was not delivered; the scheduler will try again later within the grace period."""


class Deliverer:
    """`await deliverer(chat_id, local_date)`: the group's next reading, sent at most once per local date.

    True when this call sent it; False when there was nothing to send (already sent or being sent elsewhere, not
    subscribed, finished, or the chat is gone).
    """

    def __init__(self, svc: Services, bot: Bot,
                 after_push: Callable[[int, Reading, Group], Awaitable[None]] | None = None) -> None:
        self.svc = svc
        self.bot = bot
        self.after_push = after_push
        self._render_cache: dict[tuple[int, int, date], tuple[list[str], InlineKeyboardMarkup]] = {}
        self._claims: TurnBatch[tuple[int, ClaimAsk], tuple[Claim, Group] | None] = TurnBatch(
            svc.db, _claim_all, per_turn=SENDS_PER_TURN)
        self._records: TurnBatch[RecordAsk, Progress] = TurnBatch(svc.db, _record_all)

    async def __call__(self, chat_id: int, local_date: date) -> bool:
        svc = self.svc
        plan = svc.plan_rule
        claimed = await self._claim(chat_id, ClaimAsk(telegram_key(chat_id), local_date, svc.owner,
                                                      svc.clock().timestamp(), plan, svc.lease))
        if claimed is None:
            return False
        # The group as read with the claim goes on to `after_push` (its daily-quiz setting and time zone): a trip to
        # the store per push less, in a broadcast where those trips are most of the bot's own work.
        held, group = claimed
        reading = svc.reading(held.day)
        target = Target(chat_id)
        async with self._leased(held) as lost:
            try:
                message_id = await self._send_parts(target, held, reading, lost)
            except asyncio.CancelledError:
                # Stopping: give the claim back now rather than when its lease runs out (the next process resends).
                with contextlib.suppress(Exception):
                    await asyncio.shield(svc.db(lambda s: s.ledger.release(held)))
                raise
            except LostClaim as exc:
                log.warning("push to %s for %s stopped: %s", target.chat_id, local_date, exc)
                return False
            except BaseException as exc:
                await self._release(held)
                if isinstance(exc, Forbidden) or (isinstance(exc, BadRequest)
                                                  and any(g in exc.message.lower() for g in GONE)):
                    await svc.db(lambda s: s.deactivate(target.chat_id))
                    log.info("chat %s is gone (%s): deactivated", target.chat_id, exc)
                    return False
                if isinstance(exc, TelegramError):
                    raise PushFailed(f"chat {target.chat_id}: {exc}") from exc
                raise
            # Sent: the lease stays renewed until the record lands (the database may be locked for a while), or
            # another owner could take the claim over and send the day again.
            recording = asyncio.ensure_future(self._record(held, message_id))
            try:
                progress = await asyncio.shield(recording)
            except asyncio.CancelledError:
                # Stopping with the day sent: the record still lands (or the next process sends the day again).
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(recording, RECORD_ON_STOP)
                raise
        if progress is None:
            return True  # sent, but another owner took the claim over meanwhile (logged); it records the day
        if reading.day == plan.length:
            await self._try_send(target.chat_id, render.finished_push(svc.doc, plan.length,
                                                                      plan.at_end == "restart"))
        if self.after_push is not None:
            try:
                await self.after_push(target.chat_id, reading, group)
            except Exception:  # the reading was delivered: a failing follow-up must not count as a failed push
                log.exception("the follow-up to the push in chat %s failed", target.chat_id)
        return True

    async def _claim(self, chat_id: int, ask: ClaimAsk) -> tuple[Claim, Group] | None:
        """The claim, taken in the batch this ask goes with. A delivery stopped meanwhile (shutdown) gives back the
        claim its batch takes all the same: held by nobody, it would keep the next process waiting out its lease."""
        claiming = self._claims.ask((chat_id, ask))  # a future: in a broadcast a task per push less
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                taken = await claiming
                if taken is not None:
                    await self._release(taken[0])
            raise

    async def _send_parts(self, target: Target, held: Claim, reading: Reading, lost: asyncio.Event) -> int:
        """Send the parts not yet recorded; each but the last is recorded as sent before the next goes."""
        parts, keyboard = self._rendered(reading, held.local_date)
        message_id = 0
        for index in range(held.parts_sent, len(parts)):
            if lost.is_set():
                raise LostClaim(f"{held.key} {held.local_date}: the lease ran out and the claim was taken over")
            last = index == len(parts) - 1
            message = await self._send(target, parts[index], keyboard if last else None)
            message_id = message.message_id
            if not last:
                await self._until_written(functools.partial(_record_part, held=held, parts=index + 1,
                                                            message_id=message_id))
        return message_id

    def _rendered(self, reading: Reading, local_date: date) -> tuple[list[str], InlineKeyboardMarkup]:
        """The reading's parts and buttons: the same for every group sent that day on that date, so a broadcast
        renders them once (they were a tenth of the bot's own work per push), not once per group."""
        key = (id(self.svc.doc), reading.day, local_date)
        if key not in self._render_cache:
            if len(self._render_cache) > 64:
                self._render_cache.clear()
            parts = render.reading_messages(self.svc.doc, reading, self.svc.plan_rule.length)
            # The buttons (contents, full text, check-in) go under the last part, where the reading ends.
            keyboard = render.reading_keyboard(reading.refs[0] if reading.refs else None,
                                               (checkin_data(reading.day, local_date), 0))
            self._render_cache[key] = (parts, keyboard)
        return self._render_cache[key]

    def _leased(self, held: Claim) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        return lease_renewed(self.svc.db, held, self.svc.lease, lambda: self.svc.clock().timestamp())

    async def _record(self, held: Claim, message_id: int) -> Progress | None:
        """Mark the day sent and move the group on, until the write lands; None if the claim was taken over."""
        ask = RecordAsk(held, message_id, self.svc.plan_rule)
        try:
            return await until_done(lambda: self._records.ask(ask), self._record_backoff_cap, "push record")
        except LostClaim as exc:
            log.warning("push to %s for %s was sent, but %s", held.key, held.local_date, exc)
            return None

    @property
    def _record_backoff_cap(self) -> float:
        return min(RECORD_BACKOFF_CAP, self.svc.lease / 3)

    async def _until_written(self, write: Callable[[Store], T]) -> T:
        return await until_written(self.svc.db, write, self._record_backoff_cap, "push record")

    async def _release(self, held: Claim) -> None:
        try:
            await self.svc.db(lambda s: s.ledger.release(held))
        except sqlite3.OperationalError as exc:  # its lease runs out instead
            log.warning("could not release the push claim of %s: %s", held.key, exc)

    async def _send(self, target: Target, text: str, keyboard: InlineKeyboardMarkup | None) -> Message:
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


def _record_part(store: Store, held: Claim, parts: int, message_id: int) -> None:
    store.ledger.record_part(held, parts, message_id)


def _claim_all(store: Store, asks: list[tuple[int, ClaimAsk]]) -> list[tuple[Claim, Group] | None]:
    """The claims of one batch, in one ledger transaction; each with its group (None: not pushable, or not
    claimed). The group goes on to `after_push`, which needs no trip of its own then."""
    groups = store.groups_by_id([chat_id for chat_id, _ in asks])
    pushable = [(group, ask) for chat_id, ask in asks if (group := groups.get(chat_id)) is not None and group.pushable]
    claims = store.ledger.claim_many([ask for _, ask in pushable]) if pushable else []
    held = {id(ask): (claim, group) for (group, ask), claim in zip(pushable, claims, strict=True)
            if claim is not None}
    return [held.get(id(ask)) for _, ask in asks]


def _record_all(store: Store, asks: list[RecordAsk]) -> list[Progress | LostClaim]:
    return store.ledger.record_many(asks)


