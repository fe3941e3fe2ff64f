"""The offline local chat: the real bot against the built-in Bot API stand-in, in a terminal.

Interactive on a terminal; with piped input it reads one chat line per input line and prints the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from bot import render
from bot.config import Config
from bot.demo import DEMO_MEMBERS, fill_demo_week
from bot.render import zone_label
from bot.runner import Running, start, stop
from bot.services import Services, build_services
from bot.standin import StandIn
from bot.standin.state import FakeUser, Outbox, SentRecord
from bot.store import Group, Store
from schedules.clock import SystemClock
from schedules.due import due_date, local_push_datetime, next_push_after

OFFLINE_TOKEN = "123456:offline-local-chat"
DEMO_CHAT = -100
DEMO_TITLE = "学习小组（本地演示）"
ME = 1
OWNER_NAME = "学员"
# A few members besides you, so leaderboards and answers have more than one name; `/as 小王` speaks as one.
# They are the first of the /demo's members, so the demo's week is theirs too.
MEMBERS = {uid: name for uid, name, _, _ in DEMO_MEMBERS[:3]}
# Whose private chats with the bot are shown: you, the members, and the /demo's members once it has run.
PEOPLE = {ME: OWNER_NAME, **{uid: name for uid, name, _, _ in DEMO_MEMBERS}}
TME = "https://t.me/"
READING_DAY = re.compile(r"第 (\d+) 天 / 共 \d+ 天")  # a reading's header (push, /today)
EARLIER_PRESS = re.compile(r"^#(\d+)\s*第\s*(\d+)\s*天$")
REPLY_PREFIX = "回复"  # `回复 小王 /excuse 今天 病假` replies to 小王's latest message in the group
PRIVATE_PREFIX = "私聊"  # `私聊 /review` says /review in the private chat with the bot
QUIET = 0.4  # seconds without bot output or requests that end one step


@dataclass(frozen=True)
class Button:
    """One button of the latest keyboard: a callback (data) or a link (url)."""

    chat_id: int
    message_id: int
    data: str
    url: str


class ShiftedClock:
    """Real time plus an offset, so `/pushnow` can jump ahead to the next push while time keeps flowing."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._real = SystemClock()

    def __call__(self) -> datetime:
        return self._real() + self.offset

    def catch_up(self, instant: datetime) -> None:
        """Move forward so that it is at least `instant` (never back: time in the demo only runs forward)."""
        if self() < instant:
            self.offset += instant - self()


@dataclass
class Terminal:
    """Prints what the bot sends and turns typed lines into updates in the demo group."""

    standin: StandIn
    running: Running
    clock: ShiftedClock
    out: TextIO = sys.stdout
    files: Path = field(default_factory=Path.cwd)  # where files the bot sends (exports, charts) are written
    buttons: list[Button] = field(default_factory=list)  # the latest keyboard's
    open_polls: list[str] = field(default_factory=list)  # polls shown, oldest first (a daily quiz sends several)
    pressed: str | None = None  # the callback query of the last button press, whose toast is still to show
    speaker: int = ME  # who types: you, or a demo member after `/as 小王`
    said: dict[int, int] = field(default_factory=dict)  # each speaker's latest message in the group, for 回复
    by_day: dict[int, list[Button]] = field(default_factory=dict)  # the buttons under each day's latest reading

    def show(self, record: SentRecord) -> None:
        if record.chat_id in PEOPLE:
            self._show_private(record)
            return
        if record.chat_id != DEMO_CHAT:
            return
        if record.file is not None:
            self._print(render.offline_bot_label(), self._save(record))
        elif record.method == "sendPoll" and record.poll is not None:
            self._show_poll(record.poll)
        elif record.method in ("sendMessage", "editMessageText") and record.text is not None:
            label = render.offline_bot_label(edited=record.method == "editMessageText")
            self._print(label, mark_underlines(record.text, record.entities))
            self._remember_buttons(record)
        elif record.method == "stopPoll":
            self._print(render.offline_bot_label(), render.offline_poll_closed())

    def _show_private(self, record: SentRecord) -> None:
        """The bot's private chat with you (or a member), shown inline with a 🔒 prefix; files go to the folder."""
        label = render.offline_private_label(None if record.chat_id == ME else PEOPLE[record.chat_id])
        if record.file is not None:
            self._print(label, self._save(record))
        elif record.method == "sendPoll" and record.poll is not None:
            self._show_poll(record.poll, label)
        elif record.method in ("sendMessage", "editMessageText") and record.text is not None:
            self._print(label, mark_underlines(record.text, record.entities))
            self._remember_buttons(record)

    def _save(self, record: SentRecord) -> str:
        assert record.file is not None
        path = self.files / Path(record.file.filename).name
        path.write_bytes(record.file.data)
        caption = (record.message or {}).get("caption", "")
        return render.offline_file_saved(str(path.resolve()), caption)

    def _show_poll(self, poll: dict[str, Any], label: str | None = None) -> None:
        self.open_polls = [*self.open_polls[-19:], str(poll["id"])]
        self._print(label or render.offline_poll_label(),
                    render.offline_poll(poll["question"], [o["text"] for o in poll["options"]]))

    def _remember_buttons(self, record: SentRecord) -> None:
        rows = (record.reply_markup or {}).get("inline_keyboard") or []
        found = [(Button(record.chat_id, record.message_id, b.get("callback_data", ""), b.get("url", "")),
                  b.get("text", "")) for row in rows for b in row]
        # A t.me link in the text (the report's "open the private chat" link) is tapped like a link button.
        units = (record.text or "").encode("utf-16-le")
        found += [(Button(record.chat_id, record.message_id, "", e["url"]),
                   render.offline_text_link(units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")))
                  for e in record.entities if e.get("type") == "text_link" and e.get("url", "").startswith(TME)]
        if found:
            self.buttons = [button for button, _ in found]
            print(render.offline_buttons([text for _, text in found]), file=self.out, flush=True)
            day = READING_DAY.search(record.text or "")
            if record.chat_id == DEMO_CHAT and day is not None:  # a push (or /today) of that day: for `#3 第1天`
                self.by_day[int(day.group(1))] = self.buttons

    def _print(self, who: str, text: str) -> None:
        body = "\n".join("  " + line for line in text.splitlines())
        print(f"{who}:\n{body}\n", file=self.out, flush=True)

    def _note(self, text: str) -> None:
        print(f"  （{text}）", file=self.out, flush=True)

    async def handle(self, line: str) -> None:
        """One typed line: a button press (#2), a poll answer (2), /pushnow, /as, or a chat message."""
        text = valid_text(line).strip()
        if not text:
            return
        world = self.standin.world
        command = text.split()[0].split("@")[0]
        if text.startswith("#") and text[1:].isdigit():
            index = int(text[1:]) - 1
            if 0 <= index < len(self.buttons):
                self._press(self.buttons[index])
            else:
                self._note(render.offline_no_button())
        elif (earlier := EARLIER_PRESS.match(text)) is not None:  # `#3 第1天`: under day 1's reading (补学)
            index, day = int(earlier.group(1)) - 1, int(earlier.group(2))
            buttons = self.by_day.get(day, [])
            if 0 <= index < len(buttons):
                self._press(buttons[index])
            else:
                self._note(render.offline_no_day_button(day))
        elif command == PRIVATE_PREFIX:
            said = text[len(PRIVATE_PREFIX):].strip()
            if said.split()[:1] == ["/stop"]:  # as Telegram's 停止机器人: the bot may no longer write first
                world.unstarted.add(self.speaker)
                self._note(render.offline_private_stopped())
            elif said:
                world.user_sends(self.speaker, self.speaker, said)  # a private chat's id is the user's
            else:
                self._note(render.offline_private_usage(PRIVATE_PREFIX))
        elif text.isdigit() and self.open_polls and len(text) <= 2:
            self._answer(int(text) - 1)
        elif command == "/pushnow":
            await self._push_now()
        elif command == "/as":
            self._speak_as(text[len(text.split()[0]):].strip())
        elif command == "/demo":
            await self._demo()
        elif command == "/remindnow":
            await self._remind_now()
        elif command in ("/join", "/leave"):
            self._join_or_leave(command == "/join", text[len(text.split()[0]):].strip())
        elif command == REPLY_PREFIX:
            self._reply(text[len(REPLY_PREFIX):].strip())
        else:
            self.said[self.speaker] = world.user_sends(DEMO_CHAT, self.speaker, text)["message_id"]

    def _press(self, button: Button) -> None:
        """A callback button is pressed; a link button opens what Telegram would: a t.me/<bot>?start= deep link
        starts the private chat with its payload (去私聊复习, a report's link), any other link is only named."""
        if not button.url:
            self.pressed = self.standin.world.user_presses(button.chat_id, self.speaker, button.message_id,
                                                           button.data)
            return
        link = urlsplit(button.url)
        payload = parse_qs(link.query).get("start", [""])[0]
        if link.hostname != "t.me" or not payload:
            self._note(render.offline_link(button.url))
            return
        self._note(render.offline_deep_link(payload))
        self.standin.world.user_sends(self.speaker, self.speaker, f"/start {payload}")

    def show_toast(self) -> None:
        """The short notice Telegram pops up over the chat when a button is answered (e.g. 已记录：第 3 天)."""
        if self.pressed is None:
            return
        answer = self.standin.world.callback_answers.get(self.pressed)
        self.pressed = None
        if answer and answer.get("text"):
            self._note(render.offline_toast(str(answer["text"])))

    def _join_or_leave(self, joins: bool, name: str) -> None:
        """Offline only: `/join 小赵` or `/leave 小王`: a member joins or leaves the group, with the service message
        and the chat_member update Telegram sends (the roster follows them)."""
        uid = next((uid for uid, n in PEOPLE.items() if n == name and uid != ME), None)
        if uid is None:
            self._note(render.offline_join_usage([n for u, n in PEOPLE.items() if u != ME]))
            return
        world = self.standin.world
        world.user(FakeUser(uid, name))
        if joins:
            world.user_joins(DEMO_CHAT, uid)
        else:
            world.user_leaves(DEMO_CHAT, uid)
        self._note(render.offline_joined(name, joins))
        if not joins and self.speaker == uid:  # who left types no more in the group: you again
            self._speak_as(OWNER_NAME)

    def _reply(self, rest: str) -> None:
        """Offline only: `回复 小王 /excuse 今天 病假` says the text as a reply to 小王's latest message here."""
        name, _, said = rest.partition(" ")
        whom = next((uid for uid, n in PEOPLE.items() if n == name), ME if name == "我" else None)
        if whom is None or not said.strip():
            self._note(render.offline_reply_usage(REPLY_PREFIX))
        elif whom not in self.said:
            self._note(render.offline_reply_nothing(name))
        else:
            sent = self.standin.world.user_sends(DEMO_CHAT, self.speaker, said.strip(), reply_to=self.said[whom])
            self.said[self.speaker] = sent["message_id"]

    def _speak_as(self, name: str) -> None:
        """Offline only: type as another demo member (`/as 小王`), or as yourself again (`/as 我`)."""
        seated = self.standin.world.chat(DEMO_CHAT).members  # the /demo's members join the group when it runs
        members = {n: uid for uid, n in PEOPLE.items() if uid != ME and uid in seated}
        names = {OWNER_NAME: ME, "我": ME, **members}
        if name not in names:
            self._note(render.offline_as_usage([OWNER_NAME, *members]))
            return
        self.speaker = names[name]
        owner = self.speaker == ME
        self._note(render.offline_speaking_as(OWNER_NAME if owner else name, owner))

    def _answer(self, option: int) -> None:
        """A number answers the first question still open to the speaker, in the order shown: a daily quiz sends
        all its questions at once, so 1 answers 【1/2】 and the next number 【2/2】."""
        world = self.standin.world
        theirs = [p for p in (world.polls.get(i) for i in self.open_polls)
                  if p is not None and not p.is_closed and p.chat_id in (DEMO_CHAT, self.speaker)]
        poll = next((p for p in theirs if self.speaker not in p.votes), None)
        if poll is None and theirs:
            print(f"  {render.offline_already_answered()}", file=self.out, flush=True)
            return
        if poll is None or not 0 <= option < len(poll.options):
            print(f"  {render.offline_no_poll()}", file=self.out, flush=True)
            return
        try:
            self.standin.world.user_answers_poll(poll.id, self.speaker, [option])
        except ValueError:
            print(f"  {render.offline_already_answered()}", file=self.out, flush=True)
            return
        correct = option in poll.correct_option_ids
        verdict = render.offline_verdict(correct, poll.options[poll.correct_option_ids[0]], poll.question)
        explanation = f"\n  {poll.explanation}" if poll.explanation else ""
        print(f"  {verdict}{explanation}\n", file=self.out, flush=True)

    async def _push_now(self) -> None:
        """Offline only: move the clock to this group's next push time and run the push tick."""
        svc = self.running.svc
        group, hold = await svc.db(lambda s: (s.group(DEMO_CHAT), s.push_hold(DEMO_CHAT)))
        if group is not None and group.finished:
            if not await self._finish_now(group):
                self._note(render.offline_plan_finished())
            return
        if group is None or not group.pushable:
            self._note(render.offline_subscribe_first())
            return
        last = max(filter(None, (group.last_pushed, hold)), default=None)  # a date held by a settings change
        if due_date(group.schedule, last, self.clock(), svc.grace) is None:
            target = next_push_after(group.schedule, self.clock(), last)
            self.clock.offset += target - self.clock() + timedelta(seconds=1)
            when = target.astimezone(ZoneInfo(group.timezone)).strftime("%Y-%m-%d %H:%M")
            self._note(render.offline_clock_jumped(when, zone_label(group.timezone, target)))
        await self.running.pusher.run_now()


    async def _finish_now(self, group: Group) -> bool:
        """Offline only: after the last push, move the clock to that day's end (its quiz's close), when the group
        gets its completion summary and the admins the full export; False if that is past (already sent)."""
        if group.last_pushed is None:
            return False
        ends = self.running.campaign.day_closes(group, group.last_pushed)
        if ends <= self.clock():
            return False
        self.clock.catch_up(ends + timedelta(seconds=1))
        local = ends.astimezone(ZoneInfo(group.timezone))
        self._note(render.offline_clock_to_plan_end(local.strftime("%Y-%m-%d %H:%M"), zone_label(group.timezone, ends)))
        await self.running.campaign.run_now()
        return True

    async def _remind_now(self) -> None:
        """Offline only: move the clock to this evening's reminder time and run the reminder (/pushnow jumps from
        one morning's push to the next, over the evening, and a missed reminder is never sent late)."""
        svc = self.running.svc
        group, reminder = await svc.db(lambda s: (s.group(DEMO_CHAT), s.reminder(DEMO_CHAT)))
        if group is None or reminder is None or reminder.remind_time is None:
            self._note(render.offline_remind_first())
            return
        zone = ZoneInfo(group.timezone)
        local = self.clock().astimezone(zone)
        target = datetime.combine(local.date(), reminder.remind_time, zone)
        if target > local:
            self.clock.catch_up(target + timedelta(seconds=1))
            self._note(render.offline_clock_to_reminder(target.strftime("%Y-%m-%d %H:%M"),
                                                        zone_label(group.timezone, target)))
        if not await self.running.campaign.remind_due():
            self._note(render.offline_no_reminder())

    async def _demo(self) -> None:
        """Offline only: a week of simulated members' check-ins and answers (bot/demo.py), for /report and /export."""
        svc = self.running.svc
        today = await svc.local_today(DEMO_CHAT)
        group = await svc.db(lambda s: s.ensure_group(DEMO_CHAT, DEMO_TITLE))
        zone = ZoneInfo(group.timezone)
        week = await svc.db(lambda s: fill_demo_week(s, DEMO_CHAT, svc.plan, svc.questions, today, zone,
                                                     random.Random(today.toordinal())))
        _seat_demo_members(self.standin, [uid for uid, *_ in DEMO_MEMBERS])
        if week.last is None:
            print(render.demo_nothing(str(svc.config.database)), file=self.out, flush=True)
            return
        print(render.demo_filled(week.days, week.checkins, week.answers), file=self.out, flush=True)
        if week.last > today:  # the week came after the group's last push: time in the demo moves on to its end
            end = local_push_datetime(group.schedule, week.last) + timedelta(minutes=1)
            self.clock.catch_up(end)
            self._note(render.offline_demo_clock(end.strftime("%Y-%m-%d %H:%M"), zone_label(group.timezone, end)))


def mark_underlines(text: str, entities: Sequence[dict[str, Any]]) -> str:
    """Show underlined spans (search hits) as 【…】: a terminal has no underline. Offsets count UTF-16 units."""
    units = text.encode("utf-16-le")
    spans = sorted((e["offset"], e["offset"] + e["length"]) for e in entities if e.get("type") == "underline")
    def piece(begin: int, end: int | None = None) -> str:
        return units[2 * begin:None if end is None else 2 * end].decode("utf-16-le")

    out, at = [], 0
    for begin, end in spans:
        out += [piece(at, begin), "【", piece(begin, end), "】"]
        at = end
    out.append(piece(at))
    return "".join(out)


def valid_text(text: str) -> str:
    """Undecodable input (a paste cut mid-character, GBK bytes) as U+FFFD, so it is answered instead of fatal."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


class Lines(Protocol):
    async def read(self) -> str | None:
        """The next line without its newline, or None at the end of input."""


class PipedLines:
    """Lines from a pipe or file, read on a daemon thread (so quitting never waits for a read).

    Raw bytes are decoded with replacement, so no byte sequence can stop the chat.
    """

    def __init__(self, stdin: TextIO) -> None:
        self._stdin = stdin
        self._asks: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Future[str | None]]] = queue.Queue()
        threading.Thread(target=self._run, name="offline-input", daemon=True).start()

    async def read(self) -> str | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        self._asks.put((loop, future))
        return await future

    def _run(self) -> None:
        while True:
            loop, future = self._asks.get()
            line = self._line()
            with contextlib.suppress(RuntimeError):  # the loop closed while we read: nobody is listening
                loop.call_soon_threadsafe(_settle, future, line)
            if line is None:
                return

    def _line(self) -> str | None:
        try:
            raw = getattr(self._stdin, "buffer", None)
            if raw is not None:
                data = raw.readline()
                return data.decode("utf-8", "replace").rstrip("\r\n") if data else None
            text = self._stdin.readline()
            return text.rstrip("\r\n") if text else None
        except (OSError, ValueError):
            return None


def _settle(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


class PromptedLines:
    """Lines typed at a terminal: the main thread prompts (only there does input() use readline), the chat's
    event loop runs on another thread and asks for each line once every reply has been printed."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.typed: queue.Queue[str | None] = queue.Queue()

    async def read(self) -> str | None:
        self.ready.set()
        return await asyncio.get_running_loop().run_in_executor(None, self.typed.get)


def run_interactive(config: Config) -> None:
    """The offline chat at a terminal: line editing and history (readline), Ctrl-C and Ctrl-D quit at once."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (importing it gives input() line editing and history)
    lines = PromptedLines()
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = []

    async def chat() -> None:
        task = asyncio.current_task()
        assert task is not None
        started.append((asyncio.get_running_loop(), task))
        await run_offline(config, lines=lines, interactive=True)

    worker = threading.Thread(target=asyncio.run, args=(chat(),), name="offline-chat")
    worker.start()
    try:
        while worker.is_alive():
            if not lines.ready.wait(0.2):
                continue
            lines.ready.clear()
            try:
                line: str | None = input("> ")
            except EOFError:
                line = None
            lines.typed.put(line)
            if line is None:
                break
    except KeyboardInterrupt:
        print()
        for loop, task in started:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
    finally:
        lines.typed.put(None)
        worker.join()


async def _pump(outbox: Any, terminal: Terminal, last_output: list[float]) -> None:
    loop = asyncio.get_running_loop()
    async for record in outbox:
        terminal.show(record)
        last_output[0] = loop.time()


async def _wait_quiet(standin: StandIn, running: Running, last_output: list[float], started: float,
                      longest: float = 30.0) -> None:
    """Wait until the bot is done with what was typed: every update fetched and handled, no request under way,
    and nothing sent or asked for QUIET seconds (it may reply in several messages)."""
    loop = asyncio.get_running_loop()
    app = running.app
    await asyncio.sleep(QUIET)
    while loop.time() - started < longest:
        idle = loop.time() - max(last_output[0], started, standin.last_request_end)
        handling = app.update_processor.current_concurrent_updates or not app.update_queue.empty()
        if idle >= QUIET and standin.busy == 0 and not standin.world.updates and not handling:
            return
        await asyncio.sleep(0.05)


async def _restore_demo(standin: StandIn, svc: Services, clock: ShiftedClock) -> bool:
    """Put the demo group back as an earlier run over the same database left it; True if the bot must join.

    The stand-in forgets everything between runs while the database remembers: you are made the group's owner
    again (admin commands work), the fast clock starts after the last push an earlier `/pushnow` sent, and a quiz
    round left open is ended (its polls are gone with the old stand-in).
    """
    world = standin.world
    world.user(FakeUser(ME, OWNER_NAME))
    chat = world.chat(DEMO_CHAT, title=DEMO_TITLE)
    chat.members[ME] = "creator"
    for uid, name in MEMBERS.items():
        world.user(FakeUser(uid, name))
        chat.members[uid] = "member"
    demo = await svc.db(_end_stale_rounds)
    seated = await svc.db(lambda s: [uid for uid, *_ in DEMO_MEMBERS if s.member(DEMO_CHAT, uid) is not None])
    _seat_demo_members(standin, seated)
    if demo is None or not demo.active:
        return True
    chat.members[world.bot.id] = "member"
    if demo.last_pushed is not None:
        clock.catch_up(local_push_datetime(demo.schedule, demo.last_pushed) + timedelta(minutes=1))
    return False


def _seat_demo_members(standin: StandIn, user_ids: Sequence[int]) -> None:
    """The /demo's members sit in the stand-in's group too, so the member count Telegram gives includes them."""
    chat = standin.world.chat(DEMO_CHAT)
    for uid, name, _, _ in DEMO_MEMBERS:
        if uid in user_ids:
            standin.world.user(FakeUser(uid, name))
            chat.members.setdefault(uid, "member")


def _end_stale_rounds(store: Store) -> Group | None:
    """A round an earlier run left open cannot go on: its polls lived in that run's stand-in. The demo group."""
    for rnd in store.running_rounds():
        if rnd.chat_id == DEMO_CHAT:
            store.end_round(rnd.id, "stopped")
    return store.group(DEMO_CHAT)


async def run_offline(config: Config, stdin: TextIO | None = None, out: TextIO | None = None,
                      lines: Lines | None = None, interactive: bool = False) -> None:
    """Run the offline chat until end of input (or Ctrl-D / Ctrl-C); piped input is echoed as a transcript."""
    out = out or sys.stdout
    reader = lines or PipedLines(stdin or sys.stdin)
    clock = ShiftedClock()
    svc = build_services(replace(config, telegram=replace(config.telegram, token=OFFLINE_TOKEN)), clock=clock)
    svc.offline = True
    # Poll ids must not repeat those an earlier run over the same database stored: start them at this instant.
    standin = StandIn(OFFLINE_TOKEN, privacy_mode=False, first_id=time.time_ns() // 1000)
    must_join = await _restore_demo(standin, svc, clock)
    # Subscribed before the bot starts: a quiz round resumed from an earlier run sends its poll during start().
    outbox = standin.world.outbox()
    await standin.start()
    running = await start(svc, base_url=standin.base_url)
    terminal = Terminal(standin, running, clock, out=out)
    last_output = [0.0]
    pump = asyncio.create_task(_pump(outbox, terminal, last_output))
    loop = asyncio.get_running_loop()
    print(render.offline_banner(DEMO_TITLE, list(MEMBERS.values())), file=out, flush=True)
    try:
        if must_join:
            standin.world.add_bot_to_group(DEMO_CHAT, DEMO_TITLE, by_user=ME)
        await _wait_quiet(standin, running, last_output, loop.time())
        while True:
            line = await reader.read()
            if line is None:
                break
            if not interactive:
                print(f"> {valid_text(line).rstrip()}", file=out, flush=True)
            await terminal.handle(line)
            # Every reply is printed before the next prompt (and before the end of piped input).
            await _wait_quiet(standin, running, last_output, loop.time())
            terminal.show_toast()
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("", file=out, flush=True)
    finally:
        await _drain(outbox, terminal)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        outbox.close()
        await stop(running)
        await standin.stop()
        svc.db.close()


async def _drain(outbox: Outbox, terminal: Terminal) -> None:
    """Print what the bot sent but the pump has not shown yet."""
    for record in outbox.pending():
        terminal.show(record)
