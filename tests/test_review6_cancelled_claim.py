"""review6: a delivery cancelled while its claim is being taken (scheduler.aclose at shutdown) must not leave a live
claim behind that the next process has to wait out (bot/delivery.py releases on cancel only around the send).
The claim ask runs in its TurnBatch all the same (bot/turnbatch.py "a cancelled asker only stops waiting"), so the
claim is taken and its answer dropped: nobody releases it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bot.delivery import Deliverer
from bot.standin import StandIn
from tests.botkit import TOKEN, bot_running
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
