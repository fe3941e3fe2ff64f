"""The `studybot` command line: run the bot, and look at the content without Telegram."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telegram.error import InvalidToken, TelegramError

from bot import render
from bot.config import Config, ConfigError, load_config
from bot.robots.channels import ChannelConfig
from bot.store import Store
from content.loader import analyse_file, load_document
from content.model import Document
from content.parser import SpeechFormatError
from content.questions import QuestionBankError, load_bank
from content.readings import plan_readings
from content.refs import RefError, resolve
from content.search import SearchIndex


class CliError(Exception):
    """A problem to report on stderr in one line, without a traceback."""


def _document(config: Config) -> Document:
    return load_document(config.content.speech)


def cmd_toc(args: argparse.Namespace, config: Config) -> None:
    print(render.plain(render.outline(_document(config))))


def cmd_show(args: argparse.Namespace, config: Config) -> None:
    doc = _document(config)
    try:
        section = resolve(doc, " ".join(args.ref))
    except RefError as exc:
        raise CliError(f"no such section: {' '.join(args.ref)!r}. {render.ref_problem(doc, exc)}") from None
    for chunk in render.section_messages(doc, section):
        print(render.plain(chunk))


def cmd_search(args: argparse.Namespace, config: Config) -> None:
    doc = _document(config)
    query = " ".join(args.terms)
    print(render.plain(render.search_results(query, SearchIndex(doc).page(query, args.page, args.limit))))


def cmd_plan(args: argparse.Namespace, config: Config) -> None:
    doc = _document(config)
    low = config.readings.min_chars if args.min_chars is None else args.min_chars
    high = config.readings.max_chars if args.max_chars is None else args.max_chars
    try:
        plan = plan_readings(doc, low, high)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(render.plain(render.plan_summary(doc, plan)))


def cmd_content_check(args: argparse.Namespace, config: Config) -> None:
    analysis = analyse_file(Path(args.file))
    doc = analysis.document
    print(f"{args.file}: OK — {len(doc.parts)} parts, {sum(len(p.points) for p in doc.parts)} points, "
          f"opening: {'yes' if doc.opening else 'no'}, closing: {'yes' if doc.closing else 'no'}")
    print("\nNot speech text (header and trailer lines):")
    for item in analysis.header:
        print(f"  line {item.line}: {item.kind}: {item.text[:40]}")
    print("\nDecisions:")
    for note in analysis.decisions:
        print(f"  {f'line {note.line}: ' if note.line else ''}{note.text}")
    print(f"\nWarnings ({len(analysis.warnings)}):" if analysis.warnings else "\nWarnings: none")
    for note in sorted(analysis.warnings, key=lambda n: n.line or 0):
        print(f"  {f'line {note.line}: ' if note.line else ''}{note.text}")
    print("\nTo change a decision, edit the text file: see README, \"When content check gets a speech wrong\".\n")
    print(render.plain(render.outline(doc)))


def _database_problems(config: Config) -> list[str]:
    from bot.store import check_database, library_problems

    return library_problems() + check_database(config.database)


def cmd_config_check(args: argparse.Namespace, config: Config) -> None:
    problems = _database_problems(config)
    if problems:
        raise CliError("\n".join(f"{config.source}: {p}" for p in problems))
    from bot.store import schema_state

    doc = _document(config)
    plan = plan_readings(doc, config.readings.min_chars, config.readings.max_chars)
    questions = sum(len(load_bank(path, doc)) for path in config.content.question_banks)
    token = "set" if config.telegram.token else "not set (the bot runs offline)"
    print(f"{config.source}: OK")
    print(f"  token: {token}; mode: {config.telegram.mode}; proxy: {'set' if config.telegram.proxy else 'none'}")
    print(f"  database: {config.database} — {schema_state(config.database)}")
    if config.telegram.allowed_chats:
        print(f"  allowed chats: {', '.join(str(c) for c in config.telegram.allowed_chats)}")
    print(f"  speech: {doc.title} — {len(plan)} daily readings")
    if config.content.question_banks:
        print(f"  question banks: {len(config.content.question_banks)} file(s), {questions} questions")
    print(f"  default push: {config.push.default_time:%H:%M} {config.push.default_timezone}, "
          f"{config.push.default_days}")
    _font_warning()
    for channel in config.channels:
        print(f"  robot channel {channel.describe()}")


def _font_warning() -> None:
    from records.chart import cjk_font

    if cjk_font() is None:
        print("  warning: no Chinese (CJK) font found — report charts are off, text reports still work "
              "(Debian/Ubuntu: apt-get install fonts-wqy-microhei)")


def _open_store(config: Config) -> Store:
    if not config.database.is_file():
        raise CliError(f"no database at {config.database} (the bot creates it when it first runs)")
    return Store(config.database)


def cmd_groups(args: argparse.Namespace, config: Config) -> None:
    store = _open_store(config)
    try:
        groups = store.groups()
        if not groups:
            print("no groups yet")
        for group in groups:
            pushes = store.pushes(group.chat_id)
            roster = len(store.roster(group.chat_id))
            state = "active" if group.active else "bot removed"
            if group.finished:
                state += ", plan finished"
            print(f"{group.chat_id}\t{group.title or '-'}\t{roster} members\t{len(pushes)} days pushed\t{state}")
        _print_channels(store, config)
    finally:
        store.close()


def _print_channels(store: Store, config: Config) -> None:
    """The robot channels under `studybot groups`: never a URL key or a secret (the error texts are redacted)."""
    from bot.channels_view import statuses

    found = statuses(store, config.channels)
    if found:
        print("robot channels:")
    for s in found:
        c, row = s.channel, s.row
        when = c.when_text() + (f", reported in group {c.group}" if c.group is not None else "")
        progress = "plan finished" if row.finished else f"next day {row.next_day}"
        last = f"last delivery {row.last_pushed} (recorded {row.last_delivery_at})" if row.last_pushed \
            else "nothing posted yet"
        if s.stopped:
            state = f"STOPPED: {row.stop_reason}"
        elif row.failures:
            state = f"{'FAILING' if s.failing else 'retrying'}: {row.failures} failed attempt(s) in a row, " \
                    f"last: {row.last_error}"
        else:
            state = "ok"
        print(f"{c.name}\t{c.platform}\t{when}\t{progress}\t{s.days_posted} days posted\t{last}\t{state}")


def cmd_export(args: argparse.Namespace, config: Config) -> None:
    import asyncio
    from datetime import date

    from bot.reports import export_file, load_summary
    from bot.services import build_services
    from records.model import Period
    from records.period import parse_date, parse_period

    store = _open_store(config)
    known = store.group(args.chat)
    store.close()
    if known is None:
        raise CliError(f"no group with id {args.chat}; `studybot groups` lists them")
    svc = build_services(config)

    async def export() -> Path:
        first, last = await svc.db(lambda s: (s.first_record(args.chat), (s.last_push(args.chat) or (None,))[0]))
        # The offline chat's clock runs ahead of real time (/pushnow, /demo): its pushes may be after today.
        today = max(await svc.local_today(args.chat), last or date.min)
        try:
            if args.start and args.end:  # one rule with /report's D..D (records/period.parse_period)
                chosen = parse_period(f"{args.start}..{args.end}", today)
                start, end = chosen.first, chosen.last
            else:
                end = parse_date(args.end, today) if args.end else today
                start = parse_date(args.start, end) if args.start else min(first or end, end)
        except ValueError as exc:
            raise CliError(f"{exc}; use YYYY-MM-DD (--from before --to)") from None
        if end < start:
            raise CliError(f"--to {end} is before --from {start}")
        period = Period(start, end, f"{start}..{end}", dates_typed=True)
        summary = await svc.db.read(lambda s: load_summary(s, svc, args.chat, period, today))
        if args.output is None:
            return await export_file(svc, summary, args.format, Path.cwd())
        from records.export import write_export

        return await asyncio.to_thread(write_export, summary, args.format, args.output)

    try:
        path = asyncio.run(export())
    finally:
        svc.db.close()
    print(f"wrote {path}")


# --- robot channels (bot/robots/) ---------------------------------------------------------------------------


def _channel(config: Config, name: str) -> ChannelConfig:
    found = next((c for c in config.channels if c.name == name), None)
    if found is None:
        known = ", ".join(c.name for c in config.channels) or "none configured"
        raise CliError(f"no robot channel named {name!r} (channels: {known})")
    return found


def cmd_channels_test(args: argparse.Namespace, config: Config) -> None:
    import asyncio

    from bot.robots.client import Answer
    from bot.robots.push import RobotPusher
    from bot.services import build_services

    channel = _channel(config, args.name)
    svc = build_services(config)

    async def go() -> Answer:
        pusher = RobotPusher(svc)
        try:
            return await pusher.test(channel)
        finally:
            await pusher.aclose()

    try:
        answer = asyncio.run(go())
    finally:
        svc.db.close()
    if answer.outcome != "ok":
        raise CliError(f"{channel.name} ({channel.platform}) did not post the test message: {answer.describe()}")
    print(f"{channel.name} ({channel.platform}): test message posted ({answer.describe()})")


def cmd_channels_list(args: argparse.Namespace, config: Config) -> None:
    from bot.store import Store

    store = Store(config.database)
    try:
        rows = {r.name: r for r in store.robots.sync([(c.name, c.kind) for c in config.channels])}
    finally:
        store.close()
    if not config.channels:
        print("no robot channels configured")
    for channel in config.channels:
        row = rows[channel.name]
        state = "active" if row.active else f"stopped ({row.stop_reason})"
        last = f"last delivery {row.last_pushed} at {row.last_delivery_at}" if row.last_pushed else "nothing posted yet"
        failing = f"; {row.failures} failed attempt(s), last: {row.last_error}" if row.failures else ""
        print(f"{channel.describe()}\n    {state}; next day {row.next_day}; {last}{failing}")


def cmd_run(args: argparse.Namespace, config: Config) -> None:
    """Serve Telegram with the configured token, or the offline local chat without one (or with --offline)."""
    from bot.logs import redact, setup_logging

    problems = _database_problems(config)
    if problems:
        raise CliError("\n".join(problems))
    offline = config.offline or args.offline
    # The offline chat prints a transcript: routine INFO lines would drown it.
    level = "WARNING" if offline and config.log_level == "INFO" else config.log_level
    setup_logging(level, *config.secret_values(), log_file=config.log_file)
    try:
        _serve(config, offline)
    except InvalidToken:
        # PTB's own message quotes the token: say what is wrong without it.
        raise CliError("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN or telegram.token") from None
    except TelegramError as exc:
        detail = redact(str(exc), [config.telegram.token])
        raise CliError(f"could not start the bot: {type(exc).__name__}: {detail}") from None
    except sqlite3.DatabaseError as exc:
        raise CliError(f"database {config.database}: {exc}") from None


def _serve(config: Config, offline: bool) -> None:
    import asyncio

    if offline:
        from bot.offline import run_interactive, run_offline

        if sys.stdin.isatty() and sys.stdout.isatty():
            run_interactive(config)
        else:
            asyncio.run(run_offline(config))
    else:
        from bot.runner import serve

        asyncio.run(serve(config))


def cmd_backup(args: argparse.Namespace, config: Config) -> None:
    from bot.store import backup_database, check_database

    target = Path(args.file)
    if not config.database.is_file():
        raise CliError(f"no database to back up at {config.database}")
    problems = [p for p in check_database(config.database) if "not writable" not in p]
    if problems:
        raise CliError("\n".join(problems))
    if target.exists() and not args.force:
        raise CliError(f"{target} exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise CliError(f"folder {target.parent} does not exist")
    try:
        size = backup_database(config.database, target)
    except (sqlite3.Error, OSError) as exc:
        raise CliError(f"backup failed: {exc}") from None
    print(f"backed up {config.database} to {target} ({size:,} bytes, integrity ok)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


CONFIG_HELP = "configuration file (default: ./config.yaml if present, else built-in defaults)"


class _Commands(argparse._SubParsersAction):
    """Subcommands that also take -c FILE, so `studybot run -c FILE` works as well as `studybot -c FILE run`."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = super().add_parser(name, **kwargs)
        # SUPPRESS: given after the subcommand it overrides the top-level one; absent, it leaves that alone.
        parser.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
        parser.register("action", "parsers", _Commands)
        return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studybot",
        description="A Telegram bot that takes a study group through one long speech.",
    )
    parser.add_argument("-c", "--config", type=Path, default=None, help=CONFIG_HELP)
    parser.register("action", "parsers", _Commands)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run the bot (offline local chat when no token is configured)",
                              description="Run the bot: long polling (or webhook) with a token; without one, an "
                                          "offline local chat against a built-in stand-in for the Bot API.")
    run.add_argument("--offline", action="store_true", help="run the offline local chat even if a token is set")
    run.set_defaults(func=cmd_run)

    toc = commands.add_parser("toc", help="print the outline of the speech", description="Print the outline.")
    toc.set_defaults(func=cmd_toc)

    show = commands.add_parser("show", help="print one section, e.g. 2.3 or 二、3",
                               description="Print a section by reference: 2.3, 二、3, 2, 开头, 结语 ...")
    show.add_argument("ref", nargs="+", help="the section reference")
    show.set_defaults(func=cmd_show)

    search = commands.add_parser("search", help="full-text search of the speech",
                                 description="Search the speech; every term must match (any length, any text).")
    search.add_argument("terms", nargs="+", help="search terms")
    search.add_argument("-n", "--limit", type=_positive, default=5, help="how many hits per page (default 5)")
    search.add_argument("-p", "--page", type=_positive, default=1, help="which page of hits (default 1)")
    search.set_defaults(func=cmd_search)

    plan = commands.add_parser("plan", help="print the daily reading plan",
                               description="Print the daily reading plan with each reading's length and sections.")
    plan.add_argument("--min-chars", type=int, default=None, help="shortest reading (default from config)")
    plan.add_argument("--max-chars", type=int, default=None, help="longest reading (default from config)")
    plan.set_defaults(func=cmd_plan)

    content = commands.add_parser("content", help="check a speech file",
                                  description="Work with speech files.")
    content_commands = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    check = content_commands.add_parser("check", help="parse a speech file and print its structure or the error",
                                        description="Parse FILE and print its structure, or a precise error.")
    check.add_argument("file", help="a UTF-8 text file")
    check.set_defaults(func=cmd_content_check)

    groups = commands.add_parser("groups", help="list the groups in the database with their ids and titles",
                                 description="List every group the bot knows: id, title, members, days pushed.")
    groups.set_defaults(func=cmd_groups)

    export = commands.add_parser("export", help="write a group's study ledger (学习台账) as XLSX or CSV",
                                 description="Write the study ledger of one group: sheets 台账, 汇总, 测验, 每日 "
                                             "(XLSX), or the same as CSV files in a zip.")
    export.add_argument("--chat", type=int, required=True, help="the group's id (see `studybot groups`)")
    export.add_argument("--from", dest="start", default=None, help="first local date, YYYY-MM-DD (default: first push)")
    export.add_argument("--to", dest="end", default=None, help="last local date, YYYY-MM-DD (default: today)")
    export.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="xlsx (default) or csv (a zip)")
    export.add_argument("-o", "--output", type=Path, default=None,
                        help="the file to write (default: 学习台账_<group>_<dates> in the working folder)")
    export.set_defaults(func=cmd_export)

    config = commands.add_parser("config", help="check the configuration", description="Configuration tools.")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_check = config_commands.add_parser("check", help="validate the configuration and report every problem",
                                              description="Validate the configuration file and the content.")
    config_check.set_defaults(func=cmd_config_check)

    backup = commands.add_parser("backup", help="copy the database safely, even while the bot runs",
                                 description="Back up the database to FILE with SQLite's online backup API (safe "
                                             "while the bot runs). Restore: stop the bot, copy FILE over the "
                                             "database, delete its -wal and -shm files, start the bot.")
    backup.add_argument("file", help="the backup file to write, e.g. studybot-2026-12-01.db")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(func=cmd_backup)

    channels = commands.add_parser("channels", help="robot channels (WeCom, DingTalk, Feishu)",
                                   description="Work with the robot channels listed under channels: in the config.")
    channel_commands = channels.add_subparsers(dest="channels_command", metavar="ACTION", required=True)
    channels_test = channel_commands.add_parser("test", help="post a short test message and show the robot's answer",
                                                description="Post a short test message to robot channel NAME now "
                                                            "and report the platform's answer.")
    channels_test.add_argument("name", help="the channel's name in the config")
    channels_test.set_defaults(func=cmd_channels_test)
    channels_list = channel_commands.add_parser("list", help="each channel's progress and last delivery",
                                                description="List the robot channels with progress, last delivery "
                                                            "and any stop reason.")
    channels_list.set_defaults(func=cmd_channels_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        args.func(args, config)
    except ConfigError as exc:
        print(f"studybot: {exc}", file=sys.stderr)
        return 2
    except (CliError, SpeechFormatError, QuestionBankError) as exc:
        print(f"studybot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
