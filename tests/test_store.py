"""The SQLite store: settings, exactly-once delivery claims, migration, quiz answers."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.store import GroupChanges, GroupDefaults, PollRecord, Store, migrations
from schedules.ledger import LostClaim, PlanRule, telegram_key

D1 = date(2026, 3, 2)
D2 = date(2026, 3, 3)
K1 = telegram_key(-1)
NOW = 1_772_400_000.0
PLAN3 = PlanRule(3)
PLAN14 = PlanRule(14)


def make(tmp_path: Path) -> Store:
    return Store(tmp_path / "bot.db", GroupDefaults(push_time=time(7, 30), timezone="Europe/London"))


def test_new_group_takes_the_defaults_and_settings_survive_a_reopen(tmp_path: Path) -> None:
    store = make(tmp_path)
    group = store.ensure_group(-100, "学习小组")
    assert (group.push_time, group.timezone, group.next_day, group.subscribed) == (
        time(7, 30), "Europe/London", 1, False)
    store.update_group(-100, GroupChanges(subscribed=True, push_time=time(21, 5), weekdays=frozenset({0, 2}),
                                          next_day=4))
    store.close()
    reopened = make(tmp_path)
    again = reopened.group(-100)
    assert again is not None
    assert (again.subscribed, again.push_time, again.weekdays, again.next_day) == (True, time(21, 5),
                                                                                 frozenset({0, 2}), 4)
    # Every recorded migration is applied, in the order they are defined (new ones are added after these).
    applied = reopened.applied_migrations()
    assert applied[:2] == ["m001_groups_and_deliveries", "m002_quiz"]
    assert applied == [m.name for m in migrations._migrations] and migrations.pending(reopened.db) == []


def test_a_delivery_is_claimed_once_per_local_date(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-1)
    claim = store.ledger.claim(K1, D1, "a", NOW, PLAN3)
    assert claim is not None and claim.day == 1
    assert store.ledger.claim(K1, D1, "a", NOW, PLAN3) is None  # racing tick in the same process
    assert store.ledger.claim(K1, D1, "b", NOW, PLAN3) is None  # another process: the claim is live
    store.ledger.record(claim, 9, PLAN3)
    store.ledger.record(claim, 9, PLAN3)  # a repeated record (its answer lost) changes nothing
    assert store.ledger.claim(K1, D1, "b", NOW + 3600, PLAN3) is None  # sent: never again
    group = store.group(-1)
    assert group is not None and group.next_day == 2 and group.last_pushed == D1
    assert store.deliveries(-1) == [(D1, 1, "sent")]


def test_a_released_claim_can_be_taken_again_and_an_expired_one_is_taken_over(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-1)
    first = store.ledger.claim(K1, D1, "a", NOW, PLAN3, lease=60)
    assert first is not None
    store.ledger.release(first)
    second = store.ledger.claim(K1, D1, "a", NOW, PLAN3, lease=60)
    assert second is not None
    store.close()
    restarted = make(tmp_path)  # the process died while sending: its claim lives until the lease runs out
    assert restarted.ledger.claim(K1, D1, "b", NOW + 59, PLAN3) is None
    taken = restarted.ledger.claim(K1, D1, "b", NOW + 60, PLAN3)
    assert taken is not None and restarted.deliveries(-1) == [(D1, 1, "claimed")]
    assert not restarted.ledger.renew(second, NOW + 61)  # the old owner lost it
    with pytest.raises(LostClaim):
        restarted.ledger.record(second, 1, PLAN3)
    restarted.ledger.record(taken, 2, PLAN3)
    assert restarted.delivery_counts() == {"sent": 1}


def test_end_of_plan_stops_or_restarts(tmp_path: Path) -> None:
    stopping = Store(tmp_path / "a.db", plan=PlanRule(3, "stop"))
    restarting = Store(tmp_path / "b.db", plan=PlanRule(3, "restart"))
    for store in (stopping, restarting):
        store.ensure_group(-1)
        store.update_group(-1, GroupChanges(next_day=3, subscribed=True))
        claim = store.ledger.claim(K1, D1, "a", NOW, store.plan)
        assert claim is not None and claim.day == 3
        store.ledger.record(claim, 1, store.plan)
    stopped, restarted = stopping.group(-1), restarting.group(-1)
    assert stopped is not None and stopped.finished and not stopped.pushable
    assert stopping.push_candidates() == [] and stopping.ledger.claim(K1, D2, "a", NOW, stopping.plan) is None
    assert restarted is not None and not restarted.finished and len(restarting.push_candidates()) == 1
    again = restarting.ledger.claim(K1, D2, "a", NOW, restarting.plan)
    assert again is not None and again.day == 1


def test_a_plan_that_shrank_finishes_or_restarts_the_groups_past_its_end(tmp_path: Path) -> None:
    Store(tmp_path / "bot.db").update_group(Store(tmp_path / "bot.db").ensure_group(-1).chat_id,
                                            GroupChanges(next_day=9))
    shrunk = Store(tmp_path / "bot.db", plan=PlanRule(5, "restart"))
    claim = shrunk.ledger.claim(K1, D1, "a", NOW, shrunk.plan)
    assert claim is not None and claim.day == 1
    finished = Store(tmp_path / "bot.db", plan=PlanRule(5, "stop")).group(-1)
    assert finished is not None and finished.finished


def test_push_candidates_are_only_active_subscribed_unpaused_groups(tmp_path: Path) -> None:
    store = make(tmp_path)
    for chat in (-1, -2, -3, -4):
        store.ensure_group(chat)
        store.update_group(chat, GroupChanges(subscribed=True))
    store.update_group(-2, GroupChanges(paused=True))
    store.update_group(-3, GroupChanges(active=False))
    store.update_group(-4, GroupChanges(subscribed=False))
    assert [c[0] for c in store.push_candidates()] == [-1]


def test_migration_moves_settings_progress_and_scores(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-5, "old")
    store.update_group(-5, GroupChanges(subscribed=True, next_day=7))
    rnd = store.start_round(-5, 1, ["q1"], "all", now=100.0)
    assert rnd is not None
    poll = PollRecord("p1", rnd.id, -5, 1, "q1", "1.1", 2, 0, closes_at=200.0, closed=False)
    store.record_poll(poll)
    assert store.record_answer(poll, 42, 2, now=150.0, local_date=D1)
    store.ensure_group(-1005, "new")  # the new id spoke first
    store.migrate_chat(-5, -1005)
    assert store.group(-5) is None
    moved = store.group(-1005)
    assert moved is not None and moved.next_day == 7 and moved.subscribed
    assert store.chat_scores(-1005) == {42: (1, 1)}


def test_first_answer_counts_and_late_or_closed_answers_do_not(tmp_path: Path) -> None:
    store = make(tmp_path)
    rnd = store.start_round(-1, 1, ["q1"], "all", now=0.0)
    assert rnd is not None and store.start_round(-1, 2, ["q2"], "all", now=1.0) is None
    poll = PollRecord("p", rnd.id, -1, 1, "q1", "1.1", 0, 0, closes_at=30.0, closed=False)
    store.record_poll(poll)
    assert store.record_answer(poll, 1, 0, now=5.0, local_date=D1)
    assert not store.record_answer(poll, 1, 1, now=6.0, local_date=D1)  # a second answer
    assert not store.record_answer(poll, 2, 0, now=33.0, local_date=D1)  # after closing time and its allowance
    assert store.record_answer(poll, 4, 1, now=31.0, local_date=D1)  # taken at the close, arrived just after
    assert store.close_poll("p") and not store.close_poll("p")
    closed = store.poll("p")
    assert closed is not None and not store.record_answer(closed, 3, 0, now=10.0, local_date=D1)
    assert store.chat_scores(-1) == {1: (1, 1), 4: (0, 1)}
    assert store.end_round(rnd.id, "finished") and not store.end_round(rnd.id, "stopped")


def test_a_goto_during_a_push_wins_over_the_push_it_interrupted(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-1)
    store.update_group(-1, GroupChanges(next_day=3))
    claim = store.ledger.claim(K1, D1, "a", NOW, PLAN14)
    assert claim is not None and claim.day == 3
    store.update_group(-1, GroupChanges(next_day=5))  # an admin's /goto while day 3 is on its way
    store.ledger.record(claim, 1, PLAN14)
    group = store.group(-1)
    assert group is not None and (group.next_day, group.last_pushed) == (5, D1)


def test_a_migration_during_a_push_moves_the_claim_and_the_record_lands_at_the_new_id(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-5)
    store.update_group(-5, GroupChanges(subscribed=True, next_day=4))
    claim = store.ledger.claim(telegram_key(-5), D1, "a", NOW, PLAN14)
    assert claim is not None
    store.migrate_chat(-5, -1005)  # the service message, handled while the push is in flight
    store.ledger.record(claim, 1, PLAN14)  # recorded with the claim taken at the old id
    moved = store.group(-1005)
    assert moved is not None and (moved.next_day, moved.last_pushed) == (5, D1)
    assert store.deliveries(-1005) == [(D1, 4, "sent")] and store.deliveries(-5) == []
    assert store.ledger.claim(telegram_key(-1005), D1, "b", NOW + 3600, PLAN14) is None


def test_migration_m003_keeps_every_groups_progress(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m012_push_ledger")
    row = {"title": "", "push_time": "08:00", "timezone": "Asia/Shanghai", "weekdays": "0,1,2,3,4,5,6",
           "created_at": "2026-03-01T00:00:00+00:00", "subscribed": 1, "finished": 0, "last_pushed": None}
    db["groups"].insert_all([
        {**row, "chat_id": -1, "next_day": 4, "last_pushed": "2026-03-02"},
        {**row, "chat_id": -2, "next_day": 1, "last_pushed": None},
        {**row, "chat_id": -3, "next_day": 15, "last_pushed": "2026-03-01", "finished": 1},
        {**row, "chat_id": -4, "next_day": 2, "last_pushed": "2026-03-01"},
    ])
    delivery = {"owner": "old-run", "updated_at": "2026-03-02T00:00:00+00:00", "message_id": None}
    db["deliveries"].insert_all([
        {**delivery, "chat_id": -1, "local_date": "2026-03-02", "day": 3, "status": "sent", "message_id": 5},
        {**delivery, "chat_id": -4, "local_date": "2026-03-02", "day": 2, "status": "sending"},
        {**delivery, "chat_id": -2, "local_date": "2026-03-02", "day": 1, "status": "failed"},
    ])
    db.close()
    store = Store(path, plan=PlanRule(14))
    assert "m012_push_ledger" in store.applied_migrations()
    progress = {g.chat_id: (g.next_day, g.last_pushed, g.finished) for g in store.groups()}
    assert progress == {-1: (4, D1, False), -2: (1, None, False), -3: (15, date(2026, 3, 1), True),
                        -4: (2, date(2026, 3, 1), False)}
    assert store.deliveries(-4) == [(date(2026, 3, 1), 1, "sent"), (D1, 2, "claimed")]
    # The old run's 'sending' claim counts as dead, as it did before: taken over at once.
    taken = store.ledger.claim(telegram_key(-4), D1, "new", NOW, store.plan)
    assert taken is not None and taken.day == 2
    assert store.ledger.claim(telegram_key(-1), D1, "new", NOW, store.plan) is None
    assert sorted(c[0] for c in store.push_candidates()) == [-4, -2, -1]


def test_a_second_report_of_the_same_migration_changes_nothing(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-5)
    store.update_group(-5, GroupChanges(subscribed=True, next_day=4))
    store.migrate_chat(-5, -1005)
    store.migrate_chat(-5, -1005)  # the push's ChatMigrated after the service message was handled
    moved = store.group(-1005)
    assert moved is not None and moved.subscribed and moved.next_day == 4


def test_a_ledger_commit_that_fails_leaves_no_transaction_open_and_the_retry_lands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    store = make(tmp_path)
    store.ensure_group(-1)
    claim = store.ledger.claim(K1, D1, "a", NOW, PLAN14)
    assert claim is not None
    execute = store.db.execute
    failures = [sqlite3.OperationalError("disk I/O error")]

    def failing_commit(sql: str, *args: object, **kwargs: object) -> object:
        if sql == "COMMIT" and failures:
            raise failures.pop()
        return execute(sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.db, "execute", failing_commit)
    with pytest.raises(sqlite3.OperationalError):
        store.ledger.record(claim, 1, PLAN14)
    assert not store.db.conn.in_transaction  # no write lock held, nothing left to nest later calls in
    assert store.deliveries(-1) == [(D1, 1, "claimed")]
    store.ledger.record(claim, 1, PLAN14)  # the deliverer's retry
    store.close()
    reopened = make(tmp_path)
    group = reopened.group(-1)
    assert reopened.deliveries(-1) == [(D1, 1, "sent")] and group is not None and group.next_day == 2


def test_update_group_changes_only_what_is_given_and_names_a_missing_group(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-7, "七组")
    store.update_group(-7, GroupChanges(push_time=time(6, 45), weekdays=frozenset({1, 3}), paused=True))
    changed = store.update_group(-7, GroupChanges(paused=False, daily_quiz=3))
    assert (changed.title, changed.push_time, changed.weekdays, changed.paused, changed.daily_quiz) == (
        "七组", time(6, 45), frozenset({1, 3}), False, 3)
    assert store.update_group(-7, GroupChanges(finished=True)).finished
    with pytest.raises(NotFoundError, match="group -8"):  # not an assert: `python -O` would let None through
        store.update_group(-8, GroupChanges(subscribed=True))
