"""Asks made during one turn of the event loop, or while the previous batch was with the store, sent to the store's
thread together as one call (group commit).

In a broadcast, the deliveries that start in the same turn each want a claim and those whose send was answered in
the same turn each want their record. Alone, each is a ledger transaction of its own (BEGIN IMMEDIATE, the
compare-and-set, COMMIT, and the pages written with it). Batched, the store runs the asks of one batch in one
transaction (`Ledger.claim_many` / `record_many`, each ask still its own compare-and-set), and each asker hears its
own answer. A batch that fails as a whole (the database locked) fails every ask in it, as each would have alone,
each asker with an exception object of its own (caused by the batch's); an answer that is an exception (a record
refused with `LostClaim`) is raised to its asker only. A batch that fails for any other reason (a bug or a
constraint in one group's ask rolls back the whole transaction) runs again ask by ask, so that one ask's fault
fails that ask alone: the others' records are of days already sent.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bot.store import Store
from bot.storeworker import StoreWorker, own_copy

A = TypeVar("A")
R = TypeVar("R")


class TurnBatch(Generic[A, R]):
    """`await batch(ask)`: the asks of one loop turn go to `run(store, asks)` as one store call, which answers one
    result (or exception) per ask, in order.

    `per_turn`: at most that many askers are answered in one turn of the loop. Each answered asker goes on in the
    next turn, all of them in that one turn: 64 deliveries that each go on to a send (1-2 ms of CPU apiece) would
    keep the loop from everything else for ~0.1 s.

    One batch at a time is with the store: the asks made while it is go together in the next, sent when its answer
    is back (group commit). Alone, every loop turn with an ask in it was a batch of its own: in a broadcast with
    limits off 1-3 asks each, and each a wake-up of the store's thread and a tussle for the GIL with the loop,
    which cost the process more CPU than the SQL itself. An ask made while the store is idle goes at once."""

    def __init__(self, db: StoreWorker, run: Callable[[Store, list[A]], Sequence[R | BaseException]], *,
                 per_turn: int = 1_000_000) -> None:
        self._db = db
        self._run = run
        self._per_turn = per_turn
        self._asks: list[tuple[A, asyncio.Future[R]]] = []
        self._due = False  # a batch goes at the next turn of the loop (call_soon)
        self._in_flight: asyncio.Task[None] | None = None  # the batch with the store: asks made meanwhile go after it
        self._calls: set[asyncio.Task[None]] = set()  # held until done (the loop keeps only weak references)

    async def __call__(self, ask: A) -> R:
        # A caller cancelled meanwhile only stops waiting: its ask is in the batch and runs, as a store call would.
        return await self.ask(ask)

    def ask(self, ask: A) -> asyncio.Future[R]:
        """The ask's answer to come, as a future: a caller that must hear it even when cancelled (to undo what the
        store did for it) shields the future itself, with no task of its own wrapped around the ask."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._asks.append((ask, future))
        self._send_soon(loop)
        return future

    def _send_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        # At the next turn: by then every delivery woken in this turn has made its ask. Not while a batch is with
        # the store: its answer sends the asks made meanwhile, all in one (see the class docstring).
        if self._asks and not self._due and self._in_flight is None:
            self._due = True
            loop.call_soon(self._send)

    def _send(self) -> None:
        self._due = False
        asks, self._asks = self._asks, []
        call = asyncio.get_running_loop().create_task(self._call(asks), name=f"store batch {self._run.__name__}")
        self._in_flight = call
        self._calls.add(call)
        call.add_done_callback(functools.partial(self._ended, asks))

    def _ended(self, asks: list[tuple[A, asyncio.Future[R]]], call: asyncio.Task[None]) -> None:
        # A batch's task cancelled before its first step (the loop's shutdown cancels every task, one created in the
        # last turn too) never ran `_call`, nor its `finally`: its askers still hear (a delivery stopped meanwhile
        # waits for its claim, to give it back), and the next batch still goes.
        self._calls.discard(call)
        for _, future in asks:
            if not future.done():
                future.cancel()
        if self._in_flight is call:
            self._in_flight = None
            self._send_soon(call.get_loop())

    async def _call(self, asks: list[tuple[A, asyncio.Future[R]]]) -> None:
        items = [ask for ask, _ in asks]
        run = self._run
        try:
            try:
                answers = await self._db(lambda store: run(store, items))
            except sqlite3.OperationalError as exc:  # the database locked, or gone: each ask alone would meet it
                # Each asker its own exception (caused by this one): see own_copy.
                answers = [exc] if len(items) == 1 else [own_copy(exc) for _ in items]
            except Exception as exc:
                answers = [exc] if len(items) == 1 else await self._one_by_one(items)
        except asyncio.CancelledError:
            for _, future in asks:
                future.cancel()
            raise
        finally:
            self._in_flight = None
            self._send_soon(asyncio.get_running_loop())
        settled = 0
        try:
            for (_, future), answer in zip(asks, answers, strict=True):
                if settled and settled % self._per_turn == 0:
                    await asyncio.sleep(0)  # the next askers go on in the next turn of the loop
                settled += 1
                if future.done():  # its caller stopped waiting
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        except asyncio.CancelledError:
            for _, future in asks[settled:]:
                future.cancel()
            raise

    async def _one_by_one(self, items: list[A]) -> list[R | BaseException]:
        """Each ask as a batch of its own: the answers of a batch that one ask's fault failed as a whole."""
        answers: list[R | BaseException] = []
        for item in items:
            try:
                [answer] = await self._db(self._alone(item))
            except Exception as exc:
                answer = exc
            answers.append(answer)
        return answers

    def _alone(self, item: A) -> Callable[[Store], Sequence[R | BaseException]]:
        run = self._run
        return lambda store: run(store, [item])
