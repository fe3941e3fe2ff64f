"""bot/fetcher.py under faults: a handler that never finishes must not make the bot deaf.

getUpdates returns at most 100 updates from the offset on, and the fetcher keeps the offset at the oldest update
still being handled. Once 100 newer updates are behind a stuck one, every getUpdates returns only updates already
handed on: nothing new is ever fetched again until the stuck handler ends (a reply waiting a minute for its group's
flood budget in a busy bot; a handler that hangs forever makes the bot deaf for good).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bot.runner import start, stop
from bot.services import build_services
from bot.standin import StandIn
from tests.botkit import (
    ADMIN,
    GROUP,
    MEMBER,
    TOKEN,
    Harness,
    bot_running,
    make_config,
    post,
    refuse_first_group_write,
    settle,
    stuck_handler,
    webhook_bot,
)


async def test_a_stuck_handler_does_not_stop_new_updates_from_being_fetched(tmp_path: Path) -> None:
    async with bot_running(tmp_path, rate_limit=False) as h, stuck_handler(h):
        h.standin.user_sends(MEMBER, MEMBER, "hang")
        users = range(1000, 1120)  # a busy bot: more than one getUpdates window of updates behind the stuck one
        for user in users:
            h.standin.user_sends(user, user, "/toc")
        await settle(lambda: sum(1 for u in users if h.standin.sent(u)) >= 99, timeout=20)
        # The update after the full window is fetched and answered while the stuck one still hangs.
        [reply] = await h.say(ADMIN, ADMIN, "/toc", timeout=15)
        assert reply.text


async def test_updates_after_a_stuck_one_that_was_confirmed_past_are_confirmed_once_handled(tmp_path: Path) -> None:
    """Once a full window behind a stuck handler made the fetcher confirm past it, the stuck one holds nothing back
    any more: what comes after is confirmed as soon as it is handled. It used to stay at Telegram's side, sent
    again with every poll (every patience seconds) until another 100 updates had piled up behind it."""
    async with bot_running(tmp_path, rate_limit=False) as h, stuck_handler(h) as release:
        h.standin.user_sends(MEMBER, MEMBER, "hang")
        users = range(1000, 1120)  # more than a getUpdates window behind the stuck one
        for user in users:
            h.standin.user_sends(user, user, "/toc")
        await settle(lambda: all(h.standin.sent(u) for u in users), timeout=30)
        await h.say(ADMIN, ADMIN, "/toc", timeout=15)
        # Everything handled is confirmed while the stuck one still hangs (it was confirmed past earlier).
        await settle(lambda: not h.world.updates, timeout=10)
        assert not release.is_set()


async def test_an_update_whose_store_write_failed_is_not_confirmed_as_handled(tmp_path: Path) -> None:
    """A handler whose write SQLite refused ("database is locked" past busy_timeout: another process's long write)
    did not handle its update. The fetcher confirms it all the same (PTB's process_update swallows the error), so
    Telegram forgets an update the bot never stored, where not confirming it would have had it sent again."""
    async with bot_running(tmp_path, rate_limit=False) as h:
        refused = refuse_first_group_write(h.svc.db.store)
        h.standin.add_bot_to_group(GROUP, "学习小组", by_user=ADMIN)
        await settle(lambda: refused)
        await h.say(ADMIN, ADMIN, "/toc")  # a later update, handled and confirmed
        await settle(lambda: not h.world.updates or _stored(h))
        # Either the group got stored after all (the update handled again), or Telegram still has the update.
        assert _stored(h) or any("my_chat_member" in u for u in h.world.updates), \
            "the bot told Telegram it has an update whose write failed"


def _stored(h: Harness) -> bool:
    return h.svc.store.group(GROUP) is not None


async def test_stop_with_a_handler_that_never_ends_still_stops_and_leaves_its_update_for_the_next_process(
        tmp_path: Path) -> None:
    """SIGTERM while a handler hangs: the bot must still stop (a supervisor would otherwise kill it mid-write), and
    the unfinished update must stay unconfirmed so that the next process handles it."""
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        svc = build_services(make_config(tmp_path))
        running = await start(svc, base_url=server.base_url, rate_limit=False)
        never = asyncio.Event()

        async def hang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await never.wait()

        running.app.add_handler(MessageHandler(filters.Regex("^hang$"), hang), group=-10)
        try:
            server.user_sends(MEMBER, MEMBER, "hang")
            await settle(lambda: running.fetcher is not None and running.fetcher._handling)
            stopped = asyncio.ensure_future(stop(running))
            done, _ = await asyncio.wait([stopped], timeout=30)
            assert done, "stop() never returned: a handler that never ends blocks the shutdown"
            assert [u["message"]["text"] for u in server.world.updates if "message" in u] == ["hang"]
        finally:
            never.set()
            with contextlib.suppress(Exception):
                await stopped
            svc.db.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_webhook_post_whose_store_write_failed_is_not_answered_ok(tmp_path: Path) -> None:
    """Webhook mode: Telegram forgets an update once its POST is answered 200. A handler whose write SQLite refused
    did not store it: the answer must make Telegram send it again (which then stores it)."""
    async with webhook_bot(tmp_path) as (server, running, url):
        store = running.svc.db.store
        refused = refuse_first_group_write(store)
        server.world.add_bot_to_group(GROUP, "学习小组", by_user=ADMIN)
        joined = next(u for u in server.world.updates if "my_chat_member" in u)
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, post, url, joined)
        assert refused
        assert first != 200, "answered 200 for an update whose write failed: Telegram forgets it"
        again = await loop.run_in_executor(None, post, url, joined)  # Telegram sends it again
        assert again == 200 and store.group(GROUP) is not None


async def test_a_busy_batch_is_fetched_once_while_its_handlers_keep_finishing(tmp_path: Path) -> None:
    """A burst whose handlers take longer in all than the fetcher's patience, one finishing after the other: each
    update comes from Telegram once. Polling after a fixed wait instead confirmed only the finished ones, and
    Telegram sent every unfinished one again, each parsed again only to be skipped (2.4 updates parsed per command
    handled in the commands burst bench)."""
    async with bot_running(tmp_path, rate_limit=False) as h:
        fetcher = h.running.fetcher
        assert fetcher is not None
        fetcher.patience = 1.0  # no handler finished for a second: one is slow, fetch on (never the case here)
        step = 0.2  # a handler finishes every 0.2 s: 10 of them take 2 s, twice the patience
        sent: Counter[int] = Counter()
        real = h.world.get_updates

        async def get_updates(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            updates = await real(*args, **kwargs)
            sent.update(u["update_id"] for u in updates)
            return updates

        h.world.get_updates = get_updates

        async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None and update.message.text is not None
            await asyncio.sleep(step * int(update.message.text.split()[1]))

        h.running.app.add_handler(MessageHandler(filters.Regex(r"^slow \d+$"), slow), group=-10)
        users = range(2000, 2010)
        for n, user in enumerate(users, start=1):  # in one go: one getUpdates brings them all
            h.standin.user_sends(user, user, f"slow {n}")
        await settle(lambda: all(h.standin.sent(u) for u in users), timeout=20)
        await settle(lambda: not h.world.updates)  # all handled and confirmed
        assert len(sent) == len(users)
        assert set(sent.values()) == {1}, f"updates fetched again while being handled: {sent}"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_webhook_stop_with_a_handler_that_never_ends_still_stops(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """As the polling test above, in webhook mode: PTB's Application.stop waits for every handler without a limit,
    so one hung handler would hang SIGTERM. Stop waits STOP_PATIENCE for it, then cancels it and says so (its POST
    was answered 503: Telegram sends the update again to the next process)."""
    never = asyncio.Event()

    async def hang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await never.wait()

    stopped: asyncio.Future[None] | None = None
    async with webhook_bot(tmp_path, patience=0.5, stop_patience=0.5) as (server, running, url):
        running.app.add_handler(MessageHandler(filters.Regex("^hang$"), hang), group=-10)
        try:
            update = {"update_id": 5, "message": server.world.user_sends(MEMBER, MEMBER, "hang")}
            server.world.updates.clear()
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, post, url, update, "s3cret") == 503
            stopped = asyncio.ensure_future(stop(running))
            done, _ = await asyncio.wait([stopped], timeout=30)
            assert done, "stop() never returned: one hung handler blocks the shutdown in webhook mode"
        finally:
            never.set()
            if stopped is not None:
                with contextlib.suppress(Exception):
                    await stopped
    assert any("1 update(s) still being handled" in r.getMessage() for r in caplog.records)
