"""The Bot API stand-in, driven through the real python-telegram-bot 22.8 stack over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import telegram
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
)
from telegram.request import HTTPXRequest

from bot.standin import FakeUser, LimitConfig, StandIn
from bot.standin.entities import EntityParseError, parse_html, strip_text, utf16_len
from bot.standin.limits import Bucket, FloodLimits, TrafficStats
from tests.conftest import STANDIN_BOT_USERNAME, STANDIN_TOKEN

GROUP = -4001
SUPERGROUP = -1001234567890
ALICE = FakeUser(101, "小明", "xiaoming")
BOB = FakeUser(102, "小红")


@asynccontextmanager
async def make_bot(standin: StandIn, **request: Any) -> AsyncIterator[Bot]:
    kwargs: dict[str, Any] = {"base_url": standin.base_url}
    if request:
        kwargs["request"] = HTTPXRequest(**request)
    async with Bot(STANDIN_TOKEN, **kwargs) as bot:
        yield bot


@asynccontextmanager
async def running_app(standin: StandIn, *handlers: Any) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = ApplicationBuilder().token(STANDIN_TOKEN).base_url(standin.base_url).build()
    for handler in handlers:
        app.add_handler(handler)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def reply_hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("<b>你好</b>，同志", parse_mode="HTML")


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def assert_known_fields(obj: telegram.TelegramObject) -> None:
    """PTB puts fields it does not know into api_kwargs: there should be none (catches misspelt fields)."""
    assert obj.api_kwargs == {}, obj.api_kwargs


# ----- HTTP and identity -------------------------------------------------------------------------------------
async def test_get_me_and_bad_token(standin: StandIn) -> None:
    async with make_bot(standin) as bot:
        me = await bot.get_me()
        assert me.username == STANDIN_BOT_USERNAME and me.is_bot and me.id == 123456789
        assert_known_fields(me)
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=standin.base_url):
            pass


async def test_raw_http_keep_alive_json_and_errors(standin: StandIn) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", standin.port)

    async def post(path: str, body: bytes, ctype: str) -> tuple[int, dict[str, Any]]:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return status, json.loads(await reader.readexactly(length))

    base = f"/bot{STANDIN_TOKEN}"
    status, data = await post(
        f"{base}/sendMessage", json.dumps({"chat_id": 7, "text": "hi"}).encode(), "application/json"
    )
    assert status == 200 and data["ok"] and data["result"]["text"] == "hi"
    status, data = await post(f"{base}/noSuchMethod", b"", "application/x-www-form-urlencoded")
    assert (status, data) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, data = await post("/bot1:nope/getMe", b"", "application/x-www-form-urlencoded")
    assert (status, data["description"]) == (401, "Unauthorized")
    status, data = await post(f"{base}/sendMessage", b"--x--", "multipart/form-data; boundary=x")
    assert status == 400 and not data["ok"]
    writer.close()
    assert standin.stats.total_requests == 4  # all four on one kept-alive connection


async def test_token_never_logged_or_in_repr(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.standin")
    async with make_bot(standin) as bot:
        await bot.send_message(5, "x")
        with pytest.raises(BadRequest):
            await bot.send_message(5, "")
    assert STANDIN_TOKEN not in caplog.text and STANDIN_TOKEN not in repr(standin)


# ----- updates -----------------------------------------------------------------------------------------------
async def test_get_updates_offset_limit_and_allowed(standin: StandIn) -> None:
    for text in ("one", "two", "three"):
        standin.user_sends(ALICE.id, ALICE, text)
    async with make_bot(standin) as bot:
        updates = await bot.get_updates()
        assert [u.message.text for u in updates if u.message] == ["one", "two", "three"]
        again = await bot.get_updates(offset=updates[1].update_id)
        assert [u.update_id for u in again] == [updates[1].update_id, updates[2].update_id]
        assert len(await bot.get_updates(limit=1)) == 1
        assert await bot.get_updates(offset=updates[2].update_id + 1) == ()
        standin.user_sends(ALICE.id, ALICE, "four")
        assert await bot.get_updates(allowed_updates=["callback_query"]) == ()  # dropped: never asked for
        assert await bot.get_updates(allowed_updates=["message"]) == ()


async def test_long_poll_returns_when_an_update_arrives(standin: StandIn) -> None:
    async with make_bot(standin) as bot:
        waiting = asyncio.ensure_future(bot.get_updates(timeout=30, read_timeout=40))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        standin.user_sends(ALICE.id, ALICE, "/start")
        updates = await asyncio.wait_for(waiting, 10)
    assert updates[0].message is not None and updates[0].message.text == "/start"


async def test_command_handler_replies_in_private_and_group(standin: StandIn) -> None:
    standin.add_bot_to_group(GROUP, "学习一组", by_user=ALICE)
    async with running_app(standin, CommandHandler("start", reply_hello)):
        standin.user_sends(ALICE.id, ALICE, "/start")
        standin.user_sends(GROUP, BOB, f"/start@{STANDIN_BOT_USERNAME}")
        standin.user_sends(GROUP, BOB, "/start@other_bot")  # privacy mode: never reaches the bot
        private = await standin.wait_for_sent(ALICE.id, 1)
        group = await standin.wait_for_sent(GROUP, 1)
    assert private[0].text == "你好，同志" and private[0].entities[0]["type"] == "bold"
    assert group[0].reply_to_message_id is not None and len(standin.sent(GROUP)) == 1


async def test_privacy_mode_filters_group_chatter(standin: StandIn) -> None:
    standin.add_bot_to_group(GROUP, by_user=ALICE)
    async with make_bot(standin) as bot:
        await bot.get_updates(offset=-1)  # skip the join updates
        pending = await bot.get_updates()
        base = pending[-1].update_id + 1 if pending else None
        standin.user_sends(GROUP, BOB, "随便聊聊")
        cmd = standin.user_sends(GROUP, BOB, "/today")
        posted = await bot.send_message(GROUP, "今日学习")
        standin.user_sends(GROUP, BOB, "收到", reply_to=posted.message_id)
        texts = [u.message.text for u in await bot.get_updates(offset=base) if u.message]
    assert texts[-2:] == ["/today", "收到"] and "随便聊聊" not in texts
    assert cmd["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_anonymous_admin_message(standin: StandIn) -> None:
    standin.add_bot_to_group(SUPERGROUP, by_user=ALICE)
    standin.user_sends(SUPERGROUP, ALICE, "/settime 08:00", anonymous_admin=True)
    update = Update.de_json(standin.world.updates[-1], None)
    assert update.message is not None and update.message.sender_chat is not None
    assert update.message.sender_chat.id == SUPERGROUP and update.message.from_user is not None
    assert update.message.from_user.id == 1087968824


# ----- callbacks and edits -----------------------------------------------------------------------------------
async def test_inline_button_press_edit_and_answer(standin: StandIn) -> None:
    pressed: list[str] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("好的")
        await query.edit_message_text(f"你选了 {query.data}")

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("下一段", callback_data="next:2.3")]])
    async with running_app(standin, CallbackQueryHandler(on_press)):
        async with make_bot(standin) as bot:
            msg = await bot.send_message(ALICE.id, "第一段", reply_markup=keyboard)
        assert standin.sent(ALICE.id)[0].reply_markup == keyboard.to_dict()
        query_id = standin.user_presses(ALICE.id, ALICE, msg.message_id, "next:2.3")
        records = await standin.wait_for_sent(ALICE.id, 2)
    assert pressed == ["next:2.3"] and records[1].method == "editMessageText"
    assert records[1].text == "你选了 next:2.3" and records[1].reply_markup is None
    assert standin.world.callback_answers[query_id] is not None


async def test_edit_not_modified_delete_and_markup(standin_fast: StandIn) -> None:
    async with make_bot(standin_fast) as bot:
        msg = await bot.send_message(ALICE.id, "原文")
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await bot.edit_message_text("原文", ALICE.id, msg.message_id)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]])
        edited = await bot.edit_message_reply_markup(ALICE.id, msg.message_id, reply_markup=markup)
        assert isinstance(edited, telegram.Message) and edited.reply_markup == markup
        assert await bot.delete_message(ALICE.id, msg.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(ALICE.id, msg.message_id)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("nope")
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                ALICE.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="x" * 65)]])
            )
    assert [r.method for r in standin_fast.sent(ALICE.id)] == ["sendMessage", "editMessageReplyMarkup", "deleteMessage"]


# ----- polls -------------------------------------------------------------------------------------------------
async def test_quiz_poll_round_trip_to_poll_answer_handler(standin: StandIn) -> None:
    answers: list[telegram.PollAnswer] = []
    got_answer = asyncio.Event()

    async def send_quiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_poll(update.effective_chat.id, "第一部分讲了什么？", ["团结", "发展", "改革"],
                                    type="quiz", correct_option_ids=[1], is_anonymous=False,
                                    explanation="见第一部分\n第二点")

    async def on_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.poll_answer is not None
        answers.append(update.poll_answer)
        got_answer.set()

    standin.add_bot_to_group(GROUP, by_user=ALICE)
    async with running_app(standin, CommandHandler("quiz", send_quiz), PollAnswerHandler(on_answer)):
        standin.user_sends(GROUP, ALICE, "/quiz")
        record = (await standin.wait_for_sent(GROUP, 1))[0]
        assert record.poll is not None and record.poll["correct_option_ids"] == [1]
        standin.user_answers_poll(record.poll["id"], BOB, [1])
        await asyncio.wait_for(got_answer.wait(), 10)
    assert answers[0].option_ids == (1,) and answers[0].user is not None and answers[0].user.id == BOB.id
    assert answers[0].option_persistent_ids == (f"{record.poll['id']}-1",)
    poll = standin.world.polls[record.poll["id"]]
    assert poll.to_api()["options"][1]["voter_count"] == 1
    with pytest.raises(ValueError, match="quiz"):
        standin.user_answers_poll(poll.id, BOB, [])


async def test_regular_poll_retract_stop_and_auto_close() -> None:
    now = [1_700_000_000.0]
    async with StandIn(STANDIN_TOKEN, clock=lambda: now[0]) as standin, make_bot(standin) as bot:
        msg = await bot.send_poll(ALICE.id, "哪天学习？", ["周一", "周三"], is_anonymous=False, open_period=60)
        assert msg.poll is not None and msg.poll.close_date is not None
        standin.user_answers_poll(msg.poll.id, ALICE, [0])
        standin.user_answers_poll(msg.poll.id, ALICE, [])  # retract
        assert standin.world.polls[msg.poll.id].to_api()["total_voter_count"] == 0
        assert standin.world.expire_polls() == []
        now[0] += 61
        assert standin.world.expire_polls() == [msg.poll.id]
        updates = await bot.get_updates()
        kinds = [next(k for k in ("poll_answer", "poll") if getattr(u, k)) for u in updates]
        assert kinds[-1] == "poll" and updates[-1].poll is not None and updates[-1].poll.is_closed
        assert [u.poll_answer.option_ids for u in updates if u.poll_answer] == [(0,), ()]
        second = await bot.send_poll(ALICE.id, "再来", ["甲", "乙"])
        stopped = await bot.stop_poll(ALICE.id, second.message_id)
        assert stopped.is_closed
        with pytest.raises(BadRequest, match=r"(?i)already been closed"):
            await bot.stop_poll(ALICE.id, second.message_id)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"question": "问" * 301}, "question length"),
        ({"question": " "}, "question must be non-empty"),
        ({"options": ["唯一"]}, "at least 2"),
        ({"options": [str(i) for i in range(11)]}, "more than 10"),
        ({"options": ["甲", "乙" * 101]}, "options length"),
        ({"options": ["甲", "甲"]}, "DUPLICATE"),
        ({"type": "quiz"}, "QUIZ_CORRECT_ANSWERS_EMPTY"),
        ({"type": "quiz", "correct_option_ids": [5]}, "wrong correct option"),
        ({"type": "quiz", "correct_option_ids": [0], "explanation": "解" * 201}, "explanation length"),
        ({"type": "quiz", "correct_option_ids": [0], "explanation": "a\nb\nc\nd"}, "line feeds"),
        ({"open_period": 4}, "open_period"),
        ({"open_period": 2_628_001}, "open_period"),
    ],
)
async def test_poll_limits(standin_fast: StandIn, kwargs: dict[str, Any], error: str) -> None:
    args: dict[str, Any] = {"chat_id": ALICE.id, "question": "问题", "options": ["甲", "乙"], **kwargs}
    async with make_bot(standin_fast) as bot:
        with pytest.raises(BadRequest, match=f"(?i){error}"):
            await bot.send_poll(**args)
    assert standin_fast.sent(ALICE.id) == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # correct_option_id on purpose
async def test_poll_edge_values_accepted_and_deprecated_correct_option_id(standin_fast: StandIn) -> None:
    async with make_bot(standin_fast) as bot:
        msg = await bot.send_poll(ALICE.id, "问" * 300, [str(i) for i in range(10)], type="quiz",
                                  correct_option_id=9, explanation="解" * 200, open_period=5)
        assert msg.poll is not None and msg.poll.correct_option_ids == (9,)
        await bot.send_poll(ALICE.id, "问", [telegram.InputPollOption("甲" * 100), "乙"], open_period=2_628_000)


# ----- text rules --------------------------------------------------------------------------------------------
async def test_message_length_counts_utf16(standin_fast: StandIn) -> None:
    async with make_bot(standin_fast) as bot:
        await bot.send_message(ALICE.id, "学" * 4096)
        await bot.send_message(ALICE.id, "😀" * 2048)  # 4096 UTF-16 code units
        for text in ("学" * 4097, "😀" * 2049, "<b>学</b>" * 4097):
            with pytest.raises(BadRequest, match=r"(?i)too long"):
                await bot.send_message(ALICE.id, text, parse_mode="HTML")
        await bot.send_message(ALICE.id, "<b>学</b>" * 4096, parse_mode="HTML")  # tags do not count


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>粗", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_bad_html_is_bad_request(standin_fast: StandIn, text: str, error: str) -> None:
    async with make_bot(standin_fast) as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as info:
            await bot.send_message(ALICE.id, text, parse_mode="HTML")
    assert error.lower() in str(info.value).lower()


def test_html_entities_and_offsets() -> None:
    parsed = parse_html('😀<b>粗 <i>斜</i></b> &lt;&amp;&#20013;&#x56fd;&unknown; <a href="https://t.me">链</a>'
                        '<pre><code class="language-python">x</code></pre><blockquote expandable>引</blockquote>')
    assert parsed.text == "😀粗 斜 <&中国&unknown; 链x引"
    types = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert types == [("bold", 2, 3), ("italic", 4, 1), ("text_link", 20, 1), ("pre", 21, 1),
                     ("expandable_blockquote", 22, 1)]
    assert parsed.entities[3]["language"] == "python"


@given(st.text(max_size=60))
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    parsed = strip_text(parse_html(html.escape(text, quote=False)))
    assert parsed.text == text.strip() and parsed.entities == ()


@given(st.lists(st.tuples(st.sampled_from(["b", "i", "u", "s", "code"]), st.text(min_size=1, max_size=8)),
                max_size=6))
def test_entity_offsets_match_ptb_slicing(parts: list[tuple[str, str]]) -> None:
    source = "".join(f"<{tag}>{html.escape(body, quote=False)}</{tag}>" for tag, body in parts)
    parsed = parse_html(source)
    assert parsed.text == "".join(body for _, body in parts)
    message = telegram.Message(1, dtm.datetime.now(dtm.UTC), telegram.Chat(1, "private"), text=parsed.text,
                               entities=[telegram.MessageEntity(**e) for e in parsed.entities])
    assert list(message.parse_entities().values()) == [body for _, body in parts]
    assert sum(utf16_len(b) for _, b in parts) == utf16_len(parsed.text)


def test_unclosed_tag_is_an_error() -> None:
    with pytest.raises(EntityParseError, match="Unclosed start tag"):
        parse_html("<b")


# ----- flood limits ------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_group_flood_limit_raises_retry_after() -> None:
    now = [1000.0]
    async with StandIn(STANDIN_TOKEN, clock=lambda: now[0]) as standin, make_bot(standin) as bot:
        standin.add_bot_to_group(GROUP, by_user=ALICE)
        for i in range(20):
            await bot.send_message(GROUP, f"第{i}条")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(GROUP, "超了")
        assert seconds(info.value.retry_after) == 3  # 20/min drains one slot every 3 s
        await bot.send_message(ALICE.id, "私聊不受群限制")
        now[0] += 3
        await bot.send_message(GROUP, "又可以了")
    assert standin.stats.too_many_requests == 1
    assert standin.stats.delivered[GROUP] == 21 and standin.stats.delivered[ALICE.id] == 1


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_private_and_overall_limits() -> None:
    now = [0.0]
    config = LimitConfig(overall=Bucket(30, 1.0), private=Bucket(5, 5.0))
    async with StandIn(STANDIN_TOKEN, clock=lambda: now[0], limit_config=config) as standin, \
            make_bot(standin) as bot:
        for _ in range(5):
            await bot.send_message(ALICE.id, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(ALICE.id, "x")
        for chat in range(1000, 1025):  # 5 + 25 = 30 within the same second
            await bot.send_message(chat, "x")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(2000, "x")
        assert seconds(info.value.retry_after) == 1
        standin.limits.enabled = False
        await bot.send_message(2000, "x")


@given(st.lists(st.floats(min_value=0, max_value=5), max_size=60))
def test_paced_sender_never_limited(gaps: list[float]) -> None:
    """A sender that waits 3 s between group messages (PTB's 20/min pacing) never gets a 429."""
    now = [0.0]
    limits = FloodLimits(lambda: now[0], stats=TrafficStats())
    for gap in gaps:
        now[0] += 3 + gap
        assert limits.acquire(GROUP, "group") is None


# ----- membership, migration, chat info ----------------------------------------------------------------------
async def test_kicked_bot_gets_forbidden_and_my_chat_member(standin: StandIn) -> None:
    standin.add_bot_to_group(GROUP, "学习一组", by_user=ALICE)
    standin.remove_bot(GROUP, kicked=True)
    async with make_bot(standin) as bot:
        with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the group chat"):
            await bot.send_message(GROUP, "还在吗")
        updates = await bot.get_updates()
    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [c.difference()["status"] for c in changes] == [("left", "member"), ("member", "kicked")]
    assert isinstance(changes[1].new_chat_member, telegram.ChatMemberBanned)
    assert [m.new_chat_members for m in (u.message for u in updates) if m] == [(bot_user(standin),)]


def bot_user(standin: StandIn) -> telegram.User:
    return telegram.User(**{k: v for k, v in standin.world.bot.to_api().items() if k != "is_bot"}, is_bot=True)


async def test_migrated_group_raises_chat_migrated(standin: StandIn) -> None:
    standin.add_bot_to_group(GROUP, by_user=ALICE)
    new_id = standin.migrate_group(GROUP)
    async with make_bot(standin) as bot:
        with pytest.raises(ChatMigrated) as info:
            await bot.send_message(GROUP, "旧群")
        assert info.value.new_chat_id == new_id and new_id < -1_000_000_000_000
        await bot.send_message(new_id, "新群")
        updates = await bot.get_updates()
    messages = [u.message for u in updates if u.message]
    assert messages[-2].migrate_to_chat_id == new_id and messages[-1].migrate_from_chat_id == GROUP
    assert messages[-1].chat.type == "supergroup"


async def test_members_admins_chat_info_commands_and_actions(standin: StandIn) -> None:
    standin.add_bot_to_group(SUPERGROUP, "学习群", by_user=ALICE, as_admin=True)
    standin.user_sends(SUPERGROUP, BOB, "我来了")
    standin.set_admin(SUPERGROUP, BOB)
    async with make_bot(standin) as bot:
        owner = await bot.get_chat_member(SUPERGROUP, ALICE.id)
        admins = await bot.get_chat_administrators(SUPERGROUP)
        stranger = await bot.get_chat_member(SUPERGROUP, 999)
        chat = await bot.get_chat(SUPERGROUP)
        private = await bot.get_chat(ALICE.id)
        await bot.send_chat_action(SUPERGROUP, "typing")
        commands = [telegram.BotCommand("today", "今天的学习内容"), telegram.BotCommand("quiz", "小测验")]
        assert await bot.set_my_commands(commands)
        assert await bot.get_my_commands() == tuple(commands)
        assert await bot.get_my_commands(scope=telegram.BotCommandScopeAllGroupChats()) == ()
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([telegram.BotCommand("Bad-Name", "x")])
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
            await bot.send_chat_action(SUPERGROUP, "dancing")
        assert await bot.leave_chat(SUPERGROUP)
        with pytest.raises(Forbidden, match=r"(?i)not a member"):
            await bot.send_message(SUPERGROUP, "x")
    assert isinstance(owner, telegram.ChatMemberOwner) and isinstance(stranger, telegram.ChatMemberLeft)
    assert {a.user.id for a in admins} == {ALICE.id, BOB.id, standin.world.bot.id}
    assert all(isinstance(a, telegram.ChatMemberAdministrator) for a in admins if a.user.id != ALICE.id)
    assert chat.title == "学习群" and chat.type == "supergroup" and private.first_name == ALICE.first_name


# ----- faults ------------------------------------------------------------------------------------------------
async def test_fail_delay_and_drop(standin_fast: StandIn) -> None:
    standin_fast.fail_next("sendMessage", status=500, description="Internal Server Error")
    standin_fast.fail_next("sendMessage", status=502)
    standin_fast.delay_next("sendMessage", 0.5, deliver=True)
    standin_fast.drop_next("sendMessage", deliver=False)
    standin_fast.drop_next("sendMessage", deliver=True)
    async with make_bot(standin_fast, read_timeout=0.2) as bot:
        for _ in range(2):
            with pytest.raises(NetworkError) as info:
                await bot.send_message(ALICE.id, "第一条")
            assert not isinstance(info.value, TimedOut)
        with pytest.raises(TimedOut):
            await bot.send_message(ALICE.id, "慢的")
        with pytest.raises(NetworkError):
            await bot.send_message(ALICE.id, "丢了")
        with pytest.raises(NetworkError):
            await bot.send_message(ALICE.id, "丢了但送到了")
        await bot.send_message(ALICE.id, "正常")
    assert [r.text for r in standin_fast.sent(ALICE.id)] == ["慢的", "丢了但送到了", "正常"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_and_strict_chats() -> None:
    async with StandIn(STANDIN_TOKEN, strict_chats=True) as standin, make_bot(standin) as bot:
        standin.fail_next("sendMessage", 429, description="Too Many Requests: retry after 7",
                          parameters={"retry_after": 7})
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(ALICE.id, "x")
        assert seconds(info.value.retry_after) == 7
        with pytest.raises(Forbidden, match=r"(?i)initiate conversation"):
            await bot.send_message(ALICE.id, "x")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(GROUP, "x")
        standin.user_sends(ALICE.id, ALICE, "/start")
        await bot.send_message(ALICE.id, "你好")
    assert standin.stats.requests_by_method["sendMessage"] == 4


async def test_delayed_undelivered_request_is_dropped_when_client_gave_up(standin_fast: StandIn) -> None:
    standin_fast.delay_next("sendMessage", 0.3, deliver=False)
    async with make_bot(standin_fast, read_timeout=0.1) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(ALICE.id, "超时")
        await asyncio.sleep(0.35)  # let the delayed handler find the client gone
        await bot.send_message(ALICE.id, "之后")
    assert [r.text for r in standin_fast.sent(ALICE.id)] == ["之后"]


async def test_outbox_streams_what_the_bot_sends(standin_fast: StandIn) -> None:
    outbox = standin_fast.outbox()
    async with make_bot(standin_fast) as bot:
        await bot.send_message(ALICE.id, "一")
        await bot.send_poll(GROUP, "问", ["甲", "乙"])
    first, second = await asyncio.wait_for(outbox.__anext__(), 5), await asyncio.wait_for(outbox.__anext__(), 5)
    outbox.close()
    assert (first.chat_id, first.text, second.chat_id, second.method) == (ALICE.id, "一", GROUP, "sendPoll")
    with pytest.raises(TimeoutError):
        await standin_fast.wait_for_sent(ALICE.id, 2, timeout=0.05)


# ----- every object type parses in PTB 22.8 -------------------------------------------------------------------
async def test_every_object_round_trips_through_de_json(standin_fast: StandIn) -> None:
    s = standin_fast
    s.add_bot_to_group(GROUP, by_user=ALICE, as_admin=True)
    s.set_admin(GROUP, BOB)
    s.world.set_status(GROUP, 103, "kicked")
    s.world.set_status(GROUP, 104, "restricted")
    async with make_bot(s) as bot:
        sent = await bot.send_message(GROUP, "<b>读</b>", parse_mode="HTML", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("下一段", callback_data="n")]]))
        s.user_sends(GROUP, ALICE, f"/next@{STANDIN_BOT_USERNAME}", reply_to=sent.message_id)
        s.user_presses(GROUP, BOB, sent.message_id, "n")
        quiz = await bot.send_poll(GROUP, "问", ["甲", "乙"], type="quiz", correct_option_ids=[0],
                                   is_anonymous=False, reply_parameters=telegram.ReplyParameters(sent.message_id))
        assert quiz.poll is not None and quiz.reply_to_message is not None
        s.user_answers_poll(quiz.poll.id, ALICE, [0])
        s.remove_bot(GROUP)
        raw_updates = list(s.world.updates)
        chat = s.world.chats[GROUP]
        objects: list[tuple[type[telegram.TelegramObject], dict[str, Any]]] = [
            (telegram.User, s.world.bot.to_api()),
            (telegram.Chat, s.world.chat_api(chat)),
            (telegram.Chat, s.world.chat_api(s.world.chat(ALICE.id))),
            (telegram.Message, chat.messages[sent.message_id]),
            (telegram.Message, chat.messages[quiz.message_id]),
            (telegram.Poll, s.world.polls[quiz.poll.id].to_api()),
            (telegram.PollOption, s.world.polls[quiz.poll.id].to_api()["options"][0]),
            (telegram.ChatFullInfo, await s.api.call("getChat", {"chat_id": ALICE.id})),
        ]
        objects += [(telegram.ChatMember, s.world.member_api(chat, uid)) for uid in (ALICE.id, BOB.id, 103, 104, 999)]
        objects += [(telegram.ChatMember, s.world.member_api(chat, s.world.bot.id))]
        objects += [(Update, u) for u in raw_updates]
        payload_types = {"message": telegram.Message, "callback_query": telegram.CallbackQuery,
                         "poll_answer": telegram.PollAnswer, "poll": telegram.Poll,
                         "my_chat_member": telegram.ChatMemberUpdated}
        objects += [(payload_types[k], v) for u in raw_updates for k, v in u.items() if k != "update_id"]
        for cls, data in objects:
            obj = cls.de_json(json.loads(json.dumps(data)), bot)
            assert_known_fields(obj)
            for attr in ("message", "callback_query", "poll_answer", "my_chat_member", "poll"):
                inner = getattr(obj, attr, None)
                if isinstance(inner, telegram.TelegramObject):
                    assert_known_fields(inner)
    kinds = {k for u in raw_updates for k in u if k != "update_id"}
    assert kinds == {"message", "callback_query", "poll_answer", "poll", "my_chat_member"}
    statuses = {type(telegram.ChatMember.de_json(s.world.member_api(chat, u), None)).__name__
                for u in (ALICE.id, BOB.id, 103, 104, 999, s.world.bot.id)}
    assert statuses == {"ChatMemberOwner", "ChatMemberAdministrator", "ChatMemberBanned", "ChatMemberRestricted",
                        "ChatMemberLeft"}
