"""Quiz commands and poll updates: /quiz, /stopquiz, /leaderboard, /mystats, answers and closed polls."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import render
from bot.handlers.lookup import reply
from bot.quizrounds import QuizRounds, Scope
from bot.review import REVIEW_KEY, PersonalReview
from bot.services import Services, services
from content.model import Document
from content.refs import RefError, resolve
from schedules.review import strongest_and_weakest

ROUNDS_KEY = "quiz_rounds"
TODAY_WORDS = {"today", "今天", "今日", "当天"}
ALL_WORDS = {"all", "全部", "全文", "所有"}
WEEK_WORDS = {"week", "本周", "周", "这周", "七天"}
BOARD_WORDS = {"", "all", "总", "总榜", "全部", "所有"}  # the overall leaderboard


@dataclass(frozen=True)
class QuizRequest:
    count: int
    scope: str  # "read" (default), "today", "all", or a reference typed by the member


def parse_quiz_args(args: list[str], default: int, most: int) -> QuizRequest:
    """`/quiz [N] [REF|today|all]` in either order; ValueError when N is out of range or not a number."""
    count, rest, counted = default, list[str](), False
    for arg in args:
        if arg.isdigit() and not counted:
            count, counted = int(arg), True
        else:
            rest.append(arg)
    if not 1 <= count <= most:
        raise ValueError(f"count must be 1..{most}")
    word = " ".join(rest).strip()
    if not word:
        return QuizRequest(count, "read")
    if word.lower() in TODAY_WORDS:
        return QuizRequest(count, "today")
    if word.lower() in ALL_WORDS:
        return QuizRequest(count, "all")
    return QuizRequest(count, word)


def section_scope(doc: Document, text: str) -> Scope:
    """A section and, for a part, all its points."""
    section = resolve(doc, text)
    refs = {section.ref}
    if section.kind == "part" and section.part is not None:
        refs |= {p.ref for p in doc.part(section.part).points}
    return Scope(frozenset(refs), render.short_name(section))


async def resolve_scope(svc: Services, chat_id: int, scope: str) -> Scope:
    everything = Scope(frozenset(s.ref for s in svc.doc.sections()), render.scope_label("all"))
    if scope == "all":
        return everything
    group = await svc.db(lambda s: s.group(chat_id))
    read_days = svc.days_sent(group) if group is not None else len(svc.plan)
    if scope == "today":
        return Scope(frozenset(svc.reading(max(read_days, 1)).refs), render.scope_label("today"))
    if scope == "read":
        if read_days < 1:
            return everything
        refs = {r for reading in svc.plan[:read_days] for r in reading.refs}
        return Scope(frozenset(refs), render.scope_label("read"))
    return section_scope(svc.doc, scope)


def rounds(context: ContextTypes.DEFAULT_TYPE) -> QuizRounds:
    found = context.bot_data[ROUNDS_KEY]
    assert isinstance(found, QuizRounds)
    return found


async def quiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a round: /quiz 5 2.3."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    limits = svc.config.quiz
    try:
        request = parse_quiz_args(list(context.args or []), limits.default_questions, limits.max_questions)
        scope = await resolve_scope(svc, chat.id, request.scope)
    except ValueError as exc:
        detail = f"{render.ref_problem(svc.doc, exc)}\n" if isinstance(exc, RefError) else ""
        await reply(update, render.esc(detail) + render.quiz_usage(limits.max_questions))
        return
    title = chat.title or chat.full_name or ""
    await svc.db(lambda s: s.ensure_group(chat.id, title))
    refusal = await rounds(context).start(chat.id, user.id, request.count, scope)
    if refusal is not None:
        await reply(update, refusal)


async def stopquiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """End the running round early (its starter or an admin)."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    running = await svc.db(lambda s: s.running_round(chat.id) or s.running_round(chat.id, "daily"))
    if running is None:
        await reply(update, render.quiz_not_running())
        return
    if running.kind == "daily":  # only a day's quiz is open: an admin may close it early, with its results
        if not await svc.admins.is_admin(update):
            await reply(update, render.quiz_stop_refused())
            return
        await rounds(context).close_daily(running)
        return
    if running.started_by != user.id and not await svc.admins.is_admin(update):
        await reply(update, render.quiz_stop_refused())
        return
    await rounds(context).stop(chat.id)


async def leaderboard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The group's ranking: /leaderboard [week|all]."""
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    word = " ".join(context.args or []).strip().lower()
    if word not in WEEK_WORDS | BOARD_WORDS:
        await reply(update, render.leaderboard_usage())
        return
    week = word in WEEK_WORDS
    since = rounds(context).now() - 7 * 86400 if week else None
    scores, names = await svc.db(lambda s: (s.chat_scores(chat.id, since=since), s.member_names(chat.id)))
    await reply(update, render.leaderboard(scores, names, week))


async def mystats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member's own answers, accuracy, streak and weakest sections."""
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    answers = await svc.db(lambda s: s.member_answers(chat.id, user.id))
    text = render.member_stats(svc.doc, user.full_name, answers, await svc.local_today(chat.id))
    personal = context.bot_data[REVIEW_KEY]
    if answers and isinstance(personal, PersonalReview):
        figures = personal.mastery(await personal.standing(user.id, chat.id))
        strong, weak = strongest_and_weakest(figures)
        text += "\n" + render.mastery_lines(svc.doc, strong, weak, figures)
    await reply(update, text, render.review_link_keyboard(context.bot.username, chat.id))


async def poll_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member answered (or retracted) a quiz poll."""
    answer = update.poll_answer
    if answer is None or answer.user is None:
        return
    if await rounds(context).answer(answer.poll_id, answer.user.id, answer.user.full_name, list(answer.option_ids)):
        raise ApplicationHandlerStop  # a group quiz poll: no later handler (private review polls) need look it up


async def poll_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram closed a poll (its open period ended): move the round on."""
    if update.poll is not None and update.poll.is_closed:
        await rounds(context).poll_closed(update.poll.id)
