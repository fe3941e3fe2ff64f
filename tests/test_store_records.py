"""The store's campaign records: roster, check-ins once per push, excuses, reminders once a day, migration."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from datetime import date, time, timedelta
from pathlib import Path
from time import sleep
from typing import Any

from sqlite_utils import Database

from bot.store import Checkin, GroupChanges, Store, migrations
from schedules.ledger import PlanRule, telegram_key

D1, D2, D3 = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)


def make(tmp_path: Path) -> Store:
    return Store(tmp_path / "bot.db")


def pushed(store: Store, chat_id: int, day: int, on: date) -> None:
    store.ensure_group(chat_id)
    store.update_group(chat_id, GroupChanges(next_day=day))
    claim = store.ledger.claim(telegram_key(chat_id), on, "test", 0.0, PlanRule(30))
    assert claim is not None and claim.day == day
    store.ledger.record(claim, 100 + day, PlanRule(30))


def checkin(user: int, push_date: date, day: int, on: date, at: float = 1.0) -> Checkin:
    return Checkin(chat_id=-1, user_id=user, push_date=push_date, day=day, local_date=on, local_time=time(8, 5),
                   at=at, late=on != push_date)


def test_the_roster_learns_joins_leaves_and_removals_and_never_lists_bots(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.remember_member(-1, 1, "小王", "wang", now=10.0)
    store.member_joined(-1, 2, "小李", None, False, now=20.0)
    store.member_joined(-1, 3, "helper", "helper_bot", True, now=20.0)
    store.member_joined(-1, 4, "小张", "zhang", False, now=30.0)
    assert store.member_left(-1, 4, now=40.0)
    assert [m.user_id for m in store.roster(-1)] == [2, 1]  # by name: 小李 before 小王
    gone = store.member(-1, 4)
    assert gone is not None and (gone.status, gone.joined_at, gone.left_at) == ("left", 30.0, 40.0)
    assert store.member_by_username(-1, "@WANG") is not None
    store.remember_member(-1, 4, "小张", None, now=50.0)  # they came back and spoke
    back = store.member(-1, 4)
    assert back is not None and back.status == "present" and back.username == "zhang" and back.left_at is None
    assert store.member_left(-1, 1, now=60.0, status="removed")
    assert {m.user_id: m.status for m in store.roster(-1, include_gone=True)} == {
        1: "removed", 2: "present", 4: "present"}
    assert not store.member_left(-1, 99, now=60.0)


def test_a_checkin_counts_once_per_push_and_is_checked_against_the_deliveries(tmp_path: Path) -> None:
    store = make(tmp_path)
    pushed(store, -1, 3, D1)
    assert store.pushed_day(-1, D1) == 3 and store.pushed_day(-1, D2) is None
    assert store.record_checkin(checkin(1, D1, 3, D1, at=5.0)) is None
    again = store.record_checkin(checkin(1, D1, 3, D1, at=9.0))
    assert again is not None and again.at == 5.0  # the first press stands
    pushed(store, -1, 4, D2)
    assert store.record_checkin(checkin(2, D1, 3, D3, at=50.0)) is None  # 补学 two days later
    assert store.checkin_count(-1, D1) == 2 and store.checkin_count(-1, D2) == 0
    late = store.checkin(-1, 2, D1)
    assert late is not None and late.late and late.local_date == D3 and late.day == 3
    assert store.last_push(-1) == (D2, 4)
    assert store.pushes(-1, since=D2) == [(D2, 4)]
    assert [(c.user_id, c.push_date) for c in store.checkins(-1)] == [(1, D1), (2, D1)]


def test_excuses_cover_inclusive_dates_and_can_be_cancelled_from_a_date_on(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.add_excuse(-1, 1, D1, D3, "出差", by_user=9, now=1.0)
    assert store.excused_on(-1, D1) == {1} and store.excused_on(-1, D3) == {1}
    assert store.excused_on(-1, date(2026, 12, 4)) == set()
    store.remove_excuses(-1, 1, D2)
    assert store.excused_on(-1, D1) == {1} and store.excused_on(-1, D2) == set()
    assert [(e.start, e.end, e.reason) for e in store.excuses(-1)] == [(D1, D1, "出差")]


def test_a_reminder_is_claimed_once_a_day_across_a_reopen(tmp_path: Path) -> None:
    store = make(tmp_path)
    assert not store.claim_reminder(-1, D1)  # no reminder set
    store.set_reminder(-1, time(20, 30))
    assert store.claim_reminder(-1, D1)
    store.close()
    store = make(tmp_path)
    assert not store.claim_reminder(-1, D1)
    assert store.claim_reminder(-1, D2)
    assert [r.remind_time for r in store.reminders()] == [time(20, 30)]
    store.set_reminder(-1, None)
    assert store.reminders() == [] and not store.claim_reminder(-1, D3)
    assert store.claim_completion(-1, D1, 1.0) and not store.claim_completion(-1, D1, 2.0)


def test_records_move_with_a_migrated_group(tmp_path: Path) -> None:
    store = make(tmp_path)
    pushed(store, -1, 1, D1)
    store.remember_member(-1, 1, "小王")
    store.record_checkin(checkin(1, D1, 1, D1))
    store.add_excuse(-1, 1, D2, D2, "", by_user=9, now=1.0)
    store.set_reminder(-1, time(21, 0))
    assert store.migrate_chat(-1, -1001)
    assert store.checkin_count(-1001, D1) == 1 and store.excused_on(-1001, D2) == {1}
    assert store.reminder(-1001) is not None and [m.user_id for m in store.roster(-1001)] == [1]


def test_a_daily_round_and_a_quiz_round_may_run_side_by_side(tmp_path: Path) -> None:
    store = make(tmp_path)
    quiz = store.start_round(-1, 1, ["a"], "全文", now=1.0)
    daily = store.start_round(-1, 0, ["b"], "今天的内容", now=2.0, kind="daily", closes_at=100.0)
    assert quiz is not None and daily is not None
    assert (daily.kind, daily.closes_at) == ("daily", 100.0)
    assert store.start_round(-1, 0, ["c"], "x", now=3.0, kind="daily") is None
    assert store.running_round(-1) == quiz and store.running_round(-1, "daily") == daily


def old_database(path: Path) -> list[dict[str, Any]]:
    """A database from before m015 holding three members' answers over ten days; returns the answers written."""
    db = Database(path)
    db.enable_wal()  # as the bot left it
    migrations.apply(db, stop_before="m015_record_tallies_by_member")  # the last one: every other is applied
    rng = random.Random(5)
    rows = [{"poll_id": f"p{n}", "user_id": uid, "chat_id": -1, "round_id": n, "question_id": f"q{n % 7}",
             "ref": f"1.{n % 3}", "option": 0, "correct": rng.randrange(2), "answered_at": float(n),
             "local_date": (D1 + timedelta(days=n // 4)).isoformat(), "option_ids": ""}
            for n in range(40) for uid in (1, 2, 3) if rng.random() < 0.8]
    db["answers"].insert_all(rows)
    db.close()
    return rows


def section_counts(rows: list[dict[str, Any]]) -> dict[tuple[int, str], tuple[int, int, str, int, str]]:
    """(member, section) -> (answered, correct, and the earliest answer's question, correct and date)."""
    out: dict[tuple[int, str], tuple[int, int, str, int, str]] = {}
    for row in rows:  # in rowid order: the first answer of a member in a section is the earliest
        key = (row["user_id"], row["ref"])
        n, k, qid, c, day = out.get(key, (0, 0, row["question_id"], row["correct"], row["local_date"]))
        out[key] = (n + 1, k + row["correct"], qid, c, day)
    return out


def counted_with_plan(store: Store, first: date, last: date) -> tuple[dict[tuple[int, str], tuple[Any, ...]], str]:
    """The store's counts per member and section, and SQLite's plan of the statement it ran for them."""
    counted: list[str] = []  # the statement as SQLite ran it, parameters in place
    store.db.conn.set_trace_callback(counted.append)
    by_ref, _ = store.record_answer_tallies(-1, first, last, full=False)
    store.db.conn.set_trace_callback(None)
    statement = next(s for s in counted if "GROUP BY user_id, ref" in s)
    plan = " ".join(r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {statement}"))
    return {(uid, ref): (n, k, qid, c, day) for uid, ref, n, k, qid, c, day, _ in by_ref}, plan


def test_the_member_index_migration_keeps_every_answer_and_counts_sections_without_a_sort(tmp_path: Path) -> None:
    """m015 widens the member index of an existing database's answers: the counts per member and section stay what
    the answers say; over the whole record SQLite reads them in the order it counts them (no temporary b-tree: the
    point of it), over a week of it only that week (the period index), whatever its own choice would be."""
    path = tmp_path / "old.db"
    rows = old_database(path)
    store = Store(path)
    assert "m015_record_tallies_by_member" in store.applied_migrations()
    columns = [r[2] for r in store.db.execute("PRAGMA index_info(answers_member)")]
    assert columns == ["chat_id", "user_id", "ref", "local_date", "question_id", "correct"]
    for analyzed in (False, True):  # SQLite's own choice changes with statistics; the store's does not
        counts, plan = counted_with_plan(store, D1, D1 + timedelta(days=30))
        assert counts == section_counts(rows)
        assert "answers_member" in plan and "TEMP B-TREE" not in plan
        start, end = D1 + timedelta(days=3), D1 + timedelta(days=9)
        counts, plan = counted_with_plan(store, start, end)
        assert counts == section_counts([r for r in rows if start.isoformat() <= r["local_date"] <= end.isoformat()])
        assert "answers_period (chat_id=? AND local_date>? AND local_date<?)" in plan
        if not analyzed:
            store.db.execute("ANALYZE")


OPEN_STORE = """
import sys
from bot.store import Store
print("opening", flush=True)
store = Store(sys.argv[1])
print(sorted(store.applied_migrations())[-1], flush=True)
"""


def test_two_processes_opening_a_database_that_needs_a_migration_both_start(tmp_path: Path) -> None:
    """Both find m015 pending while another connection holds the write lock; the first to get it migrates, the
    second then finds nothing pending (it used to fail recording the same migration again)."""
    path = tmp_path / "old.db"
    old_database(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as a bot's write would, while the two start
    root = Path(__file__).resolve().parent.parent
    starts = [subprocess.Popen([sys.executable, "-c", OPEN_STORE, str(path)], cwd=root, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        for process in starts:
            assert process.stdout is not None and process.stdout.readline().strip() == "opening"
        sleep(0.5)  # let both read what is pending and wait for the lock (a miss only weakens the test)
        holder.execute("COMMIT")
        results = [process.communicate(timeout=60) for process in starts]
    finally:
        for process in starts:
            process.kill()
        holder.close()
    assert [(p.returncode, out.split()[-1]) for p, (out, _) in zip(starts, results, strict=True)] == [
        (0, "m015_record_tallies_by_member")] * 2, [err for _, err in results]
