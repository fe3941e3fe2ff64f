"""Robot channels as the organizer sees them: lines in /report, a sheet in /export, the weekly digest, `studybot
groups`, and one private notice when a channel stops.

A channel belongs to a Telegram group when it follows it (`follow:`) or names it (`group:`); that group's admins see
it. Channels have no members, so what is shown is the channel's own record: days posted, the last delivery and
whether it is failing. Never a webhook URL or a secret (neither is stored, and the error texts are redacted).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from telegram import Bot
from telegram.error import TelegramError

from bot import render
from bot.robots.channels import ChannelConfig
from bot.robots.client import Answer, stop_cause
from bot.services import Services
from bot.store import RobotChannel, Store
from records.ledger import Summary
from records.model import ChannelRecord

log = logging.getLogger(__name__)
FAILING_AFTER = 3  # failed attempts in a row, since the last complete post, that make a channel "keeps failing"


@dataclass(frozen=True)
class ChannelStatus:
    channel: ChannelConfig
    row: RobotChannel
    days_posted: int  # in the period asked about (all time when none)

    @property
    def stopped(self) -> bool:
        return not self.row.active

    @property
    def cause(self) -> str:
        return stop_cause(self.row.stop_reason)

    @property
    def failing(self) -> bool:
        """Stopped, or failed FAILING_AFTER times in a row: the organizer should look at it."""
        return self.stopped or self.row.failures >= FAILING_AFTER


def statuses(store: Store, channels: Sequence[ChannelConfig], first: date | None = None,
             last: date | None = None) -> list[ChannelStatus]:
    """Each channel's status from the store (call it on the store's thread)."""
    if not channels:
        return []
    rows = store.robots.sync([(c.name, c.kind) for c in channels])
    return [ChannelStatus(c, row, len(store.robots.sent_dates(c.name, first or date.min, last or date.max)))
            for c, row in zip(channels, rows, strict=True)]


def statuses_of_group(store: Store, configured: Sequence[ChannelConfig], chat_id: int, first: date | None = None,
                      last: date | None = None) -> list[ChannelStatus]:
    """The statuses of the channels that belong to the group (call it on the store's thread, e.g. inside the call
    that loads the group's report: bot/reports.py)."""
    if not any(c.telegram_group is not None for c in configured):
        return []
    # The config may still name the id the group had before it became a supergroup.
    mine = [c for c in configured
            if c.telegram_group is not None and store.current_chat(c.telegram_group) == chat_id]
    return statuses(store, mine, first, last)


async def group_statuses(svc: Services, chat_id: int, first: date | None = None,
                         last: date | None = None) -> list[ChannelStatus]:
    configured = svc.config.channels
    if not any(c.telegram_group is not None for c in configured):
        return []  # no trip to the store's thread
    return await svc.db(lambda store: statuses_of_group(store, configured, chat_id, first, last))


async def with_channels(svc: Services, summary: Summary) -> Summary:
    """The summary with its group's channels for the export's 渠道 sheet (as it is when they are in already)."""
    if summary.campaign.channels:
        return summary
    period = summary.campaign.period
    found = await group_statuses(svc, summary.campaign.chat_id, period.first, period.last)
    if not found:
        return summary
    records = tuple(ChannelRecord(s.channel.name, render.channel_platform(s.channel.kind),
                                  render.channel_when(s.channel), s.days_posted, s.row.last_pushed,
                                  render.channel_state(s)) for s in found)
    return replace(summary, campaign=replace(summary.campaign, channels=records))


async def failing_names(svc: Services, chat_id: int) -> list[str]:
    """The digest's warning: channels of the group that are stopped or keep failing."""
    return [s.channel.name for s in await group_statuses(svc, chat_id) if s.failing]


def stop_notice(svc: Services, bot: Bot) -> Callable[[ChannelConfig, Answer], Awaitable[None]]:
    """The robot pusher's `on_stop`: one private message to each admin of the channel's group."""

    async def notify(channel: ChannelConfig, answer: Answer) -> None:
        if channel.telegram_group is None:
            return
        configured = channel.telegram_group
        group = await svc.db(lambda s: s.current_chat(configured))  # where the group is now, if it moved
        text = render.channel_stopped(channel.name, channel.kind, stop_cause(answer.describe()))
        told = 0
        for admin in sorted(await svc.admins.admin_ids(bot, group)):
            try:
                await bot.send_message(admin, text, parse_mode="HTML")
                told += 1
            except TelegramError as exc:  # never opened a private chat with the bot, or blocked it
                log.info("could not tell admin %s that robot channel %s stopped: %s", admin, channel.name, exc)
        log.info("robot channel %s stopped: told %d admin(s) of group %s", channel.name, told, group)

    return notify
