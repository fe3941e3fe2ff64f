"""The SQLite store: settings, exactly-once delivery claims, migration, quiz answers."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from bot.store import GroupDefaults, PollRecord, Store, migrations

D1 = date(2026, 3, 2)


def make(tmp_path: Path) -> Store:
    return Store(tmp_path / "bot.db", GroupDefaults(push_time=time(7, 30), timezone="Europe/London"))


def test_new_group_takes_the_defaults_and_settings_survive_a_reopen(tmp_path: Path) -> None:
    store = make(tmp_path)
    group = store.ensure_group(-100, "学习小组")
    assert (group.push_time, group.timezone, group.next_day, group.subscribed) == (
        time(7, 30), "Europe/London", 1, False)
    store.update_group(-100, subscribed=True, push_time=time(21, 5), weekdays=frozenset({0, 2}), next_day=4)
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
    assert store.claim_delivery(-1, D1, 1)
    assert not store.claim_delivery(-1, D1, 1)  # racing tick in the same process
    store.complete_delivery(-1, D1, day=1, message_id=9, plan_length=3, restart_at_end=False)
    assert not store.claim_delivery(-1, D1, 2)
    group = store.group(-1)
    assert group is not None and group.next_day == 2 and group.last_pushed == D1


def test_a_failed_push_can_be_claimed_again_and_a_dead_runs_claim_is_taken_over(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-1)
    assert store.claim_delivery(-1, D1, 1)
    store.release_delivery(-1, D1)
    assert store.claim_delivery(-1, D1, 1)
    store.close()
    restarted = make(tmp_path)  # the process died while sending: its claim is stale
    assert restarted.claim_delivery(-1, D1, 1)
    assert restarted.deliveries(-1) == [(D1, 1, "sending")]


def test_end_of_plan_stops_or_restarts(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-1)
    store.ensure_group(-2)
    store.update_group(-1, next_day=3)
    store.update_group(-2, next_day=3)
    for chat in (-1, -2):
        assert store.claim_delivery(chat, D1, 3)
    stopped = store.complete_delivery(-1, D1, 3, 1, plan_length=3, restart_at_end=False)
    restarted = store.complete_delivery(-2, D1, 3, 1, plan_length=3, restart_at_end=True)
    assert stopped.finished and not stopped.pushable
    assert (restarted.finished, restarted.next_day) == (False, 1)


def test_push_candidates_are_only_active_subscribed_unpaused_groups(tmp_path: Path) -> None:
    store = make(tmp_path)
    for chat in (-1, -2, -3, -4):
        store.ensure_group(chat)
        store.update_group(chat, subscribed=True)
    store.update_group(-2, paused=True)
    store.update_group(-3, active=False)
    store.update_group(-4, subscribed=False)
    assert [c[0] for c in store.push_candidates()] == [-1]


def test_migration_moves_settings_progress_and_scores(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-5, "old")
    store.update_group(-5, subscribed=True, next_day=7)
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
    store.update_group(-1, next_day=3)
    assert store.claim_delivery(-1, D1, 3)
    store.update_group(-1, next_day=5)  # an admin's /goto while day 3 is on its way
    group = store.complete_delivery(-1, D1, day=3, message_id=1, plan_length=14, restart_at_end=False)
    assert (group.next_day, group.last_pushed) == (5, D1)


def test_a_second_report_of_the_same_migration_changes_nothing(tmp_path: Path) -> None:
    store = make(tmp_path)
    store.ensure_group(-5)
    store.update_group(-5, subscribed=True, next_day=4)
    store.migrate_chat(-5, -1005)
    store.migrate_chat(-5, -1005)  # the push's ChatMigrated after the service message was handled
    moved = store.group(-1005)
    assert moved is not None and moved.subscribed and moved.next_day == 4
