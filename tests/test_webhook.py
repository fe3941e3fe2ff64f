"""Webhook mode: the real PTB webhook server receives an update (secret checked) and the bot answers it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.config import ConfigError
from bot.standin.state import PollState
from tests.botkit import GROUP, MEMBER, TOKEN, debug_log, make_config, post, webhook_bot


@pytest.fixture
def run_log() -> Iterator[io.StringIO]:
    with debug_log(TOKEN) as buffer:
        yield buffer


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_webhook_mode_serves_updates_with_the_secret_token(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path) as (server, _running, url):
        message = server.world.user_sends(GROUP, MEMBER, "/toc")
        server.world.updates.clear()  # delivered by webhook below, not by getUpdates
        update = {"update_id": 1, "message": message}
        loop = asyncio.get_running_loop()
        refused = await loop.run_in_executor(None, post, url, update, "wrong")
        assert refused == 403
        accepted = await loop.run_in_executor(None, post, url, update)
        assert accepted == 200
        [reply] = await server.wait_for_sent(GROUP, 1)
        assert "〔1.1〕" in (reply.text or "")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_without_a_configured_secret_a_random_one_is_made_and_updates_without_it_are_refused(
        tmp_path: Path, run_log: io.StringIO) -> None:
    """Issue 9, case 9: a forged anonymous-admin /subscribe posted to the URL is refused; the real one is served."""
    async with webhook_bot(tmp_path, secret=None) as (server, running, url):
        secret = server.api.webhook_secret  # what setWebhook told "Telegram"
        assert len(secret) >= 32
        forged = server.world.user_sends(GROUP, 1087968824, "/subscribe", anonymous_admin=True)
        server.world.updates.clear()
        loop = asyncio.get_running_loop()
        update = {"update_id": 1, "message": forged}
        assert await loop.run_in_executor(None, post, url, update, None) == 403
        assert await loop.run_in_executor(None, post, url, update, "guessed") == 403
        await asyncio.sleep(0.2)
        assert server.sent(GROUP) == []  # nothing was done for the forged update
        group = await running.svc.db(lambda s: s.group(GROUP))
        assert group is None or not group.subscribed
        message = server.world.user_sends(GROUP, MEMBER, "/toc")
        server.world.updates.clear()
        assert await loop.run_in_executor(None, post, url, {"update_id": 2, "message": message}, secret) == 200
        [reply] = await server.wait_for_sent(GROUP, 1)
        assert "〔1.1〕" in (reply.text or "")
        config = running.svc.config
    text = run_log.getvalue()
    assert "setWebhook" in text and "secret_token" in text  # the capture saw PTB's DEBUG lines of the call
    assert "secret_token is not set" in text  # said at start-up ...
    assert secret not in text  # ... without printing it
    assert secret not in repr(config) and secret not in repr(running.app)


def test_a_configured_secret_is_not_in_the_config_repr(tmp_path: Path) -> None:
    config = make_config(tmp_path, telegram={"mode": "webhook", "webhook": {
        "url": "https://example.org/hook", "secret_token": "s3cret-value_1"}})
    assert config.telegram.webhook.secret_token == "s3cret-value_1"
    assert "s3cret-value_1" not in repr(config) and "s3cret-value_1" not in str(config)


@pytest.mark.parametrize("value", ["has space", "x" * 257, 12345])
def test_a_bad_secret_is_reported_without_repeating_it(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, telegram={"webhook": {"url": "https://example.org/hook", "secret_token": value}})
    assert "telegram.webhook.secret_token" in str(caught.value)
    assert str(value) not in str(caught.value)


def test_a_derived_secret_is_the_same_in_every_replica_and_unguessable_without_the_token() -> None:
    """Two webhook replicas (or the old and new process of a rolling deploy) each call setWebhook at start-up: with a
    secret made at random per run the later one re-keys Telegram and the other refuses every update it is sent."""
    from bot.runner import webhook_secret

    first, second = webhook_secret("", TOKEN), webhook_secret("", TOKEN)
    assert first == second and len(first) == 43
    assert webhook_secret("", TOKEN.replace("0", "1")) != first
    assert TOKEN not in first and first not in repr(first)
    assert webhook_secret("s3cret", TOKEN) == "s3cret"


def test_the_secret_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's webhook handler checks `header != secret`: the secret's own comparison runs, and it is compare_digest."""
    import hmac

    from bot import runner

    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(runner.hmac, "compare_digest", spy)
    secret = runner.webhook_secret("s3cret", TOKEN)
    header = "guessed"  # a plain str on the left, as in PTB's handler
    assert header != secret
    assert "s3cret" == secret  # noqa: SIM300
    assert calls == [(b"s3cret", b"guessed"), (b"s3cret", b"s3cret")]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_an_open_polls_vote_counts_are_answered_200_undispatched_and_a_closed_polls_update_is_handled(
        tmp_path: Path) -> None:
    """As in polling (tests/test_fetcher_votes.py): the poll update Telegram sends after every vote of an open poll
    is left out before PTB parses it, yet answered 200 (or Telegram would send it again); a closed poll's is not."""
    seen: list[Update] = []

    async def look(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    poll = PollState(id="5000", chat_id=GROUP, message_id=7, question="问题", options=["甲", "乙"], type="quiz",
                     is_anonymous=False, allows_multiple_answers=False, correct_option_ids=(0,), votes={MEMBER: (0,)})
    async with webhook_bot(tmp_path) as (_server, running, url):
        running.app.add_handler(TypeHandler(Update, look), group=-100)  # before every handler of the bot
        loop = asyncio.get_running_loop()
        counts = {"update_id": 1, "poll": poll.to_api()}
        assert await loop.run_in_executor(None, post, url, counts, "wrong") == 403  # the secret is checked first
        assert await loop.run_in_executor(None, post, url, counts) == 200
        poll.is_closed = True
        closed = {"update_id": 2, "poll": poll.to_api()}
        assert await loop.run_in_executor(None, post, url, closed) == 200  # answered once handled (HandledQueue)
        assert [(u.update_id, u.poll.is_closed) for u in seen if u.poll is not None] == [(2, True)]
        assert [u.update_id for u in seen] == [2]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_without_ptbs_server_to_reach_the_webhook_still_serves_every_update_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The vote-count filter and the Retry-After header reach into PTB's webhook server (it gives no hook for them).
    Should a PTB release move it, the bot must still serve: the filter and the header are left off, with a
    warning, and an open poll's vote counts are parsed and dispatched as PTB alone would."""
    import bot.fetcher

    monkeypatch.setattr(bot.fetcher, "_webhook_app", lambda app: None)
    seen: list[Update] = []

    async def look(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    poll = PollState(id="5000", chat_id=GROUP, message_id=7, question="问题", options=["甲", "乙"], type="quiz",
                     is_anonymous=False, allows_multiple_answers=False, correct_option_ids=(0,), votes={MEMBER: (0,)})
    with caplog.at_level("WARNING", logger="bot.fetcher"):
        async with webhook_bot(tmp_path) as (server, running, url):
            running.app.add_handler(TypeHandler(Update, look), group=-100)
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, post, url, {"update_id": 1, "poll": poll.to_api()}) == 200
            message = server.world.user_sends(GROUP, MEMBER, "/toc")
            server.world.updates.clear()
            assert await loop.run_in_executor(None, post, url, {"update_id": 2, "message": message}) == 200
            [reply] = await server.wait_for_sent(GROUP, 1)
    assert "〔1.1〕" in (reply.text or "")
    assert [u.update_id for u in seen] == [1, 2]  # the vote counts were dispatched: no filter
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.fetcher"]
    assert any("every update is parsed and dispatched" in w for w in warnings)
    assert any("without Retry-After" in w for w in warnings)
