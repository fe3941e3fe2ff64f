"""A delivery stopped at shutdown (scheduler.aclose cancels the ones left) leaves the ledger as the next process
needs it: no claim held by nobody, and no day sent but unrecorded.

Claims and records go to the store in batches of a loop turn (bot/turnbatch.py), and a cancelled asker only stops
waiting: its ask runs all the same. Found by review6: the claim was taken, its answer dropped, and nobody released it
(the next process waited out the lease)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from bot.delivery import Deliverer
from bot.standin import StandIn
from schedules.ledger import RecordAsk
from tests.botkit import TOKEN, bot_running, settle
from tests.test_ledger_e2e import PUSH_AT, readings, subscribe

G = -50_101


async def test_a_delivery_cancelled_while_claiming_leaves_no_live_claim_for_the_next_process(tmp_path: Path) -> None:
    clock = lambda: PUSH_AT  # noqa: E731 (fixed: no lease ever runs out in this test)
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server, \
            bot_running(tmp_path, clock=clock, standin=server) as first, \
            bot_running(tmp_path, clock=clock, standin=server) as second:
        subscribe(first, [G])
        today = PUSH_AT.date()
        push = asyncio.create_task(Deliverer(first.svc, first.running.app.bot)(G, today))
        await asyncio.sleep(0)  # it has asked for its claim (in this turn's batch)
        push.cancel()  # stopping: scheduler.aclose cancels the deliveries left
        with contextlib.suppress(asyncio.CancelledError):
            await push
        for _ in range(5):  # the batch goes to the store thread a turn or two later
            await asyncio.sleep(0)
        await first.svc.db.flush()
        assert server.sent(G) == []  # nothing went out
        # The next process (same minute): the claim must be free, not held for a lease by a task that is gone.
        assert await Deliverer(second.svc, second.running.app.bot)(G, today) is True
        assert readings(server, G) == [1]


async def test_a_delivery_stopped_after_its_send_still_records_the_day(tmp_path: Path) -> None:
    """Stopped while its record waits to be retried (the database locked): the record must still land, or the next
    process sends the day again once the claim's lease has run out."""
    clock = lambda: PUSH_AT  # noqa: E731
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server, \
            bot_running(tmp_path, clock=clock, standin=server) as h:
        subscribe(h, [G])
        ledger = h.svc.db.store.ledger
        real = ledger.record_many
        refused: list[int] = []

        def record_many(asks: list[RecordAsk]) -> object:
            if len(refused) < 2:
                refused.append(len(asks))
                raise sqlite3.OperationalError("database is locked")
            return real(asks)

        ledger.record_many = record_many  # type: ignore[method-assign,assignment]
        today = PUSH_AT.date()
        push = asyncio.create_task(Deliverer(h.svc, h.running.app.bot)(G, today))
        await settle(lambda: refused)  # sent; its record refused once, waiting to be tried again
        push.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await push
        assert readings(server, G) == [1]
        group = await h.svc.db(lambda s: s.group(G))
        assert group is not None and group.next_day == 2 and group.last_pushed == today, \
            "a day sent and not recorded: the next process sends it again"
