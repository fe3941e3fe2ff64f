"""The daily push: N groups due in the same minute, one `run_now()` tick.

Limits on: the stand-in enforces Telegram's flood limits as strict sliding windows (at most 30 messages in any second,
no leaky-bucket burst) and the bot runs its production FloodLimiter; the figure is the achieved rate over the whole
push against the 30 messages/s ceiling, plus 429s and lost or duplicated readings.
Limits off: the bot's push rate against a bare PTB loop sending the same message to the same chats.
Both sides talk to the stand-in in a child process (bench/remote.py): Telegram is not in the bot's process, and the
stand-in's record of 10,000 messages is not the bot's heap (it made the collector stall the bot's loop).
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup
from telegram.request import HTTPXRequest

from bench.common import (
    BOT_USERNAME,
    POOL_SIZE,
    TOKEN,
    Heartbeat,
    Sizes,
    make_services,
    median,
    seed_groups,
    studybot,
    wall,
)
from bench.remote import RemoteStandIn
from bench.report import Goal, Row, ratio_at_least, value_is
from bot import render
from bot.handlers.lookup import reading_keyboard
from bot.services import Services
from schedules.clock import FakeClock

GROUP_BASE = -5_000_000
PUSH_AT = time(8, 0)
ZONE = "Asia/Shanghai"
# 08:00:30 in Shanghai on a Monday; the bot starts a minute earlier, when nothing is due yet.
PUSH_MINUTE = datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)
CEILING = 30.0  # messages per second, Telegram's overall limit (and the stand-in's)
WARM_UP = 500  # groups of the uncounted first pair of the limits-off runs


@dataclass(frozen=True)
class PushRun:
    groups: int
    seconds: float  # from the tick's start to the last reading recorded by the stand-in
    too_many: int  # 429 answers during the push
    lost: int  # subscribed groups with no reading
    duplicated: int  # groups with more than one
    failed: int  # deliveries the tick reported failed
    stall: float = 0.0  # seconds: the longest the event loop was blocked during the push (bench.common.Heartbeat)
    start_stall: float = 0.0  # the same, in the push's first 2 s (the tick starting 10,000 deliveries)
    own_stall: float = 0.0  # the most of this process's CPU in one heartbeat gap (bench.common.Heartbeat.longest_own)
    cpu: float = 0.0  # CPU seconds of the sending process (all its threads) over the push; the stand-in's are not in it

    @property
    def cpu_per_message_ms(self) -> float:
        return self.cpu / self.groups * 1000 if self.groups else 0.0

    @property
    def rate(self) -> float:
        return self.groups / self.seconds if self.seconds > 0 else 0.0


def chat_ids(count: int) -> list[int]:
    return [GROUP_BASE - i for i in range(count)]


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def remote_standin(limits: bool, *, strict: bool = False) -> RemoteStandIn:
    """The stand-in in a child process; `strict`: flood limits as sliding windows (30 in any second)."""
    return RemoteStandIn(TOKEN, BOT_USERNAME, limits=limits, strict=strict)


async def push_studybot(workdir: Path, groups: int, *, limits: bool) -> PushRun:
    clock = FakeClock(PUSH_MINUTE - timedelta(minutes=1))
    svc = make_services(workdir, f"push-{'limited' if limits else 'free'}", clock=clock)
    chats = chat_ids(groups)
    seed_groups(svc.store, chats, PUSH_AT, ZONE)
    async with remote_standin(limits, strict=True) as standin, \
            studybot(svc, standin, rate_limit=limits) as running:
        await asyncio.sleep(0.2)  # the start-up catch-up tick runs (nothing is due at 07:59:30)
        refused_before = (await standin.tally()).too_many_requests
        clock.set(PUSH_MINUTE)
        heartbeat = Heartbeat()
        start, cpu = wall(), process_cpu()
        # In a task of its own, as APScheduler runs the minute tick: stopping the bot may cancel tick tasks.
        result = await asyncio.create_task(running.pusher.run_now())
        # A minute tick of APScheduler may have raced this one and still hold some groups: wait for those too.
        while running.pusher.in_flight:
            await asyncio.sleep(0.05)
        stall, start_stall = await heartbeat.close(), heartbeat.longest_at_start
        cpu = process_cpu() - cpu
        tally = await standin.tally()
        seconds = (tally.last_timestamp or wall()) - start
        lost, duplicated = tally.lost_and_duplicated(chats)
        return PushRun(groups, seconds, tally.too_many_requests - refused_before, lost, duplicated,
                       len(result.failed), stall, start_stall, heartbeat.longest_own, cpu)


def reading_payload(svc: Services) -> tuple[str, InlineKeyboardMarkup]:
    """Day 1's push exactly as the bot sends it, so the baseline sends the same bytes."""
    reading = svc.plan[0]
    text = render.reading_message(svc.doc, reading, len(svc.plan))
    return text, reading_keyboard(reading.refs[0] if reading.refs else None)


async def push_baseline(text: str, markup: InlineKeyboardMarkup, groups: int, concurrency: int) -> PushRun:
    """A bare PTB loop: Bot.send_message to every chat, `concurrency` at a time, no studybot logic."""
    chats = chat_ids(groups)
    gate = asyncio.Semaphore(concurrency)
    async with remote_standin(limits=False) as standin:
        bot = Bot(TOKEN, base_url=standin.base_url,
                  request=HTTPXRequest(connection_pool_size=POOL_SIZE, pool_timeout=30))

        async def send(chat: int) -> None:
            async with gate:
                await bot.send_message(chat, text, parse_mode="HTML", reply_markup=markup)

        async with bot:
            await bot.send_message(GROUP_BASE + 1, text, parse_mode="HTML", reply_markup=markup)  # warm-up
            start, cpu = wall(), process_cpu()
            await asyncio.gather(*(send(chat) for chat in chats))
            cpu = process_cpu() - cpu
            tally = await standin.tally()
            seconds = tally.last_timestamp - start
        lost, duplicated = tally.lost_and_duplicated(chats)
        return PushRun(groups, seconds, 0, lost, duplicated, 0, cpu=cpu)


async def run_limited(workdir: Path, sizes: Sizes) -> list[Row]:
    run = await push_studybot(workdir, sizes.groups, limits=True)
    # No burst is subtracted: under a strict window a client that bursts is refused, so the whole push counts.
    goal = ratio_at_least(0.97) if run.groups >= 10 * CEILING else None  # a short push says little about pacing
    name = f"push, limits on ({sizes.groups:,} groups, strict window)"
    share = run.too_many / run.groups * 100 if run.groups else 0.0
    return [
        Row(name, "messages/s (whole push)", run.rate, CEILING, goal, baseline_label="Telegram ceiling"),
        Row(name, "seconds for the whole push", run.seconds, run.groups / CEILING, digits=2, baseline_label="ideal"),
        Row(name, "429 responses, % of sends", share, goal=Goal("value", "<=", 0.1, "≤ 0.1 %"), digits=2),
        Row(name, "lost (no reading)", run.lost, goal=value_is(0), digits=0),
        Row(name, "duplicated (>1 reading)", run.duplicated, goal=value_is(0), digits=0),
        Row(name, "deliveries failed in the tick", run.failed, goal=value_is(0), digits=0),
        Row(name, "longest event-loop stall ms (10 ms heartbeat)", run.stall * 1000,
            goal=Goal("value", "<=", 100, "≤ 100 ms *"), digits=1),
        Row(name, "  of which in the push's first 2 s (the tick's start)", run.start_stall * 1000,
            goal=Goal("value", "<=", 100, "≤ 100 ms *"), digits=1),
        Row(name, "  most of the bot process's own CPU in one stall, ms", run.own_stall * 1000, digits=1),
    ]


async def run_unlimited(workdir: Path, sizes: Sizes) -> list[Row]:
    probe = make_services(workdir, "push-probe")
    text, markup = reading_payload(probe)
    concurrency = probe.config.push.concurrency
    probe.store.close()
    # A warm-up pair first (imports, the stand-in's and PTB's first connections, SQLite's page cache), not counted.
    await push_baseline(text, markup, min(sizes.groups, WARM_UP), concurrency)
    await push_studybot(workdir, min(sizes.groups, WARM_UP), limits=False)
    bots: list[PushRun] = []
    bases: list[PushRun] = []
    for _ in range(sizes.push_repeats):
        bases.append(await push_baseline(text, markup, sizes.groups, concurrency))
        bots.append(await push_studybot(workdir, sizes.groups, limits=False))
    name = f"push, limits off ({sizes.groups:,} groups)"
    # The median of the alternated runs on each side: steadier than one run on a shared machine.
    return [
        Row(name, f"messages/s (concurrency {concurrency}, median of {len(bots)})", median([r.rate for r in bots]),
            median([b.rate for b in bases]), ratio_at_least(0.85), baseline_label="PTB send loop"),
        # Against the stand-in's own pace the rate can only say "as fast as the server"; CPU per message is the
        # sending process's own work, whatever the server does (on a shared machine: the steadier figure).
        Row(name, "CPU ms per message, the sending process's own (median)",
            median([r.cpu_per_message_ms for r in bots]), median([b.cpu_per_message_ms for b in bases]), digits=2,
            baseline_label="PTB send loop"),
        Row(name, "lost + duplicated", sum(r.lost + r.duplicated for r in bots), goal=value_is(0), digits=0),
        Row(name, "longest event-loop stall ms (10 ms heartbeat)", max(r.stall for r in bots) * 1000,
            goal=Goal("value", "<=", 100, "≤ 100 ms *"), digits=1),
        Row(name, "  of which in the push's first 2 s (the tick's start)", max(r.start_stall for r in bots) * 1000,
            goal=Goal("value", "<=", 100, "≤ 100 ms *"), digits=1),
        Row(name, "  most of the bot process's own CPU in one stall, ms", max(r.own_stall for r in bots) * 1000,
            digits=1),
    ]
