"""bot/turnbatch.py: the asks of one loop turn (or made while a batch is with the store) are one store call; each
asker hears its own answer."""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.store import Store
from bot.storeworker import StoreWorker
from bot.turnbatch import TurnBatch


@asynccontextmanager
async def worker(tmp_path: Path) -> AsyncIterator[StoreWorker]:
    db = StoreWorker(Store(tmp_path / "t.db"))
    try:
        yield db
    finally:
        db.close()


async def test_the_asks_of_one_turn_are_one_store_call_and_each_asker_gets_its_own_answer(tmp_path: Path) -> None:
    calls: list[list[int]] = []

    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        calls.append(asks)
        return [LookupError(f"no {a}") if a == 3 else a * 10 for a in asks]

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run)
        answers = await asyncio.gather(*(batch(a) for a in range(1, 6)), return_exceptions=True)
        assert calls == [[1, 2, 3, 4, 5]]
        assert answers[:2] == [10, 20] and answers[3:] == [40, 50]
        assert isinstance(answers[2], LookupError)  # only the asker whose answer it is
        assert await batch(7) == 70  # a later turn: a call of its own
        assert calls[-1] == [7]


async def test_asks_made_while_a_batch_is_with_the_store_go_together_once_it_is_answered(tmp_path: Path) -> None:
    """Group commit: one batch at a time is with the store; what is asked meanwhile, over any number of loop turns,
    is the next batch, sent when the first is answered (in a broadcast each batch was a wake-up of the store's
    thread of its own, for one to three asks)."""
    calls: list[list[int]] = []
    first_running = threading.Event()
    let_first_finish = threading.Event()

    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        calls.append(asks)
        if asks == [1]:
            first_running.set()
            let_first_finish.wait(timeout=10)
        return [a * 10 for a in asks]

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run)
        first = asyncio.ensure_future(batch(1))
        await asyncio.to_thread(first_running.wait, 10)  # the first batch is with the store
        later = []
        for n in (2, 3, 4):  # each in a turn of its own
            later.append(asyncio.ensure_future(batch(n)))
            await asyncio.sleep(0)
        let_first_finish.set()
        assert await first == 10
        assert await asyncio.gather(*later) == [20, 30, 40]
        assert calls == [[1], [2, 3, 4]]  # one turn each, yet one batch: not [[1], [2], [3], [4]]
        assert await batch(5) == 50  # the store idle again: an ask goes at once, alone
        assert calls[-1] == [5]


async def test_a_batch_that_fails_as_a_whole_fails_every_ask_in_it(tmp_path: Path) -> None:
    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        raise sqlite3.OperationalError("database is locked")

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run)
        answers = await asyncio.gather(batch(1), batch(2), return_exceptions=True)
        assert all(isinstance(a, sqlite3.OperationalError) for a in answers)


async def test_a_batch_that_fails_as_a_whole_hands_each_asker_an_exception_of_its_own(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """One object raised by every asker: each raise adds its frames to the object's traceback, which the askers
    answered in a later turn (per_turn) are handed, so each logged traceback carried every earlier asker's frames;
    and an asker raising it inside an `except` set its __context__ for all."""
    locked = sqlite3.OperationalError("database is locked")

    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        raise locked

    async def deliver(n: int) -> None:
        try:
            if n == 0:
                try:
                    raise KeyError("this asker's own trouble")
                except KeyError:
                    await batch(n)
            else:
                await batch(n)
        except sqlite3.OperationalError:
            logging.getLogger("test").exception("delivery %d failed", n)
            raise

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run, per_turn=1)
        answers = await asyncio.gather(*(asyncio.create_task(deliver(n)) for n in range(4)), return_exceptions=True)
    assert len({id(a) for a in answers}) == 4 and all(a is not locked for a in answers)
    for answer in answers:
        assert type(answer) is sqlite3.OperationalError and answer.args == locked.args
        assert answer.__cause__ is locked
    assert isinstance(answers[0].__context__, KeyError)
    assert all(a.__context__ is None for a in answers[1:]) and locked.__context__ is None
    logged = [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    assert len(logged) == 4
    assert len({text.count("\n") for text in logged[1:]}) == 1, [text.count("\n") for text in logged]
    assert "this asker's own trouble" not in "".join(logged[1:])


async def test_a_batch_one_ask_breaks_runs_again_ask_by_ask_and_fails_that_ask_alone(tmp_path: Path) -> None:
    """One group's fault (a bug, a constraint) rolls back the whole batch's transaction: the other asks are records
    of days already sent, so they must not fail with it (their claims would lapse and the days be sent again)."""
    calls: list[list[int]] = []

    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        calls.append(asks)
        if 2 in asks:
            raise sqlite3.IntegrityError("CHECK constraint failed")
        return [a * 10 for a in asks]

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run)
        answers = await asyncio.gather(batch(1), batch(2), batch(3), return_exceptions=True)
        assert answers[0] == 10 and answers[2] == 30
        assert isinstance(answers[1], sqlite3.IntegrityError)
        assert calls == [[1, 2, 3], [1], [2], [3]]


async def test_a_cancelled_asker_only_stops_waiting(tmp_path: Path) -> None:
    seen: list[list[int]] = []

    def run(store: Store, asks: list[int]) -> list[int | BaseException]:
        seen.append(asks)
        return list(asks)

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, run)
        first = asyncio.ensure_future(batch(1))
        second = asyncio.ensure_future(batch(2))
        await asyncio.sleep(0)  # both have asked
        first.cancel()
        assert await second == 2
        with pytest.raises(asyncio.CancelledError):
            await first
        assert seen == [[1, 2]]  # its ask ran all the same, as a store call would


@pytest.mark.parametrize("per_turn", [1, 3])
async def test_at_most_per_turn_askers_go_on_in_one_turn_of_the_loop(tmp_path: Path, per_turn: int) -> None:
    turn = 0
    stop = False

    def count_turns() -> None:
        nonlocal turn
        turn += 1
        if not stop:
            asyncio.get_running_loop().call_soon(count_turns)

    async def ask(n: int) -> int:
        await batch(n)
        return turn  # the turn in which this asker went on

    async with worker(tmp_path) as db:
        batch: TurnBatch[int, int] = TurnBatch(db, lambda store, asks: list(asks), per_turn=per_turn)
        count_turns()
        turns = await asyncio.gather(*(ask(n) for n in range(8)))
        stop = True
        assert max(collections.Counter(turns).values()) <= per_turn, turns
        assert len(set(turns)) == -(-8 // per_turn)
