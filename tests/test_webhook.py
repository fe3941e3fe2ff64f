"""Webhook mode: the real PTB webhook server receives an update (secret checked) and the bot answers it."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.runner import start, stop
from bot.services import build_services
from bot.standin import StandIn
from tests.botkit import GROUP, MEMBER, TOKEN, make_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, update: dict[str, object], secret: str) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_webhook_mode_serves_updates_with_the_secret_token(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/studybot/hook"
    async with StandIn(token=TOKEN, bot_username="studybot_test_bot", limits_enabled=False) as server:
        config = make_config(tmp_path, telegram={"mode": "webhook", "webhook": {
            "listen": "127.0.0.1", "port": port, "url": url, "secret_token": "s3cret"}})
        svc = build_services(config)
        running = await start(svc, base_url=server.base_url)
        try:
            message = server.world.user_sends(GROUP, MEMBER, "/toc")
            server.world.updates.clear()  # delivered by webhook below, not by getUpdates
            update = {"update_id": 1, "message": message}
            loop = asyncio.get_running_loop()
            refused = await loop.run_in_executor(None, post, url, update, "wrong")
            assert refused == 403
            accepted = await loop.run_in_executor(None, post, url, update, "s3cret")
            assert accepted == 200
            [reply] = await server.wait_for_sent(GROUP, 1)
            assert "〔1.1〕" in (reply.text or "")
        finally:
            await stop(running)
            svc.db.close()
