"""Bad input through the real bot and the stand-in: hostile command arguments, odd updates, floods, non-admins.

The stand-in checks every HTML message like Telegram and answers a broken one with 400, so "each command gets a
reply" also proves that what the bot sent was well-formed; an ERROR log record means a handler crashed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, build_config
from bot.standin.state import DEFAULT_ALLOWED, World
from content.questions import QuestionBankError, parse_bank
from schedules.clock import FakeClock
from tests.botkit import ADMIN, GROUP, MEMBER, ErrorRecords, Harness, add_group, bot_running, fast_retries, settle

MAX_MESSAGE = 4096
QUIET_HOUR = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai: past the 08:00 push and its grace
HOSTILE = [
    # SQL and FTS5 syntax
    "'; DROP TABLE groups; --", "\" OR 1=1 --", "1; DELETE FROM deliveries", 'NEAR("学习" "党组织", 2)',
    "学习 AND NOT 党", "学习 OR", '"', '""', "*", "-学习", "^学习", "text:学习", "{学习 党}", "学习*", "(", ")",
    # HTML and Markdown that would break a parse mode if echoed raw
    "<b>", "</b>", "<b><i>x</b></i>", '<a href="javascript:alert(1)">x</a>', "<script>x</script>", "&", "&amp;",
    "&#0;", "&#xFFFFFF;", "&bogus;", "<", ">", "<<>>", "<tg-spoiler>", "*bold* _it_ `code` [l](http://x) ~s~ ||sp||",
    "\\", "%s %d {0} {}", "${HOME}",
    # bidi marks, zero-width characters, emoji, control characters
    "\u202e\u200f反向\u200e", "\u200b\u200c\u200d\u2060", "\ufeff二、3", "👨‍👩‍👧‍👦🇨🇳🏳️‍🌈", "\x00\x01\x07\x1b[31m",
    "\r\n\t\x0b\x0c", "\u0085\u2028\u2029", "\U0010ffff", "二\u0301、3",
    # numbers and look-alikes of valid arguments
    "-1", "0", "00", "999999999999999999999999", "1e309", "NaN", "inf", "2.3", "2.3.4", "二、3", "第二部分", "开头",
    "结语", "９.９", "〔2.3〕", "25:99", "07:30", "7:5", "24:00", "-01:00", "０７：３０", "Asia/Shanghai",
    "../../etc/passwd", "Etc/GMT+99", "UTC", "localtime", "/", "工作日", "周一,周八", "周日-周一", "一二三四五六日八",
    "day 0", "第0天", "第99999天", "第-1天", "today", "all", "week", "10 all", "0 all", "11", "3 9.9", "5 today 2.3",
    # long strings
    "啊" * 4000, "a" * 4080, "1" * 400, "<b>" * 1000, "&amp;" * 800, "二、3 " * 700,
]

# Every Unicode scalar value except surrogates (which cannot travel as UTF-8).
ANY_CHAR = st.characters(exclude_categories=["Cs"])
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(ANY_CHAR, max_size=80),
    st.lists(st.one_of(st.sampled_from(HOSTILE[:60]), st.text(ANY_CHAR, max_size=12)), max_size=5).map(" ".join),
    st.builds(lambda piece, n: piece * n, st.text(ANY_CHAR, min_size=1, max_size=4), st.integers(300, 4100)),
)
COMMANDS = ["section", "search", "quiz", "settime", "timezone", "days", "goto", "leaderboard"]
ADMIN_COMMANDS = ["/subscribe", "/unsubscribe", "/settime 06:15", "/timezone Europe/London", "/days 周末",
                  "/pause", "/resume", "/goto 5", "/goto 二、3"]
REFUSAL = "只有群管理员"
FRESH = itertools.count(700_000)  # a fresh chat and member per example: no throttle or chat state carries over
HTTP_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
async def harness(tmp_path: Path, errors: ErrorRecords) -> AsyncIterator[Harness]:
    # No client-side rate limiter: hundreds of replies a minute must not wait for per-group flood budgets.
    # A fixed clock far from any push time: no daily push changes the database behind a test's back.
    async with bot_running(tmp_path, rate_limit=False, clock=FakeClock(QUIET_HOUR)) as h:
        yield h
    assert errors.messages() == []


def command_line(command: str, arg: str) -> str:
    return f"/{command} {arg}"[:MAX_MESSAGE]


@pytest.mark.parametrize("command", COMMANDS)
@HTTP_SETTINGS
@given(arg=hostile_text, in_group=st.booleans())
async def test_every_hostile_argument_gets_a_well_formed_reply_and_logs_no_error(
        harness: Harness, errors: ErrorRecords, command: str, arg: str, in_group: bool) -> None:
    user = next(FRESH)
    chat = -user if in_group else user  # a private chat is its own admin: the settings commands run for real
    [reply] = await harness.say(chat, user, command_line(command, arg))
    assert reply.text, f"/{command} got an empty reply"
    assert errors.messages() == []


def _let_every_update_through(world: World, extra: set[str]) -> None:
    """Telegram only sends the update types the bot asked for; here the stand-in sends the others too."""
    original = world.get_updates
    world.allowed_updates = DEFAULT_ALLOWED | extra

    async def get_updates(offset: int | None, limit: int, timeout: float, allowed: Any) -> list[dict[str, Any]]:
        return await original(offset, limit, timeout, None)

    world.get_updates = get_updates  # type: ignore[method-assign]


async def test_malformed_and_unexpected_updates_are_ignored_and_the_bot_keeps_answering(
        harness: Harness, errors: ErrorRecords) -> None:
    world = harness.world
    await add_group(harness)
    _let_every_update_through(world, {"edited_message", "channel_post", "message_reaction", "future_kind"})
    chat = world.chat_api(world.chat(GROUP))
    member = world.user(MEMBER).to_api()
    base = {"date": 1, "chat": chat, "from": member}

    def message(**fields: Any) -> dict[str, Any]:
        return {"message_id": world.chat(GROUP).new_message_id(), **base, **fields}

    world.enqueue("edited_message", {**message(text="/section 9.9"), "edit_date": 2})
    world.enqueue("message", message(dice={"emoji": "🎲", "value": 3}))
    world.enqueue("message", message(location={"latitude": 39.9, "longitude": 116.4}))
    world.enqueue("message", message(photo=[{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}],
                                     caption="/toc <b>"))
    world.enqueue("message", message(new_chat_title="改名"))
    world.enqueue("message", message(left_chat_member=world.user(33).to_api()))
    no_sender = message(text="/subscribe")
    del no_sender["from"]
    world.enqueue("message", no_sender)
    world.enqueue("message", message(text="/"))
    world.enqueue("message", message(text="/@studybot_test_bot"))
    world.enqueue("channel_post", {"message_id": 1, "date": 1, "text": "/toc",
                                   "chat": {"id": -100777, "type": "channel", "title": "频道"}})
    world.enqueue("poll", {"id": "no-such-poll", "question": "?", "options": [], "total_voter_count": 0,
                           "is_closed": True, "is_anonymous": False, "type": "quiz",
                           "allows_multiple_answers": False, "allows_revoting": False, "members_only": False})
    world.enqueue("poll_answer", {"poll_id": "no-such-poll", "user": member, "option_ids": [],
                                  "option_persistent_ids": []})
    world.enqueue("poll_answer", {"poll_id": "no-such-poll", "voter_chat": chat, "option_ids": [0],
                                  "option_persistent_ids": ["x"]})
    world.enqueue("message_reaction", {"chat": chat, "message_id": 1, "date": 1, "user": member,
                                       "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]})
    world.enqueue("future_kind", {"anything": [1, 2, {"x": None}]})
    world.user_blocks_bot(MEMBER)  # my_chat_member from a private chat the bot never saw
    greeting = world.sent(GROUP)[0].message_id
    # Each press by another member: the throttle drops a flooding member's presses without answering them.
    presses = ("sec:9.9", "sec:", "sec:1.1\x00", "x" * 64, "toc ", "<b>", "sec:../../", "")
    queries = [world.user_presses(GROUP, 500 + i, greeting, data) for i, data in enumerate(presses)]
    await settle(lambda: not world.updates)  # every update was taken: none made the bot re-fetch a batch
    await settle(lambda: all(world.callback_answers[q] is not None for q in queries))  # no spinner left turning
    [toc] = await harness.say(GROUP, ADMIN, "/toc")
    assert "〔1.1〕" in (toc.text or "")
    assert errors.messages() == []


def _snapshot(h: Harness) -> dict[str, list[dict[str, Any]]]:
    db = h.svc.store.db
    # Not the roster (members): it learns every sender by design, refused ones too.
    return {table: list(db.query(f"SELECT * FROM {table} ORDER BY 1, 2"))
            for table in ("groups", "ledger_progress", "ledger_days", "rounds", "polls", "answers", "checkins",
                          "excuses", "reminders")}


async def test_a_member_trying_every_admin_command_is_refused_and_nothing_changes(
        harness: Harness, errors: ErrorRecords) -> None:
    await add_group(harness)
    await harness.say(GROUP, ADMIN, "/subscribe")
    before = _snapshot(harness)
    for command in ADMIN_COMMANDS:
        [refused] = await harness.say(GROUP, MEMBER, command)
        assert REFUSAL in (refused.text or ""), command
    # A member posting as some channel is not an anonymous admin of this group either.
    world = harness.world
    before_sent = len(world.sent(GROUP))
    world.enqueue("message", {
        "message_id": world.chat(GROUP).new_message_id(), "date": 1, "chat": world.chat_api(world.chat(GROUP)),
        "text": "/subscribe", "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
        "from": {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"},
        "sender_chat": {"id": -1001555, "type": "channel", "title": "别的频道"}})
    [refused] = (await world.wait_for_sent(GROUP, before_sent + 1))[before_sent:]
    assert REFUSAL in (refused.text or "")
    assert _snapshot(harness) == before
    [done] = await harness.say(GROUP, ADMIN, "/pause")  # the same commands do work for the admin
    assert REFUSAL not in (done.text or "")
    group = harness.svc.store.group(GROUP)
    assert group is not None and group.paused
    assert errors.messages() == []


async def test_admin_check_fails_closed_when_telegram_cannot_say_who_the_admins_are(
        harness: Harness, errors: ErrorRecords) -> None:
    await add_group(harness, chat_id=-4321)
    before = _snapshot(harness)
    attempts = fast_retries(harness).attempts  # every attempt fails: Telegram cannot say
    harness.standin.fail_next("getChatAdministrators", 500, count=attempts)
    [refused] = await harness.say(-4321, ADMIN, "/subscribe")
    assert REFUSAL in (refused.text or "")
    assert _snapshot(harness) == before
    [done] = await harness.say(-4321, ADMIN, "/subscribe")  # the next check asks again and succeeds
    assert "已订阅" in (done.text or "")


async def test_a_member_flooding_hostile_commands_is_throttled_and_others_are_served(
        harness: Harness, errors: ErrorRecords) -> None:
    await add_group(harness)
    flood = [command_line(c, a) for c, a in zip(itertools.cycle(COMMANDS), HOSTILE, strict=False)]
    for text in flood:
        harness.standin.user_sends(GROUP, MEMBER, text)
    harness.standin.user_sends(GROUP, ADMIN, "/toc")  # the same group is still served at once
    await settle(lambda: any("〔1.1〕" in t and "〔4.4〕" in t for t in harness.texts(GROUP)))
    [other] = await harness.say(-999, 44, "/section 2.3")  # and so is another group
    assert "二、3" in (other.text or "")
    await settle(lambda: not harness.world.updates)
    await asyncio.sleep(0.3)  # let the few allowed replies land
    answered_to_member = len(harness.standin.sent(GROUP)) - 2  # less the greeting and the admin's outline
    # The burst allowance (10) plus a little refill, each command answered at most by a two-part section.
    assert 1 <= answered_to_member <= 2 * 12 < len(flood)
    assert errors.messages() == []


# --- malformed configuration and question files, in process (the CLI's exit codes are in test_cli.py) ---

yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                         st.text(ANY_CHAR, max_size=20), st.sampled_from(["08:00", "Asia/Shanghai", "每天", "x.txt"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
config_keys = st.sampled_from(["telegram", "database", "content", "readings", "push", "quiz", "log_level", "nope"])
inner_keys = st.sampled_from(["token", "base_url", "mode", "webhook", "speech", "question_banks", "min_chars",
                              "max_chars", "default_time", "default_timezone", "default_days", "grace_hours",
                              "at_end", "concurrency", "open_period", "max_questions", "port", "url", "x"])
raw_configs = st.one_of(yaml_values, st.dictionaries(config_keys, st.one_of(
    yaml_values, st.dictionaries(inner_keys, yaml_values, max_size=4)), max_size=5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=raw_configs)
def test_any_configuration_is_either_valid_or_a_config_error_naming_each_problem(tmp_path: Path, raw: Any) -> None:
    try:
        config = build_config(raw, "fuzz.yaml", tmp_path, env={})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert str(exc).startswith("fuzz.yaml:")
    else:
        assert config.readings.min_chars <= config.readings.max_chars


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(ANY_CHAR, max_size=200), yaml_values.map(repr), st.builds(
    lambda entries: "questions:\n" + "".join(f"  - {e}\n" for e in entries),
    st.lists(yaml_values.map(repr), max_size=4))))
def test_any_question_file_is_either_a_bank_or_a_bank_error(text: str) -> None:
    try:
        parse_bank(text, "fuzz.yaml")
    except QuestionBankError as exc:
        assert str(exc)
