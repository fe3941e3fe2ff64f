"""What the handlers share: configuration, the loaded content, the store, clocks and caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes

from bot.admin import AdminCache
from bot.config import Config
from bot.render.views import LookupViews
from bot.store import Group, GroupDefaults, Store
from bot.storeworker import StoreWorker
from bot.throttle import ChatBudget, Throttle
from content.loader import load_document
from content.model import Document, Reading
from content.questions import Question, load_bank, load_default_bank
from content.quizcheck import duplicates
from content.quizgen import cached_generated_questions
from content.readings import plan_readings
from content.search import SearchIndex
from schedules.clock import SystemClock
from schedules.due import parse_weekdays
from schedules.ledger import PlanRule

SERVICES_KEY = "studybot"


@dataclass
class Services:
    config: Config
    doc: Document
    plan: tuple[Reading, ...]
    index: SearchIndex
    store: Store
    questions: tuple[Question, ...] = ()
    clock: Callable[[], datetime] = field(default_factory=SystemClock)
    admins: AdminCache = field(default_factory=AdminCache)
    throttle: Throttle = field(default_factory=Throttle)
    chat_budget: ChatBudget = field(default_factory=ChatBudget)  # commands per group a minute (bot/throttle.py)
    offline: bool = False
    db: StoreWorker = field(init=False)
    owner: str = field(init=False)
    views: LookupViews = field(init=False)  # lookup replies rendered once (the speech does not change)

    def __post_init__(self) -> None:
        self.db = StoreWorker(self.store)
        self.views = LookupViews(self.doc, self.index)
        self.owner = self.store.run_id  # this process in the push ledger

    @property
    def plan_rule(self) -> PlanRule:
        """How long the plan is and what follows its last day (the ledger's view of the plan)."""
        return self.store.plan

    @property
    def lease(self) -> float:
        """Seconds a push claim is held without renewal before another process may take it over."""
        return self.config.push.lease_seconds

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.config.push.grace_hours)

    def days_sent(self, group: Group) -> int:
        """How many of the plan's readings the group has been sent: the sections it may be quizzed and reviewed on."""
        return len(self.plan) if group.finished else max(group.next_day - 1, 0)

    def reading(self, day: int) -> Reading:
        """The plan's reading for `day`, clamped into the plan."""
        return self.plan[min(max(day, 1), len(self.plan)) - 1]

    async def local_today(self, chat_id: int) -> date:
        """The chat's current date in its own time zone (answers and streaks count in it)."""
        group = await self.db(lambda s: s.group(chat_id))
        return self.local_date(group.timezone if group else None)

    def local_date(self, timezone: str | None) -> date:
        """Today in this time zone (None: the default zone); plain, so a store call can use it."""
        return self.clock().astimezone(ZoneInfo(timezone or self.config.push.default_timezone)).date()


def build_services(config: Config, clock: Callable[[], datetime] | None = None) -> Services:
    """Load and check everything once, at start-up."""
    doc = load_document(config.content.speech)
    plan = plan_readings(doc, config.readings.min_chars, config.readings.max_chars)
    defaults = GroupDefaults(push_time=config.push.default_time, timezone=config.push.default_timezone,
                             weekdays=parse_weekdays(config.push.default_days),
                             daily_quiz=config.push.daily_quiz_questions)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    rule = PlanRule(len(plan), "restart" if config.push.at_end == "restart" else "stop")
    store = Store(config.database, defaults, rule)
    return Services(config=config, doc=doc, plan=plan, index=SearchIndex(doc), store=store,
                    questions=load_questions(config, doc), clock=clock or SystemClock(), offline=config.offline)


def load_questions(config: Config, doc: Document) -> tuple[Question, ...]:
    """The shipped bank (when it fits this speech), extra banks from config, and questions generated from the text."""
    questions: list[Question] = []
    if config.content.speech is None:
        questions += load_default_bank(doc)
    for path in config.content.question_banks:
        questions += load_bank(path, doc)
    if config.content.generated_questions:
        generated = cached_generated_questions(doc, config.database.parent / ".studybot-cache")
        repeated = duplicates(generated, questions, doc)  # what a bank already asks is not asked twice
        questions += [q for q in generated if q.id not in repeated]
    return tuple(questions)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    found = context.bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found
