"""The store worker: store calls leave the event loop's thread, keep their order, and a slow one stalls nobody."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import storeworker
from bot.store import Store
from bot.storeworker import StoreWorker, posted_by
from tests.botkit import settle


async def test_calls_run_off_the_loop_thread_in_submission_order(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []

    def call(n: int) -> int:
        seen.append((n, threading.get_ident()))
        return n

    results = await asyncio.gather(*(worker(lambda _s, n=n: call(n)) for n in range(20)))
    worker.close()
    assert results == list(range(20))
    assert [n for n, _ in seen] == list(range(20))
    assert len({t for _, t in seen}) == 1 and seen[0][1] != loop_thread


async def test_a_slow_store_call_does_not_stop_the_loop(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    release = threading.Event()
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while not release.is_set():
            beats += 1
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    blocked = asyncio.ensure_future(worker(lambda _s: release.wait(5)))
    while beats < 5:  # the loop keeps running while the store thread is busy
        await asyncio.sleep(0.01)
    release.set()
    assert await blocked is True
    await beating
    worker.close()


async def test_close_finishes_submitted_calls_then_closes_the_database(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    worker = StoreWorker(store)
    group = await worker(lambda s: s.ensure_group(-1, "组"))
    worker.close()
    assert group.chat_id == -1
    assert Store(tmp_path / "s.db").group(-1) is not None


async def _queued_behind_a_blocker(worker: StoreWorker, calls: list[Callable[[Store], object]],
                                   hot: bool) -> list[object]:
    """Submit `calls` while the thread is busy, so they make up one batch; return results or exceptions."""
    release = threading.Event()
    blocker = asyncio.ensure_future(worker(lambda _s: release.wait(5)))
    await asyncio.sleep(0.05)  # the blocker is running; what follows queues up behind it
    pending = [asyncio.ensure_future(worker(call, hot=hot)) for call in calls]
    await asyncio.sleep(0)
    release.set()
    await blocker
    return list(await asyncio.gather(*pending, return_exceptions=True))


def _add_group(n: int, fail_at: int = 0) -> Callable[[Store], int]:
    def call(s: Store) -> int:
        s.ensure_group(-n, f"组 {n}")
        if n == fail_at:
            raise ValueError("a bug in one call")
        return n
    return call


def _ends(statements: list[str]) -> int:
    """Statements that end a transaction (the group's outermost savepoint, released, is its commit)."""
    return sum(1 for s in statements if s.strip().upper() in ("COMMIT", "RELEASE HOT_GROUP"))


async def test_hot_writes_queued_together_are_one_commit_with_no_statement_per_call_around_them(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    worker = StoreWorker(store)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    results = await _queued_behind_a_blocker(worker, [_add_group(n) for n in range(1, 21)], hot=True)
    assert results == list(range(1, 21))
    assert _ends(statements) == 1
    # Each statement is a GIL hand-over between the store thread and the loop: no savepoint per call.
    assert not any(s.strip().upper().startswith("SAVEPOINT HOT") and "GROUP" not in s.upper() for s in statements)
    worker.close()


async def test_a_failing_hot_write_undoes_only_itself(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    worker = StoreWorker(store)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    results = await _queued_behind_a_blocker(worker, [_add_group(n, fail_at=7) for n in range(1, 21)], hot=True)
    assert [r for r in results if not isinstance(r, int)] == [results[6]]
    assert isinstance(results[6], ValueError)
    assert [r for r in results if isinstance(r, int)] == [n for n in range(1, 21) if n != 7]
    # The undone attempt and the one commit of the batch run again call by call: no transaction per call.
    assert _ends(statements) == 2
    worker.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        ids = sorted(-r[0] for r in db.execute("SELECT chat_id FROM groups"))
    assert ids == [n for n in range(1, 21) if n != 7]


async def test_a_hot_write_is_committed_before_its_caller_hears_back(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    other = sqlite3.connect(tmp_path / "s.db")  # another connection sees only what is committed

    async def write_then_look(n: int) -> bool:
        await worker(lambda s: s.ensure_group(-n, "组"), hot=True)
        return other.execute("SELECT count(*) FROM groups WHERE chat_id = ?", [-n]).fetchone()[0] == 1

    assert all(await asyncio.gather(*(write_then_look(n) for n in range(1, 51))))
    other.close()
    worker.close()


async def test_calls_that_are_not_hot_run_alone_in_order(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    results = await _queued_behind_a_blocker(
        worker, [lambda s: s.ensure_group(-1, "组"), lambda s: s.group(-1) is not None], hot=False)
    assert results[1] is True
    worker.close()


async def test_a_hot_call_that_meets_a_locked_database_does_not_fail_the_rest_of_its_batch(tmp_path: Path) -> None:
    """Another process (a rolling deploy, a second replica) holds the write lock past busy_timeout: the first answer
    of a group commit fails. Once the lock is gone, the answers queued after it must be stored: each would be, alone.
    In one transaction they are not: it keeps the read snapshot of the failed call, now stale (SQLITE_BUSY_SNAPSHOT),
    so every later write of the batch fails too."""
    store = Store(tmp_path / "s.db")
    store.db.execute("PRAGMA busy_timeout=100")
    worker = StoreWorker(store)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_process (n INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other_process VALUES (1)")

    runs = 0

    def first(s: Store) -> int:
        nonlocal runs
        runs += 1
        try:
            s.group(-1)  # an answer reads its poll first
            s.ensure_group(-1, "组 1")
        finally:
            if runs == 2:  # held through the batch's first attempt and this call's second run: then done
                other.execute("COMMIT")
        return 1

    results = await _queued_behind_a_blocker(worker, [first, *(_add_group(n) for n in range(2, 11))], hot=True)
    worker.close()
    other.close()
    assert isinstance(results[0], sqlite3.OperationalError)
    assert results[1:] == list(range(2, 11)), results[1:]


async def test_a_batch_done_again_stores_the_call_that_met_a_lock_once_the_lock_is_gone(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.db.execute("PRAGMA busy_timeout=100")
    worker = StoreWorker(store)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_process (n INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other_process VALUES (1)")
    runs = 0

    def first(s: Store) -> int:
        nonlocal runs
        runs += 1
        try:
            s.ensure_group(-1, "组 1")
        finally:
            if runs == 1:
                other.execute("COMMIT")
        return 1

    results = await _queued_behind_a_blocker(worker, [first, *(_add_group(n) for n in range(2, 6))], hot=True)
    worker.close()
    other.close()
    assert results == list(range(1, 6)), results
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT count(*) FROM groups").fetchone()[0] == 5


# --- flush (issue9c): what the update fetcher waits for before it confirms an offset to Telegram ---

async def test_flush_returns_once_every_submitted_call_ran_even_unawaited_hot_ones(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    release = threading.Event()
    done: list[int] = []
    blocked = asyncio.ensure_future(worker(lambda _s: release.wait(5)))
    # Submitted but not awaited by anyone (a handler that does not wait for its hot write).
    writes = [asyncio.ensure_future(worker(lambda _s, n=n: done.append(n), hot=True)) for n in range(3)]
    flushed = asyncio.ensure_future(worker.flush())
    await asyncio.sleep(0.05)
    assert not flushed.done()  # the store is still busy with an earlier call
    release.set()
    await flushed
    assert done == [0, 1, 2]
    await asyncio.gather(blocked, *writes)
    worker.close()


async def test_flush_with_nothing_submitted_since_the_last_one_does_not_touch_the_store(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    await worker(lambda s: s.ensure_group(-1, "组"))
    await worker.flush()
    worker.store.guard.acquire()  # a flush that went to the store thread now would hang
    try:
        await asyncio.wait_for(worker.flush(), 5)
    finally:
        worker.store.guard.release()
    worker.close()


async def test_a_posted_write_is_committed_by_the_next_flush_and_a_failing_one_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    other = sqlite3.connect(tmp_path / "s.db")  # another connection sees only what is committed

    def broken(s: Store) -> None:
        s.ensure_group(-99, "组")
        raise ValueError("a bug in a posted write")

    worker.post(lambda s: s.ensure_group(-1, "组"))
    worker.post(broken)
    worker.post(lambda s: s.ensure_group(-2, "组"))
    await worker.flush()
    assert sorted(r[0] for r in other.execute("SELECT chat_id FROM groups")) == [-2, -1]
    assert any("posted store write failed" in r.getMessage() for r in caplog.records)
    other.close()
    worker.close()


async def test_a_posted_write_that_no_flush_follows_is_still_committed(tmp_path: Path) -> None:
    """Posted writes wait for the next hand-over a flush or an awaited call asks for, and without either they go
    on their own (POST_WINDOW): none may sit in the loop's outgoing list for good."""
    worker = StoreWorker(Store(tmp_path / "s.db"))
    other = sqlite3.connect(tmp_path / "s.db")  # another connection sees only what is committed
    worker.post(lambda s: s.ensure_group(-1, "组"))
    for _ in range(1000):
        if other.execute("SELECT count(*) FROM groups").fetchone()[0]:
            break
        await asyncio.sleep(0.01)
    assert [r[0] for r in other.execute("SELECT chat_id FROM groups")] == [-1]
    other.close()
    worker.close()


async def test_a_failed_posted_write_is_told_to_its_poster_before_the_flush_returns(tmp_path: Path) -> None:
    """The update fetcher must hear that a write its update's handler posted failed before it confirms the update:
    told by the flush, even when every call was already committed when the flush began (no trip to the thread)."""
    worker = StoreWorker(Store(tmp_path / "s.db"))
    told: list[tuple[str, BaseException]] = []

    def locked(s: Store) -> None:
        raise sqlite3.OperationalError("database is locked")

    async def handler(name: str, call: Callable[[Store], None]) -> None:  # in its own task, as an update's handler
        posted_by.set(lambda error: told.append((name, error)))
        worker.post(call)

    await asyncio.gather(asyncio.create_task(handler("a", locked)),
                         asyncio.create_task(handler("b", lambda s: s.ensure_group(-1, "组"))))
    worker.post(locked)  # posted outside any update: only logged
    await worker.flush()
    assert [(name, type(error)) for name, error in told] == [("a", sqlite3.OperationalError)]

    async def posted_and_committed() -> None:
        posted_by.set(lambda error: told.append(("c", error)))
        worker.post(locked)
        await worker(lambda s: None)  # run (and failed) before the flush below begins

    await asyncio.create_task(posted_and_committed())
    assert len(told) == 1
    await worker.flush()  # nothing left to wait for, no trip to the thread: it tells all the same
    assert [name for name, _ in told] == ["a", "c"]
    worker.close()


# --- flushes that overlap (webhook mode: one per POST being answered) ---

async def test_a_flush_after_two_overlapping_flushes_still_waits_for_a_call_submitted_since(tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    first, second = threading.Event(), threading.Event()
    blocked = asyncio.ensure_future(worker(lambda _s: first.wait(5)))
    overlapping = [asyncio.ensure_future(worker.flush()) for _ in range(2)]
    await asyncio.sleep(0.05)
    first.set()
    await asyncio.gather(blocked, *overlapping)
    later = asyncio.ensure_future(worker(lambda _s: second.wait(5)))  # submitted after both flushes returned
    flushed = asyncio.ensure_future(worker.flush())
    await asyncio.sleep(0.05)
    try:
        assert not flushed.done(), "flush returned while a call submitted before it had not run"
    finally:
        second.set()
        await asyncio.gather(later, flushed)
        worker.close()


async def test_a_long_read_runs_beside_the_writer_on_one_snapshot(tmp_path: Path) -> None:
    """`read` (reports, exports) runs on a read-only connection of its own thread: writes submitted while it runs
    go through at once, it sees what was submitted (even posted) before it, and one snapshot from start to end."""
    worker = StoreWorker(Store(tmp_path / "s.db"))
    worker.post(lambda s: s.remember_member(-1, 1, "甲"))  # nobody waits for it: read() must still see it
    started, release = threading.Event(), threading.Event()
    threads: list[int] = []

    def long_read(s: Store) -> tuple[list[str], list[str]]:
        threads.append(threading.get_ident())
        before = [m.name for m in s.roster(-1)]
        started.set()
        release.wait(10)  # the writer writes meanwhile
        return before, [m.name for m in s.roster(-1)]

    reading = asyncio.ensure_future(worker.read(long_read))
    await asyncio.to_thread(started.wait, 10)
    # The writer is not held up by the read under way: this write completes while the read waits.
    await worker(lambda s: s.remember_member(-1, 2, "乙"))
    threads.append(await worker(lambda _s: threading.get_ident()))
    release.set()
    before, after = await reading
    assert before == after == ["甲"]  # one snapshot: 乙 came after the read began
    assert sorted(m.name for m in await worker.read(lambda s: s.roster(-1))) == ["乙", "甲"]
    assert threads[0] != threads[1]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await worker.read(lambda s: s.remember_member(-1, 3, "丙"))
    worker.close()


async def test_a_read_of_a_database_in_memory_runs_on_the_store_thread() -> None:
    worker = StoreWorker(Store(":memory:"))
    await worker(lambda s: s.remember_member(-1, 1, "甲"))
    threads = {await worker(lambda _s: threading.get_ident()), await worker.read(lambda _s: threading.get_ident())}
    assert [m.name for m in await worker.read(lambda s: s.roster(-1))] == ["甲"]
    assert len(threads) == 1
    worker.close()


async def test_read_waits_for_a_posted_write_held_behind_a_busy_writer(tmp_path: Path) -> None:
    """The writer is held busy, so the posted write cannot commit early by luck: read() sees it only because it
    flushes first (a /report right after a quiz answer counts that answer)."""
    worker = StoreWorker(Store(tmp_path / "s.db"))
    await worker.read(lambda s: None)  # the reader is open already (opening one waits for the writer's lock)
    gate = threading.Event()
    held = asyncio.ensure_future(worker(lambda s: gate.wait(10)))
    await asyncio.sleep(0)
    worker.post(lambda s: s.remember_member(-1, 1, "甲"))
    reading = asyncio.ensure_future(worker.read(lambda s: [m.name for m in s.roster(-1)]))
    await asyncio.sleep(0.2)
    try:
        assert not reading.done()
    finally:
        gate.set()
    assert await reading == ["甲"]
    await held
    worker.close()


@pytest.mark.parametrize("reader_made_before", [False, True])
async def test_a_read_waiting_on_its_flush_when_the_worker_closes_is_refused(tmp_path: Path,
                                                                             reader_made_before: bool) -> None:
    """A /report in its flush when the bot stops: it is refused like any call after close, and no reader
    connection or thread is made after close() (the first read of the process would otherwise open one for good)."""
    worker = StoreWorker(Store(tmp_path / "s.db"))
    await worker(lambda s: s.remember_member(-1, 1, "甲"))
    if reader_made_before:
        await worker.read(lambda s: None)
    gate = threading.Event()
    held = asyncio.ensure_future(worker(lambda s: gate.wait(10)))
    await asyncio.sleep(0)
    reading = asyncio.ensure_future(worker.read(lambda s: [m.name for m in s.roster(-1)]))
    await asyncio.sleep(0.05)  # the read is in its flush, behind the held call
    threading.Timer(0.2, gate.set).start()
    worker.close()  # as runner.serve does at stop
    (outcome,) = await asyncio.gather(reading, return_exceptions=True)
    await held
    assert isinstance(outcome, RuntimeError) and "store worker is closed" in str(outcome), repr(outcome)
    assert (worker._reader is not None) == reader_made_before


async def test_the_reader_connection_is_opened_off_the_event_loop(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    loop_thread = threading.get_ident()
    opened_on: list[int] = []
    connect = sqlite3.connect

    def spy(*args: object, **kwargs: object) -> sqlite3.Connection:
        opened_on.append(threading.get_ident())
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", spy)
    try:
        await worker.read(lambda s: None)
    finally:
        monkeypatch.undo()
        worker.close()
    assert opened_on and loop_thread not in opened_on


async def test_writes_posted_over_several_loop_turns_reach_the_store_thread_in_one_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hand-over wakes the store's thread (and hands the GIL to it and back): posted writes wait for company,
    and the flush takes them all along at once."""
    monkeypatch.setattr(storeworker, "POST_WINDOW", 60.0)  # no timer goes first, however slow this machine is
    worker = StoreWorker(Store(tmp_path / "s.db"))
    batches: list[int] = []
    execute = worker._execute

    def counted(batch: list[Any]) -> None:  # on the store's thread, once per batch
        batches.append(len(batch))
        execute(batch)

    worker._execute = counted  # type: ignore[method-assign]
    for chat_id in range(-1, -6, -1):
        worker.post(lambda s, c=chat_id: s.ensure_group(c, "组"))
        await asyncio.sleep(0)  # another turn of the loop
    await worker.flush()
    assert batches == [6]  # the five writes and the flush's no-op
    assert [await worker(lambda s, c=c: s.group(c) is not None) for c in range(-1, -6, -1)] == [True] * 5
    worker.close()


async def test_a_posted_write_alone_is_committed_without_a_flush_and_before_a_later_awaited_call(
        tmp_path: Path) -> None:
    worker = StoreWorker(Store(tmp_path / "s.db"))
    other = sqlite3.connect(tmp_path / "s.db")
    worker.post(lambda s: s.ensure_group(-1, "组"))
    await settle(lambda: other.execute("SELECT count(*) FROM groups").fetchone()[0] == 1)  # nothing else came
    worker.post(lambda s: s.ensure_group(-2, "组"))
    assert await worker(lambda s: s.group(-2)) is not None  # handed over with it, and run before it
    other.close()
    worker.close()


def test_a_group_commit_that_fails_as_a_whole_gives_each_caller_an_exception_of_its_own() -> None:
    """As in bot/turnbatch.py: one object handed to many callers is changed by each one's raise (see own_copy)."""
    loop = asyncio.new_event_loop()
    try:
        jobs = [storeworker._Job(call=lambda s: None, future=loop.create_future(), loop=loop, hot=True)
                for _ in range(3)]
        failed = sqlite3.OperationalError("database is locked")
        StoreWorker._fail(jobs, failed)
    finally:
        loop.close()
    errors = [job.error for job in jobs]
    assert len({id(e) for e in errors}) == 3 and failed not in errors
    assert all(type(e) is sqlite3.OperationalError and e.args == failed.args and e.__cause__ is failed
               for e in errors)
