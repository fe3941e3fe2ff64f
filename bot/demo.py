"""`/demo` in the offline chat: a week of simulated members' check-ins and quiz answers, so /report and /export
have something real-looking to show. Offline only (the offline chat calls it); it writes through the store's API.

The week is seven local days: those up to today, or, when the group has already been pushed on one of them, the
seven days after its last push (the offline chat then moves its clock to the week's end, so the plan's days stay in
calendar order and a second /demo adds a second week instead of writing the same days again). Each of the group's
push days in it gets the group's next reading, as if the push had gone out (the group's progress moves on, as it
would have); eight members, the offline chat's 小王, 小李 and 小张 among them, check in with their own diligence
(some late, one excused for two days) and answer three questions a day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import render
from bot.store import Checkin, PollRecord, Store
from content.model import Reading
from content.questions import Question

# (user id, name, chance to check in on a day, chance to answer a question right). The first three are the offline
# chat's own members (`/as 小王` speaks as user 2), so the roster holds one 小王, not two.
DEMO_MEMBERS = (
    (2, "小王", 1.0, 0.9), (3, "小李", 0.9, 0.8), (4, "小张", 0.85, 0.7), (9004, "小刘", 0.7, 0.75),
    (9005, "小陈", 0.6, 0.6), (9006, "小赵", 0.5, 0.5), (9007, "小孙", 0.3, 0.65), (9008, "小周", 0.0, 0.0),
)
DEMO_ADMIN = 1  # the offline chat's own user, who excuses 小刘
QUESTIONS_PER_DAY = 3


@dataclass(frozen=True)
class DemoWeek:
    days: int  # push days added
    checkins: int
    answers: int
    last: date | None  # the last push day added (the offline clock moves past it when it is after today)


def demo_dates(last_pushed: date | None, weekdays: frozenset[int], today: date) -> list[date]:
    """The push days of the week to simulate: the seven days up to today, or the seven after the last push."""
    first = today - timedelta(days=6)
    if last_pushed is not None and last_pushed >= first:
        first = last_pushed + timedelta(days=1)
    return [d for d in (first + timedelta(days=n) for n in range(7)) if d.weekday() in weekdays]


def fill_demo_week(store: Store, chat_id: int, plan: tuple[Reading, ...], questions: tuple[Question, ...],
                   today: date, zone: ZoneInfo, rng: random.Random) -> DemoWeek:
    """Simulate the last seven days of one group (call on the store thread)."""
    group = store.ensure_group(chat_id)
    with store.atomic():
        for uid, name, _, _ in DEMO_MEMBERS:
            store.remember_member(chat_id, uid, name)
        added: list[date] = []
        for day_date in demo_dates(group.last_pushed, group.schedule.weekdays, today):
            pushed = store.record_push(chat_id, day_date, 0)
            if pushed is None:  # the plan is finished
                break
            added.append(day_date)
        if not added:
            return DemoWeek(days=0, checkins=0, answers=0, last=None)
        excused_from = added[min(2, len(added) - 1)]
        store.add_excuse(chat_id, 9004, excused_from, excused_from + timedelta(days=1), "出差", DEMO_ADMIN,
                         datetime.now().timestamp())
        checkins = answers = 0
        for day_date, day in store.pushes(chat_id, added[0], added[-1]):
            checkins += _checkins(store, chat_id, day_date, day, added[-1], excused_from, zone, rng)
            answers += _answers(store, chat_id, day_date, plan[min(day, len(plan)) - 1], questions, zone, rng)
    return DemoWeek(days=len(added), checkins=checkins, answers=answers, last=added[-1])


def _checkins(store: Store, chat_id: int, day_date: date, day: int, last: date, excused_from: date,
              zone: ZoneInfo, rng: random.Random) -> int:
    count = 0
    for uid, _, diligence, _ in DEMO_MEMBERS:
        if uid == 9004 and excused_from <= day_date <= excused_from + timedelta(days=1):
            continue
        if rng.random() >= diligence:
            continue
        late = day_date < last and rng.random() < 0.15
        pressed = day_date + timedelta(days=1) if late else day_date
        at = time(rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59))
        moment = datetime.combine(pressed, at, zone)
        if store.record_checkin(Checkin(chat_id, uid, day_date, day, pressed, at, moment.timestamp(), late)) is None:
            count += 1
    return count


def _answers(store: Store, chat_id: int, day_date: date, reading: Reading, questions: tuple[Question, ...],
             zone: ZoneInfo, rng: random.Random) -> int:
    pool = [q for q in questions if q.ref in reading.refs] or list(questions)
    if not pool:
        return 0
    chosen = rng.sample(pool, min(QUESTIONS_PER_DAY, len(pool)))
    closes = datetime.combine(day_date, time(21, 0), zone).timestamp()
    started = store.start_round(chat_id, DEMO_ADMIN, [q.id for q in chosen], render.scope_label("today"), closes - 3600,
                                kind="daily", closes_at=closes)
    if started is None:
        return 0
    count = 0
    for position, question in enumerate(chosen):
        poll = PollRecord(f"demo-{chat_id}-{day_date}-{position}", started.id, chat_id, 0, question.id,
                          question.ref, 0, position, closes, False)
        store.record_poll(poll)
        for uid, _, diligence, skill in DEMO_MEMBERS:
            if rng.random() < diligence:
                option = 0 if rng.random() < skill else 1
                count += store.record_answer(poll, uid, option, closes - 1800, day_date)
        store.close_poll(poll.poll_id)
    store.end_round(started.id, "finished")
    return count
