"""Campaign records at scale: a group of N members (default 5,000) and D push days (default 60) with check-ins
and quiz answers — how long /report and /export take, how much memory the export needs, and whether the results stay
within Telegram's limits (4,096 characters a message, 50 MB a document).

Each is timed as the bot runs it: /report loads only what a report shows (bot/reports.summary_of), an export
loads and summarizes everything (bot/reports.load_summary), each on the store's reader, and writes its file.
Timed without tracing, wall clock and CPU seconds (all threads: the machine is shared, CPU shows the work itself);
the peak memory is a second, traced (tracemalloc) run of each, load included, so it counts Python allocations
made by that work, not the process as a whole.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from bench.common import Sizes, make_services
from bench.report import Goal, Row
from bot import render
from bot.reports import PRIVATE_MESSAGES_MOST, load_campaign, load_summary
from bot.services import Services
from bot.store import Checkin, PollRecord, Store
from records import wording
from records.export import csv_files, write_export
from records.ledger import Summary, summarize
from records.model import Campaign, Period

GROUP = -4_242
OTHER_GROUP = -4_243  # a chat that writes while GROUP's export loads
ZONE = ZoneInfo("Asia/Shanghai")
QUESTIONS_PER_DAY = 2
T = TypeVar("T")


def at_most(target: float, unit: str = "s") -> Goal:
    return Goal("value", "<=", target, f"≤ {target:g} {unit}")


def seed(store: Store, members: int, days: int, questions: list[tuple[str, str]], today: date) -> None:
    """The record of one busy group: ~80% check in each day (some late), ~60% answer each question."""
    rng = random.Random(7)
    first = today - timedelta(days=days - 1)
    store.ensure_group(GROUP, "压测学习群")
    with store.atomic():
        for uid in range(1, members + 1):
            store.remember_member(GROUP, uid, f"成员{uid:05d}")
        for n in range(days):
            day_date = first + timedelta(days=n)
            before = store.group(GROUP)
            assert before is not None
            day = before.next_day  # the plan restarts at its end (push.at_end: restart): 60 days of a 14-day plan
            assert store.record_push(GROUP, day_date, n + 1) is not None
            closes = datetime.combine(day_date, clock_time(21), ZONE).timestamp()
            rnd = store.start_round(GROUP, 1, [q for q, _ in questions[:QUESTIONS_PER_DAY]], "bench", closes - 3600,
                                    kind="daily", closes_at=closes)
            assert rnd is not None
            for position in range(QUESTIONS_PER_DAY):
                qid, ref = questions[(n * QUESTIONS_PER_DAY + position) % len(questions)]
                poll = PollRecord(f"b{n}-{position}", rnd.id, GROUP, 0, qid, ref, 0, position, closes, False)
                store.record_poll(poll)
                for uid in range(1, members + 1):
                    if rng.random() < 0.6:
                        store.record_answer(poll, uid, 0 if rng.random() < 0.7 else 1, closes - 60, day_date)
            store.end_round(rnd.id, "finished")
            for uid in range(1, members + 1):
                if rng.random() < 0.8:
                    late = rng.random() < 0.1 and day_date < today
                    pressed = day_date + timedelta(days=1) if late else day_date
                    store.record_checkin(Checkin(GROUP, uid, day_date, day, pressed, clock_time(20, 15),
                                                 closes, late))


@dataclass(frozen=True)
class Cost:
    """Wall-clock and CPU seconds of a step. CPU is the whole process's (every thread: the store's reader, the
    deflate thread), so it shows the work itself, whatever else the shared machine is running."""

    wall: float
    cpu: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.wall + other.wall, self.cpu + other.cpu)


def timed(call: Callable[[], T]) -> tuple[T, Cost]:
    started, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, Cost(time.perf_counter() - started, time.process_time() - cpu)


def traced_peak_mib(call: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def report_texts(summary: Summary) -> list[str]:
    """What /report sends: the group summary and the private table (cut to one message plus a CSV document when
    it would take more than PRIVATE_MESSAGES_MOST messages, as bot/reports.send_private_report does)."""
    table = render.report_private(summary)
    if len(table) > PRIVATE_MESSAGES_MOST:
        table = [f"{table[0]}\n\n{render.report_table_attached(len(summary.members))}",
                 next(data for _, data in csv_files(summary, only=wording.SUMMARY_SHEET)).decode("utf-8-sig")[:0]]
    return [render.report_group(summary, None, "https://t.me/x?start=report_1", False), *table]


async def run(workdir: Path, sizes: Sizes) -> list[Row]:
    svc: Services = make_services(workdir, "export", push={"at_end": "restart"})
    members, days = sizes.export_members, sizes.export_days
    label = f"records ({members:,} members × {days} days)"
    try:
        today = await svc.local_today(GROUP)
        questions = [(q.id, q.ref) for q in svc.questions[:50]] or [("q", "1.1")]
        await svc.db(lambda s: seed(s, members, days, questions, today))
        period = Period(today - timedelta(days=days - 1), today, "all")
        # /report loads what bot/reports.summary_of loads (no mastery, no per-day or per-question counts) ...
        short: Campaign
        short, report_load = await svc.db.read(
            lambda s: timed(lambda: load_campaign(s, svc, GROUP, period, today, with_mastery=False)))
        report_summary, report_count = timed(lambda: summarize(short))
        texts, render_cost = timed(lambda: report_texts(report_summary))
        report = report_load + report_count + render_cost
        # ... an export what bot/reports.send_export loads (all of it, mastery too), on the store's reader: a write
        # submitted meanwhile (another chat's) goes through on the store's thread without waiting for it.
        loading = threading.Event()

        def load(s: Store) -> tuple[Summary, Cost]:
            loading.set()
            return timed(lambda: load_summary(s, svc, GROUP, period, today))

        export_load = asyncio.ensure_future(svc.db.read(load))
        await asyncio.to_thread(loading.wait, 60)
        waited = time.perf_counter()
        await svc.db(lambda s: s.remember_member(OTHER_GROUP, 1, "旁人"))
        write_ms = (time.perf_counter() - waited) * 1000  # submitted to committed, while the export loads
        overlapped = not export_load.done()  # at a tiny size the load may be over first: then it shows nothing
        summary, load_cost = await export_load
        xlsx = workdir / "export.xlsx"
        zipped = workdir / "export.zip"
        _, xlsx_cost = timed(lambda: write_export(summary, "xlsx", xlsx))
        # Each export loads its own record, as the bot does.
        summary, csv_load = await svc.db.read(lambda s: timed(lambda: load_summary(s, svc, GROUP, period, today)))
        _, csv_cost = timed(lambda: write_export(summary, "csv", zipped))
        xlsx_total, csv_total = load_cost + xlsx_cost, csv_load + csv_cost
        busy = f"load average {os.getloadavg()[0]:.1f}"
        # Peak memory: the same three again under tracemalloc (slower, so not timed), each load included.
        report_peak = await svc.db.read(lambda s: traced_peak_mib(lambda: report_texts(summarize(
            load_campaign(s, svc, GROUP, period, today, with_mastery=False)))))

        def traced_export(store: Store, fmt: str) -> float:
            return traced_peak_mib(lambda: write_export(load_summary(store, svc, GROUP, period, today), fmt,
                                                        workdir / f"traced.{fmt}"))

        xlsx_peak = await svc.db.read(lambda s: traced_export(s, "xlsx"))
        csv_peak = await svc.db.read(lambda s: traced_export(s, "csv"))
        longest = max(len(t) for t in texts)
        return [
            Row(label, "/report: load + count + render (s)", report.wall, goal=at_most(2), digits=2),
            Row(label, "  of which: load from SQLite (s)", report_load.wall, digits=2),
            Row(label, "/report: CPU seconds (all threads)", report.cpu, digits=2),
            Row(label, "/report: messages (group + private; a CSV document counts as one)", len(texts), digits=0),
            Row(label, "/report: longest message (chars)", longest, goal=at_most(4096, "chars"), digits=0),
            Row(label, "/report peak Python memory (MiB)", report_peak, digits=0),
            Row(label, f"/export xlsx: load + count + write (s; {busy})", xlsx_total.wall, goal=at_most(2),
                digits=2),
            Row(label, "/export xlsx: CPU seconds (all threads)", xlsx_total.cpu, digits=2),
            Row(label, "/export csv (zip): load + count + write (s)", csv_total.wall, goal=at_most(2), digits=2),
            Row(label, "/export csv (zip): CPU seconds (all threads)", csv_total.cpu, digits=2),
            Row(label, "  of which: xlsx load + count, mastery included (s)", load_cost.wall, digits=2),
            Row(label, "  of which: xlsx load + count, CPU seconds", load_cost.cpu, digits=2),
            Row(label, "another chat's store write during the export's load (ms)"
                + ("" if overlapped else " (the load was over first)"), write_ms,
                goal=Goal("value", "<=", 100, "≤ 100 ms *") if overlapped else None, digits=1),
            Row(label, "xlsx size (MB)", xlsx.stat().st_size / 1e6, goal=at_most(50, "MB"), digits=1),
            Row(label, "csv zip size (MB)", zipped.stat().st_size / 1e6, goal=at_most(50, "MB"), digits=1),
            Row(label, "xlsx export peak Python memory (MiB)", xlsx_peak, digits=0),
            Row(label, "csv export peak Python memory (MiB)", csv_peak, digits=0),
            Row(label, "ledger rows (台账)", sum(m.expected + m.excused for m in summary.members), digits=0),
        ]
    finally:
        svc.db.close()
