"""bot/fetcher.UpdatesRequest: the vote counts Telegram sends after every vote of an open poll are confirmed with
their batch but never parsed or handled; a closed poll's update still reaches the handlers and moves the round on."""

from __future__ import annotations

import json
from pathlib import Path

from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.app import vote_counts
from bot.fetcher import IGNORED, UpdatesRequest
from tests.botkit import ADMIN, GROUP, MEMBER, add_group, bot_running, settle, stuck_handler

ALICE, BOB = 31, 32


async def test_open_poll_vote_counts_are_confirmed_unhandled_and_a_closed_poll_moves_the_round_on(
        tmp_path: Path) -> None:
    seen: list[Update] = []

    async def look(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    async with bot_running(tmp_path) as h:
        await add_group(h)
        h.running.app.add_handler(TypeHandler(Update, look), group=-100)  # before every handler of the bot
        await h.say(GROUP, ALICE, "/quiz 2 all", replies=2)
        [first] = await h.standin.wait_for_sent(GROUP, 1, method="sendPoll")
        assert first.poll is not None
        poll_id, right = str(first.poll["id"]), [int(i) for i in first.poll["correct_option_ids"]]
        world = h.standin.world
        world.user_answers_poll(poll_id, ALICE, right)  # each vote: a poll_answer and a poll update (the counts)
        world.user_answers_poll(poll_id, BOB, right)
        await settle(lambda: len(h.svc.store.chat_scores(GROUP)) == 2 and not world.updates)  # all confirmed
        assert [u.poll_answer.user.id for u in seen if u.poll_answer is not None] == [ALICE, BOB]
        assert not [u for u in seen if u.poll is not None], "an open poll's vote counts reached the handlers"
        assert not [u for u in seen if u.api_kwargs and IGNORED in u.api_kwargs], \
            "the marker of left-out vote counts was dispatched"

        world.close_poll(poll_id)
        await h.standin.wait_for_sent(GROUP, 2, method="sendPoll")  # the round moved on to its second question
        assert [u.poll.id for u in seen if u.poll is not None and u.poll.is_closed] == [poll_id]


def test_only_an_open_polls_bare_vote_counts_are_ignored() -> None:
    poll = {"id": "p", "question": "q", "options": [], "is_closed": False}
    assert vote_counts({"update_id": 1, "poll": poll})
    assert not vote_counts({"update_id": 1, "poll": {**poll, "is_closed": True}})
    assert not vote_counts({"update_id": 1, "poll": {k: v for k, v in poll.items() if k != "is_closed"}})
    assert not vote_counts({"update_id": 1, "poll": poll, "message": {}})  # never seen; kept whole if it were
    assert not vote_counts({"update_id": 1, "poll_answer": {"poll_id": "p"}})


def counts(update_id: int) -> dict[str, object]:
    return {"update_id": update_id, "poll": {"id": "p", "question": "q", "options": [], "is_closed": False}}


def test_the_vote_counts_of_a_batch_come_as_one_update_that_says_how_many_they_were() -> None:
    answer = {"update_id": 2, "poll_answer": {"poll_id": "p", "option_ids": [0]}}
    closed = {"update_id": 5, "poll": {"id": "p", "question": "q", "options": [], "is_closed": True}}
    request = UpdatesRequest(vote_counts)
    batch = [counts(1), answer, counts(3), counts(4), closed, counts(6), answer | {"update_id": 7}]
    result = request.parse_json_payload(json.dumps({"ok": True, "result": batch}).encode())["result"]
    # the ones left out are older than the one that stands for them: the offset moves past them all
    assert result == [answer, closed, {"update_id": 6, IGNORED: 4}, answer | {"update_id": 7}]
    untouched = [answer, closed]
    assert request.parse_json_payload(json.dumps({"ok": True, "result": untouched}).encode())["result"] == untouched


async def test_a_stuck_handler_behind_a_window_of_vote_counts_does_not_make_the_bot_deaf(tmp_path: Path) -> None:
    """The window is full (100 updates) though only two of them reach PTB: the stuck one and the one that stands
    for the vote counts. The fetcher must still see a full window and confirm past the stuck update."""
    async with bot_running(tmp_path, rate_limit=False) as h, stuck_handler(h):
        h.standin.user_sends(MEMBER, MEMBER, "hang")
        for _ in range(120):
            h.standin.world.enqueue("poll", counts(0)["poll"])  # type: ignore[arg-type]
        [reply] = await h.say(ADMIN, ADMIN, "/toc", timeout=15)  # fetched while the stuck one still hangs
        assert reply.text
