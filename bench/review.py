"""Personal review at scale: a group of N members, each with a review card for every one of M questions.

Measures what one `/review` costs before its first poll (load the member's cards, add cards for new quiz misses, pick
the due ones on readable sections) and one reminder tick that finds every member's reminder time reached (claim the
day, count due cards, send). The bot is replaced by a counter: this is the bot's own work, not Telegram's.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from telegram import Bot

from bench.common import Sizes, make_services, median
from bench.report import Goal, Row
from bot.review import PersonalReview
from bot.store import GroupChanges
from schedules.review import Answered, ReviewCard, ReviewSchedule

GROUP = -7_000_000
NOW = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai: every 21:00 reminder is due


class CountingBot:
    """Stands in for telegram.Bot where the review only sends messages."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1


def seed(review: PersonalReview, members: int, questions: int, rng: random.Random) -> None:
    """Every member has a card for each question, due anywhere from a month ago to a month ahead."""
    store = review.svc.store
    store.ensure_group(GROUP, "基准测试群")
    store.update_group(GROUP, GroupChanges(finished=True))  # the whole plan sent: every section is readable
    schedule = ReviewSchedule()
    ids = sorted(review.questions)[:questions]
    template = schedule.first_card("q", "1", Answered("q", "1", False, NOW))
    for member in range(1, members + 1):
        cards = [ReviewCard(q, review.questions[q].ref, template.state, NOW + timedelta(hours=rng.randint(-720, 720)),
                            reviews=1, lapses=1) for q in ids]
        store.save_review_cards(GROUP, member, cards)
        store.join_review(member, GROUP, current=True)
        store.set_review_reminder(member, datetime(2026, 1, 1, 21, 0).time(), "Asia/Shanghai")


async def run(workdir: Path, sizes: Sizes) -> list[Row]:
    svc = make_services(workdir, "review", clock=lambda: NOW)
    bot = CountingBot()
    review = PersonalReview(svc, cast(Bot, bot), svc.questions, rng=random.Random(7))
    rng = random.Random(11)
    members, questions = sizes.review_members, min(sizes.review_questions, len(review.questions))
    seed(review, members, questions, rng)
    try:
        samples = []
        for member in rng.sample(range(1, members + 1), min(200, members)):
            started = time.perf_counter()
            standing = await review.standing(member, GROUP)
            review._due(standing.cards, review.readable(standing.group))
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        started = time.perf_counter()
        reminded = await review.remind()
        tick = time.perf_counter() - started
    finally:
        svc.db.close()
    name = f"review ({members:,} members × {questions} cards)"
    return [
        Row(name, "/review: cards loaded and due picked, median ms", median(samples), digits=2,
            goal=Goal("value", "<=", 50, "≤ 50 ms*")),
        Row(name, "/review: p99 ms", samples[int(len(samples) * 0.99) - 1 if len(samples) > 1 else 0], digits=2,
            goal=Goal("value", "<=", 200, "≤ 200 ms*")),
        Row(name, f"reminder tick for {members:,} members, s", tick, digits=2,
            goal=Goal("value", "<=", 60, "≤ 60 s* (one tick)")),
        Row(name, "reminders sent − members with cards due", reminded - members, digits=0,
            goal=Goal("value", "==", 0, "= 0")),
    ]
