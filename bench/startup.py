"""Start-up: `studybot run` as a child process, from launch to its first getUpdates on a stand-in run here,
and its peak memory with N groups in the database; the baseline is a bare PTB bot (bench/bare_bot.py).

The database is prepared first (which also writes the generated-question cache, as any earlier run would), so this
is a restart, the common case. The groups' push time is twelve hours away: the catch-up tick loads them all and
finds none due, rather than starting a broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import REPO, TOKEN, Sizes, make_services, median, new_standin, seed_groups
from bench.report import Row
from bot.config import TOKEN_ENV
from bot.standin import StandIn

GROUP_BASE = -9_000_000
ZONE = "Asia/Shanghai"
STOP_WAIT = 15.0


@dataclass(frozen=True)
class Launch:
    seconds: float  # launch to the first getUpdates the stand-in saw
    peak_rss_mib: float


def prepare(workdir: Path, groups: int) -> Path:
    """The bot's database with `groups` subscribed groups; returns its path."""
    svc = make_services(workdir, "startup")
    later = (datetime.now(ZoneInfo(ZONE)) + timedelta(hours=12)).time().replace(second=0, microsecond=0)
    seed_groups(svc.store, [GROUP_BASE - i for i in range(groups)], later, ZONE)
    svc.db.close()
    return svc.config.database


def write_config(workdir: Path, standin: StandIn, database: Path) -> Path:
    path = workdir / "startup-config.yaml"
    path.write_text(f'telegram:\n  base_url: "{standin.base_url}"\ndatabase: "{database}"\nlog_level: WARNING\n',
                    encoding="utf-8")
    return path


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM (the process's peak resident set) from /proc, in MiB; None where /proc is not available."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


async def launch(argv: list[str], standin: StandIn, log: Path, settle: float, timeout: float) -> Launch:
    """Run the child until its first getUpdates, let it settle, read its peak RSS, then stop it with SIGINT."""
    env = {**os.environ, TOKEN_ENV: TOKEN}
    seen = standin.stats.requests_by_method
    with log.open("wb") as out:
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(*argv, cwd=REPO, env=env, stdout=out, stderr=out)
        try:
            while seen["getUpdates"] == 0:
                if child.returncode is not None or time.perf_counter() - started > timeout:
                    tail = log.read_text(errors="replace")[-800:]
                    raise RuntimeError(f"{' '.join(argv[1:4])} never polled (exit {child.returncode}): {tail}")
                await asyncio.sleep(0.001)
            seconds = time.perf_counter() - started
            await asyncio.sleep(settle)
            peak = peak_rss_mib(child.pid)
            child.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(child.wait(), STOP_WAIT)
            except TimeoutError:
                child.kill()
                await child.wait()
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
    if peak is None:  # no /proc: the largest child so far is the best figure we have (KiB on Linux)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Launch(seconds, peak)


async def run(workdir: Path, sizes: Sizes) -> list[Row]:
    database = prepare(workdir, sizes.groups)
    bots: list[Launch] = []
    bases: list[Launch] = []
    for n in range(sizes.startup_runs):
        async with new_standin(limits=False) as standin:
            bare = [sys.executable, "-m", "bench.bare_bot", standin.base_url]
            bases.append(await launch(bare, standin, workdir / f"startup-bare-{n}.log", sizes.settle, 60))
        async with new_standin(limits=False) as standin:
            config = write_config(workdir, standin, database)
            bot = [sys.executable, "-m", "bot.cli", "-c", str(config), "run"]
            bots.append(await launch(bot, standin, workdir / f"startup-bot-{n}.log", sizes.settle, 60))
    name = f"start-up ({sizes.groups:,} groups in db)"
    runs = f"median of {sizes.startup_runs}" if sizes.startup_runs > 1 else "1 run"
    return [
        Row(name, f"seconds to first getUpdates ({runs})", median([b.seconds for b in bots]),
            median([b.seconds for b in bases]), digits=2, baseline_label="bare PTB"),
        Row(name, "peak RSS MiB", max(b.peak_rss_mib for b in bots), max(b.peak_rss_mib for b in bases),
            baseline_label="bare PTB"),
    ]
