"""After a confirmed send, the lease is kept renewed while the record is retried (bot/delivery.py): a database
locked by another connection for most of a lease must not let a second owner take the claim over and send the day
again. Two owners on one database, the real bot against the stand-in, the real ledger and SQLite locks."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time as walltime
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import bot.store
from bot.delivery import Deliverer
from bot.standin import StandIn
from tests.botkit import TOKEN, bot_running, settle
from tests.test_ledger_e2e import PUSH_AT, readings, subscribe

LEASE = 6.0  # renewed every 2 s
G = -50_001


def running_clock() -> Callable[[], datetime]:
    """The push minute, running at real speed: leases expire in real time, as they do between two processes."""
    start = walltime.monotonic()
    return lambda: PUSH_AT + timedelta(seconds=walltime.monotonic() - start)


async def test_a_record_retried_through_a_long_lock_keeps_its_lease_and_the_day_goes_out_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.store, "BUSY_TIMEOUT_MS", 50)  # a write fails fast on the lock and is retried
    clock = running_clock()
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server, \
            bot_running(tmp_path, clock=clock, standin=server, push={"lease_seconds": LEASE}) as first, \
            bot_running(tmp_path, clock=clock, standin=server, push={"lease_seconds": LEASE}) as second:
        subscribe(first, [G])
        today = PUSH_AT.date()
        server.delay_next("sendMessage", 0.3)  # carried out at once, answered late: the lock comes meanwhile
        push = asyncio.create_task(Deliverer(first.svc, first.running.app.bot)(G, today))
        await settle(lambda: server.sent(G))
        other = sqlite3.connect(tmp_path / "studybot.db", isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        # Locked for three quarters of a lease: the first owner's record (and renewals) fail meanwhile; by the time
        # the lock goes, the lease taken at the claim has about a second left.
        await asyncio.sleep(0.75 * LEASE)
        assert not push.done()
        await asyncio.to_thread(other.execute, "COMMIT")
        other.close()
        # The second owner tries to take the day over from now on, as another process's tick would.
        taker = Deliverer(second.svc, second.running.app.bot)
        took: list[bool] = []

        async def take_over() -> None:
            while True:
                with contextlib.suppress(sqlite3.OperationalError):
                    took.append(await taker(G, today))
                await asyncio.sleep(0.05)

        trying = asyncio.create_task(take_over())
        try:
            assert await push is True  # recorded (a takeover meanwhile would have been logged and resent)
        finally:
            trying.cancel()
            await asyncio.gather(trying, return_exceptions=True)
        assert True not in took
        assert readings(server, G) == [1]
        state = await second.svc.db(lambda s: s.ledger.progress(f"tg:{G}"))
        assert state.next_day == 2 and state.last_date == today


async def test_the_lease_is_renewed_for_as_long_as_the_record_keeps_failing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record keeps failing (as if locked) for one and a half leases while renewals get through: the lease is
    extended all along, so the second owner, trying all the while, never takes the claim over."""
    lease = 3.0
    clock = running_clock()
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server, \
            bot_running(tmp_path, clock=clock, standin=server, push={"lease_seconds": lease}) as first, \
            bot_running(tmp_path, clock=clock, standin=server, push={"lease_seconds": lease}) as second:
        subscribe(first, [G])
        today = PUSH_AT.date()
        ledger = first.svc.store.ledger
        record = ledger.record_many  # a push's record goes with the other records of its loop turn
        refuse_until = walltime.monotonic() + 1.5 * lease
        leases: list[float] = []

        def record_when_unlocked(*args: object, **kwargs: object) -> object:
            leases.append(_lease_until(ledger))
            if walltime.monotonic() < refuse_until:
                raise sqlite3.OperationalError("database is locked")
            return record(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ledger, "record_many", record_when_unlocked)
        push = asyncio.create_task(Deliverer(first.svc, first.running.app.bot)(G, today))
        await settle(lambda: leases)  # sent, and the record is being tried
        taker = Deliverer(second.svc, second.running.app.bot)
        took: list[bool] = []
        while not push.done():
            took.append(await taker(G, today))
            await asyncio.sleep(0.05)
        assert await push is True
        assert True not in took and len(took) > 10
        assert readings(server, G) == [1]
        assert leases[-1] > leases[0] + lease / 2  # renewed while the record was refused


def _lease_until(ledger: object) -> float:
    db = ledger.db  # type: ignore[attr-defined]
    row = db.execute("SELECT lease_until FROM ledger_days WHERE key = ?", [f"tg:{G}"]).fetchone()
    return float(row[0])
