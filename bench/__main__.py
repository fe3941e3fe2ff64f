"""`python -m bench`: run studybot's benchmarks, print the results table and write it to bench/RESULTS.md.

Each phase runs in its own event loop under a hard timeout (and a watchdog that ends the process should a blocked
loop ignore the timeout), so a run always stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

# The bot's package before the phases, which import sqlite3: it turns SQLite's memory statistics off, which only works
# before the library starts (bot/sqlitelib.py), as `studybot run` has it. Here, not in bench/__init__.py, so that the
# bare-PTB start-up baseline (`python -m bench.bare_bot`) imports nothing of studybot.
import bot  # noqa: F401
from bench import commands, export, push, quiz, review, startup
from bench.commands import PACED_RATE
from bench.common import ErrorCounter, Sizes
from bench.report import Row, markdown_table, text_table
from bot import sqlitelib

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
WATCHDOG_GRACE = 60.0  # seconds past a phase's timeout before the watchdog ends the whole process

Phase = Callable[[Path, Sizes], Awaitable[list[Row]]]


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    run: Phase
    timeout: Callable[[Sizes], float]  # seconds, from the sizes


PHASES: dict[str, PhaseSpec] = {
    spec.name: spec for spec in (
        PhaseSpec("startup", startup.run, lambda s: 60 + s.startup_runs * 2 * (s.settle + 30)),
        PhaseSpec("commands", commands.run, lambda s: 60 + s.repeats * s.commands * 0.1),
        PhaseSpec("quiz", quiz.run, lambda s: 60 + s.repeats * s.answers * 0.02),
        PhaseSpec("push-off", push.run_unlimited, lambda s: 60 + s.push_repeats * 2 * s.groups / 25),
        PhaseSpec("push-on", push.run_limited, lambda s: 90 + s.groups / push.CEILING * 1.5),
        PhaseSpec("export", export.run, lambda s: 120 + s.export_members * s.export_days / 1_000),
        PhaseSpec("review", review.run, lambda s: 120 + s.review_members * s.review_questions / 5_000),
    )
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="everything small (about a minute in all)")
    size.add_argument("--tiny", action="store_true", help="smoke-test sizes: proves the scripts work, nothing more")
    parser.add_argument("--groups", type=int, default=None,
                        help="groups for the daily push (limits on and off) and the start-up database "
                             "(default 10,000; 300 with --quick)")
    parser.add_argument("--commands", type=int, default=None, help="lookup commands (default 2,000)")
    parser.add_argument("--answers", type=int, default=None, help="quiz answers (default 5,000)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="baseline/studybot pairs for commands and quiz; the best of each side counts (default 3)")
    parser.add_argument("--only", default="", help=f"comma-separated phases to run: {', '.join(PHASES)}")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"Markdown output (default {RESULTS})")
    parser.add_argument("--workdir", type=Path, default=None, help="keep databases and logs here")
    args = parser.parse_args(argv)
    unknown = {p for p in args.only.split(",") if p} - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; known: {', '.join(PHASES)}")
    for flag in ("groups", "commands", "answers", "repeats"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag} must be at least 1")
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = Sizes.tiny() if args.tiny else Sizes.quick() if args.quick else Sizes()
    changes = {k: getattr(args, k) for k in ("groups", "commands", "answers", "repeats")
               if getattr(args, k) is not None}
    return replace(sizes, **changes)


def run_phase(spec: PhaseSpec, workdir: Path, sizes: Sizes) -> tuple[list[Row], ErrorCounter, float]:
    """One phase in a fresh event loop, bounded by its timeout; a failure becomes a failing row."""
    timeout = spec.timeout(sizes)
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    faulthandler.dump_traceback_later(timeout + WATCHDOG_GRACE, exit=True)
    started = time.perf_counter()
    try:
        rows = asyncio.run(asyncio.wait_for(spec.run(workdir, sizes), timeout))
    except TimeoutError:
        rows = [Row(spec.name, "phase", None, error=f"timed out after {timeout:.0f} s")]
    except Exception as exc:
        logging.getLogger("bench").error("phase %s crashed", spec.name, exc_info=True)
        traceback.print_exc()
        rows = [Row(spec.name, "phase", None, error=f"crashed: {type(exc).__name__}: {exc}"[:120])]
    finally:
        faulthandler.cancel_dump_traceback_later()
        logging.getLogger().removeHandler(errors)
    return rows, errors, time.perf_counter() - started


def notes(sizes: Sizes, error_notes: list[str]) -> list[str]:
    lines = [
        "ratio = studybot ÷ baseline; for rates higher is better, for latency, seconds and memory lower is better.",
        "\\* goal chosen by the benchmark (the issue sets none for this figure).",
        "Baselines are bare python-telegram-bot 22.8 programs doing the same Telegram work with no studybot logic, "
        "run in the same process run against the same Bot API stand-in (bot/standin) on loopback; the stand-in's "
        "own cost is in both figures. The push benchmarks run it in a child process (bench/remote.py), on both "
        "sides: as in production, Telegram's heap and work are not in the sending process; the others run it "
        "in-process.",
        f"commands: flood limits off on both sides; {sizes.command_groups} groups, one member per command; the "
        "burst sends all commands at once, latency is measured closed-loop with one command in flight per group; "
        f"paced: {PACED_RATE:g} commands/s from one member each, latency from the command to its (last) reply.",
        "push, limits on: the stand-in's flood limits as strict sliding windows (30 in any second, 20 a minute per "
        "group: a burst is refused) and the bot's production FloodLimiter (bot/ratelimit.py); rate = messages ÷ "
        "seconds from the tick's start to the last reading, nothing subtracted.",
        "start-up: `python -m bot.cli -c CONFIG run` as a child process after a previous run (quiz cache present); "
        "peak RSS is the child's VmHWM after it has polled for a while.",
    ]
    return lines + error_notes


def write_markdown(path: Path, rows: Sequence[Row], sizes: Sizes, argv: Sequence[str], seconds: float,
                   note_lines: Sequence[str]) -> None:
    command = " ".join(["python -m bench", *argv])
    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, " \
              f"{platform.system()} {platform.machine()}, {sqlitelib.described()}"
    body = [
        "# studybot benchmark results",
        "",
        f"Run `{command}` on {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} ({machine}); took {seconds:.0f} s.",
        "",
        markdown_table(rows),
        "",
        *(f"- {line}" for line in note_lines),
        "",
        f"Sizes: {sizes}.",
        "",
    ]
    path.write_text("\n".join(body), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sizes = sizes_from(args)
    chosen = [PHASES[p] for p in (args.only.split(",") if args.only else PHASES) if p]
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="studybot-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    # The bot's warnings go to a file in the work folder, not over the progress lines.
    log_file = logging.FileHandler(workdir / "bench.log", encoding="utf-8")
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root_level = root.level
    root.addHandler(log_file)
    root.setLevel(logging.WARNING)
    try:
        return _run(args, argv, sizes, chosen, workdir, own_workdir)
    finally:
        root.removeHandler(log_file)
        root.setLevel(root_level)
        log_file.close()


def _run(args: argparse.Namespace, argv: Sequence[str], sizes: Sizes, chosen: Sequence[PhaseSpec], workdir: Path,
         own_workdir: bool) -> int:
    print(f"studybot benchmarks: {', '.join(s.name for s in chosen)}; work folder {workdir}", flush=True)
    rows: list[Row] = []
    error_notes: list[str] = []
    started = time.perf_counter()
    for spec in chosen:
        print(f"  {spec.name} (timeout {spec.timeout(sizes):.0f} s) ...", end=" ", flush=True)
        phase_rows, errors, seconds = run_phase(spec, workdir, sizes)
        rows += phase_rows
        print(f"{seconds:.1f} s", flush=True)
        if errors.count:
            error_notes.append(f"{spec.name}: {errors.count} ERROR log record(s) during the phase, the first: "
                               f"`{errors.first}`")
    total = time.perf_counter() - started
    note_lines = notes(sizes, error_notes)
    print()
    print(text_table(rows))
    print()
    for line in note_lines:
        print(f"- {line.replace(chr(92), '')}")
    if args.results:
        write_markdown(args.results, rows, sizes, argv, total, note_lines)
        print(f"\nwritten to {args.results}; total {total:.0f} s")
    failed = any(r.verdict == "FAIL" for r in rows)
    if own_workdir and not failed:
        shutil.rmtree(workdir, ignore_errors=True)
    elif failed:
        print(f"logs and databases kept in {workdir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
