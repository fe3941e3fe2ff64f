"""The offline local chat: the real bot against the built-in Bot API stand-in, in a terminal.

Interactive on a terminal; with piped input it reads one chat line per input line and prints the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot import render
from bot.config import Config
from bot.demo import fill_demo_week
from bot.runner import Running, start, stop
from bot.services import build_services
from bot.standin import StandIn
from bot.standin.state import FakeUser, SentRecord
from schedules.clock import SystemClock
from schedules.due import due_date, next_push_after

OFFLINE_TOKEN = "123456:offline-local-chat"
DEMO_CHAT = -100
DEMO_TITLE = "学习小组（本地演示）"
ME = 1
QUIET = 0.4  # seconds without bot output that end one piped step


class ShiftedClock:
    """Real time plus an offset, so `/pushnow` can jump ahead to the next push while time keeps flowing."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._real = SystemClock()

    def __call__(self) -> datetime:
        return self._real() + self.offset


@dataclass
class Terminal:
    """Prints what the bot sends and turns typed lines into updates in the demo group."""

    standin: StandIn
    running: Running
    clock: ShiftedClock
    out: TextIO = sys.stdout
    files: Path = field(default_factory=Path.cwd)  # where files the bot sends (exports, charts) are written
    buttons: list[tuple[int, str]] = field(default_factory=list)  # (message id, callback data) of the latest keyboard
    open_poll: str | None = None

    def show(self, record: SentRecord) -> None:
        if record.chat_id == ME:
            self._show_private(record)
            return
        if record.chat_id != DEMO_CHAT:
            return
        if record.file is not None:
            self._print("🤖 学习助手", self._save(record))
        elif record.method == "sendPoll" and record.poll is not None:
            self._show_poll(record.poll)
        elif record.method in ("sendMessage", "editMessageText") and record.text is not None:
            label = "🤖 学习助手" + ("（已编辑）" if record.method == "editMessageText" else "")
            self._print(label, mark_underlines(record.text, record.entities))
            self._remember_buttons(record)
        elif record.method == "stopPoll":
            self._print("🤖 学习助手", "（投票已结束）")

    def _show_private(self, record: SentRecord) -> None:
        """The bot's private chat with you, shown inline with a 🔒 prefix; files are saved to the working folder."""
        if record.file is not None:
            self._print(render.offline_private_label(), self._save(record))
        elif record.method == "sendMessage" and record.text is not None:
            self._print(render.offline_private_label(), mark_underlines(record.text, record.entities))

    def _save(self, record: SentRecord) -> str:
        assert record.file is not None
        path = self.files / Path(record.file.filename).name
        path.write_bytes(record.file.data)
        caption = (record.message or {}).get("caption", "")
        return render.offline_file_saved(str(path.resolve()), caption)

    def _show_poll(self, poll: dict[str, Any]) -> None:
        options = "\n".join(f"  {i}) {o['text']}" for i, o in enumerate(poll["options"], start=1))
        self.open_poll = str(poll["id"])
        self._print("📊 测验", f"{poll['question']}\n{options}\n（输入选项编号作答，例如 2）")

    def _remember_buttons(self, record: SentRecord) -> None:
        rows = (record.reply_markup or {}).get("inline_keyboard") or []
        found = [(record.message_id, b.get("callback_data", ""), b.get("text", "")) for row in rows for b in row]
        if found:
            self.buttons = [(m, data) for m, data, _ in found]
            labels = "  ".join(f"#{i} {text}" for i, (_, _, text) in enumerate(found, start=1))
            print(f"  按钮：{labels}（输入 #编号 点击）", file=self.out, flush=True)

    def _print(self, who: str, text: str) -> None:
        body = "\n".join("  " + line for line in text.splitlines())
        print(f"{who}:\n{body}\n", file=self.out, flush=True)

    async def handle(self, line: str) -> None:
        """One typed line: a button press (#2), a poll answer (2), /pushnow, or a chat message."""
        text = line.strip()
        if not text:
            return
        world = self.standin.world
        if text.startswith("#") and text[1:].isdigit():
            index = int(text[1:]) - 1
            if 0 <= index < len(self.buttons):
                message_id, data = self.buttons[index]
                world.user_presses(DEMO_CHAT, ME, message_id, data)
            else:
                print("  （没有这个按钮）", file=self.out, flush=True)
        elif text.isdigit() and self.open_poll is not None and len(text) <= 2:
            self._answer(int(text) - 1)
        elif text.split("@")[0] == "/pushnow":
            await self._push_now()
        elif text.split("@")[0] == "/demo":
            await self._demo()
        else:
            world.user_sends(DEMO_CHAT, ME, text)

    def _answer(self, option: int) -> None:
        poll = self.standin.world.polls.get(self.open_poll or "")
        if poll is None or poll.is_closed or not 0 <= option < len(poll.options):
            print("  （没有可以作答的测验，或选项编号不对）", file=self.out, flush=True)
            return
        try:
            self.standin.world.user_answers_poll(poll.id, ME, [option])
        except ValueError:
            print("  （这道题你已经答过了）", file=self.out, flush=True)
            return
        correct = option in poll.correct_option_ids
        verdict = "✔ 回答正确！" if correct else f"✘ 回答错误，正确答案：{poll.options[poll.correct_option_ids[0]]}"
        explanation = f"\n  {poll.explanation}" if poll.explanation else ""
        print(f"  {verdict}{explanation}\n", file=self.out, flush=True)

    async def _push_now(self) -> None:
        """Offline only: move the clock to this group's next push time and run the push tick."""
        svc = self.running.svc
        group = await svc.db(lambda s: s.group(DEMO_CHAT))
        if group is None or not group.pushable:
            print("  （本地：请先发送 /subscribe 订阅每日推送，或 /resume 恢复）\n", file=self.out, flush=True)
            return
        if due_date(group.schedule, group.last_pushed, self.clock(), svc.grace) is None:
            target = next_push_after(group.schedule, self.clock(), group.last_pushed)
            self.clock.offset += target - self.clock() + timedelta(seconds=1)
            when = target.astimezone(ZoneInfo(group.timezone)).strftime("%Y-%m-%d %H:%M")
            print(f"  （本地：时钟快进到下一次推送时间 {when}，{group.timezone}）", file=self.out, flush=True)
        await self.running.pusher.run_now()


    async def _demo(self) -> None:
        """Offline only: a week of simulated members' check-ins and answers (bot/demo.py), for /report and /export."""
        svc = self.running.svc
        today = await svc.local_today(DEMO_CHAT)
        group = await svc.db(lambda s: s.group(DEMO_CHAT))
        zone = ZoneInfo(group.timezone if group else svc.config.push.default_timezone)
        week = await svc.db(lambda s: fill_demo_week(s, DEMO_CHAT, svc.plan, svc.questions, today, zone,
                                                     random.Random(today.toordinal())))
        print(render.demo_filled(week.days, week.checkins, week.answers), file=self.out, flush=True)


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


BANNER = (
    "studybot — 离线本地聊天（offline）。没有配置 Telegram 令牌，机器人正连接内置的本地 Bot API 替身运行。\n"
    "To connect to Telegram: set TELEGRAM_BOT_TOKEN (or telegram.token in config.yaml) and run `studybot run` again.\n"
    "你是演示群“{title}”的群主。试试：/toc、/section 2.3、/search 终身学习、/subscribe、/pushnow、/quiz 3；"
    "/demo 模拟一周的学习记录，再试 /report、/export；输入 /help 查看全部命令，Ctrl-D 退出。\n"
)


async def _pump(outbox: Any, terminal: Terminal, last_output: list[float]) -> None:
    loop = asyncio.get_running_loop()
    async for record in outbox:
        terminal.show(record)
        last_output[0] = loop.time()


async def _wait_quiet(last_output: list[float], started: float, longest: float = 8.0,
                      busy: Callable[[], bool] = lambda: False) -> None:
    """Wait until the bot has said nothing for QUIET seconds (it may reply in several messages) and is not still
    working on an update (a report or an export takes longer than QUIET before it says anything)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(QUIET)
    while ((loop.time() - max(last_output[0], started) < QUIET or busy())
           and loop.time() - started < longest):
        await asyncio.sleep(0.05)


def _busy(standin: StandIn, running: Running) -> Callable[[], bool]:
    """True while an update is waiting for the bot or a handler is still running."""
    app = running.app
    return lambda: bool(standin.world.updates) or app.update_queue.qsize() > 0 or (
        app.update_processor.current_concurrent_updates > 0)


async def run_offline(config: Config, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
    """Run the offline chat until end of input (or Ctrl-D / Ctrl-C)."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    clock = ShiftedClock()
    svc = build_services(replace(config, telegram=replace(config.telegram, token=OFFLINE_TOKEN)), clock=clock)
    svc.offline = True
    standin = StandIn(OFFLINE_TOKEN, privacy_mode=False)
    standin.world.user(FakeUser(ME, "学员"))
    await standin.start()
    running = await start(svc, base_url=standin.base_url)
    terminal = Terminal(standin, running, clock, out=out)
    outbox = standin.world.outbox()
    last_output = [0.0]
    pump = asyncio.create_task(_pump(outbox, terminal, last_output))
    loop = asyncio.get_running_loop()
    print(BANNER.format(title=DEMO_TITLE), file=out, flush=True)
    try:
        demo = await svc.db(lambda s: s.group(DEMO_CHAT))
        if demo is None or not demo.active:
            standin.world.add_bot_to_group(DEMO_CHAT, DEMO_TITLE, by_user=ME)
        await _wait_quiet(last_output, loop.time())
        interactive = stdin.isatty()
        while True:
            if interactive:
                print("> ", end="", file=out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            if not interactive:
                print(f"> {line.rstrip()}", file=out, flush=True)
            await terminal.handle(line)
            if not interactive:
                await _wait_quiet(last_output, loop.time(), busy=_busy(standin, running))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        outbox.close()
        await stop(running)
        await standin.stop()
        svc.db.close()
