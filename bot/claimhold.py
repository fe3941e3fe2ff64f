"""Holding a push-ledger claim from async code: the lease kept renewed, and writes retried until they land.

Telegram deliveries (bot/delivery.py) and robot channels (bot/robots/push.py) walk the same steps through the ledger
(claim → send parts → record), and both must keep one rule while they do: between a confirmed send and its record
the claim stays ours, however long the database is locked, or another process takes it over and sends the day
again. The ledger's own rules (what a claim, a renewal and a record mean) stay in schedules/ledger.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from bot.store import Store
from bot.storeworker import StoreWorker
from schedules.ledger import Claim

log = logging.getLogger(__name__)
T = TypeVar("T")

RENEW_RETRY = 0.2  # seconds between renewals the database refused
FIRST_BACKOFF = 0.1  # seconds before the first retry of a write the database refused


@contextlib.asynccontextmanager
async def lease_renewed(db: StoreWorker, held: Claim, lease: float, now: Callable[[], float]
                        ) -> AsyncIterator[asyncio.Event]:
    """Renews the claim's lease every third of it while the body runs; the event is set if the claim was lost.

    A renewal the database refused (locked) is tried again soon, not a period later: once the lock is gone the
    lease must be extended before it runs out.
    """
    lost = asyncio.Event()
    period = lease / 3

    async def renew() -> None:
        wait = period
        while True:
            try:
                if not await db(functools.partial(_renew, held=held, now=now(), lease=lease)):
                    lost.set()
                    return
                wait = period
            except sqlite3.OperationalError as exc:  # locked: try again shortly
                log.warning("could not renew the claim of %s: %s", held.key, exc)
                wait = min(period, RENEW_RETRY)
            await asyncio.sleep(wait)

    # The first renewal is a timer, not a task asleep for a third of the lease: most pushes end long before it
    # fires, and in a broadcast a task created and cancelled per push was a good part of the bot's own work.
    renewer: list[asyncio.Task[None]] = []
    timer = asyncio.get_running_loop().call_later(period, lambda: renewer.append(asyncio.ensure_future(renew())))
    try:
        yield lost
    finally:
        timer.cancel()
        for task in renewer:
            task.cancel()
        await asyncio.gather(*renewer, return_exceptions=True)


async def until_written(db: StoreWorker, write: Callable[[Store], T], cap: float, what: str,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    """`write` on the store's thread, retried with back-off (at most `cap` seconds) while SQLite says the database
    is locked or busy. Called inside `lease_renewed`, so the claim stays ours meanwhile; keep `cap` well under the
    lease so the write lands soon after the lock is gone."""
    return await until_done(lambda: db(write), cap, what, sleep)


async def until_done(attempt: Callable[[], Awaitable[T]], cap: float, what: str,
                     sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    """`await attempt()` (a store write, perhaps one of a batch: bot/delivery.py), retried as `until_written`."""
    delay = FIRST_BACKOFF
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as exc:
            log.warning("%s not written yet (%s); retrying in %.1f s", what, exc, delay)
            await sleep(delay)
            delay = min(delay * 2, cap)


def _renew(store: Store, held: Claim, now: float, lease: float) -> bool:
    return store.ledger.renew(held, now, lease)
