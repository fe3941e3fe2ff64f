"""The Bot API stand-in in a child process of its own, for the push benchmarks (studybot and its baseline alike).

In production Telegram is not in the bot's process. In the bench's own process the stand-in's record of every
message sent (10,000 chats, a dozen objects each) made the heap grow during a push, and the garbage collector's
full passes over it stalled the bot's event loop for ~0.2 s: the stand-in's heap, counted as the bot's stall. Out
here the bot's (or the baseline's) process holds only its own objects, and the stand-in's work runs beside it, not
on its loop. Both sides of each ratio get the same child, so the ratios stay fair.

The parent asks the child over a pipe, between runs and never during one: per-chat counts of one method, the time
of the last such record (the stand-in's clock, `time.time`, as `bench.common.wall`), and the 429s answered so far.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bot.standin import LimitConfig, StandIn


@dataclass(frozen=True)
class Tally:
    """What the child saw of one method (sendMessage for the pushes)."""

    per_chat: dict[int, int]
    last_timestamp: float  # 0.0 when none
    too_many_requests: int

    def lost_and_duplicated(self, chats: Sequence[int]) -> tuple[int, int]:
        counts = [self.per_chat.get(chat, 0) for chat in chats]
        return sum(1 for c in counts if c == 0), sum(1 for c in counts if c > 1)


class RemoteStandIn:
    """`async with RemoteStandIn(token, username, limits=..., strict=...) as remote:` then `remote.base_url`."""

    def __init__(self, token: str, username: str, *, limits: bool, strict: bool = False,
                 method: str = "sendMessage") -> None:
        self._args = (token, username, limits, strict, method)
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> RemoteStandIn:
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no copy of the bench's heap or threads
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_child, args=(theirs, *self._args), name="bench-standin", daemon=True)
        self._process.start()
        theirs.close()
        self._conn = ours
        self.port = await asyncio.to_thread(ours.recv)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._conn is not None:
            self._conn.send(("stop",))
            await asyncio.to_thread(self._conn.recv)
            self._conn.close()
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 10)
            if self._process.is_alive():
                self._process.kill()

    async def tally(self) -> Tally:
        """Ask the child (a trip over the pipe: between runs, not while one is measured)."""
        assert self._conn is not None
        self._conn.send(("tally",))
        answer: Tally = await asyncio.to_thread(self._conn.recv)
        return answer


def _child(conn: Connection, token: str, username: str, limits: bool, strict: bool, method: str) -> None:
    asyncio.run(_serve(conn, token, username, limits, strict, method))


async def _serve(conn: Connection, token: str, username: str, limits: bool, strict: bool, method: str) -> None:
    standin = StandIn(token, username, limits_enabled=limits, limit_config=LimitConfig(strict=True) if strict else None)
    per_chat: Counter[int] = Counter()
    last = [0.0]
    async with standin:
        outbox = standin.outbox()

        async def listen() -> None:
            async for record in outbox:
                if record.method == method:
                    per_chat[record.chat_id] += 1
                    last[0] = record.timestamp

        listener = asyncio.create_task(listen())
        commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
        conn.send(standin.port)
        while True:
            command = await commands.get()
            if command[0] == "tally":
                conn.send(Tally(dict(per_chat), last[0], standin.stats.too_many_requests))
            elif command[0] == "stop":
                break
        loop.remove_reader(conn.fileno())
        outbox.close()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    conn.send(("stopped",))
