"""SQLite's counts for a campaign record (Store.record_tallies, read by bot/reports.tallies_from) equal what records'
own rule (records.ledger.tally) counts from the same facts as objects, on random ledgers: one rule owns the meaning,
the SQL is only a faster way to follow it. Then every figure and every 台账 row built on either is the same."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.reports import mastery_answers, tallies_from
from bot.store import Checkin, PollRecord, Store
from records import ledgertext, wording
from records.export import csv_value, ledger_table, write_export
from records.ledger import ledger_rows, question_stats, summarize, tally
from records.model import Answer, Campaign, CheckIn, Excuse, Member, MemberDays, Period, PushDay
from schedules.review import Answered, ReviewCard, ReviewSchedule, mastery

GROUP = -100
FIRST = date(2026, 11, 30)
DAYS = [FIRST + timedelta(days=n) for n in range(5)]
USERS = range(1, 7)
REF_OF = {"q0": "1.1", "q1": "2.10", "q2": "开头", "q3": "1.1"}  # two questions share 1.1
NAMES = {"开头": "开头（导语）"}  # opening/closing are shown by name, as bot/reports._ref_names does

checkin_facts = st.lists(st.tuples(st.sampled_from(USERS), st.integers(0, 4), st.integers(0, 2),
                                   st.integers(0, 86_399)), max_size=25)
answer_facts = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(USERS), st.booleans(), st.integers(0, 4)),
                        max_size=40)


def stored(checkins: list[tuple[int, int, int, int]], answers: list[tuple[int, int, bool, int]],
           path: str = ":memory:") -> Store:
    store = Store(path)
    store.ensure_group(GROUP, "组")
    for uid, push, delay, second in checkins:
        pressed = DAYS[push] + timedelta(days=delay)
        at = time(second // 3600, second // 60 % 60, second % 60)
        store.record_checkin(Checkin(GROUP, uid, DAYS[push], push + 1, pressed, at, 0.0, delay > 0))
    rnd = store.start_round(GROUP, 1, list(REF_OF), "test", 0.0, kind="daily", closes_at=1e12)
    assert rnd is not None
    polls = [PollRecord(f"p{n}", rnd.id, GROUP, 0, qid, REF_OF[qid], 0, n, 1e12, False)
             for n, qid in enumerate([*REF_OF, *REF_OF])]
    for poll in polls:
        store.record_poll(poll)
    for which, uid, right, day in answers:
        store.record_answer(polls[which], uid, 0 if right else 1, float(day), DAYS[day])
    return store


def raw(store: Store, first: date, last: date) -> Campaign:
    """The facts as objects (Store.record_facts), as records' rule takes them."""
    facts = store.record_facts(GROUP, first, last)
    return Campaign(
        chat_id=GROUP, title="组", period=Period(first, last, "p"), today=DAYS[3],
        push_days=tuple(PushDay(d, n + 1, f"第{n + 1}天", ("1.1",)) for n, d in enumerate(DAYS) if first <= d <= last),
        members=(Member(1, "甲"), Member(2, "乙", joined=DAYS[1]), Member(3, "丙", left=DAYS[3]), Member(4, "丁")),
        excuses=(Excuse(4, DAYS[1], DAYS[2], "出差"),),
        checkins=tuple(CheckIn(uid, date.fromisoformat(p), datetime.fromisoformat(f"{d} {t}"))
                       for uid, p, d, t in facts.checkins),
        answers=tuple(Answer(uid, qid, NAMES.get(ref, ref), correct == 1, date.fromisoformat(day))
                      for uid, qid, ref, correct, day in facts.answers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checkin_facts, answer_facts, st.integers(0, 2), st.integers(2, 4))
def test_sql_counts_equal_the_records_rule(checkins: list[tuple[int, int, int, int]],
                                           answers: list[tuple[int, int, bool, int]], lo: int, hi: int) -> None:
    store = stored(checkins, answers)
    first, last = DAYS[lo], DAYS[hi]
    by_objects = raw(store, first, last)
    rule = tally(by_objects)
    counted = tallies_from(store.record_tallies(GROUP, first, last, full=True), NAMES)
    assert counted == rule
    by_sql = replace(by_objects, checkins=(), answers=(), tallies=counted)
    assert summarize(by_sql) == replace(summarize(by_objects), campaign=by_sql)
    assert list(ledger_rows(by_sql)) == list(ledger_rows(by_objects))
    assert list(ledger_table(by_sql)) == list(ledger_table(by_objects))
    assert question_stats(by_sql) == question_stats(by_objects)
    # A report counts less: check-ins and sections, the same as the full count.
    short = tallies_from(store.record_tallies(GROUP, first, last, full=False), NAMES)
    assert (short.checkins, short.by_ref, short.daily, short.questions) == (rule.checkins, rule.by_ref, None, None)
    store.close()


def _cells(rows: Iterable[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Cells as openpyxl reads them back: dates as midnight datetimes, empty text as None."""
    return [tuple(datetime.combine(v, time()) if type(v) is date else None if v == "" else v for v in row)
            for row in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checkin_facts, answer_facts, st.integers(0, 2), st.integers(2, 4))
def test_ledger_files_from_the_stores_texts_hold_the_rules_cells(
        checkins: list[tuple[int, int, int, int]], answers: list[tuple[int, int, bool, int]], lo: int, hi: int
        ) -> None:
    """The 台账 written from the store's per-member texts (SQLite's group_concat, its Excel serials, the writers'
    C-made rows: records/ledgertext.py) reads back as the rule's cells, in XLSX (openpyxl) and CSV."""
    store = stored(checkins, answers)
    first, last = DAYS[lo], DAYS[hi]
    by_objects = raw(store, first, last)
    counts = store.record_tallies(GROUP, first, last, full=True)
    assert counts.daily is not None
    by_texts = replace(by_objects, checkins=(), answers=(), tallies=tallies_from(counts, NAMES),
                       member_days=MemberDays(counts.checkins, counts.daily))
    want = list(ledger_table(by_objects))
    with tempfile.TemporaryDirectory() as folder:
        path = write_export(summarize(by_texts), "xlsx", Path(folder) / "x.xlsx")
        book = openpyxl.load_workbook(path)
        got = [tuple(r) for r in book[wording.LEDGER_SHEET].iter_rows(min_row=2, values_only=True)]
        book.close()
    assert got == _cells(want)
    headers = wording.LEDGER_HEADERS
    text = b"".join(ledgertext.csv_lines(by_texts)).decode()
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        [csv_value(v, h) for v, h in zip(row, headers, strict=True)] for row in want]
    store.close()


SCHEDULE = ReviewSchedule()
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(USERS[:3]), st.booleans(), st.integers(0, 4)),
                min_size=5, max_size=30),
       st.lists(st.tuples(st.sampled_from(USERS[:3]), st.sampled_from(list(REF_OF)), st.booleans(), st.booleans()),
                max_size=8))
def test_mastery_from_the_reduced_answers_equals_mastery_from_all(
        answers: list[tuple[int, int, bool, int]], cards: list[tuple[int, str, bool, bool]]) -> None:
    """The export gives mastery() the latest answer to every question only for members with a review card reviewed;
    each one's figures are those from all their answers. The others get their answers and right answers per
    section, their share right: mastery()'s figure whenever each question was put to them once."""
    store = stored([], answers)
    for uid, qid, right, reviewed in cards:
        card = SCHEDULE.first_card(qid, REF_OF[qid], Answered(qid, REF_OF[qid], right, NOW - timedelta(days=3)))
        store.save_review_cards(GROUP, uid, [card if reviewed else replace(card, reviews=0)])
    every: dict[int, list[Answered]] = {}  # in the order they came (the latest answer to a question stands)
    for n, (uid, qid, ref, correct) in enumerate(store.db.execute(
            "SELECT user_id, question_id, ref, correct FROM answers ORDER BY rowid").fetchall()):
        every.setdefault(uid, []).append(Answered(qid, ref, correct == 1, NOW + timedelta(seconds=n)))
    rows, shares = mastery_answers(store.record_tallies(GROUP, DAYS[0], DAYS[-1]))
    reduced: dict[int, list[Answered]] = {}
    for uid, qid, ref, correct, _ in rows:
        reduced.setdefault(uid, []).append(Answered(qid, ref, correct, NOW))
    cards_of = store.group_review_cards(GROUP)
    reviewed = {uid for uid, theirs in cards_of.items() if any(c.reviews for c in theirs)}
    assert set(reduced) == set(every) & reviewed and set(shares) == set(every) - reviewed
    for uid in reduced:
        assert (mastery(SCHEDULE, cards_of.get(uid, ()), reduced[uid], NOW)
                == mastery(SCHEDULE, cards_of.get(uid, ()), every[uid], NOW)), uid
    for uid, per_section in shares.items():
        theirs = every[uid]
        assert sorted(per_section) == sorted(
            (ref, sum(a.ref == ref for a in theirs), sum(a.ref == ref and a.correct for a in theirs))
            for ref in {a.ref for a in theirs})
        if len({a.question_id for a in theirs}) == len(theirs):
            figures = mastery(SCHEDULE, cards_of.get(uid, ()), theirs, NOW)
            assert figures == {ref: right / n for ref, n, right in per_section}
    store.close()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(USERS[:4]), st.sampled_from(list(REF_OF)),
                          st.sampled_from(["1.1", "9.9", "2.10", "开头"]), st.booleans(), st.integers(0, 4)),
                max_size=25),
       st.lists(st.tuples(st.sampled_from(USERS[:3]), st.sampled_from(list(REF_OF)), st.booleans(),
                          st.integers(0, 2)), max_size=8))
def test_mastery_rows_equal_mastery_of_each_member(answers: list[tuple[int, str, str, bool, int]],
                                                   cards: list[tuple[int, str, bool, int]]) -> None:
    """The export's mastery rows (bot/reports.mastery_rows) hold schedules.review.mastery's figures for each member
    with a card reviewed and the share right per section for the others, ranked in reading order."""
    from zoneinfo import ZoneInfo

    from bot.reports import mastery_rows

    zone = ZoneInfo("Asia/Shanghai")
    cards_of: dict[int, list[ReviewCard]] = {}
    for uid, qid, right, reviews in cards:
        card = SCHEDULE.first_card(qid, REF_OF[qid], Answered(qid, REF_OF[qid], right, NOW - timedelta(days=3)))
        cards_of.setdefault(uid, []).append(replace(card, reviews=reviews))
    rows = [(uid, qid, ref, right, DAYS[day]) for uid, qid, ref, right, day in answers]
    reviewed = {uid for uid, theirs in cards_of.items() if any(c.reviews for c in theirs)}
    counted: dict[int, dict[str, tuple[int, int]]] = {}  # as by_ref counts them: per member and section
    for u, _, ref, right, _ in rows:
        if u not in reviewed:
            n, k = counted.setdefault(u, {}).get(ref, (0, 0))
            counted[u][ref] = (n + 1, k + right)
    shares = {u: [(ref, n, k) for ref, (n, k) in theirs.items()] for u, theirs in counted.items()}
    order = {"9.9": 0, "1.1": 1}  # reading order; 2.10 and 开头 are in none (ranked last)
    got = mastery_rows(SCHEDULE, cards_of, [r for r in rows if r[0] in reviewed], shares, zone, lambda ref: f"§{ref}",
                       order, NOW)
    want = []
    for uid in sorted(set(cards_of) | {r[0] for r in rows}):
        if uid in reviewed:
            figures = mastery(SCHEDULE, cards_of.get(uid, ()), [
                Answered(q, ref, right, datetime.combine(day, time(), zone))
                for u, q, ref, right, day in rows if u == uid], NOW)
        else:  # the share right per section
            figures = {ref: k / n for ref, (n, k) in counted.get(uid, {}).items()}
        ranked = sorted(figures.items(), key=lambda kv: order.get(kv[0], len(order)))
        want.append((uid, tuple((f"§{ref}", share) for ref, share in ranked)))
    assert [(m.user_id, m.sections) for m in got] == want


def test_the_answers_per_day_counted_beside_are_those_of_the_exports_snapshot(tmp_path: Path) -> None:
    """An export counts its answers per day on a second connection (bot/reports._day_tallies_beside): from the same
    answers as the first connection's snapshot, or not at all when a write came in between the two snapshots
    (then the first connection counts them, and the export stays one snapshot)."""
    from bot.reports import _day_tallies_beside

    writer = stored([(1, 0, 0, 60)], [(0, 1, True, 0), (1, 2, False, 1), (4, 3, True, 2)], str(tmp_path / "s.db"))
    reader = writer.reader()
    try:
        with reader.snapshot():
            mark = reader.record_answers_mark(GROUP)  # the snapshot starts here
            mine = reader.record_day_tallies(GROUP, DAYS[0], DAYS[-1])
            assert _day_tallies_beside(reader.reader(), mark, GROUP, DAYS[0], DAYS[-1]) == mine
            with writer.atomic():  # another member answers: committed after the reader's snapshot began
                assert writer.record_answer(PollRecord("p0", 1, GROUP, 0, "q0", "1.1", 0, 0, 1e12, False), 6, 0,
                                            0.0, DAYS[0])
            assert _day_tallies_beside(reader.reader(), mark, GROUP, DAYS[0], DAYS[-1]) is None
            assert reader.record_day_tallies(GROUP, DAYS[0], DAYS[-1]) == mine  # still the snapshot's
    finally:
        reader.close()
        writer.close()
