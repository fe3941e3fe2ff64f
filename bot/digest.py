"""The weekly digest: on Monday morning (each group's local time), last week's report to every admin in private.

A tick every few minutes looks at every active group; `Store.claim_digest` makes each group's digest go out once per
week across restarts (claimed before sending: a crash mid-send loses that week's digest rather than repeating it).
Admins who never opened a private chat with the bot are skipped; one failing group never stops the others.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import TelegramError

from bot import render
from bot.channels_view import failing_names
from bot.reports import send_chart, send_private_report, summary_of
from bot.services import Services
from bot.store import Store
from records.period import digest_week, last_week

log = logging.getLogger(__name__)
TICK_SECONDS = 300


class WeeklyDigest:
    def __init__(self, svc: Services, bot: Bot) -> None:
        self.svc = svc
        self.bot = bot

    async def tick(self, now: datetime | None = None) -> int:
        """Send every digest now due; returns how many groups got one."""
        svc = self.svc
        if not svc.config.reports.weekly_digest:
            return 0
        now = now or svc.clock()
        sent = 0
        for group in await svc.db(lambda s: s.groups(active_only=True)):
            week = digest_week(now.astimezone(ZoneInfo(group.timezone)), svc.config.reports.digest_time)
            if week is None or not await svc.db(partial(Store.claim_digest, chat_id=group.chat_id, week=week)):
                continue
            try:
                sent += await self._send(group.chat_id, group.title, now)
            except TelegramError:
                log.exception("weekly digest for group %s failed", group.chat_id)
        return sent

    async def _send(self, chat_id: int, title: str, now: datetime) -> int:
        group = await self.svc.db(lambda s: s.group(chat_id))
        zone = ZoneInfo(group.timezone if group else self.svc.config.push.default_timezone)
        summary = await summary_of(self.svc, chat_id, last_week(now.astimezone(zone).date()))
        if not summary.days:
            return 0  # nothing pushed last week: no digest to read
        intro = render.digest_intro(title)
        if failing := await failing_names(self.svc, chat_id):  # its robot channels that keep failing
            intro = f"{intro}\n{render.digest_channels_failing(failing)}"
        reached = 0
        for admin in sorted(await self.svc.admins.admin_ids(self.bot, chat_id)):
            if await send_private_report(self.bot, admin, summary, intro=intro):
                reached += 1
                await send_chart(self.bot, admin, summary)
        return int(reached > 0)
