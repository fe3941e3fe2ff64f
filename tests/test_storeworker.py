"""The store worker: store calls leave the event loop's thread, keep their order, and a slow one stalls nobody."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from bot.store import Store
from bot.storeworker import StoreWorker


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
