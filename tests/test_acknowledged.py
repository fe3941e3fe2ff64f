"""What is acknowledged to Telegram (the getUpdates offset) must be handled and stored first (bot/fetcher.py)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes, MessageHandler, filters

from bot.fetcher import STORE_RETRIES
from bot.services import Services
from bot.store import Store
from tests.botkit import ADMIN, GROUP, MEMBER, answer, bot_running, post, settle, webhook_bot


def _stored_groups(tmp_path: Path) -> int:
    conn = sqlite3.connect(tmp_path / "studybot.db")
    try:
        return int(conn.execute("select count(*) from groups where chat_id = ?", (GROUP,)).fetchone()[0])
    finally:
        conn.close()


async def test_update_offset_is_not_confirmed_before_its_write_is_committed(tmp_path: Path) -> None:
    """The store is slow (another thread holds it: a long batch, a lock wait): the bot must not tell Telegram it has
    an update (the next getUpdates offset) while the write that update causes is not committed; a crash in that
    window loses the update for good."""
    async with bot_running(tmp_path) as h:
        store = h.svc.db.store
        store.guard.acquire()  # the store thread cannot start its next batch
        try:
            h.standin.add_bot_to_group(GROUP, "学习小组", by_user=ADMIN)
            await asyncio.sleep(1.0)  # the fetcher polls again meanwhile (every patience while a handler waits)
            confirmed = not h.world.updates
            stored = _stored_groups(tmp_path)
        finally:
            store.guard.release()
        await settle(lambda: h.standin.sent(GROUP))
        assert not (confirmed and not stored), "offset confirmed to Telegram while the group was not yet stored"
        assert not confirmed  # the update is still at Telegram's side: a crash now would get it again
        # Once stored and handled, it is confirmed (the stand-in drops it).
        await settle(lambda: not h.world.updates)
        assert _stored_groups(tmp_path) == 1


async def test_a_slow_handler_holds_back_only_its_own_confirmation(tmp_path: Path) -> None:
    """A handler that waits (here its reply is answered 3 s late) does not stop other updates from being fetched and
    answered, and its update stays unconfirmed until it is done, while everything is confirmed afterwards."""
    async with bot_running(tmp_path) as h:
        h.standin.delay_next("sendMessage", 3.0)  # carried out at once, answered 3 s late: the handler waits
        h.standin.user_sends(MEMBER, MEMBER, "/toc")
        await settle(lambda: h.standin.sent(MEMBER))
        [reply] = await h.say(ADMIN, ADMIN, "/toc")  # fetched and answered meanwhile
        assert reply.text
        pending = [u for u in h.world.updates if "message" in u]
        # The slow one is not confirmed yet (nor, by getUpdates' offset rule, anything after it).
        assert [u["message"]["chat"]["id"] for u in pending] == [MEMBER, ADMIN]
        await settle(lambda: not h.world.updates)
        assert len(h.standin.sent(MEMBER)) == len(h.standin.sent(ADMIN)) == 1  # handed on once each


async def test_stop_confirms_what_was_handled(tmp_path: Path) -> None:
    """A clean stop confirms every handled update: the next process does not get them again."""
    async with bot_running(tmp_path) as h:
        await h.say(ADMIN, ADMIN, "/toc")
        standin = h.standin
    # bot_running stopped the bot (and the stand-in with it); the last getUpdates confirmed the /toc.
    assert not standin.world.updates


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_post_is_answered_only_once_its_update_is_stored(tmp_path: Path) -> None:
    """Telegram forgets a webhook update when its POST is answered: the answer waits for the handler and the store."""
    async with webhook_bot(tmp_path) as (server, running, url):
        server.world.add_bot_to_group(GROUP, "学习小组", by_user=ADMIN)
        updates = list(server.world.updates)  # what Telegram would POST, one at a time
        server.world.updates.clear()
        joined = next(u for u in updates if "my_chat_member" in u)
        loop = asyncio.get_running_loop()
        guard = running.svc.db.store.guard
        guard.acquire()  # the store thread cannot start its next batch
        try:
            answered = loop.run_in_executor(None, post, url, joined)
            await asyncio.sleep(1.0)
            answered_early = answered.done()
            stored_early = _stored_groups(tmp_path)
        finally:
            guard.release()
        assert await answered == 200
        assert not answered_early and stored_early == 0
        assert _stored_groups(tmp_path) == 1  # stored by the time Telegram heard back


def _gated(runs: list[int], gate: asyncio.Event, refuse: int = 0) -> MessageHandler[Any, Any]:
    """A handler for the text "slow" that waits for `gate`, its first `refuse` runs then meeting "database is
    locked" (a store write SQLite refused); it counts its runs and stops the other handlers."""

    async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        runs.append(update.update_id)
        await gate.wait()
        if len(runs) <= refuse:
            raise sqlite3.OperationalError("database is locked")
        raise ApplicationHandlerStop

    return MessageHandler(filters.Regex("^slow$"), slow)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_post_whose_handler_is_done_waits_for_the_commit_past_the_cap(tmp_path: Path) -> None:
    """The handler is done at once, but its write (posted, not awaited: as a quiz answer) waits for the store (another
    process's write lock): the POST is not answered 200 before the commit, however long the handler's cap."""
    async with webhook_bot(tmp_path, patience=0.5, answer_within=30.0) as (server, running, url):
        async def store(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            running.svc.db.post(lambda s: s.ensure_group(GROUP, "学习小组"))
            raise ApplicationHandlerStop

        running.app.add_handler(MessageHandler(filters.Regex("^store$"), store), group=-10)
        update = {"update_id": 3, "message": server.world.user_sends(MEMBER, MEMBER, "store")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        running.svc.db.store.guard.acquire()  # the store thread cannot start its next batch
        try:
            answered = loop.run_in_executor(None, answer, url, update, "s3cret")
            done, _ = await asyncio.wait([answered], timeout=2.0)  # four times the handler's cap
            early = answered.result()[0] if done else None
            stored_early = _stored_groups(tmp_path)
        finally:
            running.svc.db.store.guard.release()
        assert stored_early == 0
        assert early != 200, "answered 200 while the update's write was not committed"
        assert early is None  # handler done: its commit is waited for, not answered 503 at the handler's cap
        assert (await answered)[0] == 200
        assert _stored_groups(tmp_path) == 1


def _joined(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if "sent again while it is being handled" in r.getMessage())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_handler_past_the_cap_gets_503_its_resend_joins_it_and_no_other_post_waits(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A handler that outlasts the cap: its POST is answered 503 with Retry-After (Telegram keeps the update and
    sends it again), never 200 before it is handled; another chat's POST meanwhile is served at once; a resend joins
    the handling under way instead of handling the update twice, and is answered 200 once it is done."""
    caplog.set_level(logging.INFO, logger="bot.fetcher")
    runs: list[int] = []
    gate = asyncio.Event()
    async with webhook_bot(tmp_path, patience=0.5, retry_after=7) as (server, running, url):
        running.app.add_handler(_gated(runs, gate), group=-10)
        slow = {"update_id": 1, "message": server.world.user_sends(MEMBER, MEMBER, "slow")}
        other = {"update_id": 2, "message": server.world.user_sends(ADMIN, ADMIN, "/toc")}
        server.world.updates.clear()  # delivered by webhook below, not by getUpdates
        loop = asyncio.get_running_loop()
        try:
            status, headers = await loop.run_in_executor(None, answer, url, slow, "s3cret")
            assert status == 503 and headers.get("Retry-After") == "7"
            assert await loop.run_in_executor(None, post, url, other, "s3cret") == 200
            assert len(server.sent(ADMIN)) == 1  # served while the slow one is still being handled
            assert await loop.run_in_executor(None, post, url, slow, "s3cret") == 503  # sent again: joins it
            resent = loop.run_in_executor(None, post, url, slow, "s3cret")
            await settle(lambda: _joined(caplog) == 2)  # this resend too waits on the handling under way
        finally:
            gate.set()
        assert await resent == 200  # the resend waiting on it hears it is done
        assert runs == [1]  # handled once, for three POSTs
        assert await loop.run_in_executor(None, post, url, slow, "s3cret") == 200
        assert runs == [1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_update_sent_again_after_its_handling_ended_is_not_handled_twice(tmp_path: Path) -> None:
    """Telegram did not get the 200 (a proxy in front timed out, the connection dropped) and sends the update again
    after its handling ended: answered 200, not handled a second time (no second reply)."""
    async with webhook_bot(tmp_path) as (server, running, url):
        update = {"update_id": 9, "message": server.world.user_sends(MEMBER, MEMBER, "/toc")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, post, url, update, "s3cret") == 200
        assert await loop.run_in_executor(None, post, url, update, "s3cret") == 200
        await settle(lambda: running.app.update_processor.current_concurrent_updates == 0)
        assert len(server.sent(MEMBER)) == 1, "the same update handled twice by one process"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_write_refused_after_the_cap_is_handled_again(tmp_path: Path) -> None:
    """The handler outlasts the cap, then its write is refused ("database is locked"). Its POST was not answered
    200, so Telegram still has the update, and the resend handles it again."""
    runs: list[int] = []
    gate = asyncio.Event()
    async with webhook_bot(tmp_path, patience=0.5) as (server, running, url):
        running.app.add_handler(_gated(runs, gate, refuse=1), group=-10)
        update = {"update_id": 7, "message": server.world.user_sends(MEMBER, MEMBER, "slow")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, post, url, update, "s3cret")
        gate.set()  # the handler goes on past the answer, and its write is refused
        await settle(lambda: running.app.update_queue.in_flight == 0)  # type: ignore[attr-defined]
        assert first != 200, "answered 200, then its write was refused: Telegram forgot an update never stored"
        assert runs == [7]
        assert await loop.run_in_executor(None, post, url, update, "s3cret") == 200  # Telegram sends it again
        assert runs == [7, 7]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_lasting_webhook_refusal_is_given_up_after_store_retries(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A write refused every time (disk full): as in polling, the update is handled 1 + STORE_RETRIES times, then
    answered 200 (so its chat's next updates come) with an error in the log; later resends are not handled."""
    runs: list[int] = []
    gate = asyncio.Event()
    gate.set()
    async with webhook_bot(tmp_path) as (server, running, url):
        running.app.add_handler(_gated(runs, gate, refuse=1000), group=-10)
        update = {"update_id": 11, "message": server.world.user_sends(MEMBER, MEMBER, "slow")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        codes = [await loop.run_in_executor(None, post, url, update, "s3cret") for _ in range(STORE_RETRIES + 3)]
    assert codes == [503] * STORE_RETRIES + [200, 200, 200]
    assert len(runs) == STORE_RETRIES + 1
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "bot.fetcher"]
    assert "update 11" in error.getMessage() and "giving up" in error.getMessage()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_handling_past_the_give_up_bound_is_answered_200_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A hung handler: its POSTs are answered 503 until the give-up bound, then 200 with an ERROR naming the update
    (not its content), so that it cannot hold its chat's next updates back for the day Telegram keeps it."""
    runs: list[int] = []
    gate = asyncio.Event()
    async with webhook_bot(tmp_path, patience=0.3, give_up=3.0) as (server, running, url):
        running.app.add_handler(_gated(runs, gate), group=-10)
        update = {"update_id": 21, "message": server.world.user_sends(MEMBER, MEMBER, "slow")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        try:
            assert await loop.run_in_executor(None, post, url, update, "s3cret") == 503
            await asyncio.sleep(3.0)  # past the give-up bound since the first POST (ten times the cap)
            assert await loop.run_in_executor(None, post, url, update, "s3cret") == 200
        finally:
            gate.set()
    assert runs == [21]
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "bot.fetcher"]
    assert "update 21" in error.getMessage() and "slow" not in error.getMessage()


def _posting(svc: Services, runs: list[int]) -> MessageHandler[Any, Any]:
    """A handler for the text "store" that posts a write without waiting for it (as a quiz answer does:
    `StoreWorker.post`), which SQLite refuses on its first run ("database is locked"); it counts its runs."""

    async def store(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        runs.append(update.update_id)
        first = len(runs) == 1

        def write(s: Store) -> None:
            if first:
                raise sqlite3.OperationalError("database is locked")
            s.ensure_group(GROUP, "学习小组")

        svc.db.post(write)
        raise ApplicationHandlerStop

    return MessageHandler(filters.Regex("^store$"), store)


async def test_an_update_whose_posted_write_failed_is_not_confirmed_but_handled_again(tmp_path: Path) -> None:
    """Polling: the handler ended before its posted write failed. The update did not store what it did, so it is
    not confirmed but handled again, as after an awaited write that failed."""
    runs: list[int] = []
    async with bot_running(tmp_path, rate_limit=False) as h:
        h.running.app.add_handler(_posting(h.svc, runs), group=-10)
        h.standin.user_sends(MEMBER, MEMBER, "store")
        await settle(lambda: _stored_groups(tmp_path) == 1)  # the write lost with the first run was done again
        await settle(lambda: not h.world.updates)
        assert len(runs) == 2


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_update_whose_posted_write_failed_is_answered_503_and_handled_again(tmp_path: Path) -> None:
    runs: list[int] = []
    async with webhook_bot(tmp_path) as (server, running, url):
        running.app.add_handler(_posting(running.svc, runs), group=-10)
        update = {"update_id": 4, "message": server.world.user_sends(MEMBER, MEMBER, "store")}
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, post, url, update, "s3cret")
        assert first != 200, "answered 200 for an update whose posted write failed: Telegram forgets it"
        assert await loop.run_in_executor(None, post, url, update, "s3cret") == 200  # Telegram sends it again
        assert runs == [4, 4] and _stored_groups(tmp_path) == 1


async def test_a_409_conflict_is_explained_and_polling_resumes_when_it_clears(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Another instance polling (or a webhook set) answers getUpdates with 409: the log says what to do, and the
    fetcher keeps retrying with back-off instead of stopping."""
    async with bot_running(tmp_path) as h:
        h.standin.api.webhook_url = "https://elsewhere.example/hook"  # getUpdates now answers 409
        h.standin.user_sends(ADMIN, ADMIN, "/toc")  # ends a long poll under way; the next one meets the conflict
        await settle(lambda: any("409 Conflict" in r.getMessage() for r in caplog.records))
        h.standin.api.webhook_url = ""
        await h.standin.wait_for_sent(ADMIN, 1, timeout=10)  # fetched after the conflict, if not before
        [reply] = await h.say(ADMIN, ADMIN, "/toc", timeout=10)
        assert reply.text
    conflict = next(r for r in caplog.records if "409 Conflict" in r.getMessage())
    assert "only one" in conflict.getMessage() or "one polling instance" in conflict.getMessage()
