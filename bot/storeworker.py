"""Runs every store call on one dedicated thread, so SQLite (its fsyncs and lock waits) never blocks the event loop.

One thread means one connection in use at a time and calls in submission order: the store needs no locks of its own.
A caller that needs several statements in one transaction passes one function that does them all (no await inside).

Calls are taken in batches: whatever was submitted while the thread was busy runs next, and the loop is woken once
per batch, not once per call. Hot writes (`hot=True`: quiz answers, check-ins) that follow each other in a batch are
group-committed: one transaction, each call in its own savepoint (a failing one undoes only itself), so a hot call is
atomic without an `atomic()` of its own. A hot call's caller hears back only after that commit, so nothing a handler
took as stored can be lost; there is no waiting window either: the batch is what queued up while the last one ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Job:
    call: Callable[[Store], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    hot: bool
    result: Any = None
    error: BaseException | None = None


class StoreWorker:
    """`await worker(lambda s: s.group(chat_id))`: the call runs on the store's thread, the loop goes on meanwhile."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        # Jobs submitted during one turn of the loop are handed over together: each hand-over wakes the thread,
        # and a thread switch costs more than most store calls.
        self._outgoing: list[_Job] = []
        self._thread = threading.Thread(target=self._run, name="studybot-store", daemon=True)
        self._thread.start()
        self._closed = False
        self._submitted = 0  # calls submitted so far (flushes' no-ops too), and how many a flush has seen done
        self._flushed = 0

    async def __call__(self, call: Callable[[Store], T], *, hot: bool = False) -> T:
        if self._closed:
            raise RuntimeError("the store worker is closed")
        loop = asyncio.get_running_loop()
        job = _Job(call, loop.create_future(), loop, hot)
        self._submitted += 1
        if not self._outgoing:
            loop.call_soon(self._hand_over)
        self._outgoing.append(job)
        result: T = await job.future
        return result

    async def flush(self) -> None:
        """Return once every call submitted before it has run and is committed (hot ones included), whether its
        caller awaited it or not. Calls run in submission order, so a no-op call's turn coming means just that.
        Before the update offset is confirmed to Telegram (bot/fetcher.py)."""
        seen = self._submitted
        if seen == self._flushed:
            return
        # Numbered seen + 1 (the count goes up before this coroutine yields): when it has run, so has every call
        # up to it. Overlapping flushes (webhook mode) each raise _flushed to their own no-op, never past a call.
        await self(_nothing)
        self._flushed = max(self._flushed, seen + 1)

    def _hand_over(self) -> None:
        jobs, self._outgoing = self._outgoing, []
        self._jobs.put(jobs)

    def close(self) -> None:
        """Finish the calls already submitted, then close the database."""
        if not self._closed:
            self._closed = True
            if self._outgoing:  # submitted in this very turn of the loop
                self._hand_over()
            self._jobs.put(None)
            self._thread.join()
        self.store.close()

    # --- the store's thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch: list[_Job] = []
            jobs = self._jobs.get()
            while jobs is not None:
                batch += jobs
                try:
                    jobs = self._jobs.get_nowait()
                except queue.Empty:
                    break
            with self.store.guard:
                self._execute(batch)
            self._answer(batch)
            if jobs is None:
                return

    def _execute(self, batch: list[_Job]) -> None:
        i = 0
        while i < len(batch):
            if not batch[i].hot:
                self._one(batch[i])
                i += 1
                continue
            end = i
            while end < len(batch) and batch[end].hot:
                end += 1
            self._group_commit(batch[i:end])
            i = end

    def _one(self, job: _Job) -> None:
        try:
            job.result = job.call(self.store)
        except BaseException as exc:  # handed to the awaiting caller, as run_in_executor would
            job.error = exc

    def _group_commit(self, jobs: list[_Job]) -> None:
        """One transaction for the hot calls, each in a savepoint of its own (a failing one undoes only itself).

        Plain statements with one fixed savepoint name: SQLite caches them, where sqlite-utils' atomic() makes a
        new name (a new statement to compile) each time; on this path that was a third of the cost of an answer.
        After a call fails with an SQLite error, the calls before it are committed and the rest go on in a new
        transaction: the failed one may have left this one unable to write (a call that read, then waited out
        busy_timeout for another process's write lock, leaves a read snapshot that is stale once that process
        commits: every later write in the same transaction would fail with "database is locked", where each call
        alone would succeed).
        """
        conn = self.store.db.conn
        start = 0  # jobs[:start] are committed
        try:
            conn.execute("SAVEPOINT hot_group")  # a transaction of its own (or nested, if one is open)
            for k, job in enumerate(jobs):
                conn.execute("SAVEPOINT hot")
                self._one(job)
                if job.error is not None:
                    conn.execute("ROLLBACK TO hot")
                conn.execute("RELEASE hot")
                if isinstance(job.error, sqlite3.Error) and k + 1 < len(jobs):
                    conn.execute("RELEASE hot_group")
                    start = k + 1
                    conn.execute("SAVEPOINT hot_group")
            conn.execute("RELEASE hot_group")
        except Exception as exc:  # the commit itself failed: none of jobs[start:] is stored
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK TO hot_group")
                conn.execute("RELEASE hot_group")
            log.warning("group commit of %d store calls failed: %s", len(jobs) - start, exc)
            for job in jobs[start:]:
                job.result, job.error = None, exc

    @staticmethod
    def _answer(batch: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in batch:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, jobs)


def _nothing(store: Store) -> None:
    return None


def _settle(jobs: list[_Job]) -> None:
    """On the loop: hand each caller its result (a caller that gave up waiting is skipped)."""
    for job in jobs:
        if job.future.cancelled():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
