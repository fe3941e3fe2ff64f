"""Who may change a group's settings: its administrators, anonymous admins included, cached briefly."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from telegram import Bot, Chat, Update
from telegram.constants import ChatID, ChatMemberStatus
from telegram.error import TelegramError

ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


@dataclass
class AdminCache:
    """Admin lists per chat, kept for `ttl` seconds: each getChatAdministrators costs a rate-limit slot."""

    ttl: float = 300.0
    _lists: dict[int, tuple[float, frozenset[int]]] = field(default_factory=dict)

    def forget(self, chat_id: int) -> None:
        self._lists.pop(chat_id, None)

    async def is_admin(self, update: Update) -> bool:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None:
            return False
        if chat.type == Chat.PRIVATE:
            return True
        if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous admin, posting as the group
        if user.id == ChatID.ANONYMOUS_ADMIN:
            return False  # GroupAnonymousBot without the group as sender_chat: not an admin's message
        return user.id in await self.admin_ids(chat.get_bot(), chat.id)

    async def admin_ids(self, bot: Bot, chat_id: int) -> frozenset[int]:
        """The group's (human) administrators, from the cache or Telegram; empty if Telegram will not say."""
        cached = self._lists.get(chat_id)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            try:
                admins = await bot.get_chat_administrators(chat_id)
            except TelegramError:
                return frozenset()
            ids = frozenset(m.user.id for m in admins if m.status in ADMIN_STATUSES and not m.user.is_bot)
            self._lists[chat_id] = cached = (now + self.ttl, ids)
        return cached[1]
