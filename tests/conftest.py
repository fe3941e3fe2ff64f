"""Shared pytest fixtures. Each helper keeps its fixtures in one marked block."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

# --- stand-in fixtures ---
from bot.standin import StandIn

STANDIN_TOKEN = "123456789:standin-test-token"
STANDIN_BOT_USERNAME = "studybot_local_bot"


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """A started Bot API stand-in (flood limits on); point PTB at ``standin.base_url`` with ``STANDIN_TOKEN``."""
    async with StandIn(token=STANDIN_TOKEN, bot_username=STANDIN_BOT_USERNAME) as server:
        yield server


@pytest.fixture
async def standin_fast() -> AsyncIterator[StandIn]:
    """Same, with flood limits off (for tests that send a lot)."""
    async with StandIn(token=STANDIN_TOKEN, bot_username=STANDIN_BOT_USERNAME, limits_enabled=False) as server:
        yield server


# --- end stand-in fixtures ---


# --- shared bot fixtures ---
import logging  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from tests.botkit import ErrorRecords  # noqa: E402


@pytest.fixture
def errors() -> Iterator[ErrorRecords]:
    """ERROR records logged anywhere during the test."""
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
