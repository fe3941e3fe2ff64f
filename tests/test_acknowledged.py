"""What is acknowledged to Telegram (the getUpdates offset) must be handled and stored first (bot/fetcher.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.fetcher import HandledQueue
from bot.runner import start, stop
from bot.services import build_services
from bot.standin import StandIn
from tests.botkit import ADMIN, GROUP, MEMBER, TOKEN, bot_running, make_config, settle
from tests.test_webhook import free_port, post


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
    port = free_port()
    url = f"http://127.0.0.1:{port}/studybot/hook"
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        config = make_config(tmp_path, telegram={"mode": "webhook", "webhook": {
            "listen": "127.0.0.1", "port": port, "url": url, "secret_token": "s3cret"}})
        svc = build_services(config)
        running = await start(svc, base_url=server.base_url)
        try:
            server.world.add_bot_to_group(GROUP, "学习小组", by_user=ADMIN)
            updates = list(server.world.updates)  # what Telegram would POST, one at a time
            server.world.updates.clear()
            joined = next(u for u in updates if "my_chat_member" in u)
            loop = asyncio.get_running_loop()
            svc.db.store.guard.acquire()  # the store thread cannot start its next batch
            try:
                answer = loop.run_in_executor(None, post, url, joined, "s3cret")
                await asyncio.sleep(1.0)
                answered_early = answer.done()
                stored_early = _stored_groups(tmp_path)
            finally:
                svc.db.store.guard.release()
            assert await answer == 200
            assert not answered_early and stored_early == 0
            assert _stored_groups(tmp_path) == 1  # stored by the time Telegram heard back
        finally:
            await stop(running)
            svc.db.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_handler_past_the_cap_is_answered_anyway_finishes_and_holds_up_no_other_post(
        tmp_path: Path) -> None:
    """A handler that outlasts the answer cap (its reply is carried out only 6 s later): its POST is answered at the
    cap, another chat's POST meanwhile is answered and served at once, Telegram sending the slow update again does
    not handle it twice, and the slow reply still goes out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/studybot/hook"
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        config = make_config(tmp_path, telegram={"mode": "webhook", "webhook": {
            "listen": "127.0.0.1", "port": port, "url": url, "secret_token": "s3cret"}})
        svc = build_services(config)
        running = await start(svc, base_url=server.base_url)
        queue = running.app.update_queue
        assert isinstance(queue, HandledQueue)
        queue.patience = 3.0  # the cap, shortened for the test (the handler's delay is twice it)
        loop = asyncio.get_running_loop()
        try:
            slow = {"update_id": 1, "message": server.world.user_sends(MEMBER, MEMBER, "/toc")}
            other = {"update_id": 2, "message": server.world.user_sends(ADMIN, ADMIN, "/toc")}
            server.world.updates.clear()  # delivered by webhook below, not by getUpdates
            arrived = server.stats.requests_by_method["sendMessage"]
            server.delay_next("sendMessage", 6.0, deliver=False)  # carried out only when the 6 s are over
            slow_answer = loop.run_in_executor(None, post, url, slow, "s3cret")
            await settle(lambda: server.stats.requests_by_method["sendMessage"] > arrived)  # the handler waits
            assert await loop.run_in_executor(None, post, url, other, "s3cret") == 200
            assert len(server.sent(ADMIN)) == 1  # served while the slow POST is still open
            assert not slow_answer.done()
            assert await slow_answer == 200  # answered at the cap, not when the handler ends
            assert server.sent(MEMBER) == []  # the handler is still at work
            assert await loop.run_in_executor(None, post, url, slow, "s3cret") == 200  # Telegram sends it again
            await server.wait_for_sent(MEMBER, 1, timeout=10)  # the slow reply was not lost
            await settle(lambda: running.app.update_processor.current_concurrent_updates == 0)
            assert len(server.sent(MEMBER)) == 1 and len(server.sent(ADMIN)) == 1  # each handled once
        finally:
            await stop(running)
            svc.db.close()


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
