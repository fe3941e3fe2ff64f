"""Lookup commands: `/section` and `/search` from many groups — throughput (a burst) and latency (closed loop).

Flood limits are off on both sides (the stand-in's and the bot's FloodLimiter): this measures software speed.
With the bot's production rate limiter on, replies to one group are paced at Telegram's 20 per minute instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, ContextTypes

from bench.common import (
    Replies,
    Sizes,
    bare_bot,
    make_services,
    median,
    new_standin,
    percentile,
    replies,
    studybot,
    wall,
)
from bench.report import Goal, Row, ratio_at_least
from bot import render
from bot.standin import StandIn
from content.model import Document
from content.refs import RefError, resolve
from content.search import SearchIndex

GROUP_BASE = -3_000_000
PACED_BASE = -3_500_000
PACED_RATE = 20.0  # commands a second for the paced latency figure (the issue's)
PACED_GOAL_MS = 50.0
WARMUP_CHAT = -2_999_999
SEARCH_TERMS = ("终身学习", "学习", "人民", "改革 发展", "中国式现代化", "党")  # FTS and short-term paths both


@dataclass(frozen=True)
class Command:
    text: str
    replies: int  # messages the bot answers it with
    reply_length: int  # characters of its (last) reply, to size the baseline's fixed text


@dataclass(frozen=True)
class Measured:
    rate: float  # commands per second in the burst
    cpu_us: float  # process CPU (every thread, the in-process stand-in's too) per command in the burst, µs
    p50_ms: float
    p99_ms: float
    paced_p50_ms: float = 0.0  # PACED_RATE commands a second, one at a time
    paced_p99_ms: float = 0.0


def command_mix(doc: Document) -> list[Command]:
    """Every section by reference and a few searches, with what the bot answers (worked out once, untimed)."""
    mix: list[Command] = []
    for section in doc.sections():
        arg = section.label if section.kind in ("opening", "closing") else section.ref
        try:
            messages = render.section_messages(doc, resolve(doc, arg))
        except RefError:
            continue
        mix.append(Command(f"/section {arg}", len(messages), len(messages[-1])))
    index = SearchIndex(doc)
    for term in SEARCH_TERMS:
        text = render.search_results(term, index.page(term))
        mix.append(Command(f"/search {term}", 1, len(text)))
    return mix


def fixed_reply(doc: Document, mix: list[Command]) -> str:
    """The baseline's fixed text: plain speech text as long as the bot's median reply."""
    length = int(median([c.reply_length for c in mix]))
    body = "".join(section.text for section in doc.sections()).replace("\n", "")
    return render.esc(body[:length])


async def _warm_up(standin: StandIn, listener: Replies, mix: list[Command]) -> None:
    for n, command in enumerate(mix):
        before = listener.per_chat[WARMUP_CHAT]
        standin.user_sends(WARMUP_CHAT, 1_000 + n, command.text)
        await listener.chat_reaches(WARMUP_CHAT, before + command.replies)


async def _drive(standin: StandIn, listener: Replies, mix: list[Command], sizes: Sizes,
                 reply_counts: list[int]) -> Measured:
    """Burst all commands for throughput, then run them closed-loop (one in flight per group) for latency."""
    chats = [GROUP_BASE - g for g in range(sizes.command_groups)]
    expected = sum(reply_counts[i % len(mix)] for i in range(sizes.commands))
    before = listener.total
    start, cpu = wall(), time.process_time()
    for i in range(sizes.commands):
        # A distinct member per command: the bot's per-member throttle (10 at once, 1/s) must not be what we time.
        standin.user_sends(chats[i % len(chats)], 100_000 + i, mix[i % len(mix)].text)
    finished = await listener.total_reaches(before + expected)
    rate = sizes.commands / (finished - start)
    # Steadier than the rate on a shared machine: other processes slow the wall clock more than the work done.
    cpu_us = (time.process_time() - cpu) / sizes.commands * 1e6

    latencies: list[float] = []

    async def member_turns(slot: int) -> None:
        chat = chats[slot]
        for i in range(slot, sizes.commands, len(chats)):
            count = listener.per_chat[chat] + reply_counts[i % len(mix)]
            sent = wall()
            standin.user_sends(chat, 200_000 + i, mix[i % len(mix)].text)
            record = await listener.chat_reaches(chat, count)
            latencies.append(record.timestamp - sent)

    await asyncio.gather(*(member_turns(slot) for slot in range(len(chats))))
    paced = await _paced(standin, listener, mix, sizes, reply_counts)
    return Measured(rate, cpu_us, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000,
                    percentile(paced, 50) * 1000, percentile(paced, 99) * 1000)


async def _paced(standin: StandIn, listener: Replies, mix: list[Command], sizes: Sizes,
                 reply_counts: list[int]) -> list[float]:
    """PACED_RATE commands a second on a fixed schedule (not waiting for replies): the latency a member sees when
    the bot is busy but not saturated. A quarter of the burst's commands, at least 100."""
    count = max(100, sizes.commands // 4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    waits: list[asyncio.Task[float]] = []

    async def one(i: int) -> float:
        chat = PACED_BASE - i  # a chat of its own: each reply is matched to its command by count
        expected = listener.per_chat[chat] + reply_counts[i % len(mix)]
        sent = wall()
        standin.user_sends(chat, 300_000 + i, mix[i % len(mix)].text)
        record = await listener.chat_reaches(chat, expected)
        return record.timestamp - sent

    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / PACED_RATE - loop.time()))
        waits.append(asyncio.create_task(one(i)))
    return list(await asyncio.gather(*waits))


async def run_studybot(workdir: Path, sizes: Sizes, mix: list[Command]) -> Measured:
    svc = make_services(workdir, "commands")
    async with new_standin(limits=False) as standin, studybot(svc, standin, rate_limit=False), \
            replies(standin) as listener:
        await _warm_up(standin, listener, mix)
        return await _drive(standin, listener, mix, sizes, [c.replies for c in mix])


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("◀ 二、2", callback_data="sec:2.2"),
                                   InlineKeyboardButton("目录", callback_data="toc"),
                                   InlineKeyboardButton("三 ▶", callback_data="sec:3")]])


async def run_baseline(sizes: Sizes, mix: list[Command], text: str) -> Measured:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            # The same Telegram work as studybot's reply: a text of that size with a three-button keyboard.
            await update.effective_message.reply_html(text, do_quote=False, reply_markup=KEYBOARD)

    one_each = [Command(c.text, 1, len(text)) for c in mix]
    async with new_standin(limits=False) as standin, bare_bot(standin, [CommandHandler(["section", "search"], echo)]), \
            replies(standin) as listener:
        await _warm_up(standin, listener, one_each)
        return await _drive(standin, listener, one_each, sizes, [1] * len(mix))


async def run(workdir: Path, sizes: Sizes) -> list[Row]:
    from content.loader import load_document

    doc = load_document(None)
    mix = command_mix(doc)
    text = fixed_reply(doc, mix)
    bots: list[Measured] = []
    bases: list[Measured] = []
    for _ in range(sizes.repeats):
        bases.append(await run_baseline(sizes, mix, text))
        bots.append(await run_studybot(workdir, sizes, mix))
    name = "commands"
    scale = f"{sizes.commands:,} cmds, {sizes.command_groups} groups"
    return [
        Row(name, f"updates/s ({scale}, burst)", max(b.rate for b in bots), max(b.rate for b in bases),
            ratio_at_least(0.8), baseline_label="PTB echo"),
        Row(name, "CPU µs per command (burst, whole process, best run)", min(b.cpu_us for b in bots),
            min(b.cpu_us for b in bases), digits=0, baseline_label="PTB echo"),
        Row(name, "p50 latency ms (1 in flight per group)", median([b.p50_ms for b in bots]),
            median([b.p50_ms for b in bases]), digits=1, baseline_label="PTB echo"),
        Row(name, "p99 latency ms (1 in flight per group)", median([b.p99_ms for b in bots]),
            median([b.p99_ms for b in bases]), digits=1, baseline_label="PTB echo"),
        Row(name, f"p50 latency ms ({PACED_RATE:g} commands/s paced)", median([b.paced_p50_ms for b in bots]),
            median([b.paced_p50_ms for b in bases]), digits=1, baseline_label="PTB echo"),
        Row(name, f"p99 latency ms ({PACED_RATE:g} commands/s paced)", median([b.paced_p99_ms for b in bots]),
            median([b.paced_p99_ms for b in bases]), Goal("value", "<=", PACED_GOAL_MS, f"≤ {PACED_GOAL_MS:g} ms"),
            digits=1, baseline_label="PTB echo"),
    ]
