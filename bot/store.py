"""The SQLite store: the one module that owns the schema. Returns dataclasses, never rows."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError
from sqlite_utils.migrations import Migrations

from content.scoring import answer_is_right
from schedules.due import PushSchedule
from schedules.ledger import (
    DEFAULT_LEASE,
    Claim,
    ClaimAsk,
    DayRecord,
    LostClaim,
    PlanRule,
    Progress,
    RecordAsk,
    advanced,
    channel_key,
    claim_of,
    take,
    telegram_key,
)
from schedules.review import ReviewCard

migrations = Migrations("studybot")
# How long a write waits for another connection's lock before failing (then the caller retries it).
BUSY_TIMEOUT_MS = 5000
# Until the bot says how long its plan is, nothing counts as finished (tests that build a bare Store).
NO_END = PlanRule(length=2**31)


@migrations()
def m001_groups_and_deliveries(db: Database) -> None:
    db.execute(
        """CREATE TABLE groups (
            chat_id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            subscribed INTEGER NOT NULL DEFAULT 0,
            paused INTEGER NOT NULL DEFAULT 0,
            push_time TEXT NOT NULL,
            timezone TEXT NOT NULL,
            weekdays TEXT NOT NULL,
            next_day INTEGER NOT NULL DEFAULT 1,
            last_pushed TEXT,
            finished INTEGER NOT NULL DEFAULT 0,
            daily_quiz INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX groups_pushable ON groups(active, subscribed, paused, finished)")
    db.execute(
        """CREATE TABLE deliveries (
            chat_id INTEGER NOT NULL,
            local_date TEXT NOT NULL,
            day INTEGER NOT NULL,
            status TEXT NOT NULL,
            owner TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            message_id INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, local_date)
        )"""
    )


@migrations()
def m002_quiz(db: Database) -> None:
    db.execute(
        """CREATE TABLE rounds (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            started_by INTEGER NOT NULL,
            started_at REAL NOT NULL,
            status TEXT NOT NULL,
            question_ids TEXT NOT NULL,
            position INTEGER NOT NULL DEFAULT 0,
            scope TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute("CREATE INDEX rounds_running ON rounds(chat_id, status)")
    db.execute(
        """CREATE TABLE polls (
            poll_id TEXT PRIMARY KEY,
            round_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            ref TEXT NOT NULL,
            correct_index INTEGER NOT NULL,
            position INTEGER NOT NULL,
            closes_at REAL NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX polls_round ON polls(round_id, position)")
    db.execute(
        """CREATE TABLE answers (
            poll_id TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            round_id INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            ref TEXT NOT NULL,
            option INTEGER NOT NULL,
            correct INTEGER NOT NULL,
            answered_at REAL NOT NULL,
            local_date TEXT NOT NULL,
            PRIMARY KEY (poll_id, user_id)
        )"""
    )
    db.execute("CREATE INDEX answers_member ON answers(chat_id, user_id)")
    db.execute(
        """CREATE TABLE members (
            chat_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (chat_id, user_id)
        )"""
    )


@migrations()
def m003_quiz_multiple_answers(db: Database) -> None:
    """A quiz poll may have several correct options, and a member's answer several chosen ones (JSON lists)."""
    db.execute("ALTER TABLE polls ADD COLUMN correct_ids TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE answers ADD COLUMN option_ids TEXT NOT NULL DEFAULT ''")


@migrations()
def m004_campaign_records(db: Database) -> None:
    """Check-ins, the roster, excuses, reminders and completion notes; quiz rounds learn their kind and close."""
    # The roster is the existing members table (names for rankings) with what a roll call needs. Times are unix
    # seconds, as answers.answered_at; a NULL joined_at means "seen before the roster began".
    for column in ("username TEXT", "is_bot INTEGER NOT NULL DEFAULT 0",
                   "status TEXT NOT NULL DEFAULT 'present'",  # present | left | removed (by an admin)
                   "joined_at REAL", "left_at REAL", "seen_at REAL"):
        db.execute(f"ALTER TABLE members ADD COLUMN {column}")
    db.execute("CREATE INDEX members_username ON members(chat_id, username COLLATE NOCASE)")
    db.execute(
        """CREATE TABLE checkins (
            chat_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            push_date TEXT NOT NULL,
            day INTEGER NOT NULL,
            local_date TEXT NOT NULL,
            local_time TEXT NOT NULL,
            at REAL NOT NULL,
            late INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (chat_id, user_id, push_date)
        )"""
    )
    db.execute("CREATE INDEX checkins_push ON checkins(chat_id, push_date)")
    db.execute(
        """CREATE TABLE excuses (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            start_date TEXT NOT NULL,
            end_date TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            by_user INTEGER NOT NULL,
            created_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX excuses_member ON excuses(chat_id, user_id)")
    db.execute(
        """CREATE TABLE reminders (
            chat_id INTEGER PRIMARY KEY,
            remind_time TEXT,
            reminded_on TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE completions (
            chat_id INTEGER NOT NULL,
            push_date TEXT NOT NULL,
            sent_at REAL NOT NULL,
            PRIMARY KEY (chat_id, push_date)
        )"""
    )
    # 'quiz' is a /quiz round (polls one after another); 'daily' follows a push, all polls open until closes_at.
    db.execute("ALTER TABLE rounds ADD COLUMN kind TEXT NOT NULL DEFAULT 'quiz'")
    db.execute("ALTER TABLE rounds ADD COLUMN closes_at REAL")


@migrations()
def m010_personal_review(db: Database) -> None:
    # One member's spaced-review cards per group; review polls sent in private; reminder settings per member.
    db.execute(
        """CREATE TABLE review_cards (
            chat_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            ref TEXT NOT NULL,
            state TEXT NOT NULL,
            due TEXT NOT NULL,
            reviews INTEGER NOT NULL DEFAULT 0,
            lapses INTEGER NOT NULL DEFAULT 0,
            last_correct INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (chat_id, user_id, question_id)
        )"""
    )
    db.execute("CREATE INDEX review_cards_due ON review_cards(user_id, due)")
    db.execute(
        """CREATE TABLE review_polls (
            poll_id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            correct_ids TEXT NOT NULL,
            session TEXT NOT NULL,
            position INTEGER NOT NULL,
            answered INTEGER NOT NULL DEFAULT 0,
            correct INTEGER
        )"""
    )
    db.execute("CREATE INDEX review_polls_user ON review_polls(user_id)")
    db.execute(
        """CREATE TABLE review_members (
            user_id INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            current INTEGER NOT NULL DEFAULT 0,
            left_group INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, chat_id)
        )"""
    )
    db.execute(
        """CREATE TABLE review_reminders (
            user_id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            timezone TEXT NOT NULL,
            last_sent TEXT
        )"""
    )



@migrations()
def m011_report_digests(db: Database) -> None:
    # One row per group and week whose digest was claimed: the weekly digest goes out once, across restarts.
    db.execute(
        """CREATE TABLE report_digests (
            chat_id INTEGER NOT NULL,
            week TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, week)
        )"""
    )


@migrations()
def m012_push_ledger(db: Database) -> None:
    """One push ledger (schedules/ledger.py) instead of groups.next_day/last_pushed/finished plus deliveries.

    Every group keeps its progress: next_day moves to ledger_progress; every delivery becomes a day record (sent stays
    sent; a 'sending' claim becomes a claim whose lease has run out, as the old rule treated another run's claim; a
    failed one is released); a last_pushed date without a delivery row becomes a sent record, so it is not pushed
    again. A finished group keeps its next_day past the plan's end, which is what "finished" now means.
    """
    db.execute("CREATE TABLE ledger_progress (key TEXT PRIMARY KEY, next_day INTEGER NOT NULL)")
    db.execute(
        """CREATE TABLE ledger_days (
            key TEXT NOT NULL,
            local_date TEXT NOT NULL,
            day INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'released')),
            owner TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            lease_until REAL NOT NULL,
            parts_sent INTEGER NOT NULL DEFAULT 0,
            message_id INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (key, local_date)
        )"""
    )
    db.execute("CREATE INDEX ledger_days_by_state ON ledger_days(key, state, local_date)")
    db.execute("INSERT INTO ledger_progress (key, next_day) SELECT 'tg:' || chat_id, next_day FROM groups")
    db.execute(
        """INSERT INTO ledger_days (key, local_date, day, state, owner, token, lease_until, parts_sent, message_id,
                                    attempts, updated_at)
           SELECT 'tg:' || chat_id, local_date, day,
                  CASE status WHEN 'sent' THEN 'sent' WHEN 'sending' THEN 'claimed' ELSE 'released' END,
                  owner, lower(hex(randomblob(16))), 0, CASE status WHEN 'sent' THEN 1 ELSE 0 END, message_id,
                  attempts, updated_at
           FROM deliveries"""
    )
    db.execute(
        """INSERT INTO ledger_days (key, local_date, day, state, owner, token, lease_until, parts_sent, updated_at)
           SELECT 'tg:' || chat_id, last_pushed, max(next_day - 1, 1), 'sent', 'm012', lower(hex(randomblob(16))),
                  0, 1, created_at
           FROM groups WHERE last_pushed IS NOT NULL
           ON CONFLICT(key, local_date) DO UPDATE SET state = 'sent'"""
    )
    db.execute("DROP INDEX groups_pushable")
    for column in ("next_day", "last_pushed", "finished"):
        db.execute(f"ALTER TABLE groups DROP COLUMN {column}")
    db.execute("CREATE INDEX groups_pushable ON groups(active, subscribed, paused)")
    db.execute("DROP TABLE deliveries")


@dataclass(frozen=True)
class GroupDefaults:
    push_time: time = time(8, 0)
    timezone: str = "Asia/Shanghai"
    weekdays: frozenset[int] = frozenset(range(7))
    daily_quiz: int = 0


@dataclass(frozen=True)
class GroupChanges:
    """Settings to change in a group's record (`Store.update_group`); None leaves a setting as it is.

    `next_day` (an admin's /goto) is the group's progress, which the ledger keeps; `finished=True` moves it past the
    plan's end (what "finished" means)."""

    title: str | None = None
    active: bool | None = None
    subscribed: bool | None = None
    paused: bool | None = None
    push_time: time | None = None
    timezone: str | None = None
    weekdays: frozenset[int] | None = None
    daily_quiz: int | None = None
    next_day: int | None = None
    finished: bool = False

    def columns(self) -> dict[str, str | int]:
        """The changed `groups` columns, as stored."""
        values: dict[str, str | int | bool | time | frozenset[int] | None] = {
            "title": self.title, "active": self.active, "subscribed": self.subscribed, "paused": self.paused,
            "push_time": self.push_time, "timezone": self.timezone, "weekdays": self.weekdays,
            "daily_quiz": self.daily_quiz}
        return {name: _to_column(value) for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class Group:
    chat_id: int
    title: str
    active: bool
    subscribed: bool
    paused: bool
    push_time: time
    timezone: str
    weekdays: frozenset[int]
    next_day: int  # the plan day the next push sends (from the ledger)
    last_pushed: date | None  # the local date of the last push delivered (from the ledger)
    finished: bool  # next_day is past the plan's end and the plan does not restart
    daily_quiz: int

    @property
    def schedule(self) -> PushSchedule:
        return PushSchedule(time=self.push_time, timezone=self.timezone, weekdays=self.weekdays)

    @property
    def pushable(self) -> bool:
        return self.active and self.subscribed and not self.paused and not self.finished


@dataclass(frozen=True)
class PollRecord:
    poll_id: str
    round_id: int
    chat_id: int
    message_id: int
    question_id: str
    ref: str
    correct_index: int
    position: int
    closes_at: float
    closed: bool
    # Every correct option of a multiple-answer quiz; empty means just correct_index.
    correct_ids: tuple[int, ...] = ()

    @property
    def correct_set(self) -> tuple[int, ...]:
        return self.correct_ids or (self.correct_index,)


@dataclass(frozen=True)
class Round:
    id: int
    chat_id: int
    started_by: int
    started_at: float
    status: str  # running, finished, stopped
    question_ids: tuple[str, ...]
    position: int  # index of the question being asked (or next to ask)
    scope: str
    kind: str = "quiz"  # quiz: /quiz, one poll after another; daily: after a push, every poll open until closes_at
    closes_at: float | None = None  # daily rounds: when our own timer stops their polls and posts the results


@dataclass(frozen=True)
class ReviewPoll:
    poll_id: str
    user_id: int
    chat_id: int  # the group whose review this is
    question_id: str
    correct_ids: tuple[int, ...]
    session: str
    position: int
    answered: bool
    correct: bool | None = None  # once answered


@dataclass(frozen=True)
class ReviewReminder:
    user_id: int
    at: time
    timezone: str
    last_sent: date | None


@dataclass(frozen=True)
class AnswerRecord:
    poll_id: str
    user_id: int
    question_id: str
    ref: str
    correct: bool
    answered_at: float
    local_date: date


# --- campaign records (issue 10): roster, check-ins, excuses, reminders -----------------------------------------


@dataclass(frozen=True)
class Member:
    """One person on a group's roster; `status` is present, left (they left the group) or removed (by an admin)."""

    chat_id: int
    user_id: int
    name: str
    username: str | None
    is_bot: bool
    status: str
    joined_at: float | None  # unix time of the join we saw; None: known from before the roster began
    left_at: float | None
    seen_at: float | None  # last message, press or answer


@dataclass(frozen=True)
class Checkin:
    """A member's 已学习 for one pushed reading: once per (group, member, push date)."""

    chat_id: int
    user_id: int
    push_date: date  # the local date the reading was pushed (the ledger's day key)
    day: int  # plan day of that reading
    local_date: date  # when the member pressed, in the group's zone
    local_time: time
    at: float  # unix time of the press
    late: bool  # 补学: pressed on a later local date than the push


@dataclass(frozen=True)
class Excuse:
    id: int
    chat_id: int
    user_id: int
    start: date  # inclusive local dates
    end: date
    reason: str
    by_user: int

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Reminder:
    chat_id: int
    remind_time: time | None  # local time of the evening reminder; None: off
    reminded_on: date | None  # local date of the last reminder sent


@migrations()
def m012_push_holds(db: Database) -> None:
    """A local date a settings change made due at once, which is not pushed (schedules.due.held_date)."""
    db.execute("CREATE TABLE push_holds (chat_id INTEGER PRIMARY KEY, local_date TEXT NOT NULL)")


@migrations()
def m013_record_tallies(db: Database) -> None:
    """Covering indexes for the campaign record's counts (Store.record_tallies): a 5,000-member, 60-day group's
    600,000 check-ins and answers are counted from the index alone, by date range, without touching the tables."""
    db.execute("CREATE INDEX answers_period ON answers(chat_id, local_date, user_id, ref, question_id, correct)")
    db.execute("CREATE INDEX checkins_period ON checkins(chat_id, push_date, user_id, local_date, local_time)")


SQLITE_HEADER = b"SQLite format 3\x00"
# The oldest SQLite library the store's statements run on: UPDATE ... FROM (3.33) in the ledger's batches and
# FTS5's trigram tokenizer (3.34) in search; the JSON functions (json_each) and FTS5 must be compiled in.
SQLITE_NEEDED = (3, 34, 0)


def library_problems() -> list[str]:
    """What the SQLite library Python links to lacks for this store, one line each (empty: nothing). Without it every
    ledger batch would fail on "no such table: json_each", retried as if the database were locked."""
    version = sqlite3.sqlite_version_info
    if version < SQLITE_NEEDED:
        return [f"SQLite {'.'.join(map(str, version))} is too old: studybot needs {'.'.join(map(str, SQLITE_NEEDED))}"
                " or later (a Python that links a newer SQLite: python.org's installers, the python Docker images)"]
    probe = sqlite3.connect(":memory:")
    try:
        for feature, statement in (("the JSON functions", "SELECT value FROM json_each('[1]')"),
                                   ("FTS5 with the trigram tokenizer",
                                    "CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize='trigram')")):
            try:
                probe.execute(statement).fetchall()
            except sqlite3.OperationalError:
                return [f"SQLite {sqlite3.sqlite_version} was built without {feature}, which studybot needs"]
    finally:
        probe.close()
    return []


def check_database(path: Path) -> list[str]:
    """Every reason `path` cannot serve as the bot's database, one line each (empty: it can).

    It exists or can be created, is an SQLite file, can be written (with its folder: WAL keeps files beside it),
    and was not written by a newer studybot (a migration this code does not know). Opens it read-only.
    """
    if path.is_dir():
        return [f"database {path} is a folder, not a file"]
    folder = path.parent if str(path.parent) else Path(".")
    if not path.exists():
        # The bot creates missing folders on start: the nearest existing one must be a writable folder.
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p == Path(p.anchor or "."))
        if not existing.is_dir():
            return [f"database {path} cannot be created: {existing} is not a folder"]
        if not os.access(existing, os.W_OK | os.X_OK):
            return [f"database {path} cannot be created: the folder {existing} is not writable"]
        return []
    problems = []
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        return [f"database {path} cannot be read: {exc.strerror or exc}"]
    if head and head != SQLITE_HEADER:
        return [f"database {path} is not an SQLite database (move it away or set `database` to another file)"]
    if not os.access(path, os.W_OK):
        problems.append(f"database {path} is not writable")
    if not os.access(folder, os.W_OK | os.X_OK):
        problems.append(f"database {path}: its folder {folder} is not writable (SQLite keeps its WAL file there)")
    if not head:
        return problems
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db = Database(conn)
            applied = {m.name for m in migrations.applied(db)}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [*problems, f"database {path} cannot be opened: {exc}"]
    known = {m.name for m in migrations.pending(Database(memory=True))}
    if unknown := sorted(applied - known):
        problems.append(f"database {path} was written by a newer studybot (unknown schema migrations: "
                        f"{', '.join(unknown)}); upgrade studybot or restore a backup")
    return problems


def schema_state(path: Path) -> str:
    """'new', 'current' or 'N migration(s) to apply' — for `config check` (the file must pass check_database)."""
    if not path.exists() or path.stat().st_size == 0:
        return "new (created on first run)"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        pending = migrations.pending(Database(conn))
    finally:
        conn.close()
    return "current" if not pending else f"{len(pending)} schema migration(s) will be applied on start"


def backup_database(source: Path, target: Path) -> int:
    """Copy the live database to `target` with SQLite's online backup API; returns its size in bytes.

    Safe while the bot runs: unlike copying the file, it includes what is still in the WAL and sees one consistent
    state. The copy is written beside `target` first and renamed into place once it passed an integrity check.
    """
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    try:
        dest = sqlite3.connect(partial)
        try:
            src.backup(dest)
            verdict = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
    finally:
        src.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise sqlite3.DatabaseError(f"the backup failed its integrity check: {verdict}")
    partial.replace(target)
    return target.stat().st_size


class Store:
    """All persistent state. Plain synchronous code: async callers reach it through `StoreWorker`, one thread."""

    def __init__(self, path: Path | str, defaults: GroupDefaults | None = None, plan: PlanRule = NO_END,
                 *, read_only: bool = False) -> None:
        self.path = str(path)
        self.defaults = defaults or GroupDefaults()
        self.plan = plan
        self.read_only = read_only
        # Opened here, used on the store worker's thread (bot/storeworker.py): one thread at a time, never two.
        if read_only:  # a reader beside the writer (see `reader`): the writer made the file, its WAL and schema
            uri = f"{Path(self.path).resolve().as_uri()}?mode=ro"
            self.db = Database(sqlite3.connect(uri, uri=True, check_same_thread=False))
        else:
            self.db = Database(sqlite3.connect(self.path, check_same_thread=False))
        # Held by the worker for each batch (a group commit is many statements) and by every public method, so
        # a call from another thread (tests, start-up) waits instead of interleaving its statements.
        self.guard = threading.RLock()
        self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: switching to WAL may wait for a lock too
        if self.path != ":memory:" and not read_only:
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
        if not read_only:
            self._migrate()
        # This process's owner id in the ledger: its claims are its own until their lease runs out.
        self.run_id = uuid.uuid4().hex
        self.ledger = SqliteLedger(self.db, self.guard)
        self.robots = RobotRecords(self.db, lambda: self.plan)
        # Quiz polls looked up in the transaction now open (see `snapshot_memo`), None outside one.
        self._poll_memo: dict[str, tuple[PollRecord, str | None] | None] | None = None

    def _migrate(self) -> None:
        """Apply the pending migrations holding the write lock from before they are read: two processes opening a
        database that needs one (the bot and `studybot backup` just after an upgrade) would otherwise both find it
        pending, and the second would fail to record it. The second waits (busy_timeout) and finds none."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            migrations.apply(self.db)  # each migration a savepoint inside this transaction
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def has_reader(self) -> bool:
        """Whether a second connection can read this database: not one in memory."""
        return not (self.path == ":memory:" or self.path.startswith("file:"))

    def reader(self) -> Store:
        """A second, read-only connection to the same file, for long reads (a report's or an export's load) on a
        thread of their own while this one goes on writing: in WAL mode readers and the writer do not wait for
        each other. Only for a store that `has_reader()`."""
        if not self.has_reader():
            raise ValueError("a database in memory has no second connection")
        return Store(self.path, self.defaults, self.plan, read_only=True)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the database as it was at the first one (one read transaction): a report's
        dozen statements count one state of the record, whatever the writer commits meanwhile."""
        conn = self.db.conn
        if conn.in_transaction:  # already inside one (e.g. the writer's own batch): that is the snapshot
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("ROLLBACK" if self.read_only else "COMMIT")

    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.guard, self.db.atomic():
            yield

    @contextmanager
    def snapshot_memo(self) -> Iterator[None]:
        """Within one open transaction, repeated `poll_and_zone` reads are answered from memory: the store worker's
        group commit of a burst of answers reads the same few polls again and again, and every statement is a
        hand-over of the GIL between the store thread and the event loop. Sound only while the calls inside write
        neither polls nor group time zones (the worker's hot calls: quiz answers) and the transaction stays open: a
        WAL reader sees one snapshot from its first read to its commit, and the caller ends the memo before that."""
        self._poll_memo = {}
        try:
            yield
        finally:
            self._poll_memo = None

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        # A plain cursor: db.query() wraps every read in a savepoint, three statements where one will do.
        cursor = self.db.execute(sql, list(params))
        row = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row is not None else None

    # --- groups -------------------------------------------------------------------------------------------

    def group(self, chat_id: int) -> Group | None:
        row = self._one(f"{_GROUP_SELECT} WHERE g.chat_id = ?", [chat_id])
        return _group(row, self.plan) if row else None

    def groups_by_id(self, chat_ids: Sequence[int]) -> dict[int, Group]:
        """Those of the groups that exist, in one statement (a broadcast's claims of one loop turn: see
        SqliteLedger, on statements in a batch)."""
        cursor = self.db.execute(f"{_GROUP_SELECT} WHERE g.chat_id IN (SELECT value FROM json_each(?))",
                                 [json.dumps(list(chat_ids))])
        names = [c[0] for c in cursor.description]
        plan = self.plan
        return {group.chat_id: group for group in
                (_group(dict(zip(names, row, strict=True)), plan) for row in cursor.fetchall())}

    def ensure_group(self, chat_id: int, title: str = "") -> Group:
        """The group's record, created with the configured defaults if it is new."""
        d = self.defaults
        self.db.execute(
            """INSERT INTO groups (chat_id, title, push_time, timezone, weekdays, daily_quiz, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO NOTHING""",
            [chat_id, title, d.push_time.strftime("%H:%M"), d.timezone, _days(d.weekdays), d.daily_quiz,
             _now_iso()],
        )
        if title:
            self.db.execute("UPDATE groups SET title = ? WHERE chat_id = ? AND title != ?", [title, chat_id, title])
        return _found(self.group(chat_id), f"group {chat_id}")

    def update_group(self, chat_id: int, changes: GroupChanges) -> Group:
        """Change settings of an existing group (NotFoundError if there is none)."""
        columns = changes.columns()
        next_day = self.plan.length + 1 if changes.finished else changes.next_day
        with self.db.atomic():
            if columns:
                sets = ", ".join(f"{k} = ?" for k in columns)
                self.db.execute(f"UPDATE groups SET {sets} WHERE chat_id = ?", [*columns.values(), chat_id])
            if next_day is not None:
                self.ledger.set_next_day(telegram_key(chat_id), next_day)
        return _found(self.group(chat_id), f"group {chat_id}")

    def groups(self, active_only: bool = False) -> list[Group]:
        where = "WHERE g.active = 1" if active_only else ""
        return [_group(r, self.plan) for r in self.db.query(f"{_GROUP_SELECT} {where} ORDER BY g.chat_id")]

    def hold_push(self, chat_id: int, local_date: date) -> None:
        """Today's push, made due at once by a settings change, is not sent (see schedules.due.held_date)."""
        self.db.execute("INSERT OR REPLACE INTO push_holds (chat_id, local_date) VALUES (?, ?)",
                        [chat_id, local_date.isoformat()])

    def push_hold(self, chat_id: int) -> date | None:
        row = self.db.execute("SELECT local_date FROM push_holds WHERE chat_id = ?", [chat_id]).fetchone()
        return date.fromisoformat(row[0]) if row else None

    def _push_holds(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT chat_id, local_date FROM push_holds").fetchall())

    def push_candidates(self) -> list[tuple[int, PushSchedule, date | None]]:
        """Groups that take daily pushes, as (chat_id, schedule, last pushed local date); finished ones are left out."""
        finished = "" if self.plan.at_end == "restart" else "AND coalesce(p.next_day, 1) <= ?"
        rows = self.db.execute(
            f"""SELECT g.chat_id, g.push_time, g.timezone, g.weekdays, {_LAST_SENT} AS last_pushed
                FROM groups g LEFT JOIN ledger_progress p ON p.key = 'tg:' || g.chat_id
                WHERE g.active = 1 AND g.subscribed = 1 AND g.paused = 0 {finished}""",
            [self.plan.length] if finished else [],
        ).fetchall()
        schedules: dict[tuple[str, str, str], PushSchedule] = {}
        out = []
        holds = self._push_holds()
        for chat_id, push_time, zone, days, last in rows:
            last = max(filter(None, (last, holds.get(chat_id))), default=None)  # a held date counts as pushed
            key = (push_time, zone, days)
            schedule = schedules.get(key)
            if schedule is None:
                schedule = schedules[key] = PushSchedule(time=_time(push_time), timezone=zone, weekdays=_weekdays(days))
            out.append((chat_id, schedule, date.fromisoformat(last) if last else None))
        return out

    def deactivate(self, chat_id: int) -> None:
        """The bot left or was removed: no pushes until it is added again (a chat never seen stays unknown)."""
        self.db.execute("UPDATE groups SET active = 0 WHERE chat_id = ?", [chat_id])

    def migrate_chat(self, old_id: int, new_id: int) -> bool:
        """A group became a supergroup: its record, progress, deliveries and scores move to the new id.

        False if there was nothing to move (already moved: the service message and a send's ChatMigrated both
        report it).
        """
        with self.db.atomic():
            if self._one("SELECT 1 AS x FROM groups WHERE chat_id = ?", [old_id]) is None:
                return False
            if self._one("SELECT 1 AS x FROM groups WHERE chat_id = ?", [new_id]) is not None:
                # The new id already announced itself (e.g. a message arrived first): keep the old, richer record.
                self.db.execute("DELETE FROM groups WHERE chat_id = ?", [new_id])
            for table in ("groups", "rounds", "polls", "answers", "members", "checkins", "excuses", "reminders",
                          "completions", "report_digests"):
                self.db.execute(f"UPDATE OR REPLACE {table} SET chat_id = ? WHERE chat_id = ?", [new_id, old_id])
            # The push under way (if any) moves too: its claim keeps its token, so it is recorded at the new id.
            self.ledger.move(telegram_key(old_id), telegram_key(new_id))
            # Config still names the old id (a robot channel's `follow:`): remember where the group went.
            self.db.execute("INSERT OR REPLACE INTO chat_moves (old_id, new_id) VALUES (?, ?)", [old_id, new_id])
        return True

    def current_chat(self, chat_id: int) -> int:
        """The id a group has now, following its moves to supergroups (config may name an id it had before)."""
        seen = {chat_id}
        while (row := self._one("SELECT new_id FROM chat_moves WHERE old_id = ?", [chat_id])) is not None:
            chat_id = int(row["new_id"])
            if chat_id in seen:  # a move back and forth (never seen in practice): stop where it started
                break
            seen.add(chat_id)
        return chat_id

    # --- the push ledger, for tests and the CLI ------------------------------------------------------------

    def record_push(self, chat_id: int, local_date: date, message_id: int | None = None) -> Group | None:
        """Record the group's next reading as pushed on `local_date` without sending it (demo data, benchmarks).

        None if that date is already taken or the plan is finished; otherwise the group, moved on one day.
        """
        with self.atomic():
            claim = self.ledger.claim(telegram_key(chat_id), local_date, self.run_id, datetime.now().timestamp(),
                                      self.plan)
            if claim is None:
                return None
            self.ledger.record(claim, message_id, self.plan)
            return self.group(chat_id)

    def delivery_counts(self) -> dict[str, int]:
        """Day records by state ('claimed', 'sent', 'released')."""
        return {r["state"]: r["n"] for r in self.db.query(
            "SELECT state, count(*) AS n FROM ledger_days GROUP BY state")}

    def deliveries(self, chat_id: int) -> list[tuple[date, int, str]]:
        """(local date, plan day, state) of every day record of this chat."""
        return [(date.fromisoformat(r["local_date"]), r["day"], r["state"]) for r in self.db.query(
            "SELECT local_date, day, state FROM ledger_days WHERE key = ? ORDER BY local_date",
            [telegram_key(chat_id)])]

    # --- quiz rounds, polls and answers --------------------------------------------------------------------

    def running_round(self, chat_id: int, kind: str = "quiz") -> Round | None:
        row = self._one("SELECT * FROM rounds WHERE chat_id = ? AND status = 'running' AND kind = ?",
                        [chat_id, kind])
        return _round(row) if row else None

    def running_rounds(self) -> list[Round]:
        return [_round(r) for r in self.db.query("SELECT * FROM rounds WHERE status = 'running'")]

    def round(self, round_id: int) -> Round | None:
        row = self._one("SELECT * FROM rounds WHERE id = ?", [round_id])
        return _round(row) if row else None

    def start_round(self, chat_id: int, started_by: int, question_ids: list[str], scope: str,
                    now: float, kind: str = "quiz", closes_at: float | None = None) -> Round | None:
        """A new running round, or None if the group already has one of this kind (a /quiz and a daily may overlap)."""
        with self.db.atomic():
            if self.running_round(chat_id, kind) is not None:
                return None
            cursor = self.db.execute(
                """INSERT INTO rounds (chat_id, started_by, started_at, status, question_ids, scope, kind, closes_at)
                   VALUES (?, ?, ?, 'running', ?, ?, ?, ?)""",
                [chat_id, started_by, now, json.dumps(question_ids), scope, kind, closes_at],
            )
        return _found(self.round(int(cursor.lastrowid or 0)), "the round just started")

    def advance_round(self, round_id: int) -> Round:
        self.db.execute("UPDATE rounds SET position = position + 1 WHERE id = ?", [round_id])
        return _found(self.round(round_id), f"round {round_id}")

    def end_round(self, round_id: int, status: str) -> bool:
        """Finish a running round; False if it had already ended (so results are posted once)."""
        cursor = self.db.execute("UPDATE rounds SET status = ? WHERE id = ? AND status = 'running'",
                                 [status, round_id])
        return cursor.rowcount == 1

    def record_poll(self, poll: PollRecord) -> None:
        self.db.execute(
            """INSERT INTO polls (poll_id, round_id, chat_id, message_id, question_id, ref, correct_index,
                                  position, closes_at, closed, correct_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [poll.poll_id, poll.round_id, poll.chat_id, poll.message_id, poll.question_id, poll.ref,
             poll.correct_index, poll.position, poll.closes_at, int(poll.closed),
             json.dumps(list(poll.correct_ids)) if poll.correct_ids else ""],
        )

    def poll(self, poll_id: str) -> PollRecord | None:
        row = self._one("SELECT * FROM polls WHERE poll_id = ?", [poll_id])
        return _poll(row) if row else None

    def poll_and_zone(self, poll_id: str) -> tuple[PollRecord, str | None] | None:
        """A quiz poll and its group's time zone (None: the group has no record), in one read: every answer needs
        both, and answers come in bursts."""
        memo = self._poll_memo
        if memo is not None and poll_id in memo:
            return memo[poll_id]
        row = self._one("""SELECT polls.*, groups.timezone AS group_timezone FROM polls LEFT JOIN groups
                           ON groups.chat_id = polls.chat_id WHERE poll_id = ?""", [poll_id])
        found = (_poll(row), row["group_timezone"]) if row else None
        if memo is not None:
            memo[poll_id] = found
        return found

    def round_polls(self, round_id: int) -> list[PollRecord]:
        return [_poll(r) for r in self.db.query("SELECT * FROM polls WHERE round_id = ? ORDER BY position",
                                                [round_id])]

    def close_poll(self, poll_id: str) -> bool:
        """Mark the poll closed; False if it already was (so the next question is sent once)."""
        cursor = self.db.execute("UPDATE polls SET closed = 1 WHERE poll_id = ? AND closed = 0", [poll_id])
        return cursor.rowcount == 1

    def record_answer(self, poll: PollRecord, user_id: int, option: int | Sequence[int], now: float,
                      local_date: date, late_allowance: float = 2.0) -> bool:
        """Store a member's first answer to an open poll; False if it does not count (late, closed, repeated).

        `option` is the chosen option, or all chosen options of a multiple-answer quiz (right only when exactly the
        correct set). `late_allowance` seconds cover an answer Telegram took just before the close but that reached
        us after it.
        """
        if poll.closed or now > poll.closes_at + late_allowance:
            return False
        chosen = (option,) if isinstance(option, int) else tuple(option)
        cursor = self.db.execute(
            """INSERT INTO answers (poll_id, user_id, chat_id, round_id, question_id, ref, option, correct,
                                    answered_at, local_date, option_ids)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(poll_id, user_id) DO NOTHING""",
            [poll.poll_id, user_id, poll.chat_id, poll.round_id, poll.question_id, poll.ref, chosen[0],
             int(answer_is_right(chosen, poll.correct_set)), now, local_date.isoformat(),
             json.dumps(list(chosen)) if len(chosen) > 1 else ""],
        )
        return cursor.rowcount == 1

    def round_answers(self, round_id: int) -> list[AnswerRecord]:
        return [_answer(r) for r in self.db.query(
            "SELECT * FROM answers WHERE round_id = ? ORDER BY answered_at", [round_id])]

    def member_answers(self, chat_id: int, user_id: int) -> list[AnswerRecord]:
        return [_answer(r) for r in self.db.query(
            "SELECT * FROM answers WHERE chat_id = ? AND user_id = ? ORDER BY answered_at", [chat_id, user_id])]

    def chat_scores(self, chat_id: int, since: float | None = None) -> dict[int, tuple[int, int]]:
        """user_id -> (correct, answered) in this group, optionally only answers since a timestamp."""
        sql = "SELECT user_id, sum(correct) AS c, count(*) AS n FROM answers WHERE chat_id = ?"
        params: list[Any] = [chat_id]
        if since is not None:
            sql += " AND answered_at >= ?"
            params.append(since)
        return {r["user_id"]: (r["c"], r["n"]) for r in self.db.query(sql + " GROUP BY user_id", params)}

    def recent_question_ids(self, chat_id: int, limit: int = 200) -> list[str]:
        return [r["question_id"] for r in self.db.query(
            "SELECT question_id FROM polls WHERE chat_id = ? ORDER BY rowid DESC LIMIT ?", [chat_id, limit])]

    def member_names(self, chat_id: int) -> dict[int, str]:
        return {r["user_id"]: r["name"] for r in self.db.query(
            "SELECT user_id, name FROM members WHERE chat_id = ?", [chat_id])}

    # --- roster (issue 10) ---------------------------------------------------------------------------------

    def remember_member(self, chat_id: int, user_id: int, name: str, username: str | None = None,
                        is_bot: bool = False, now: float | None = None) -> None:
        """Someone spoke, pressed or answered in the group: on the roster (present again if they had left)."""
        self.db.execute(
            """INSERT INTO members (chat_id, user_id, name, username, is_bot, status, seen_at)
               VALUES (?, ?, ?, ?, ?, 'present', ?)
               ON CONFLICT(chat_id, user_id) DO UPDATE SET name = excluded.name,
                   username = coalesce(excluded.username, username), is_bot = excluded.is_bot, status = 'present',
                   left_at = CASE WHEN status = 'present' THEN left_at ELSE NULL END,
                   seen_at = coalesce(excluded.seen_at, seen_at)""",
            [chat_id, user_id, name, username, int(is_bot), now],
        )

    def member_joined(self, chat_id: int, user_id: int, name: str, username: str | None, is_bot: bool,
                      now: float) -> None:
        """A join (service message or chat_member update): present from `now`."""
        self.db.execute(
            """INSERT INTO members (chat_id, user_id, name, username, is_bot, status, joined_at, seen_at)
               VALUES (?, ?, ?, ?, ?, 'present', ?, ?)
               ON CONFLICT(chat_id, user_id) DO UPDATE SET name = excluded.name,
                   username = coalesce(excluded.username, username), is_bot = excluded.is_bot,
                   joined_at = CASE WHEN status = 'present' AND joined_at IS NOT NULL THEN joined_at
                                    ELSE excluded.joined_at END,
                   status = 'present', left_at = NULL""",
            [chat_id, user_id, name, username, int(is_bot), now, now],
        )

    def member_left(self, chat_id: int, user_id: int, now: float, status: str = "left") -> bool:
        """They left (or an admin removed them from the roll: status 'removed'); False if not on the roster."""
        if status not in ("left", "removed"):
            raise ValueError(f"unknown member status {status!r}")
        cursor = self.db.execute(
            """UPDATE members SET status = ?, left_at = coalesce(left_at, ?)
               WHERE chat_id = ? AND user_id = ? AND (status = 'present' OR ? = 'removed')""",
            [status, now, chat_id, user_id, status],
        )
        return cursor.rowcount == 1

    def member(self, chat_id: int, user_id: int) -> Member | None:
        row = self._one("SELECT * FROM members WHERE chat_id = ? AND user_id = ?", [chat_id, user_id])
        return _member(row) if row else None

    def member_by_username(self, chat_id: int, username: str) -> Member | None:
        row = self._one("SELECT * FROM members WHERE chat_id = ? AND username = ? COLLATE NOCASE",
                        [chat_id, username.lstrip("@")])
        return _member(row) if row else None

    def members_named(self, chat_id: int, name: str) -> list[Member]:
        """Roster entries whose display name is exactly `name` (for /excuse 小王 without an @username)."""
        return [_member(r) for r in self.db.query(
            "SELECT * FROM members WHERE chat_id = ? AND name = ? AND is_bot = 0 ORDER BY user_id", [chat_id, name])]

    def roster(self, chat_id: int, include_gone: bool = False) -> list[Member]:
        """The group's members (never bots), present ones only unless `include_gone`; by name."""
        where = "" if include_gone else " AND status = 'present'"
        return [_member(r) for r in self.db.query(
            f"SELECT * FROM members WHERE chat_id = ? AND is_bot = 0{where} ORDER BY name, user_id", [chat_id])]

    # --- check-ins ------------------------------------------------------------------------------------------

    def pushed_day(self, chat_id: int, push_date: date) -> int | None:
        """The plan day delivered to the group on `push_date`, or None if nothing was (check-ins are checked here)."""
        row = self._one("SELECT day FROM ledger_days WHERE key = ? AND local_date = ? AND state = 'sent'",
                        [telegram_key(chat_id), push_date.isoformat()])
        return int(row["day"]) if row else None

    def last_push(self, chat_id: int) -> tuple[date, int] | None:
        """(local date, plan day) of the group's latest delivered push."""
        row = self._one("""SELECT local_date, day FROM ledger_days WHERE key = ? AND state = 'sent'
                           ORDER BY local_date DESC LIMIT 1""", [telegram_key(chat_id)])
        return (date.fromisoformat(row["local_date"]), int(row["day"])) if row else None

    def pushes(self, chat_id: int, since: date | None = None, until: date | None = None) -> list[tuple[date, int]]:
        """(local date, plan day) of every delivered push in [since, until], oldest first."""
        rows = self.db.execute(
            """SELECT local_date, day FROM ledger_days WHERE key = ? AND state = 'sent'
               AND local_date >= ? AND local_date <= ? ORDER BY local_date""",
            [telegram_key(chat_id), (since or date.min).isoformat(), (until or date.max).isoformat()]).fetchall()
        return [(date.fromisoformat(d), int(day)) for d, day in rows]

    def record_checkin(self, checkin: Checkin) -> Checkin | None:
        """Store a member's first check-in for that push; None if new, else the record that already stands."""
        cursor = self.db.execute(
            """INSERT INTO checkins (chat_id, user_id, push_date, day, local_date, local_time, at, late)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id, user_id, push_date) DO NOTHING""",
            [checkin.chat_id, checkin.user_id, checkin.push_date.isoformat(), checkin.day,
             checkin.local_date.isoformat(), checkin.local_time.strftime("%H:%M:%S"), checkin.at, int(checkin.late)],
        )
        if cursor.rowcount == 1:
            return None
        return self.checkin(checkin.chat_id, checkin.user_id, checkin.push_date)

    def checkin(self, chat_id: int, user_id: int, push_date: date) -> Checkin | None:
        row = self._one("SELECT * FROM checkins WHERE chat_id = ? AND user_id = ? AND push_date = ?",
                        [chat_id, user_id, push_date.isoformat()])
        return _checkin(row) if row else None

    def checkin_count(self, chat_id: int, push_date: date) -> int:
        row = self._one("SELECT count(*) AS n FROM checkins WHERE chat_id = ? AND push_date = ?",
                        [chat_id, push_date.isoformat()])
        return int(row["n"]) if row else 0

    def checkins(self, chat_id: int, since: date | None = None, until: date | None = None) -> list[Checkin]:
        """Check-ins for pushes dated in [since, until], by push date then time of the press."""
        return [_checkin(r) for r in self.db.query(
            """SELECT * FROM checkins WHERE chat_id = ? AND push_date >= ? AND push_date <= ?
               ORDER BY push_date, at""",
            [chat_id, (since or date.min).isoformat(), (until or date.max).isoformat()])]

    # --- excuses --------------------------------------------------------------------------------------------

    def add_excuse(self, chat_id: int, user_id: int, start: date, end: date, reason: str, by_user: int,
                   now: float) -> Excuse:
        if end < start:
            raise ValueError(f"excuse ends ({end}) before it starts ({start})")
        cursor = self.db.execute(
            """INSERT INTO excuses (chat_id, user_id, start_date, end_date, reason, by_user, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [chat_id, user_id, start.isoformat(), end.isoformat(), reason, by_user, now])
        return Excuse(int(cursor.lastrowid or 0), chat_id, user_id, start, end, reason, by_user)

    def remove_excuses(self, chat_id: int, user_id: int, on_or_after: date) -> int:
        """Cancel a member's excuses from `on_or_after` on (those wholly before it stay on the record)."""
        with self.db.atomic():
            self.db.execute("""UPDATE excuses SET end_date = ? WHERE chat_id = ? AND user_id = ?
                               AND start_date < ? AND end_date >= ?""",
                            [(on_or_after - timedelta(days=1)).isoformat(), chat_id, user_id,
                             on_or_after.isoformat(), on_or_after.isoformat()])
            cursor = self.db.execute("DELETE FROM excuses WHERE chat_id = ? AND user_id = ? AND start_date >= ?",
                                     [chat_id, user_id, on_or_after.isoformat()])
        return cursor.rowcount

    def excuses(self, chat_id: int, since: date | None = None, until: date | None = None) -> list[Excuse]:
        """Excuses overlapping [since, until], by member then start."""
        return [_excuse(r) for r in self.db.query(
            """SELECT * FROM excuses WHERE chat_id = ? AND end_date >= ? AND start_date <= ?
               ORDER BY user_id, start_date""",
            [chat_id, (since or date.min).isoformat(), (until or date.max).isoformat()])]

    def excused_on(self, chat_id: int, day: date) -> set[int]:
        return {e.user_id for e in self.excuses(chat_id, day, day)}

    # --- reminders and completion notes ---------------------------------------------------------------------

    def set_reminder(self, chat_id: int, remind_time: time | None) -> Reminder:
        self.db.execute(
            """INSERT INTO reminders (chat_id, remind_time) VALUES (?, ?)
               ON CONFLICT(chat_id) DO UPDATE SET remind_time = excluded.remind_time""",
            [chat_id, remind_time.strftime("%H:%M") if remind_time else None])
        return _found(self.reminder(chat_id), f"the reminder of group {chat_id}")

    def reminder(self, chat_id: int) -> Reminder | None:
        row = self._one("SELECT * FROM reminders WHERE chat_id = ?", [chat_id])
        return _reminder(row) if row else None

    def reminders(self) -> list[Reminder]:
        """Every group with a reminder time set."""
        return [_reminder(r) for r in self.db.query("SELECT * FROM reminders WHERE remind_time IS NOT NULL")]

    def claim_reminder(self, chat_id: int, local_date: date) -> bool:
        """Take today's reminder for the group; False if it was already sent today (once a day, across restarts)."""
        cursor = self.db.execute(
            """UPDATE reminders SET reminded_on = ? WHERE chat_id = ? AND remind_time IS NOT NULL
               AND (reminded_on IS NULL OR reminded_on < ?)""",
            [local_date.isoformat(), chat_id, local_date.isoformat()])
        return cursor.rowcount == 1

    def plan_ends(self, plan_length: int) -> list[tuple[Group, date]]:
        """Active groups whose latest push was the plan's last day and whose summary is not sent: (group, date)."""
        rows = self.db.execute(
            """SELECT g.chat_id, d.local_date FROM ledger_days d JOIN groups g ON d.key = 'tg:' || g.chat_id
               WHERE g.active = 1 AND d.state = 'sent' AND d.day = ?
               AND d.local_date = (SELECT max(local_date) FROM ledger_days x
                                   WHERE x.key = d.key AND x.state = 'sent')
               AND NOT EXISTS (SELECT 1 FROM completions c
                               WHERE c.chat_id = g.chat_id AND c.push_date = d.local_date)""",
            [plan_length]).fetchall()
        out = []
        for chat_id, local_date in rows:
            group = self.group(chat_id)
            if group is not None:
                out.append((group, date.fromisoformat(local_date)))
        return out

    def answers_between(self, chat_id: int, since: date, until: date) -> list[AnswerRecord]:
        """The group's quiz answers given on local dates in [since, until]."""
        return [_answer(r) for r in self.db.query(
            "SELECT * FROM answers WHERE chat_id = ? AND local_date >= ? AND local_date <= ? ORDER BY answered_at",
            [chat_id, since.isoformat(), until.isoformat()])]

    def claim_completion(self, chat_id: int, push_date: date, now: float) -> bool:
        """Take the right to post the end-of-plan summary for the plan finished on `push_date`; once."""
        cursor = self.db.execute(
            "INSERT INTO completions (chat_id, push_date, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [chat_id, push_date.isoformat(), now])
        return cursor.rowcount == 1

    # --- campaign records (issue 10b): the facts behind /report and /export ----------------------------------

    def record_facts(self, chat_id: int, first: date, last: date) -> RecordFacts:
        """What the store knows of one group between two local dates (inclusive), for records/ to count.

        Check-ins and answers come as plain tuples of column values: at 5,000 members x 60 days they are several
        hundred thousand rows, and a dataclass per row (or sqlite-utils' dict rows) would be most of the time.
        """
        span = [chat_id, first.isoformat(), last.isoformat()]
        checkins = tuple(self.db.execute(
            """SELECT user_id, push_date, local_date, local_time FROM checkins
               WHERE chat_id = ? AND push_date BETWEEN ? AND ?""", span).fetchall())
        answers = tuple(self.db.execute(
            """SELECT user_id, question_id, ref, correct, local_date FROM answers
               WHERE chat_id = ? AND local_date BETWEEN ? AND ?""", span).fetchall())
        asked = self.record_polls(chat_id)
        return RecordFacts(pushed=tuple(self.pushes(chat_id, first, last)),
                           members=tuple(self.roster(chat_id, include_gone=True)), checkins=checkins,
                           excuses=tuple(self.excuses(chat_id, first, last)), answers=answers, asked=asked)

    def record_tallies(self, chat_id: int, first: date, last: date, full: bool = True) -> RecordTallies:
        """The period's check-ins and answers counted by SQLite (records.ledger.tally is the rule they follow).

        `full=False` (a report) counts answers per member and section only; an export also needs them per member
        and day (the 台账), per question (测验), and the questions each member answered (掌握度).
        Check-ins and answers per day come as one text per member (`RecordTallies`): 5,000 rows handed to Python
        instead of 500,000, each split by C string calls (bot/reports.tallies_from, records/ledgertext.py).
        The parts are methods of their own, for a caller that works on one while SQLite counts the next
        (bot/reports.load_summary).
        """
        by_ref, answered = self.record_answer_tallies(chat_id, first, last, full)
        counts = RecordTallies(checkins=self.record_checkin_tallies(chat_id, first, last), by_ref=by_ref,
                               answered=answered)
        if not full:
            return counts
        daily, questions = self.record_day_tallies(chat_id, first, last)
        return replace(counts, daily=daily, questions=questions)

    def record_checkin_tallies(self, chat_id: int, first: date, last: date) -> dict[int, str]:
        """The period's check-ins, as `RecordTallies.checkins`."""
        # One row per member and push already (the primary key): that is the rule's first press.
        return dict(self.db.execute(
            """SELECT user_id, group_concat(push_date || char(2) || local_date || char(2) || local_time || char(2)
                                            || (local_date > push_date), char(2))
               FROM checkins WHERE chat_id = ? AND push_date BETWEEN ? AND ? GROUP BY user_id""",
            [chat_id, first.isoformat(), last.isoformat()]).fetchall())

    def record_answer_tallies(self, chat_id: int, first: date, last: date, full: bool = True
                              ) -> tuple[tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...] | None]:
        """The period's answers per member and section (`RecordTallies.by_ref`) and, if `full`, every question
        answered by members with review cards (`.answered`)."""
        span = [chat_id, first.isoformat(), last.isoformat()]
        where = "FROM answers WHERE chat_id = ? AND local_date BETWEEN ? AND ?"
        # Over the group's whole record (an export of everything) the member index has the answers in the order
        # this count groups them: counted as read, no sort. Over a part of it (a week's /report) the period index
        # reads that part alone, then sorts it. Named, because SQLite's own choice goes one way for every period
        # without statistics and the other way with them (ANALYZE).
        index = "answers_member" if self._spans_all_answers(chat_id, first, last) else "answers_period"
        # Bare columns beside min(): SQLite takes them from the row with the smallest rowid, the earliest answer.
        by_ref = tuple(self.db.execute(
            f"""SELECT user_id, ref, count(*), sum(correct), question_id, correct, local_date, min(rowid)
                FROM answers INDEXED BY {index} WHERE chat_id = ? AND local_date BETWEEN ? AND ?
                GROUP BY user_id, ref""", span).fetchall())
        if not full:
            return by_ref, None
        # Every question answered, its latest answer (max: SQLite takes the bare columns from that row), for the
        # members with review cards only: the others' mastery is their share right per section (in by_ref).
        answered = tuple(self.db.execute(
            f"""SELECT user_id, question_id, ref, correct, local_date, max(rowid) {where}
                AND user_id IN (SELECT user_id FROM review_cards WHERE chat_id = ? AND reviews > 0)
                GROUP BY user_id, question_id""", [*span, chat_id]).fetchall())
        return by_ref, answered

    def _spans_all_answers(self, chat_id: int, first: date, last: date) -> bool:
        """Whether every answer of the group falls between `first` and `last` (two index lookups)."""
        earliest, latest = self.db.execute(
            """SELECT (SELECT min(local_date) FROM answers WHERE chat_id = ?),
                      (SELECT max(local_date) FROM answers WHERE chat_id = ?)""", [chat_id, chat_id]).fetchone()
        return earliest is None or (first.isoformat() <= earliest and latest <= last.isoformat())

    def record_day_tallies(self, chat_id: int, first: date, last: date
                           ) -> tuple[dict[int, str], tuple[tuple[str, str, int, int, int], ...]]:
        """The period's answers per member and day (as `RecordTallies.daily`) and per question (`.questions`)."""
        span = [chat_id, first.isoformat(), last.isoformat()]
        where = "FROM answers WHERE chat_id = ? AND local_date BETWEEN ? AND ?"
        # Grouped by date first, as the index is ordered: no sort of 360,000 answers.
        daily = dict(self.db.execute(
            f"""SELECT user_id, group_concat(local_date || char(2) || n || ',' || k, char(2)) FROM (
                    SELECT user_id, local_date, count(*) AS n, sum(correct) AS k {where}
                    GROUP BY local_date, user_id) GROUP BY user_id""", span).fetchall())
        questions = tuple(self.db.execute(
            f"SELECT question_id, ref, count(*), sum(correct), min(rowid) {where} GROUP BY question_id",
            span).fetchall())
        return daily, questions

    def record_answers_mark(self, chat_id: int) -> tuple[int, int]:
        """(how many, highest rowid) of the group's answers: two connections that see the same mark see the same
        answers of the group, since answers are only ever added (record_answer) or moved whole to another chat id
        (migrate_chat), and either changes it."""
        found = self.db.execute("SELECT count(*), coalesce(max(rowid), 0) FROM answers WHERE chat_id = ?",
                                [chat_id]).fetchone()
        return int(found[0]), int(found[1])

    def record_polls(self, chat_id: int) -> tuple[tuple[str, str, float], ...]:
        """(question, ref, closes at) of every poll put to the group, oldest first."""
        return tuple(self.db.execute(
            "SELECT question_id, ref, closes_at FROM polls WHERE chat_id = ? ORDER BY rowid", [chat_id]).fetchall())

    def first_record(self, chat_id: int) -> date | None:
        """The group's first day on record: its first push, or a quiz answered before it (a group that tried /quiz
        before subscribing): where a report or export of `all` begins."""
        found = self.db.execute("SELECT min(local_date) FROM answers WHERE chat_id = ?", [chat_id]).fetchone()[0]
        days = [d for d in (self.first_push(chat_id), date.fromisoformat(found) if found else None) if d is not None]
        return min(days, default=None)

    def has_record(self, chat_id: int, first: date, last: date) -> bool:
        """Whether an export of [first, last] holds anything: a push sent or a quiz answer in it, or a member's
        review card (the 掌握度 sheet shows those whatever the period)."""
        if self.pushes(chat_id, first, last):
            return True
        found = self.db.execute(
            """SELECT EXISTS (SELECT 1 FROM answers WHERE chat_id = ? AND local_date BETWEEN ? AND ?)
                      OR EXISTS (SELECT 1 FROM review_cards WHERE chat_id = ?)""",
            [chat_id, first.isoformat(), last.isoformat(), chat_id]).fetchone()
        return bool(found[0])

    def first_push(self, chat_id: int) -> date | None:
        pushes = self.pushes(chat_id)  # through pushes(): the ledger behind it is issue9a's to change
        return pushes[0][0] if pushes else None

    def claim_digest(self, chat_id: int, week: date) -> bool:
        """Take the right to send this group's digest for the week starting `week`; False if already taken."""
        cursor = self.db.execute(
            "INSERT INTO report_digests (chat_id, week, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [chat_id, week.isoformat(), _now_iso()])
        return cursor.rowcount == 1

    # --- personal review: cards, private review polls, reminders ------------------------------------------------

    def review_cards(self, chat_id: int, user_id: int) -> list[ReviewCard]:
        return [_card(r) for r in self.db.query(
            "SELECT * FROM review_cards WHERE chat_id = ? AND user_id = ? ORDER BY due, question_id",
            [chat_id, user_id])]

    def group_review_cards(self, chat_id: int) -> dict[int, list[ReviewCard]]:
        """Every member's review cards in this group (for the organizer's mastery table)."""
        out: dict[int, list[ReviewCard]] = {}
        for r in self.db.query("SELECT * FROM review_cards WHERE chat_id = ? ORDER BY user_id", [chat_id]):
            out.setdefault(r["user_id"], []).append(_card(r))
        return out

    def uncarded_answers(self, chat_id: int, user_id: int) -> list[AnswerRecord]:
        """The member's quiz answers in this group to questions that have no review card yet, oldest first."""
        return [_answer(r) for r in self.db.query(
            """SELECT * FROM answers a WHERE chat_id = ? AND user_id = ? AND NOT EXISTS (
                   SELECT 1 FROM review_cards c
                   WHERE c.chat_id = a.chat_id AND c.user_id = a.user_id AND c.question_id = a.question_id)
               ORDER BY answered_at""", [chat_id, user_id])]

    def due_review_refs(self, chat_id: int, user_id: int, now: datetime) -> list[tuple[str, str]]:
        """(question, section) of the member's cards in this group that are due at `now`, read by the due index
        without decoding any card."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT question_id, ref FROM review_cards WHERE user_id = ? AND chat_id = ? AND due <= ?",
            [user_id, chat_id, _utc_iso(now)]).fetchall()]

    def save_review_cards(self, chat_id: int, user_id: int, cards: Iterable[ReviewCard]) -> None:
        with self.db.atomic():
            for c in cards:
                self.db.execute(
                    """INSERT OR REPLACE INTO review_cards
                       (chat_id, user_id, question_id, ref, state, due, reviews, lapses, last_correct)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [chat_id, user_id, c.question_id, c.ref, c.state, _utc_iso(c.due), c.reviews, c.lapses,
                     int(c.last_correct)])

    def record_review_poll(self, poll: ReviewPoll) -> None:
        self.db.execute(
            """INSERT INTO review_polls (poll_id, user_id, chat_id, question_id, correct_ids, session, position)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [poll.poll_id, poll.user_id, poll.chat_id, poll.question_id, json.dumps(list(poll.correct_ids)),
             poll.session, poll.position])

    def unanswered_review_poll(self, poll_id: str, user_id: int) -> ReviewPoll | None:
        """The member's review poll still waiting for its answer (None if unknown, someone else's, or answered)."""
        row = self._one("SELECT * FROM review_polls WHERE poll_id = ? AND user_id = ? AND answered = 0",
                        [poll_id, user_id])
        return _review_poll(row) if row else None

    def answer_review_poll(self, poll_id: str, correct: bool) -> bool:
        """Record the answer once; False if it was already recorded."""
        cursor = self.db.execute("UPDATE review_polls SET answered = 1, correct = ? WHERE poll_id = ? AND answered = 0",
                                 [int(correct), poll_id])
        return cursor.rowcount == 1

    def session_polls(self, session: str) -> list[ReviewPoll]:
        return [_review_poll(r) for r in self.db.query(
            "SELECT * FROM review_polls WHERE session = ? ORDER BY position", [session])]

    def open_review_poll(self, user_id: int) -> ReviewPoll | None:
        """The member's review question still waiting for an answer, if any (one at a time)."""
        row = self._one("SELECT * FROM review_polls WHERE user_id = ? AND answered = 0 ORDER BY rowid DESC LIMIT 1",
                        [user_id])
        return _review_poll(row) if row else None

    def join_review(self, user_id: int, chat_id: int, current: bool) -> None:
        """The member reviews this group's questions; `current` makes it the group /review uses."""
        with self.db.atomic():
            if current:
                self.db.execute("UPDATE review_members SET current = 0 WHERE user_id = ?", [user_id])
            self.db.execute(
                """INSERT INTO review_members (user_id, chat_id, current) VALUES (?, ?, ?)
                   ON CONFLICT(user_id, chat_id) DO UPDATE SET left_group = 0,
                       current = max(current, excluded.current)""",
                [user_id, chat_id, int(current)])

    def left_group(self, user_id: int, chat_id: int) -> None:
        """The member left the group: their review history stays, reminders for it stop."""
        self.db.execute(
            """INSERT INTO review_members (user_id, chat_id, left_group) VALUES (?, ?, 1)
               ON CONFLICT(user_id, chat_id) DO UPDATE SET left_group = 1, current = 0""", [user_id, chat_id])

    def review_groups(self, user_id: int) -> list[tuple[int, str, bool]]:
        """(group, title, is current) of every group the member can review: joined or answered in, not left."""
        rows = self.db.execute(
            """SELECT g.chat_id, g.title, coalesce(m.current, 0) FROM groups g
               LEFT JOIN review_members m ON m.chat_id = g.chat_id AND m.user_id = ?
               WHERE coalesce(m.left_group, 0) = 0 AND (m.user_id IS NOT NULL OR EXISTS (
                   SELECT 1 FROM answers a WHERE a.chat_id = g.chat_id AND a.user_id = ?))
               ORDER BY coalesce(m.current, 0) DESC, g.chat_id""", [user_id, user_id]).fetchall()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def set_review_reminder(self, user_id: int, at: time | None, timezone: str) -> None:
        if at is None:
            self.db.execute("DELETE FROM review_reminders WHERE user_id = ?", [user_id])
            return
        self.db.execute(
            """INSERT INTO review_reminders (user_id, at, timezone) VALUES (?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET at = excluded.at, timezone = excluded.timezone""",
            [user_id, at.strftime("%H:%M"), timezone])

    def review_reminder(self, user_id: int) -> ReviewReminder | None:
        row = self._one("SELECT * FROM review_reminders WHERE user_id = ?", [user_id])
        return _review_reminder(row) if row else None

    def review_reminders(self) -> list[ReviewReminder]:
        return [_review_reminder(r) for r in self.db.query("SELECT * FROM review_reminders ORDER BY user_id")]

    def mark_review_reminded(self, user_id: int, local_date: date) -> bool:
        """Claim today's reminder for the member; False if it was already sent today (one a day)."""
        cursor = self.db.execute(
            """UPDATE review_reminders SET last_sent = ?
               WHERE user_id = ? AND (last_sent IS NULL OR last_sent != ?)""",
            [local_date.isoformat(), user_id, local_date.isoformat()])
        return cursor.rowcount == 1

    def forget_review(self, user_id: int) -> int:
        """Delete everything personal review keeps about the member; returns how many cards were deleted."""
        with self.db.atomic():
            cards = self.db.execute("DELETE FROM review_cards WHERE user_id = ?", [user_id]).rowcount
            for table in ("review_polls", "review_members", "review_reminders"):
                self.db.execute(f"DELETE FROM {table} WHERE user_id = ?", [user_id])
        return int(cards)


@dataclass(frozen=True)
class RecordTallies:
    """Counts for a campaign record (Store.record_tallies), as plain rows or per-member texts: ISO dates, 0/1."""

    # user -> their first press of each push, records.model.SEP (char(2) in the SQL) between fields and items:
    # push date, local date, local time, 1 if pressed on a later date (补学) else 0
    checkins: dict[int, str]
    # user, ref, answered, correct; question, correct, local date of the earliest answer in that section; _
    by_ref: tuple[tuple[int, str, int, int, str, int, str, int], ...]
    daily: dict[int, str] | None = None  # user -> per local date: date SEP "answered,correct", SEP between
    questions: tuple[tuple[str, str, int, int, int], ...] | None = None  # question, ref, answered, correct, _
    # user, question, ref, correct, local date of the latest answer to each question, of members with review
    # cards (the others' mastery needs no more than by_ref); _
    answered: tuple[tuple[int, str, str, int, str, int], ...] | None = None


@dataclass(frozen=True)
class RecordFacts:
    """Raw facts for a campaign record: (date, plan day) pushed, the roster (gone members too), check-ins, excuses,
    answers, and (id, ref, closes at) of every poll (dated by the caller, who knows the group's zone)."""

    pushed: tuple[tuple[date, int], ...]
    members: tuple[Member, ...]
    checkins: tuple[tuple[int, str, str, str], ...]  # user, push date, local date, local time (ISO text)
    excuses: tuple[Excuse, ...]
    answers: tuple[tuple[int, str, str, int, str], ...]  # user, question, ref, correct (0/1), local date
    asked: tuple[tuple[str, str, float], ...]


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        with self.guard:
            return method(self, *args, **kwargs)
    return guarded


for _name, _method in list(vars(Store).items()):
    if not _name.startswith("_") and _name != "atomic" and inspect.isfunction(_method):
        setattr(Store, _name, _guarded(_method))


class SqliteLedger:
    """The push ledger (schedules/ledger.py) in SQLite: each call is one transaction that takes the write lock first.

    BEGIN IMMEDIATE, not a deferred BEGIN: a read-then-write transaction in WAL mode that loses a race with another
    process fails at once instead of waiting (busy_timeout does not apply to that upgrade), so the claim's
    compare-and-set takes the lock before it reads.
    """

    def __init__(self, db: Database, guard: threading.RLock) -> None:
        self.db = db
        self.guard = guard  # the store's: a direct call from another thread (tests) waits for the worker's batch

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self.guard:
            if self.db.conn.in_transaction:  # part of a larger store transaction (a chat migration)
                with self.db.atomic():
                    yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                # Inside the try: a COMMIT that fails (disk full, I/O error, busy) must not leave the transaction
                # open, holding the write lock, with every later ledger call nested in it and never committed.
                self.db.execute("COMMIT")
            except BaseException:
                self.db.conn.rollback()
                raise

    # In a broadcast each statement hands the GIL between the store thread and the event loop (sqlite3 releases it
    # around every step), and the hand-overs, not the SQL, are what a batch costs: measured on the push with limits
    # off, ~0.9 ms of the store thread's CPU per message when each ask was its own read and write. So a batch is set
    # based: one read for all its asks (their rows in through json_each, one statement whatever the batch's size, so
    # SQLite's statement cache keeps it), the rules applied in order in Python (each ask sees what the asks before it
    # did, as one after the other would), and one write per table.

    def _days_by_key_date(self, asks: Sequence[ClaimAsk]) -> tuple[dict[tuple[str, date], DayRecord],
                                                                     dict[str, int]]:
        """The day records of the asks' (key, date)s and each key's next day (a claim needs no more of the
        progress), in one statement."""
        cursor = self.db.execute(
            """SELECT q.k AS k, d.*, (SELECT next_day FROM ledger_progress WHERE key = q.k) AS progress_next_day
               FROM (SELECT DISTINCT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS dt
                     FROM json_each(?)) q
               LEFT JOIN ledger_days d ON d.key = q.k AND d.local_date = q.dt""",
            [json.dumps([[a.key, a.local_date.isoformat()] for a in asks])])
        names = [c[0] for c in cursor.description]
        records: dict[tuple[str, date], DayRecord] = {}
        next_days: dict[str, int] = {}
        for row in cursor.fetchall():
            r = dict(zip(names, row, strict=True))
            next_days[r["k"]] = r["progress_next_day"] or 1
            if r["key"] is not None:
                record = _day_record(r)
                records[(record.key, record.local_date)] = record
        return records, next_days

    def _days_by_token(self, claims: Sequence[Claim]) -> tuple[dict[str, DayRecord], dict[str, Progress]]:
        """The day records of the claims' tokens and their keys' progress, in one statement. By token, not by key:
        a migration re-keys a claim (its token stays), so its key is the one found."""
        cursor = self.db.execute(
            """SELECT d.*, (SELECT next_day FROM ledger_progress WHERE key = d.key) AS progress_next_day,
                      (SELECT max(local_date) FROM ledger_days WHERE key = d.key AND state = 'sent') AS progress_last
               FROM ledger_days d WHERE d.token IN (SELECT value FROM json_each(?))""",
            [json.dumps([c.token for c in claims])])
        names = [c[0] for c in cursor.description]
        records: dict[str, DayRecord] = {}
        progress: dict[str, Progress] = {}
        for row in cursor.fetchall():
            r = dict(zip(names, row, strict=True))
            record = _day_record(r)
            records[record.token] = record
            progress[record.key] = Progress(
                next_day=r["progress_next_day"] or 1,
                last_date=date.fromisoformat(r["progress_last"]) if r["progress_last"] else None)
        return records, progress

    def claim(self, key: str, local_date: date, owner: str, now: float, plan: PlanRule,
              lease: float = DEFAULT_LEASE) -> Claim | None:
        return self.claim_many([ClaimAsk(key, local_date, owner, now, plan, lease)])[0]

    def claim_many(self, asks: Sequence[ClaimAsk]) -> list[Claim | None]:
        """One transaction for a broadcast's claims of one loop turn (see schedules/ledger.py, "Batches"): one read,
        one write, whatever the number of asks."""
        if not asks:
            return []
        with self._write():
            records, next_days = self._days_by_key_date(asks)
            answers: list[Claim | None] = []
            taken: list[DayRecord] = []
            for ask in asks:
                new = take(records.get((ask.key, ask.local_date)), ask.key, ask.local_date, ask.owner,
                           Progress(next_day=next_days[ask.key]), ask.plan, ask.now, ask.lease)
                if new is None:
                    answers.append(None)
                    continue
                records[(ask.key, ask.local_date)] = new  # a later ask of the batch for the same date sees it
                taken.append(new)
                answers.append(claim_of(new))
            if taken:
                # In the asks' order: two takes of one date in a batch (possible only with a lease of 0) land as
                # they would one after the other, the second an update of the first.
                self.db.execute(
                    """INSERT INTO ledger_days (key, local_date, day, state, owner, token, lease_until, updated_at)
                       SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                              'claimed', json_extract(value, '$[3]'), json_extract(value, '$[4]'),
                              json_extract(value, '$[5]'), ?
                       FROM json_each(?) WHERE true
                       ON CONFLICT(key, local_date) DO UPDATE SET
                           day = excluded.day, state = 'claimed', owner = excluded.owner, token = excluded.token,
                           lease_until = excluded.lease_until, attempts = attempts + 1,
                           updated_at = excluded.updated_at""",
                    [_now_iso(), json.dumps([[r.key, r.local_date.isoformat(), r.day, r.owner, r.token,
                                              r.lease_until] for r in taken])])
            return answers

    def renew(self, claim: Claim, now: float, lease: float = DEFAULT_LEASE) -> bool:
        with self._write():
            cursor = self.db.execute(
                "UPDATE ledger_days SET lease_until = ? WHERE token = ? AND state = 'claimed'",
                [now + lease, claim.token])
            return cursor.rowcount == 1

    def record_part(self, claim: Claim, parts_sent: int, message_id: int | None) -> None:
        """`message_id` None: a channel without message ids (a robot webhook answers none)."""
        with self._write():
            if claim.token not in self._days_by_token([claim])[0]:
                raise LostClaim(f"{claim.key} {claim.local_date}: the claim was taken over")
            self.db.execute(
                """UPDATE ledger_days SET parts_sent = ?, message_id = ?, updated_at = ?
                   WHERE token = ? AND state = 'claimed'""", [parts_sent, message_id, _now_iso(), claim.token])

    def record(self, claim: Claim, message_id: int | None, plan: PlanRule) -> Progress:
        answer = self.record_many([RecordAsk(claim, message_id, plan)])[0]
        if isinstance(answer, LostClaim):
            raise answer
        return answer

    def record_many(self, asks: Sequence[RecordAsk]) -> list[Progress | LostClaim]:
        """One transaction for a broadcast's records of one loop turn: one read, one write per table. A refused ask
        is its LostClaim and writes nothing, so the other asks' records stand (schedules/ledger.py)."""
        if not asks:
            return []
        with self._write():
            records, progress = self._days_by_token([ask.claim for ask in asks])
            answers: list[Progress | LostClaim] = []
            sent: list[tuple[str, int | None]] = []
            moved: dict[str, int] = {}  # key -> its next day after the batch
            for ask in asks:
                claim = ask.claim
                record = records.get(claim.token)
                if record is None:
                    answers.append(LostClaim(f"{claim.key} {claim.local_date}: the claim was taken over"))
                    continue
                before = progress[record.key]
                if record.state == "sent":
                    answers.append(before)  # a repeated record (its first answer was lost): already done
                    continue
                if record.state != "claimed":
                    answers.append(LostClaim(f"{claim.key} {claim.local_date}: released before it was recorded"))
                    continue
                # What progress() would now read back (next_day as set; last_date the latest sent date, this one
                # included): tests/test_ledger.py checks it against the in-memory ledger.
                after = progress[record.key] = advanced(before, record, ask.plan.day_to_send(before.next_day))
                records[claim.token] = replace(record, state="sent")
                sent.append((claim.token, ask.message_id))
                moved[record.key] = after.next_day
                answers.append(after)
            if sent:
                self.db.execute(
                    """UPDATE ledger_days
                       SET state = 'sent', message_id = coalesce(v.message_id, ledger_days.message_id), updated_at = ?
                       FROM (SELECT json_extract(value, '$[0]') AS token, json_extract(value, '$[1]') AS message_id
                             FROM json_each(?)) v
                       WHERE ledger_days.token = v.token""", [_now_iso(), json.dumps(sent)])
                self.db.execute(
                    """INSERT INTO ledger_progress (key, next_day)
                       SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) WHERE true
                       ON CONFLICT(key) DO UPDATE SET next_day = excluded.next_day""",
                    [json.dumps(list(moved.items()))])
            return answers

    def release(self, claim: Claim) -> None:
        with self._write():
            self.db.execute(
                "UPDATE ledger_days SET state = 'released', updated_at = ? WHERE token = ? AND state = 'claimed'",
                [_now_iso(), claim.token])

    def progress(self, key: str) -> Progress:
        with self.guard:
            return self._progress(key)

    def _progress(self, key: str) -> Progress:
        row = self.db.execute(
            """SELECT (SELECT next_day FROM ledger_progress WHERE key = ?),
                       (SELECT max(local_date) FROM ledger_days WHERE key = ? AND state = 'sent')""",
            [key, key]).fetchone()
        return Progress(next_day=row[0] or 1, last_date=date.fromisoformat(row[1]) if row[1] else None)

    def set_next_day(self, key: str, day: int) -> Progress:
        with self._write():
            self._set(key, day)
            return self.progress(key)

    def _set(self, key: str, day: int) -> None:
        self.db.execute("""INSERT INTO ledger_progress (key, next_day) VALUES (?, ?)
                           ON CONFLICT(key) DO UPDATE SET next_day = excluded.next_day""", [key, day])

    def move(self, old_key: str, new_key: str) -> None:
        """Re-key a target's progress and day records (a Telegram group that became a supergroup), atomically."""
        with self._write():
            for table in ("ledger_progress", "ledger_days"):
                self.db.execute(f"UPDATE OR REPLACE {table} SET key = ? WHERE key = ?", [new_key, old_key])


_LAST_SENT = ("(SELECT max(d.local_date) FROM ledger_days d "
              "WHERE d.key = 'tg:' || g.chat_id AND d.state = 'sent')")
_GROUP_SELECT = (f"SELECT g.*, coalesce(p.next_day, 1) AS next_day, {_LAST_SENT} AS last_pushed "
                 "FROM groups g LEFT JOIN ledger_progress p ON p.key = 'tg:' || g.chat_id")


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _days(days: frozenset[int]) -> str:
    return ",".join(str(d) for d in sorted(days))


def _weekdays(text: str) -> frozenset[int]:
    return frozenset(int(d) for d in text.split(",") if d)


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


_T = TypeVar("_T")


def _found(row: _T | None, what: str) -> _T:
    """A row the statement before wrote or named. It is missing only for a wrong id, or when another connection
    deleted it meanwhile: an error to raise, not an assert (which `python -O` drops)."""
    if row is None:
        raise NotFoundError(what)
    return row


def _to_column(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, frozenset):
        return _days(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _day_record(r: dict[str, Any]) -> DayRecord:
    return DayRecord(key=r["key"], local_date=date.fromisoformat(r["local_date"]), day=r["day"], state=r["state"],
                     owner=r["owner"], token=r["token"], lease_until=r["lease_until"], parts_sent=r["parts_sent"],
                     message_id=r["message_id"])


def _group(row: dict[str, Any], plan: PlanRule) -> Group:
    return Group(
        chat_id=row["chat_id"], title=row["title"], active=bool(row["active"]), subscribed=bool(row["subscribed"]),
        paused=bool(row["paused"]), push_time=_time(row["push_time"]), timezone=row["timezone"],
        weekdays=_weekdays(row["weekdays"]), next_day=row["next_day"],
        last_pushed=date.fromisoformat(row["last_pushed"]) if row["last_pushed"] else None,
        finished=plan.finished(row["next_day"]), daily_quiz=row["daily_quiz"],
    )


def _member(row: dict[str, Any]) -> Member:
    return Member(chat_id=row["chat_id"], user_id=row["user_id"], name=row["name"], username=row["username"],
                  is_bot=bool(row["is_bot"]), status=row["status"], joined_at=row["joined_at"],
                  left_at=row["left_at"], seen_at=row["seen_at"])


def _checkin(row: dict[str, Any]) -> Checkin:
    return Checkin(chat_id=row["chat_id"], user_id=row["user_id"], push_date=date.fromisoformat(row["push_date"]),
                   day=row["day"], local_date=date.fromisoformat(row["local_date"]),
                   local_time=time.fromisoformat(row["local_time"]), at=row["at"], late=bool(row["late"]))


def _excuse(row: dict[str, Any]) -> Excuse:
    return Excuse(id=row["id"], chat_id=row["chat_id"], user_id=row["user_id"],
                  start=date.fromisoformat(row["start_date"]), end=date.fromisoformat(row["end_date"]),
                  reason=row["reason"], by_user=row["by_user"])


def _reminder(row: dict[str, Any]) -> Reminder:
    return Reminder(chat_id=row["chat_id"], remind_time=_time(row["remind_time"]) if row["remind_time"] else None,
                    reminded_on=date.fromisoformat(row["reminded_on"]) if row["reminded_on"] else None)


def _round(row: dict[str, Any]) -> Round:
    return Round(id=row["id"], chat_id=row["chat_id"], started_by=row["started_by"], started_at=row["started_at"],
                 status=row["status"], question_ids=tuple(json.loads(row["question_ids"])),
                 position=row["position"], scope=row["scope"], kind=row["kind"], closes_at=row["closes_at"])


def _poll(row: dict[str, Any]) -> PollRecord:
    return PollRecord(poll_id=row["poll_id"], round_id=row["round_id"], chat_id=row["chat_id"],
                      message_id=row["message_id"], question_id=row["question_id"], ref=row["ref"],
                      correct_index=row["correct_index"], position=row["position"], closes_at=row["closes_at"],
                      closed=bool(row["closed"]),
                      correct_ids=tuple(json.loads(row["correct_ids"])) if row.get("correct_ids") else ())


def _utc_iso(moment: datetime) -> str:
    """Review times are stored in UTC, to the second, so that they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _card(row: dict[str, Any]) -> ReviewCard:
    return ReviewCard(question_id=row["question_id"], ref=row["ref"], state=row["state"],
                      due=datetime.fromisoformat(row["due"]), reviews=row["reviews"], lapses=row["lapses"],
                      last_correct=bool(row["last_correct"]))


def _review_poll(row: dict[str, Any]) -> ReviewPoll:
    return ReviewPoll(poll_id=row["poll_id"], user_id=row["user_id"], chat_id=row["chat_id"],
                      question_id=row["question_id"], correct_ids=tuple(json.loads(row["correct_ids"])),
                      session=row["session"], position=row["position"], answered=bool(row["answered"]),
                      correct=None if row["correct"] is None else bool(row["correct"]))


def _review_reminder(row: dict[str, Any]) -> ReviewReminder:
    return ReviewReminder(user_id=row["user_id"], at=_time(row["at"]), timezone=row["timezone"],
                    last_sent=date.fromisoformat(row["last_sent"]) if row["last_sent"] else None)


def _answer(row: dict[str, Any]) -> AnswerRecord:
    return AnswerRecord(poll_id=row["poll_id"], user_id=row["user_id"], question_id=row["question_id"],
                        ref=row["ref"], correct=bool(row["correct"]), answered_at=row["answered_at"],
                        local_date=date.fromisoformat(row["local_date"]))



# --- robot channels (WeCom, DingTalk, Feishu) ------------------------------------------------------------------
# A channel is keyed by its config name here and by `channel_key(kind, name)` in the push ledger, which keeps its
# progress and its day records exactly as it does a Telegram group's (claim, parts, record).


@migrations()
def m010_robot_channels(db: Database) -> None:
    db.execute(
        """CREATE TABLE robot_channels (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            stop_reason TEXT NOT NULL DEFAULT '',
            next_day INTEGER NOT NULL DEFAULT 1,
            finished INTEGER NOT NULL DEFAULT 0,
            last_pushed TEXT,
            last_delivery_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            hold_until REAL NOT NULL DEFAULT 0,
            recent_sends TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE robot_deliveries (
            name TEXT NOT NULL,
            local_date TEXT NOT NULL,
            day INTEGER NOT NULL,
            status TEXT NOT NULL,
            owner TEXT NOT NULL,
            lease_until REAL NOT NULL,
            parts_sent INTEGER NOT NULL DEFAULT 0,
            parts INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (name, local_date)
        )"""
    )


# m013 (below) moved each channel's progress and deliveries into the push ledger (keys "wecom:NAME", ...): what is
# left here are the robot-only facts (stopped and why, failures since the last post, the platform's hold, recent
# post times for the rate windows).


@migrations()
def m013_robot_channels_on_ledger(db: Database) -> None:
    """Robot channels onto the one push ledger: progress and deliveries move, the second ledger goes.

    next_day → ledger_progress (a finished channel's next_day is already past the plan's end, which is what
    finished means there); each robot_deliveries row → a day record keyed ``kind:name`` (sent stays sent, 'sending'
    keeps its owner and lease, failed → released; parts_sent kept, so a half-posted day resumes after them); a
    last_pushed date without a delivery row → a sent record; last_delivery_at → that sent record's time.
    """
    key = "c.kind || ':' || c.name"  # schedules.ledger.channel_key, in SQL
    db.execute(f"""INSERT INTO ledger_progress (key, next_day) SELECT {key}, c.next_day FROM robot_channels c
                   WHERE true ON CONFLICT(key) DO UPDATE SET next_day = excluded.next_day""")
    db.execute(
        f"""INSERT INTO ledger_days (key, local_date, day, state, owner, token, lease_until, parts_sent, attempts,
                                     updated_at)
            SELECT {key}, d.local_date, d.day,
                   CASE d.status WHEN 'sent' THEN 'sent' WHEN 'sending' THEN 'claimed' ELSE 'released' END,
                   d.owner, lower(hex(randomblob(16))), d.lease_until, d.parts_sent, d.attempts, d.updated_at
            FROM robot_deliveries d JOIN robot_channels c ON c.name = d.name"""
    )
    db.execute(
        f"""INSERT INTO ledger_days (key, local_date, day, state, owner, token, lease_until, parts_sent, updated_at)
            SELECT {key}, c.last_pushed, max(c.next_day - 1, 1), 'sent', 'm013', lower(hex(randomblob(16))), 0, 1,
                   coalesce(c.last_delivery_at, c.created_at)
            FROM robot_channels c WHERE c.last_pushed IS NOT NULL
            ON CONFLICT(key, local_date) DO UPDATE SET state = 'sent'"""
    )
    db.execute(
        f"""UPDATE ledger_days SET updated_at = (
                SELECT c.last_delivery_at FROM robot_channels c
                WHERE {key} = ledger_days.key AND c.last_pushed = ledger_days.local_date)
            WHERE EXISTS (SELECT 1 FROM robot_channels c WHERE {key} = ledger_days.key
                          AND c.last_pushed = ledger_days.local_date AND c.last_delivery_at IS NOT NULL)"""
    )
    for column in ("next_day", "finished", "last_pushed", "last_delivery_at"):
        db.execute(f"ALTER TABLE robot_channels DROP COLUMN {column}")
    db.execute("DROP TABLE robot_deliveries")


@dataclass(frozen=True)
class RobotChannel:
    """A channel's robot-only facts, with its progress as the push ledger keeps it."""

    name: str
    kind: str
    active: bool
    stop_reason: str
    next_day: int  # from the ledger
    finished: bool  # next_day past the plan's end (and the plan does not restart)
    last_pushed: date | None  # the latest local date recorded sent, from the ledger
    last_delivery_at: str | None  # when that day was recorded (ISO, local time of the bot)
    failures: int  # failed attempts since the last complete post
    last_error: str
    hold_until: float
    recent_sends: tuple[float, ...]

    @property
    def key(self) -> str:
        return channel_key(self.kind, self.name)


_CHANNEL_KEY = "r.kind || ':' || r.name"  # schedules.ledger.channel_key, in SQL
_ROBOT_SELECT = (
    f"""SELECT r.*, coalesce(p.next_day, 1) AS next_day, last.local_date AS last_pushed,
               last.updated_at AS last_delivery_at
        FROM robot_channels r LEFT JOIN ledger_progress p ON p.key = {_CHANNEL_KEY}
        LEFT JOIN ledger_days last ON last.key = {_CHANNEL_KEY} AND last.local_date = (
            SELECT max(d.local_date) FROM ledger_days d WHERE d.key = {_CHANNEL_KEY} AND d.state = 'sent')""")


class RobotRecords:
    """The robot channels' own facts (reached as `store.robots`); their pushes are in `store.ledger`."""

    KEEP_SENDS = 100

    def __init__(self, db: Database, plan: Callable[[], PlanRule]) -> None:
        self.db = db
        self.plan = plan  # the store's, read when a row is built (the bot sets it after opening the store)

    def sync(self, channels: Iterable[tuple[str, str]]) -> list[RobotChannel]:
        """Make sure every configured (name, kind) has a row; all rows of configured channels, in the given order."""
        names = []
        with self.db.atomic():
            for name, kind in channels:
                names.append(name)
                self.db.execute(
                    """INSERT INTO robot_channels (name, kind, created_at) VALUES (?, ?, ?)
                       ON CONFLICT(name) DO UPDATE SET kind = excluded.kind""", [name, kind, _now_iso()])
        found = {c.name: c for c in self.all()}
        return [found[n] for n in names]

    def all(self) -> list[RobotChannel]:
        return [self._row(r) for r in self.db.query(f"{_ROBOT_SELECT} ORDER BY r.name")]

    def get(self, name: str) -> RobotChannel | None:
        row = next(self.db.query(f"{_ROBOT_SELECT} WHERE r.name = ?", [name]), None)
        return self._row(row) if row else None

    def _row(self, row: dict[str, Any]) -> RobotChannel:
        return RobotChannel(
            name=row["name"], kind=row["kind"], active=bool(row["active"]), stop_reason=row["stop_reason"],
            next_day=row["next_day"], finished=self.plan().finished(row["next_day"]),
            last_pushed=date.fromisoformat(row["last_pushed"]) if row["last_pushed"] else None,
            last_delivery_at=row["last_delivery_at"], failures=row["failures"], last_error=row["last_error"],
            hold_until=row["hold_until"], recent_sends=tuple(json.loads(row["recent_sends"])))

    def note_send(self, name: str, sent_at: float) -> None:
        """Remember a post's time: after a restart the robot's rate windows still count it."""
        row = next(self.db.query("SELECT recent_sends FROM robot_channels WHERE name = ?", [name]), None)
        if row is not None:
            sends = [*json.loads(row["recent_sends"]), sent_at][-self.KEEP_SENDS:]
            self.db.execute("UPDATE robot_channels SET recent_sends = ? WHERE name = ?", [json.dumps(sends), name])

    def delivered(self, name: str) -> None:
        """A day was posted in full (and recorded in the ledger): the failures before it no longer count."""
        self.db.execute("UPDATE robot_channels SET failures = 0, last_error = '' WHERE name = ?", [name])

    def failed(self, name: str, error: str) -> None:
        """An attempt that did not post the whole day (the ledger claim is released)."""
        self.db.execute("UPDATE robot_channels SET failures = failures + 1, last_error = ? WHERE name = ?",
                        [error[:300], name])

    def hold(self, name: str, until: float) -> None:
        self.db.execute("UPDATE robot_channels SET hold_until = max(hold_until, ?) WHERE name = ?", [until, name])

    def stop(self, name: str, reason: str) -> bool:
        """Retrying cannot help (robot removed, bad signature, keyword missing): no posts until the config changes.

        True only for the call that stopped an active channel (of two processes, one tells the organizer).
        """
        cursor = self.db.execute("UPDATE robot_channels SET active = 0, stop_reason = ? WHERE name = ? AND active = 1",
                                 [reason[:300], name])
        return cursor.rowcount == 1

    def reactivate(self, name: str) -> None:
        self.db.execute("UPDATE robot_channels SET active = 1, stop_reason = '' WHERE name = ?", [name])

    def deliveries(self, name: str) -> list[tuple[date, int, str, int]]:
        """(local date, plan day, ledger state, parts posted) of every day record of the channel, oldest first."""
        return [(date.fromisoformat(r["local_date"]), r["day"], r["state"], r["parts_sent"]) for r in self.db.query(
            f"""SELECT d.* FROM ledger_days d JOIN robot_channels r ON d.key = {_CHANNEL_KEY}
                WHERE r.name = ? ORDER BY d.local_date""", [name])]

    def sent_dates(self, name: str, first: date, last: date) -> list[date]:
        """The local dates in [first, last] whose post the ledger records as sent (reports, exports)."""
        return [date.fromisoformat(r[0]) for r in self.db.execute(
            f"""SELECT d.local_date FROM ledger_days d JOIN robot_channels r ON d.key = {_CHANNEL_KEY}
                WHERE r.name = ? AND d.state = 'sent' AND d.local_date BETWEEN ? AND ? ORDER BY d.local_date""",
            [name, first.isoformat(), last.isoformat()]).fetchall()]


# --- group moves: where a group went when it became a supergroup ----------------------------------------------------


@migrations()
def m014_chat_moves(db: Database) -> None:
    """Where a group went when it became a supergroup: a robot channel that follows the old id follows the new."""
    db.execute("CREATE TABLE chat_moves (old_id INTEGER PRIMARY KEY, new_id INTEGER NOT NULL)")


# --- migrations after the sections' own: applied in the order they are defined, so each new one goes last -------


@migrations()
def m015_record_tallies_by_member(db: Database) -> None:
    """The member index of answers covers the count per member and section too (Store.record_answer_tallies):
    ordered as that count groups, SQLite counts a group's whole record as it reads it, where answers_period made it
    sort all of it first (a 5,000-member, 60-day group: 0.30 -> 0.18 s of an export's critical path). It still
    serves every lookup by member, as the two-column index it replaces did."""
    db.execute("DROP INDEX IF EXISTS answers_member")
    db.execute("CREATE INDEX answers_member ON answers(chat_id, user_id, ref, local_date, question_id, correct)")
