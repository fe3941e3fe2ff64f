"""Runs every store call on one dedicated thread, so SQLite (its fsyncs and lock waits) never blocks the event loop.

One thread means one connection in use at a time and calls in submission order: the store needs no locks of its own.
A caller that needs several statements in one transaction passes one function that does them all (no await inside).

Calls are taken in batches: whatever was submitted while the thread was busy runs next, and the loop is woken once
per batch, not once per call. Hot writes (`hot=True`: quiz answers, check-ins) that follow each other in a batch are
group-committed: one transaction; if a call fails, the batch is rolled back and run again with each call in its own
savepoint (a failing one undoes only itself), so a hot call is atomic without an `atomic()` of its own, and may run
twice (its first run undone): hot calls do store work only. A hot call's caller hears back only after that commit, so
nothing a handler took as stored can be lost; there is no waiting window either: the batch is what queued up while the
last one ran. A posted write (`post`) has no caller waiting: `flush` is what the update fetcher waits for instead,
and a posted write that failed is told by that flush to the update whose handler posted it (`posted_by`), which
then counts as not stored, as when an awaited write fails.

A long read (a 5,000-member report or export: a second or two of SQL) would hold every chat's writes up behind it,
so `read` runs it on a second thread with a read-only connection of its own (`Store.reader`; WAL lets it read while
the writer writes), after what was submitted before it has been committed.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import copy
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
E = TypeVar("E", bound=BaseException)

# How long a posted write (`post`) may wait to be handed to the store's thread when nothing else goes first: the
# flush before the update offset is confirmed (or any awaited call) hands it over sooner, with everything else.
POST_WINDOW = 0.01

# Who hears that a write posted from here failed (`post`): bot/fetcher.py sets it in each update's task, so the update
# whose handler posted the write counts as not stored, as when an awaited write fails. Told on the loop, by `flush`.
posted_by: contextvars.ContextVar[Callable[[BaseException], None] | None] = contextvars.ContextVar(
    "posted_by", default=None)


@dataclass
class _Job:
    call: Callable[[Store], Any]
    future: asyncio.Future[Any] | None  # None: posted, nobody waits (post())
    loop: asyncio.AbstractEventLoop
    hot: bool
    result: Any = None
    error: BaseException | None = None
    on_error: Callable[[BaseException], None] | None = None  # posted: who hears of a failure (posted_by)


class StoreWorker:
    """`await worker(lambda s: s.group(chat_id))`: the call runs on the store's thread, the loop goes on meanwhile."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        # Jobs submitted during one turn of the loop are handed over together: each hand-over wakes the thread,
        # and a thread switch costs more than most store calls. Posted jobs wait for the next hand-over that an
        # awaited call or a flush asks for (one wake-up for a quiz batch's answers and the flush after them), or
        # POST_WINDOW at most.
        self._outgoing: list[_Job] = []
        self._soon = False  # a hand-over is due at the next turn of the loop (call_soon)
        self._later: asyncio.TimerHandle | None = None  # a hand-over of posted jobs POST_WINDOW from the first
        self._thread = threading.Thread(target=self._run, name="studybot-store", daemon=True)
        self._thread.start()
        self._closed = False
        self._submitted = 0  # calls submitted so far (flush's no-ops too), on the loop's thread
        self._committed = 0  # calls run and committed so far, written by the store's thread after each batch
        # Posted calls that failed and whose poster wants to hear of it: appended by the store's thread before it
        # counts them committed, told by flush() on the loop.
        self._failed_posts: collections.deque[_Job] = collections.deque()
        # The read-only connection and its thread (`read`), made on the first long read.
        self._reader: Store | None = None
        self._reads: concurrent.futures.ThreadPoolExecutor | None = None

    async def __call__(self, call: Callable[[Store], T], *, hot: bool = False) -> T:
        if self._closed:
            raise RuntimeError("the store worker is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(call, future, loop, hot)
        self._submitted += 1
        if not self._soon:
            self._soon = True
            loop.call_soon(self._hand_over)
        self._outgoing.append(job)
        return await future

    def post(self, call: Callable[[Store], Any], on_failure: Callable[[BaseException], None] | None = None) -> None:
        """A hot write nobody waits for: it runs and commits with the batch it lands in; a failure is logged and,
        at the next `flush`, told to `on_failure` (the poster's own undo, e.g. a cache entry to forget) and then to
        whoever `posted_by` named when it was posted (the update's fetcher, which handles the update again).

        For bursts whose handler needs no answer from the store (a quiz answer to a poll we know): the handler
        ends at once instead of holding one of PTB's 64 update slots through a trip to this thread and back. Still
        nothing acknowledged is lost: the update fetcher flushes (`flush`) before it confirms the update."""
        if self._closed:
            raise RuntimeError("the store worker is closed")
        loop = asyncio.get_running_loop()
        self._submitted += 1
        if not self._soon and self._later is None:
            self._later = loop.call_later(POST_WINDOW, self._hand_over)
        self._outgoing.append(_Job(call, None, loop, True, on_error=_both(on_failure, posted_by.get())))

    async def flush(self) -> None:
        """Return once every call submitted before it has run and is committed (hot ones included), whether its
        caller awaited it or not. Calls run in submission order, so a no-op call's turn coming means just that.
        Before the update offset is confirmed to Telegram (bot/fetcher.py): usually every handler of the batch has
        heard back by then, so there is nothing to wait for and no extra trip to the store's thread."""
        if self._committed < self._submitted:
            # Calls run in order: when this no-op has run, so has every call submitted before it. Overlapping
            # flushes (webhook mode) each wait for their own no-op; the counters only say "all done" when all are.
            await self(_nothing)
        # A posted write that failed: its poster hears of it before the flush returns (so before it confirms).
        while self._failed_posts:
            job = self._failed_posts.popleft()
            if job.on_error is not None and job.error is not None:
                job.on_error(job.error)

    async def read(self, call: Callable[[Store], T]) -> T:
        """`await worker.read(lambda s: s.record_tallies(...))`: a long read-only call, on a read-only connection
        of its own thread, so the store's thread goes on with everyone's writes meanwhile. It sees everything
        submitted before it (flushed first) and one snapshot of the database (one read transaction). A database in
        memory has no second connection: there the call runs on the store's thread like any other."""
        if self._closed:
            raise RuntimeError("the store worker is closed")
        await self.flush()
        if self._closed:  # closed while it waited for the flush: no reader may be made or used after close()
            raise RuntimeError("the store worker is closed")
        if not self.store.has_reader():  # in memory: no second connection can see it
            return await self(call)
        if self._reads is None:
            self._reads = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="studybot-store-read")

        def run() -> T:
            if self._reader is None:  # opened here, on the read thread, never on the event loop
                self._reader = self.store.reader()
            reader = self._reader
            with reader.guard, reader.snapshot():
                return call(reader)

        return await asyncio.get_running_loop().run_in_executor(self._reads, run)

    def _hand_over(self) -> None:
        self._soon = False
        if self._later is not None:
            self._later.cancel()
            self._later = None
        jobs, self._outgoing = self._outgoing, []
        if jobs:
            self._jobs.put(jobs)

    def close(self) -> None:
        """Finish the calls already submitted, then close the database."""
        if not self._closed:
            self._closed = True
            if self._outgoing:  # submitted in this very turn of the loop
                self._hand_over()
            self._jobs.put(None)
            self._thread.join()
            if self._reads is not None:
                self._reads.shutdown(wait=True)  # a read under way ends first; none can start (closed)
            if self._reader is not None:
                self._reader.close()
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
            self._failed_posts.extend(j for j in batch if j.future is None and j.error is not None and j.on_error)
            self._committed += len(batch)  # read by flush() on the loop: one int, written by this thread only
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
        """One transaction for the hot calls; if one of them fails, the batch is undone and done again carefully.

        Every statement hands the GIL from this thread to the event loop and back (sqlite3 releases it around each
        step), and while the loop is busy the way back waits for it: statements per answer, not their SQL, are the
        cost. So the usual case runs the calls back to back, each poll read once per transaction
        (`Store.snapshot_memo`), and commits. Only when a call raises is the whole transaction rolled back and the
        batch run again by `_careful_commit`, each call in a savepoint of its own. A hot call therefore may run
        twice, its first run rolled back: it must do nothing but store work (no other side effects).
        """
        conn = self.store.db.conn
        try:
            conn.execute("SAVEPOINT hot_group")  # a transaction of its own (or nested, if one is open)
        except Exception as exc:
            self._fail(jobs, exc)
            return
        with self.store.snapshot_memo():
            for job in jobs:
                self._one(job)
                if job.error is not None:
                    break
        if all(job.error is None for job in jobs):
            try:
                conn.execute("RELEASE hot_group")
                return
            except Exception as exc:  # the commit failed (e.g. the write lock): nothing is stored; try carefully
                log.info("group commit of %d store calls failed (%s): doing them one by one", len(jobs), exc)
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK TO hot_group")
            conn.execute("RELEASE hot_group")
        for job in jobs:
            job.result, job.error = None, None
        self._careful_commit(jobs)

    def _careful_commit(self, jobs: list[_Job]) -> None:
        """One transaction for the hot calls, each in a savepoint of its own (a failing one undoes only itself).

        Plain statements with one fixed savepoint name: SQLite caches them, where sqlite-utils' atomic() makes a
        new name (a new statement to compile) each time.
        After a call fails with an SQLite error, the calls before it are committed and the rest go on in a new
        transaction: the failed one may have left this one unable to write (a call that read, then waited out
        busy_timeout for another process's write lock, leaves a read snapshot that is stale once that process
        commits: every later write in the same transaction would fail with "database is locked", where each call
        alone would succeed).
        """
        conn = self.store.db.conn
        start = 0  # jobs[:start] are committed
        try:
            conn.execute("SAVEPOINT hot_group")
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
            self._fail(jobs[start:], exc)

    @staticmethod
    def _fail(jobs: list[_Job], exc: Exception) -> None:
        log.warning("group commit of %d store calls failed: %s", len(jobs), exc)
        for job in jobs:
            job.result, job.error = None, exc if len(jobs) == 1 else own_copy(exc)

    @staticmethod
    def _answer(batch: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in batch:
            if job.future is None:  # posted: nobody to tell but the log
                if job.error is not None:
                    log.error("a posted store write failed", exc_info=job.error)
                continue
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, jobs)


def own_copy(error: E) -> E:
    """`error` for one of the several callers that one failure fails (a batch, a group commit): a copy of it (same
    type, arguments and attributes, e.g. sqlite3's error code) caused by it.

    One object raised by many callers is changed by each: a caller raising it inside an `except` sets its
    `__context__` for all, and a raise adds that caller's frames to its `__traceback__`, which the next future it is
    handed to keeps (bot/turnbatch.py answers its askers over several loop turns): every later caller's logged
    traceback then carries the earlier ones' frames. A copy is changed by its own caller only."""
    try:
        mine = copy.copy(error)
    except Exception:  # an exception class that cannot be rebuilt from its arguments: shared, as before
        return error
    if mine is error:
        return error
    notes = getattr(error, "__notes__", None)
    if notes is not None:
        mine.__notes__ = list(notes)  # copied by reference with the rest of its attributes
    mine.__cause__ = error  # also sets __suppress_context__, as `raise mine from error` would
    return mine


def _nothing(store: Store) -> None:
    return None


def _settle(jobs: list[_Job]) -> None:
    """On the loop: hand each caller its result (a caller that gave up waiting is skipped)."""
    for job in jobs:
        if job.future is None or job.future.cancelled():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


def _both(first: Callable[[BaseException], None] | None,
          then: Callable[[BaseException], None] | None) -> Callable[[BaseException], None] | None:
    """Tell a posted write's failure to `first`, then to `then` (either may be missing)."""
    if first is None or then is None:
        return first or then

    def tell(error: BaseException) -> None:
        first(error)
        then(error)

    return tell
