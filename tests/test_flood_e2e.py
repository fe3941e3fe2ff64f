"""End to end through the stand-in with Telegram's flood limits on: one group flooding commands keeps no other chat
waiting. Its replies are paced at ~20 a minute; PTB runs 64 handlers at once, and each reply over the group's budget
used to wait inside its handler, so a big enough flood filled every handler slot and other chats waited a minute."""

from __future__ import annotations

from pathlib import Path

from bot import render
from tests.botkit import bot_running

FLOOD = -100500
OTHER = -100600
MEMBERS = 150  # one command each: the per-member throttle lets every one through


async def test_a_group_flooding_commands_keeps_no_other_chat_waiting(tmp_path: Path) -> None:
    async with bot_running(tmp_path, limits=True) as h:
        for k in range(MEMBERS):
            h.standin.user_sends(FLOOD, 10_000 + k, "/toc")
        h.standin.user_sends(OTHER, 20_000, "/toc")
        # Without the group budget this waits for a handler slot, i.e. for the flooding group's next minute.
        [reply] = await h.standin.wait_for_sent(OTHER, 1, timeout=20)
        assert "一、统一思想" in (reply.text or "")
        assert len(h.standin.sent(FLOOD)) <= 20
        # The flooding group's minute: the commands let in (Telegram's 20, less one) and one notice, no more.
        flood = await h.standin.wait_for_sent(FLOOD, 20, timeout=20)
        texts = [r.text or "" for r in flood]
        assert texts.count(render.group_over_budget()) == 1
        assert sum(1 for t in texts if "一、统一思想" in t) == 19
        assert h.standin.stats.too_many_requests == 0
