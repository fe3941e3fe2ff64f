"""The retry policy's decisions, and following a migrated group."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.retry import RetryPolicy, follow_migration


def test_a_flood_wait_is_its_retry_after_plus_a_margin() -> None:
    policy = RetryPolicy(flood_margin=0.1)
    assert policy.wait(RetryAfter(3), 1) == pytest.approx(3.1)
    assert policy.wait(RetryAfter(3), 4) == pytest.approx(3.1)  # the same at every attempt: no growth, no doubling


def test_network_errors_and_5xx_back_off_doubling_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=10, backoff=0.5, backoff_cap=3.0)
    errors = [NetworkError("502 Bad Gateway"), TimedOut(), NetworkError("connection reset")]
    waits = [policy.wait(errors[i % 3], attempt) for i, attempt in enumerate(range(1, 7))]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_the_last_attempt_raises_whatever_failed() -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.wait(NetworkError("x"), 2) is not None
    assert policy.wait(NetworkError("x"), 3) is None
    assert policy.wait(RetryAfter(1), 3) is None


@pytest.mark.parametrize("error", [BadRequest("message is too long"), Forbidden("bot was kicked"),
                                   ChatMigrated(-1001), InvalidToken("no"), ValueError("a bug")])
def test_what_a_retry_cannot_fix_is_raised_at_once(error: Exception) -> None:
    assert RetryPolicy().wait(error, 1) is None


async def test_a_migrated_group_is_followed_to_its_new_id() -> None:
    target = [-5]
    calls: list[int] = []

    async def send() -> str:
        calls.append(target[0])
        if target[0] == -5:
            raise ChatMigrated(-1005)
        return "sent"

    async def migrated(new_id: int) -> None:
        target[0] = new_id

    assert await follow_migration(send, migrated) == "sent"
    assert calls == [-5, -1005]


async def test_other_errors_pass_through_the_migration_follower() -> None:
    async def send() -> str:
        raise NetworkError("down")

    async def migrated(new_id: int) -> None:
        raise AssertionError("not a migration")

    with pytest.raises(NetworkError):
        await follow_migration(send, migrated)
