"""Runs every store call on one dedicated thread, so SQLite (its fsyncs and lock waits) never blocks the event loop.

One thread means one connection in use at a time and calls in submission order: the store needs no locks of its own.
A caller that needs several statements in one transaction passes one function that does them all (no await inside).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.store import Store

T = TypeVar("T")


class StoreWorker:
    """`await worker(lambda s: s.group(chat_id))`: the call runs on the store's thread, the loop goes on meanwhile."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studybot-store")

    async def __call__(self, call: Callable[[Store], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, self.store)

    def close(self) -> None:
        """Finish the calls already submitted, then close the database."""
        self._executor.shutdown(wait=True)
        self.store.close()
